//! The trust placed in provider certificates: pinned providers (a known-providers list,
//! like SSH's known_hosts), explicit fingerprints, the certificates of the current CTL,
//! and trust on first use. Pure: the list's file lives with the client that keeps it.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

/// SHA-256 of a certificate's DER: what known-providers lists pin.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(der).into()
}

/// Lowercase hex with colons, as fingerprints are usually shown.
pub fn fingerprint_text(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A SHA-256 fingerprint from 64 hex digits, colons allowed between them.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Why a provider's certificate is not trusted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Untrusted {
    /// The provider is pinned to another certificate.
    #[error(
        "the certificate of {at} changed: known {}, presented {}; if the change is expected, remove the line from the known-providers file",
        fingerprint_text(known),
        fingerprint_text(presented)
    )]
    Changed {
        /// `host:port`.
        at: String,
        /// The pinned fingerprint.
        known: [u8; 32],
        /// The one presented.
        presented: [u8; 32],
    },
    /// Nothing vouches for the certificate.
    #[error(
        "{at} presented an unknown certificate {}, which is not trusted; trust it with --trust-on-first-use or an explicit fingerprint",
        fingerprint_text(presented)
    )]
    Unknown {
        /// `host:port` (or the server name).
        at: String,
        /// The fingerprint presented.
        presented: [u8; 32],
    },
}

/// A line of a known-providers list that is not `HOST PORT SHA256`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: expected HOST PORT SHA256")]
pub struct BadLine {
    /// Its number, from 1.
    pub line: usize,
}

/// Pinned providers: `host port sha256` lines (`#` comments), like SSH's known_hosts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KnownProviders {
    entries: HashMap<(String, u16), [u8; 32]>,
}

impl KnownProviders {
    /// Reads the text of a list.
    ///
    /// ```
    /// use ctl_provider::trust::KnownProviders;
    ///
    /// let text = format!("# pinned\ncucm-pub 2444 {}\n", "ab:".repeat(31) + "ab");
    /// let known = KnownProviders::parse(&text)?;
    /// assert_eq!(known.get("cucm-pub", 2444), Some(&[0xab; 32]));
    /// assert_eq!(KnownProviders::parse("cucm-pub 2444").unwrap_err().line, 1);
    /// # Ok::<(), ctl_provider::trust::BadLine>(())
    /// ```
    ///
    /// # Errors
    /// A line that is not `host port fingerprint` (named by number).
    pub fn parse(text: &str) -> Result<Self, BadLine> {
        let mut entries = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = BadLine { line: n + 1 };
            let mut parts = line.split_whitespace();
            let (Some(host), Some(port), Some(fp), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad);
            };
            let port = port.parse().map_err(|_| bad.clone())?;
            entries.insert((host.to_owned(), port), parse_fingerprint(fp).ok_or(bad)?);
        }
        Ok(Self { entries })
    }

    /// The list as text, sorted, with a header comment.
    pub fn to_text(&self) -> String {
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .map(|((h, p), fp)| format!("{h} {p} {}", fingerprint_text(fp)))
            .collect();
        lines.sort();
        format!(
            "# ctl known providers: host port sha256-of-certificate\n{}\n",
            lines.join("\n")
        )
    }

    /// The pinned fingerprint of `host:port`.
    pub fn get(&self, host: &str, port: u16) -> Option<&[u8; 32]> {
        self.entries.get(&(host.to_owned(), port))
    }

    /// Pins `host:port` to a fingerprint.
    pub fn insert(&mut self, host: &str, port: u16, fp: [u8; 32]) {
        self.entries.insert((host.to_owned(), port), fp);
    }

    /// Unpins `host:port`; its fingerprint, if it was pinned.
    pub fn remove(&mut self, host: &str, port: u16) -> Option<[u8; 32]> {
        self.entries.remove(&(host.to_owned(), port))
    }

    /// Every pinned provider: host, port and fingerprint, sorted by host and port.
    pub fn entries(&self) -> Vec<(&str, u16, &[u8; 32])> {
        let mut all: Vec<_> = self
            .entries
            .iter()
            .map(|((h, p), fp)| (h.as_str(), *p, fp))
            .collect();
        all.sort();
        all
    }

    /// How many providers are pinned.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A provider identity a CTL vouches for: the certificate of a server record (CCM,
/// CCM+TFTP or TFTP) and the host name and address the record names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlIdentity {
    /// The certificate (DER).
    pub certificate: Vec<u8>,
    /// The record's DNS name.
    pub dns_name: Option<String>,
    /// The record's address.
    pub ip_address: Option<IpAddr>,
}

impl CtlIdentity {
    /// The provider identities `doc` vouches for: its CCM, CCM+TFTP and TFTP records with a
    /// certificate. SAST, CAPF and TVS certificates are never TLS identities of a provider.
    pub fn of(doc: &ctl_format::Document<'_>) -> Vec<Self> {
        use ctl_format::Role;
        doc.records()
            .iter()
            .filter(|r| matches!(r.role(), Some(Role::CCM | Role::CCM_TFTP | Role::TFTP)))
            .filter_map(|r| {
                Some(Self {
                    certificate: r.certificate()?.to_vec(),
                    dns_name: r.dns_name().map(|d| d.into_owned()),
                    ip_address: r.ip_address(),
                })
            })
            .collect()
    }

    /// Whether the record names `host` (its DNS name, the first label of `host`, or its
    /// address).
    fn names(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        let first_label = host.split('.').next().unwrap_or(host);
        let by_name = self.dns_name.as_deref().is_some_and(|d| {
            !d.is_empty() && (d.eq_ignore_ascii_case(host) || d.eq_ignore_ascii_case(first_label))
        });
        let by_address = host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .ok()
            .is_some_and(|ip| Some(ip) == self.ip_address);
        by_name || by_address
    }
}

/// How provider certificates are trusted.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Pinned providers (consulted first; a changed certificate is refused).
    pub known: KnownProviders,
    /// Fingerprints trusted wherever they appear.
    pub fingerprints: Vec<[u8; 32]>,
    /// Server records of a CTL the operator vouches for: a certificate is trusted for the
    /// host its record names, never for another.
    pub ctl_identities: Vec<CtlIdentity>,
    /// Trust an unknown provider the first time, and pin it.
    pub trust_on_first_use: bool,
}

impl TrustPolicy {
    /// Decides whether the provider at `host:port` may present `cert_der`; a certificate
    /// trusted for a provider not pinned yet is pinned.
    ///
    /// # Errors
    /// The provider is pinned to another certificate, or nothing vouches for this one.
    pub fn check(&mut self, host: &str, port: u16, cert_der: &[u8]) -> Result<(), Untrusted> {
        let presented = fingerprint(cert_der);
        let at = || format!("{host}:{port}");
        if let Some(known) = self.known.get(host, port) {
            return if *known == presented {
                Ok(())
            } else {
                Err(Untrusted::Changed {
                    at: at(),
                    known: *known,
                    presented,
                })
            };
        }
        let vouched = self.fingerprints.contains(&presented)
            || self
                .ctl_identities
                .iter()
                .any(|c| fingerprint(&c.certificate) == presented && c.names(host));
        if vouched || self.trust_on_first_use {
            self.known.insert(host, port, presented);
            return Ok(());
        }
        Err(Untrusted::Unknown {
            at: at(),
            presented,
        })
    }
}

/// Decides whether a provider's certificate is trusted (pinning, not a CA).
pub trait CertPolicy: Send + Sync + fmt::Debug {
    /// `Ok` to trust `cert_der` for `server`.
    ///
    /// # Errors
    /// Why the certificate is not trusted.
    fn check(&self, server: &str, cert_der: &[u8]) -> Result<(), Untrusted>;
}

/// Trusts exactly these SHA-256 fingerprints.
#[derive(Clone, Debug, Default)]
pub struct Fingerprints(pub Vec<[u8; 32]>);

impl CertPolicy for Fingerprints {
    fn check(&self, server: &str, cert_der: &[u8]) -> Result<(), Untrusted> {
        let presented = fingerprint(cert_der);
        if self.0.contains(&presented) {
            Ok(())
        } else {
            Err(Untrusted::Unknown {
                at: server.to_owned(),
                presented,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_providers_round_trip_and_name_bad_lines() {
        let fp = [0xab; 32];
        let mut k = KnownProviders::default();
        k.insert("cucm-pub", 2444, fp);
        let text = k.to_text();
        assert_eq!(KnownProviders::parse(&text).unwrap(), k);
        assert_eq!(
            KnownProviders::parse("# c\n\nhost 2444\n"),
            Err(BadLine { line: 3 })
        );
        assert_eq!(
            KnownProviders::parse("host x ab\n"),
            Err(BadLine { line: 1 })
        );
    }

    #[test]
    fn pinned_changed_vouched_and_first_use() {
        let (a, b) = (b"cert a".as_slice(), b"cert b".as_slice());
        let mut p = TrustPolicy::default();
        assert!(matches!(p.check("h", 1, a), Err(Untrusted::Unknown { .. })));
        p.fingerprints.push(fingerprint(a));
        p.check("h", 1, a).unwrap();
        assert_eq!(p.known.get("h", 1), Some(&fingerprint(a)), "pinned");
        assert!(matches!(p.check("h", 1, b), Err(Untrusted::Changed { .. })));
        p.ctl_identities.push(CtlIdentity {
            certificate: b.to_vec(),
            dns_name: Some("h".into()),
            ip_address: None,
        });
        p.check("h", 2, b).unwrap();
        p.trust_on_first_use = true;
        p.check("new", 3, a).unwrap();
        assert!(matches!(
            p.check("new", 3, b),
            Err(Untrusted::Changed { .. })
        ));
    }

    /// Finding 5 of issue 10: every certificate of a CTL was trusted as the identity of
    /// any host, so a token's key or another node's key was taken for the first node.
    #[test]
    fn a_ctl_vouches_for_a_server_certificate_only_at_the_host_its_record_names() {
        let ccm = CtlIdentity {
            certificate: b"ccm".to_vec(),
            dns_name: Some("cucm-pub".into()),
            ip_address: Some(IpAddr::from([10, 0, 0, 1])),
        };
        let mut p = TrustPolicy {
            ctl_identities: vec![ccm],
            ..TrustPolicy::default()
        };
        for host in ["cucm-pub", "CUCM-PUB.example.com", "10.0.0.1"] {
            p.clone().check(host, 2444, b"ccm").unwrap();
        }
        for host in ["cucm-sub", "10.0.0.2", "evil.example.com", "::1"] {
            assert!(
                matches!(p.check(host, 2444, b"ccm"), Err(Untrusted::Unknown { .. })),
                "{host}"
            );
        }
        // Only server records become identities: not SAST, CAPF or TVS certificates.
        let ctl = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../ctl-format/tests/vectors/ctl/CTLFile-sha1.tlv"
        ))
        .unwrap();
        let doc = ctl_format::parse_trust_list(&ctl).unwrap();
        let ids = CtlIdentity::of(&doc);
        let servers = doc
            .records()
            .iter()
            .filter(|r| {
                matches!(
                    r.role(),
                    Some(
                        ctl_format::Role::CCM | ctl_format::Role::CCM_TFTP | ctl_format::Role::TFTP
                    )
                )
            })
            .count();
        assert_eq!(ids.len(), servers);
        assert!(doc.records().iter().any(|r| {
            r.role() == Some(ctl_format::Role::SAST)
                && !ids
                    .iter()
                    .any(|i| Some(i.certificate.as_slice()) == r.certificate())
        }));
    }
}
