//! Progress, reported as events for any UI to draw.

use std::sync::Arc;

use ctl_provider::cluster::NodeStatus;

use crate::report::TargetError;

/// Progress, for any UI to draw.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A node answered discovery.
    NodeContacted {
        /// The node.
        node: String,
        /// Its status.
        status: NodeStatus,
    },
    /// A certificate was collected for the CTL.
    CertificateCollected {
        /// From which node or token.
        from: String,
        /// Role and subject.
        entry: String,
    },
    /// A target staged the file.
    Staged {
        /// The target.
        target: String,
    },
    /// Every target staged the file; the commits are sent next. Until this event nothing
    /// has changed anywhere (a client that stops before it leaves every node as it was:
    /// nodes discard staged copies when their sessions close); from it on, stopping can
    /// leave some nodes on the new CTL and others on the old one.
    Committing {
        /// How many targets commit.
        targets: usize,
    },
    /// A target committed the file.
    Committed {
        /// The target.
        target: String,
    },
    /// A target aborted the staged file.
    Aborted {
        /// The target.
        target: String,
    },
    /// A step failed on a target.
    Failed {
        /// The target.
        target: String,
        /// Why.
        reason: TargetError,
    },
}

impl std::fmt::Display for Event {
    /// One line for people: `contacted NODE: STATUS`, `staged on TARGET`, ...
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NodeContacted { node, status } => write!(f, "contacted {node}: {status}"),
            Self::CertificateCollected { from, entry } => {
                write!(f, "collected {entry} from {from}")
            }
            Self::Staged { target } => write!(f, "staged on {target}"),
            Self::Committing { targets } => write!(f, "committing on {targets} targets"),
            Self::Committed { target } => write!(f, "committed on {target}"),
            Self::Aborted { target } => write!(f, "aborted on {target}"),
            Self::Failed { target, reason } => write!(f, "FAILED on {target}: {reason}"),
        }
    }
}

/// Where events go.
pub(crate) type Sink = Arc<dyn Fn(Event) + Send + Sync>;
