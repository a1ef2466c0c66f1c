//! What changed in the cluster since a CTL was built (the Cisco guide's "events that
//! require a re-run"), and the records an update leaves out.

use std::fmt;

use ctl_format::{Document, Role};

use super::Entry;

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

/// The server records of `doc` that match none of `servers` (a node removed or renamed,
/// an off-cluster server removed): an update leaves them out, and says so.
pub fn left_out(doc: &Document<'_>, servers: &[Entry]) -> Vec<String> {
    doc.records()
        .iter()
        .filter(|r| r.role() != Some(Role::SAST))
        .filter(|r| {
            !servers.iter().any(|e| {
                Some(e.role) == r.role() && e.dns_name.as_deref() == r.dns_name().as_deref()
            })
        })
        .map(|r| {
            format!(
                "left out of the new CTL: {} ({}), no longer a cluster node or a known alternate TFTP server or firewall",
                r.dns_name().unwrap_or_default(),
                r.role().map(|x| x.to_string()).unwrap_or_default()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::net::IpAddr;

    use super::*;
    use crate::plan::{Origin, token_entries};
    use ctl_format::TrustListBuilder;

    use ctl_test_support::certificate as cert;

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
        let signer =
            ctl_token::SoftwareSigner::from_files(&ctl_test_support::fixture("sast1.pem"), None)
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

    #[test]
    fn a_new_ctl_is_always_newer_than_the_one_it_replaces() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        for (now, after, want) in [
            (1_000, None, 1_000),
            (1_000, Some(10), 1_000),
            (1_000, Some(1_000), 1_001),
            (1_000, Some(5_000), 5_001),
            (u64::from(u32::MAX) + 9, Some(7), u32::MAX),
            (1, Some(u32::MAX), u32::MAX),
        ] {
            assert_eq!(
                crate::plan::next_timestamp(at(now), after),
                want,
                "{now} {after:?}"
            );
        }
    }
}
