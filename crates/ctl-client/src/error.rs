//! Why a workflow stopped: one typed error with a variant per cause, the lower crates'
//! errors kept as sources.

use ctl_provider::cluster::{NodeStatus, TargetKind};
use ctl_provider::net::NetError;

use crate::known::KnownError;
use crate::report::DistributionReport;
use crate::selector::Selector;

/// Why a workflow stopped. Nothing was changed on any node unless the report says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The first node could not be used.
    #[error("first node {publisher}: {status}")]
    Publisher {
        /// HOST:PORT.
        publisher: String,
        /// What happened.
        status: NodeStatus,
    },
    /// A node is not ready; the CTL must cover every node.
    #[error("node {node} is not ready ({status}); every node must be reachable to build the CTL")]
    NodeNotReady {
        /// The node.
        node: String,
        /// Its status.
        status: NodeStatus,
    },
    /// A certificate that cannot be read.
    #[error("{what}: {source}")]
    Certificate {
        /// Whose.
        what: String,
        /// Why.
        source: ctl_format::CertificateError,
    },
    /// A Cisco rule refused the change.
    #[error("{0}")]
    Rule(#[from] Rule),
    /// The CTL cannot be built (over 64 KiB, a signer that cannot sign, ...).
    #[error("building the CTL: {0}")]
    Build(#[from] ctl_format::BuildError),
    /// The current CTL does not parse.
    #[error("the current CTL: {0}")]
    CurrentCtl(#[source] ctl_format::Error),
    /// The current CTL's signature does not verify.
    #[error("the current CTL: its signature does not verify: {0}")]
    CurrentSignature(#[source] ctl_format::VerifyError),
    /// A provider could not be used outside distribution.
    #[error("{}", provider_text(server, source))]
    Provider {
        /// HOST:PORT (or the node's name).
        server: String,
        /// What went wrong.
        source: NetError,
    },
    /// The known-providers file.
    #[error("{0}")]
    Known(#[from] KnownError),
    /// A token or key could not be used.
    #[error("{0}")]
    Token(#[from] ctl_token::Error),
    /// The task that signed on the token stopped before it answered.
    #[error("the signing task stopped: {0}")]
    SigningTask(#[source] tokio::task::JoinError),
    /// The confirmation said no (or it was a dry run): nothing was signed or sent.
    #[error("not confirmed: nothing was signed or sent")]
    Cancelled,
    /// Distribution failed; every node that had staged the file aborted it.
    #[error("distribution failed: {0}")]
    Distribution(Box<DistributionReport>),
}

/// `server: what went wrong`, without naming the server twice when the error does.
fn provider_text(server: &str, source: &NetError) -> String {
    match source {
        NetError::Untrusted(_) | NetError::Unresolvable { .. } | NetError::NoAddress { .. } => {
            source.to_string()
        }
        _ => format!("{server}: {source}"),
    }
}

impl Error {
    /// A stable name of the cause, for scripts (`--json` prints it as `error_code`):
    /// `publisher`, `node-not-ready`, `certificate`, `rule`, `build`, `current-ctl`,
    /// `current-signature`, `provider`, `known-providers`, `token`, `signing`,
    /// `cancelled` or `distribution`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Publisher { .. } => "publisher",
            Self::NodeNotReady { .. } => "node-not-ready",
            Self::Certificate { .. } => "certificate",
            Self::Rule(_) => "rule",
            Self::Build(_) => "build",
            Self::CurrentCtl(_) => "current-ctl",
            Self::CurrentSignature(_) => "current-signature",
            Self::Provider { .. } => "provider",
            Self::Known(_) => "known-providers",
            Self::Token(_) => "token",
            Self::SigningTask(_) => "signing",
            Self::Cancelled => "cancelled",
            Self::Distribution(_) => "distribution",
        }
    }
}

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
    /// The current CTL is not trusted: a phone holding the CTL held for the cluster would
    /// not take it, or (with none held) it is not signed by the token presented.
    #[error(
        "the current CTL (sha256 {hash}) is not trusted: {why}; its other security tokens: {}; if you know it, give --trust-ctl with your copy or --accept-ctl {hash}",
        if others.is_empty() { "none".to_owned() } else { others.join(", ") }
    )]
    UntrustedCtl {
        /// Why.
        why: String,
        /// Its SAST records other than the token presented, by subject and serial.
        others: Vec<String>,
        /// Its SHA-256, hex.
        hash: String,
    },
    /// A server reported a certificate in a role it has no right to: a security token's,
    /// or one its services (or its kind: alternate TFTP server, firewall) do not justify.
    #[error("{server} reports a certificate as {role}: {why}; nothing was signed")]
    ForeignRole {
        /// The server.
        server: String,
        /// The role it claimed.
        role: ctl_format::Role,
        /// Why it has no right to it.
        why: &'static str,
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
