//! Why a workflow stopped: one typed error with a variant per cause, the lower crates'
//! errors kept as sources.

use ctl_provider::cluster::NodeStatus;
use ctl_provider::net::NetError;

use crate::known::KnownError;
use crate::plan::Rule;
use crate::report::DistributionReport;

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
    #[error("{server}: {source}")]
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
    /// Distribution failed; every node that had staged the file aborted it.
    #[error("distribution failed: {0}")]
    Distribution(Box<DistributionReport>),
}
