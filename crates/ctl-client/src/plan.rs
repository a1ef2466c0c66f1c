//! What goes into a CTL: entries from tokens and from the discovered cluster, the rules
//! that guard changes, and what changed since a CTL was built (staleness).

use std::fmt;
use std::net::IpAddr;

use ctl_format::{Certificate, Document, NameStyle, RecordSpec, Role, hex, serials_equal};
use ctl_provider::discovery::{ClusterView, NodeStatus, TargetKind};

use crate::Error;

/// Where an entry comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A security token (SAST).
    Token,
    /// A cluster node (its CallManager, TFTP, CAPF or TVS certificate).
    Node(String),
    /// An off-cluster alternate TFTP server.
    AlternateTftp(String),
    /// A firewall.
    Firewall(String),
}

/// One record to be.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Its role.
    pub role: Role,
    /// Its certificate.
    pub certificate: Certificate,
    /// Host name (servers).
    pub dns_name: Option<String>,
    /// Address (servers).
    pub ip_address: Option<IpAddr>,
    /// Where it comes from.
    pub origin: Origin,
}

impl Entry {
    /// The record spec; `with_certificate: false` for non-secure mode servers.
    pub fn spec(&self, with_certificate: bool) -> RecordSpec {
        let mut spec = RecordSpec::new(self.certificate.clone(), self.role);
        if let Some(d) = &self.dns_name {
            spec = spec.dns_name(d.clone());
        }
        if let Some(ip) = self.ip_address {
            spec = spec.ip_address(ip);
        }
        if !with_certificate {
            spec = spec.without_certificate();
        }
        spec
    }

    /// `role subject (serial)`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} (serial {})",
            self.role,
            self.certificate.subject_text(NameStyle::Reversed),
            hex(self.certificate.serial())
        )
    }
}

fn host_part(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_owned()
}

/// The server entries of a discovered cluster: every node's certificates by role (with
/// its host name and first address), alternate TFTP servers as TFTP, firewalls as CCM.
///
/// # Errors
/// A node that could not be contacted: a CTL without it would lock its phones out.
pub fn server_entries(view: &ClusterView) -> Result<Vec<Entry>, Error> {
    let mut out = Vec::new();
    for node in &view.nodes {
        if node.status != NodeStatus::Ok {
            return Err(Error::NodeNotReady {
                node: node.name.clone(),
                status: node.status.to_string(),
            });
        }
        let Some(info) = &node.info else { continue };
        let ip = info
            .addresses
            .first()
            .copied()
            .or_else(|| node.resolved.first().copied());
        for c in &info.certificates {
            let certificate = Certificate::from_der(&c.der).map_err(|e| Error::Certificate {
                what: format!("{} role {}", node.name, c.role),
                reason: e.to_string(),
            })?;
            let (role, origin) = match node.kind {
                TargetKind::AlternateTftp => (Role::TFTP, Origin::AlternateTftp(node.name.clone())),
                TargetKind::Firewall => (Role::CCM, Origin::Firewall(node.name.clone())),
                _ => (Role(c.role), Origin::Node(node.name.clone())),
            };
            out.push(Entry {
                role,
                certificate,
                dns_name: Some(host_part(&node.name)),
                ip_address: ip,
                origin,
            });
        }
    }
    Ok(out)
}

/// Token entries: one SAST record per token certificate.
pub fn token_entries(tokens: &[Certificate]) -> Vec<Entry> {
    tokens
        .iter()
        .map(|c| Entry {
            role: Role::SAST,
            certificate: c.clone(),
            dns_name: None,
            ip_address: None,
            origin: Origin::Token,
        })
        .collect()
}

/// The SAST certificates of a CTL.
///
/// # Errors
/// A SAST record whose certificate cannot be read.
pub fn sast_certificates(doc: &Document<'_>) -> Result<Vec<Certificate>, Error> {
    doc.records()
        .iter()
        .filter(|r| r.role() == Some(Role::SAST))
        .filter_map(|r| r.certificate())
        .map(|der| {
            Certificate::from_der(der).map_err(|e| Error::Certificate {
                what: "a SAST record".into(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Whether `doc` is a non-secure CTL: it has server records and none of them carries a
/// certificate.
pub fn is_non_secure(doc: &Document<'_>) -> bool {
    let mut servers = doc
        .records()
        .iter()
        .filter(|r| r.role() != Some(Role::SAST))
        .peekable();
    servers.peek().is_some() && servers.all(|r| r.certificate().is_none())
}

/// Which entry `remove-entry` names.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Selector {
    /// By certificate serial (hex, leading zeros ignored).
    Serial(String),
    /// By subject text (as `ctl inspect` prints it).
    Subject(String),
}

/// Applies the Cisco rules for deleting an entry by hand: only tokens may be removed,
/// and two must remain.
///
/// # Errors
/// No such entry, a server entry, or fewer than two tokens left.
pub fn remove_token(
    tokens: &mut Vec<Certificate>,
    servers: &[Entry],
    selector: &Selector,
) -> Result<Certificate, Error> {
    let matches = |c: &Certificate| match selector {
        Selector::Serial(s) => {
            let want: Vec<u8> = (0..s.len() / 2)
                .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            serials_equal(c.serial(), &want)
        }
        Selector::Subject(t) => {
            c.subject_text(NameStyle::Reversed) == *t
                || c.subject_text(NameStyle::DerOrder(',')) == *t
        }
    };
    if let Some(server) = servers.iter().find(|e| matches(&e.certificate)) {
        return Err(Error::Rule(format!(
            "{} is a server entry ({}); CallManager, TFTP, CAPF and firewall entries cannot be deleted by hand: they follow the cluster",
            server.describe(),
            match &server.origin {
                Origin::Node(n) | Origin::AlternateTftp(n) | Origin::Firewall(n) => n.as_str(),
                Origin::Token => "token",
            }
        )));
    }
    let Some(pos) = tokens.iter().position(matches) else {
        return Err(Error::Rule(format!("no entry matches {selector:?}")));
    };
    if tokens.len() <= 2 {
        return Err(Error::Rule(format!(
            "the CTL has {} security tokens; two must remain at all times",
            tokens.len()
        )));
    }
    Ok(tokens.remove(pos))
}

/// Something that changed in the cluster since the CTL was built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A server entry that the CTL lacks (a node added, CAPF activated, a TFTP server or firewall added).
    Added(String),
    /// A CTL entry for a server that is no longer there (a node removed or renamed).
    Removed(String),
    /// A server whose address changed.
    Readdressed {
        /// The server.
        server: String,
        /// Address in the CTL.
        was: String,
        /// Address now.
        now: String,
    },
    /// A server whose certificate changed (regenerated, or replaced by a CA-signed one).
    CertificateChanged(String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Added(s) => write!(f, "added since the CTL was built: {s}"),
            Self::Removed(s) => write!(f, "in the CTL but gone from the cluster: {s}"),
            Self::Readdressed { server, was, now } => {
                write!(f, "{server} moved from {was} to {now}")
            }
            Self::CertificateChanged(s) => write!(f, "certificate regenerated or replaced: {s}"),
        }
    }
}

/// What changed between the servers of `ctl` and the live `servers`.
pub fn changes(ctl: &Document<'_>, servers: &[Entry]) -> Vec<Change> {
    let mut out = Vec::new();
    let records: Vec<_> = ctl
        .records()
        .iter()
        .filter(|r| r.role() != Some(Role::SAST))
        .collect();
    for e in servers {
        let same_place = records
            .iter()
            .find(|r| r.role() == Some(e.role) && r.dns_name().as_deref() == e.dns_name.as_deref());
        match same_place {
            None => out.push(Change::Added(e.describe())),
            Some(r) => {
                // A non-secure CTL carries no server certificates: nothing to compare.
                if let Some(held) = r.certificate()
                    && held != e.certificate.der()
                {
                    out.push(Change::CertificateChanged(e.describe()));
                }
                if let (Some(was), Some(now)) = (r.ip_address(), e.ip_address)
                    && was != now
                {
                    out.push(Change::Readdressed {
                        server: e.dns_name.clone().unwrap_or_default(),
                        was: was.to_string(),
                        now: now.to_string(),
                    });
                }
            }
        }
    }
    for r in &records {
        let still = servers
            .iter()
            .any(|e| Some(e.role) == r.role() && e.dns_name.as_deref() == r.dns_name().as_deref());
        if !still {
            out.push(Change::Removed(format!(
                "{} {} ({})",
                r.role().map(|x| x.to_string()).unwrap_or_default(),
                r.subject_name().unwrap_or_default(),
                r.dns_name().unwrap_or_default()
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use ctl_format::TrustListBuilder;

    const KEYS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ctl-format/tests/vectors/keys/"
    );

    fn cert(name: &str) -> Certificate {
        Certificate::from_pem(&std::fs::read(format!("{KEYS}{name}.crt.pem")).unwrap()).unwrap()
    }

    fn server(role: Role, name: &str, dns: &str, ip: [u8; 4]) -> Entry {
        Entry {
            role,
            certificate: cert(name),
            dns_name: Some(dns.to_owned()),
            ip_address: Some(IpAddr::from(ip)),
            origin: Origin::Node(dns.to_owned()),
        }
    }

    /// The cluster as the CTL was built: a publisher (CCM+TFTP) and a subsequent node.
    fn built() -> Vec<Entry> {
        vec![
            server(Role::CCM_TFTP, "ccm", "cucm-pub", [10, 0, 0, 1]),
            server(Role::CCM, "tvs", "sub1", [10, 0, 0, 2]),
        ]
    }

    fn ctl(servers: &[Entry], with_certificates: bool) -> Vec<u8> {
        let signer = ctl_token::SoftwareSigner::from_files(
            std::path::Path::new(&format!("{KEYS}sast1.pem")),
            None,
        )
        .unwrap();
        let mut b = TrustListBuilder::new();
        b.timestamp(1_735_689_600);
        for e in token_entries(&[cert("sast1"), cert("sast2")]) {
            b.push(e.spec(true));
        }
        for e in servers {
            b.push(e.spec(with_certificates));
        }
        b.build(&signer).unwrap()
    }

    fn changes_between(then: &[Entry], now: &[Entry], with_certificates: bool) -> Vec<Change> {
        let bytes = ctl(then, with_certificates);
        let doc = ctl_format::parse_trust_list(&bytes).unwrap();
        changes(&doc, now)
    }

    #[test]
    fn the_same_cluster_is_up_to_date_in_mixed_and_non_secure_mode() {
        assert_eq!(changes_between(&built(), &built(), true), []);
        assert_eq!(changes_between(&built(), &built(), false), []);
    }

    #[test]
    fn a_node_added_removed_renamed_readdressed_or_recertified_is_named() {
        let mut now = built();
        now.push(server(Role::TFTP, "tftp", "tftp1", [10, 0, 0, 3]));
        assert_eq!(
            changes_between(&built(), &now, true),
            [Change::Added(now[2].describe())]
        );

        let now = vec![built().remove(0)];
        let found = changes_between(&built(), &now, true);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            matches!(&found[0], Change::Removed(s) if s.contains("sub1")),
            "{found:?}"
        );

        let mut now = built();
        now[1].dns_name = Some("sub1-new".into());
        let found = changes_between(&built(), &now, true);
        assert!(
            matches!(&found[..], [Change::Added(a), Change::Removed(r)]
            if a == &now[1].describe() && r.contains("sub1")),
            "{found:?}"
        );

        let mut now = built();
        now[1].ip_address = Some(IpAddr::from([10, 0, 9, 2]));
        assert_eq!(
            changes_between(&built(), &now, true),
            [Change::Readdressed {
                server: "sub1".into(),
                was: "10.0.0.2".into(),
                now: "10.0.9.2".into(),
            }]
        );

        let mut now = built();
        now[0].certificate = cert("capf");
        assert_eq!(
            changes_between(&built(), &now, true),
            [Change::CertificateChanged(now[0].describe())]
        );
    }

    #[test]
    fn capf_activated_counts_as_added() {
        let mut now = built();
        now.push(server(Role::CAPF, "capf", "cucm-pub", [10, 0, 0, 1]));
        let found = changes_between(&built(), &now, true);
        assert_eq!(found, [Change::Added(now[2].describe())]);
        assert!(found[0].to_string().contains("CAPF"), "{}", found[0]);
    }
}
