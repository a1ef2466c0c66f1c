//! What goes into a CTL, as pure functions: entries from tokens and from the discovered
//! cluster, every Cisco rule that guards a change (each refusal a [`Rule`]), and what
//! changed since a CTL was built (staleness). No I/O: the workflows call these.

use std::fmt;
use std::net::IpAddr;

use ctl_format::{Certificate, Document, NameStyle, RecordSpec, Role, hex, serials_equal};
use ctl_provider::cluster::{NodeStatus, NodeView, TargetKind};
use ctl_provider::message::{OffCluster, Peer, PeerSource};

use crate::Error;

/// A Cisco rule that refuses a change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rule {
    /// Mixed mode needs two tokens.
    #[error("mixed mode needs at least two security tokens; {given} given")]
    TooFewTokens {
        /// How many distinct tokens were given.
        given: usize,
    },
    /// The signer of a first CTL must be one of its tokens.
    #[error("the signing token must be one of the tokens in the CTL")]
    SignerNotListed,
    /// Mixed mode is set already.
    #[error("the cluster already has a CTL in mixed mode: use update")]
    AlreadyMixed,
    /// An update needs a current CTL.
    #[error("the cluster has no CTL yet: set mixed mode first")]
    NoCtl,
    /// Status needs a current CTL.
    #[error("the cluster has no CTL (non-secure, never set to mixed mode)")]
    NoCtlToCompare,
    /// An update must be signed by a token of the current CTL.
    #[error(
        "token {subject} is not in the current CTL; present one of its {count} security tokens"
    )]
    TokenNotInCtl {
        /// The token's subject.
        subject: String,
        /// How many tokens the current CTL has.
        count: usize,
    },
    /// Server entries follow the cluster.
    #[error(
        "{entry} is a server entry ({from}); CallManager, TFTP, CAPF and firewall entries cannot be deleted by hand: they follow the cluster"
    )]
    ServerEntry {
        /// The entry.
        entry: String,
        /// The server it comes from.
        from: String,
    },
    /// Nothing matches the selector.
    #[error("no entry matches {0}")]
    NoMatch(Selector),
    /// Two tokens must remain.
    #[error("the CTL has {count} security tokens; two must remain at all times")]
    TwoMustRemain {
        /// How many it has.
        count: usize,
    },
    /// The signer cannot remove its own entry.
    #[error("the token signing this change cannot remove itself; sign with the other token")]
    SignerRemovesItself,
    /// No such off-cluster server.
    #[error(
        "no alternate TFTP server or firewall is named {name} (known: {})",
        names(known)
    )]
    NoSuchPeer {
        /// The name asked for.
        name: String,
        /// The ones there are.
        known: Vec<String>,
    },
    /// A configured off-cluster server is removed in the first node's configuration.
    #[error("{name} is in the first node's own provider configuration; remove it there")]
    ConfiguredPeer {
        /// Its name.
        name: String,
    },
    /// A server to add is there already.
    #[error("{name} is already {}", listed_as(*kind))]
    AlreadyListed {
        /// Its name.
        name: String,
        /// What it is already.
        kind: TargetKind,
    },
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

const fn listed_as(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Node => "a cluster node",
        TargetKind::Firewall => "a firewall of this CTL",
        _ => "an alternate TFTP server of this CTL",
    }
}

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

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token => f.write_str("token"),
            Self::Node(n) | Self::AlternateTftp(n) | Self::Firewall(n) => f.write_str(n),
        }
    }
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
pub fn server_entries<'a>(
    nodes: impl IntoIterator<Item = &'a NodeView>,
) -> Result<Vec<Entry>, Error> {
    let mut out = Vec::new();
    for node in nodes {
        if node.status != NodeStatus::Ok {
            return Err(Error::NodeNotReady {
                node: node.name.clone(),
                status: node.status.clone(),
            });
        }
        let Some(info) = &node.info else { continue };
        let ip = info
            .addresses
            .first()
            .copied()
            .or_else(|| node.resolved.first().copied());
        for c in &info.certificates {
            let certificate =
                Certificate::from_der(&c.der).map_err(|source| Error::Certificate {
                    what: format!("{} role {}", node.name, c.role),
                    source,
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
            Certificate::from_der(der).map_err(|source| Error::Certificate {
                what: "a SAST record".into(),
                source,
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
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selector {
    /// By certificate serial (hex, leading zeros ignored).
    Serial(String),
    /// By subject text (as `ctl inspect` prints it).
    Subject(String),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Serial(s) => write!(f, "serial {s}"),
            Self::Subject(s) => write!(f, "subject \"{s}\""),
        }
    }
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
) -> Result<Certificate, Rule> {
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
        return Err(Rule::ServerEntry {
            entry: server.describe(),
            from: server.origin.to_string(),
        });
    }
    let Some(pos) = tokens.iter().position(matches) else {
        return Err(Rule::NoMatch(selector.clone()));
    };
    if tokens.len() <= 2 {
        return Err(Rule::TwoMustRemain {
            count: tokens.len(),
        });
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

/// The distinct tokens of a first CTL, by the rules of mixed mode: two at least, and the
/// signer among them.
///
/// # Errors
/// Fewer than two distinct tokens, or a signer that is not one of them.
pub fn mixed_mode_tokens(tokens: &[Certificate], signer: &[u8]) -> Result<Vec<Certificate>, Rule> {
    let mut distinct: Vec<Certificate> = Vec::new();
    for t in tokens {
        if !distinct.iter().any(|d| d.der() == t.der()) {
            distinct.push(t.clone());
        }
    }
    if distinct.len() < 2 {
        return Err(Rule::TooFewTokens {
            given: distinct.len(),
        });
    }
    if !distinct.iter().any(|t| t.der() == signer) {
        return Err(Rule::SignerNotListed);
    }
    Ok(distinct)
}

/// The current CTL's tokens, once `token` is shown to be one of them and the file's
/// signature verifies: an update starts from a CTL that checks out.
///
/// # Errors
/// No current CTL, a CTL that does not parse or verify, or a token not in it.
pub fn current_tokens(
    current: Option<&[u8]>,
    token: &Certificate,
) -> Result<Vec<Certificate>, Error> {
    let current = current.ok_or(Rule::NoCtl)?;
    let doc = ctl_format::parse_trust_list(current).map_err(Error::CurrentCtl)?;
    let sasts = sast_certificates(&doc)?;
    if !sasts.iter().any(|s| s.der() == token.der()) {
        return Err(Rule::TokenNotInCtl {
            subject: token.subject_text(NameStyle::Reversed),
            count: sasts.len(),
        }
        .into());
    }
    doc.verify(&ctl_format::RsaVerifier)
        .map_err(Error::CurrentSignature)?;
    Ok(sasts)
}

/// `tokens` with `add` appended, each certificate once.
pub fn with_tokens(mut tokens: Vec<Certificate>, add: &[Certificate]) -> Vec<Certificate> {
    for t in add {
        if !tokens.iter().any(|x| x.der() == t.der()) {
            tokens.push(t.clone());
        }
    }
    tokens
}

/// Which of `nodes` is the off-cluster server `name` an update removes.
///
/// # Errors
/// No such server, or one in the first node's own configuration.
pub fn peer_to_remove(nodes: &[&NodeView], name: &str) -> Result<usize, Rule> {
    let Some(i) = nodes
        .iter()
        .position(|n| n.kind != TargetKind::Node && n.name == name)
    else {
        return Err(Rule::NoSuchPeer {
            name: name.to_owned(),
            known: nodes
                .iter()
                .filter(|n| n.kind != TargetKind::Node)
                .map(|n| n.name.clone())
                .collect(),
        });
    };
    if nodes.get(i).and_then(|n| n.source) == Some(PeerSource::Configured) {
        return Err(Rule::ConfiguredPeer {
            name: name.to_owned(),
        });
    }
    Ok(i)
}

/// A server an update adds must not be among `nodes` yet.
///
/// # Errors
/// A node or off-cluster server of that name.
pub fn check_new_peer(nodes: &[&NodeView], name: &str) -> Result<(), Rule> {
    match nodes.iter().find(|n| n.name == name) {
        Some(n) => Err(Rule::AlreadyListed {
            name: name.to_owned(),
            kind: n.kind,
        }),
        None => Ok(()),
    }
}

/// The signer of an update may remove another token, not itself.
///
/// # Errors
/// The removed token is the signer.
pub fn check_removal(removed: &Certificate, signer: &[u8]) -> Result<(), Rule> {
    if removed.der() == signer {
        Err(Rule::SignerRemovesItself)
    } else {
        Ok(())
    }
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

/// The alternate TFTP servers and firewalls among `nodes`, for the first node to store.
pub fn off_cluster<'a>(nodes: impl IntoIterator<Item = &'a NodeView>) -> OffCluster {
    let mut out = OffCluster::default();
    for n in nodes {
        let list = match n.kind {
            TargetKind::AlternateTftp => &mut out.alternate_tftp,
            TargetKind::Firewall => &mut out.firewalls,
            _ => continue,
        };
        list.push(Peer {
            name: n.name.clone(),
            host: n.host.clone(),
            port: n.port,
            source: n.source.unwrap_or(PeerSource::Stored),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use ctl_format::TrustListBuilder;

    fn cert(name: &str) -> Certificate {
        Certificate::from_pem(
            &std::fs::read(ctl_test_support::fixture(&format!("{name}.crt.pem"))).unwrap(),
        )
        .unwrap()
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
}
