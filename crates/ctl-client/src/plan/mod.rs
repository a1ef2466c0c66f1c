//! What goes into a CTL, as pure functions: entries from tokens and from the discovered
//! cluster ([`server_entries`], [`token_entries`]), every Cisco rule that guards a change
//! (each refusal a [`Rule`]), and what changed since a CTL was built ([`changes`]). No
//! I/O: the workflows call these.

mod preview;
mod rules;
mod staleness;

use std::fmt;
use std::net::IpAddr;

use ctl_format::{Certificate, Document, NameStyle, RecordSpec, Role, hex};
use ctl_provider::cluster::{NodeStatus, NodeView, TargetKind};
use ctl_provider::message::{OffCluster, Peer, PeerSource};

use crate::Error;

pub use preview::{Preview, draft_warnings};
pub use rules::{
    Anchor, Rule, Selector, check_new_peer, check_removal, current_tokens, mixed_mode_tokens,
    peer_to_remove, remove_token, untrusted_ctl, with_tokens,
};
pub use staleness::{Change, changes, left_out};

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
        let mut granted: Vec<Role> = Vec::new();
        for c in &info.certificates {
            let claimed = Role(c.role);
            let role = justified_role(node, info.services, claimed, &granted).map_err(|why| {
                Error::Rule(Rule::ForeignRole {
                    server: node.name.clone(),
                    role: claimed,
                    why,
                })
            })?;
            granted.push(role);
            let certificate =
                Certificate::from_der(&c.der).map_err(|source| Error::Certificate {
                    what: format!("{} role {}", node.name, c.role),
                    source,
                })?;
            let origin = match node.kind {
                TargetKind::AlternateTftp => Origin::AlternateTftp(node.name.clone()),
                TargetKind::Firewall => Origin::Firewall(node.name.clone()),
                _ => Origin::Node(node.name.clone()),
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

/// The role of the record a certificate that `node` reports as `claimed` gets, given the
/// `services` it runs and the roles its other certificates got: records come from where
/// they belong. A node never gives a security token; a cluster node's CallManager
/// certificate is CCM, CCM+TFTP only with both services, TFTP only with the TFTP service;
/// CAPF only from the first node, with the CAPF service; TVS only with the TVS service;
/// an alternate TFTP server gives one TFTP record and a firewall one CCM record; and no
/// server gives two records of one role.
///
/// # Errors
/// Why the server has no right to the role.
pub fn justified_role(
    node: &NodeView,
    services: u16,
    claimed: Role,
    granted: &[Role],
) -> Result<Role, &'static str> {
    use ctl_provider::message::service;
    let runs = |s: u16| services & s != 0;
    let role = match (node.kind, claimed) {
        (_, Role::SAST) => {
            return Err(
                "security tokens come only from the tokens presented and the verified current CTL",
            );
        }
        (TargetKind::AlternateTftp, Role::CCM | Role::CCM_TFTP | Role::TFTP) => Role::TFTP,
        (TargetKind::Firewall, Role::CCM | Role::CCM_TFTP | Role::TFTP) => Role::CCM,
        (TargetKind::AlternateTftp | TargetKind::Firewall, _) => {
            return Err("an alternate TFTP server or a firewall gives its one certificate only");
        }
        (_, Role::CCM) => Role::CCM,
        (_, Role::CCM_TFTP) if runs(service::CALLMANAGER) && runs(service::TFTP) => Role::CCM_TFTP,
        (_, Role::TFTP) if runs(service::TFTP) && !runs(service::CALLMANAGER) => Role::TFTP,
        (_, Role::CCM_TFTP | Role::TFTP) => {
            return Err("its services do not include TFTP (and CallManager, for CCM+TFTP)");
        }
        (_, Role::CAPF) if node.publisher && runs(service::CAPF) => Role::CAPF,
        (_, Role::CAPF) => return Err("only the first node, running CAPF, gives a CAPF record"),
        (_, Role::TVS) if runs(service::TVS) => Role::TVS,
        (_, Role::TVS) => return Err("it does not run TVS"),
        _ => return Err("no cluster node gives a record of this role"),
    };
    let callmanager = |r: &Role| matches!(*r, Role::CCM | Role::CCM_TFTP | Role::TFTP);
    if granted
        .iter()
        .any(|g| *g == role || (callmanager(g) && callmanager(&role)))
    {
        return Err("it already gave a certificate for this role");
    }
    Ok(role)
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

/// The TIMESTAMP of a new CTL: now, but always after `after` (the CTL it replaces), so
/// that nodes, which refuse a CTL not newer than theirs, take it even when the clock is
/// behind or two changes fall in one second.
pub fn next_timestamp(now: std::time::SystemTime, after: Option<u32>) -> u32 {
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    match after {
        Some(t) => now.max(t.saturating_add(1)),
        None => now,
    }
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
