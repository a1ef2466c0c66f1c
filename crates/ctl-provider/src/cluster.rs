//! The cluster as a client sees it: every node, alternate TFTP server and firewall, what
//! each told, and what became of it. Pure data, filled in by discovery.

use std::fmt;
use std::net::IpAddr;

use crate::types::{NodeInfo, PeerSource};

/// What became of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeStatus {
    /// Contacted, logged in, facts collected.
    Ok,
    /// Its host name does not resolve from this client.
    Unresolvable(String),
    /// No TLS session could be made (refused, timed out).
    Unreachable(String),
    /// Its certificate is not the one pinned for it (both fingerprints are in the text).
    IdentityMismatch(String),
    /// Its certificate was never seen, and nothing vouches for it.
    UnknownIdentity(String),
    /// The login was refused.
    LoginRefused(String),
    /// No protocol version in common, or another protocol failure.
    ProtocolMismatch(String),
}

impl NodeStatus {
    /// `ok`, `unresolvable`, `unreachable`, `identity-mismatch`, `unknown-identity`,
    /// `login-refused`, `protocol-mismatch`: stable names for scripts.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unresolvable(_) => "unresolvable",
            Self::Unreachable(_) => "unreachable",
            Self::IdentityMismatch(_) => "identity-mismatch",
            Self::UnknownIdentity(_) => "unknown-identity",
            Self::LoginRefused(_) => "login-refused",
            Self::ProtocolMismatch(_) => "protocol-mismatch",
        }
    }

    /// The detail, if any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Self::Ok => None,
            Self::Unresolvable(s)
            | Self::Unreachable(s)
            | Self::IdentityMismatch(s)
            | Self::UnknownIdentity(s)
            | Self::LoginRefused(s)
            | Self::ProtocolMismatch(s) => Some(s),
        }
    }
}

/// In words: what happened, then the detail (which names the host where it matters).
impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self {
            Self::Ok => return f.write_str("ok"),
            Self::Unresolvable(_) => "unresolvable",
            Self::Unreachable(_) => "unreachable",
            Self::IdentityMismatch(_) => "certificate changed",
            Self::UnknownIdentity(_) => "unknown certificate",
            Self::LoginRefused(_) => "login refused",
            Self::ProtocolMismatch(_) => "protocol mismatch",
        };
        match self.detail() {
            Some(d) => write!(f, "{label}: {d}"),
            None => f.write_str(label),
        }
    }
}

/// What kind of target a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetKind {
    /// A cluster node.
    Node,
    /// An off-cluster alternate TFTP server.
    AlternateTftp,
    /// A firewall.
    Firewall,
}

/// One node of the cluster view.
#[derive(Clone, Debug)]
pub struct NodeView {
    /// Name (from the member list).
    pub name: String,
    /// Host name.
    pub host: String,
    /// Provider port.
    pub port: u16,
    /// What it is.
    pub kind: TargetKind,
    /// Whether it is the node reached at the address the operator named, which answered
    /// MEMBERS: the first node, whatever other nodes claim.
    pub publisher: bool,
    /// For an off-cluster server the first node listed: where it knows it from.
    pub source: Option<PeerSource>,
    /// Services (from the member list; from NODE_INFO when contacted).
    pub services: u16,
    /// The addresses its host name resolved to, here.
    pub resolved: Vec<IpAddr>,
    /// NODE_INFO, when contacted.
    pub info: Option<NodeInfo>,
    /// Its TLS certificate, when contacted.
    pub tls_certificate: Option<Vec<u8>>,
    /// What happened.
    pub status: NodeStatus,
    /// The CTL it holds, when asked.
    pub ctl: HeldCtl,
}

/// The CTL a node holds, as far as the client knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeldCtl {
    /// Not asked, or it could not say.
    #[default]
    Unknown,
    /// It holds none.
    None,
    /// It holds the CTL of this hash ([`ctl_hash`](crate::ctl_hash)).
    Sha256([u8; 32]),
}

impl NodeView {
    /// Whether it said it is the first node (in NODE_INFO).
    pub fn is_first_node(&self) -> bool {
        self.info.as_ref().is_some_and(|i| i.first_node)
    }
}

/// The whole cluster as discovered.
#[derive(Clone, Debug)]
pub struct ClusterView {
    /// Every node, the first node first, then alternate TFTP servers and firewalls.
    pub nodes: Vec<NodeView>,
}
