//! What became of a distribution on every target, typed.

use std::fmt;
use std::sync::Arc;

use ctl_provider::message::{ErrorCode, HookOutcome};
use ctl_provider::net::NetError;

/// Why a target failed.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// No session could be opened.
    #[error("{0}")]
    Connect(Arc<NetError>),
    /// Its provider refused the file.
    #[error("stage refused ({}): {message}", code.name())]
    StageRefused {
        /// The provider's code.
        code: ErrorCode,
        /// Its text.
        message: String,
    },
    /// The node holds a CTL that is neither the one this change was built from nor an
    /// earlier one it could be brought from: a change committed meanwhile, or a CTL of its
    /// own.
    #[error(
        "stage refused: it holds CTL {holds}, not the one this change was built from ({built_from}), and refused that one: {refusal}; another change was committed meanwhile, or this node holds a CTL of its own: run `ctl cluster status`"
    )]
    Diverged {
        /// SHA-256 (hex) of what it holds.
        holds: String,
        /// SHA-256 (hex) of the CTL the change was built from.
        built_from: String,
        /// Why it refused to be brought there.
        refusal: String,
    },
    /// Staging failed (reading its CTL, sending the file).
    #[error("{0}")]
    Stage(Arc<NetError>),
    /// Another CTL was committed there after this one was staged.
    #[error("another CTL was committed first: {0}")]
    Conflict(String),
    /// The commit failed; the target keeps the file it had unless it committed.
    #[error("{0}; run again: commits are idempotent")]
    Commit(Arc<NetError>),
    /// COMMIT was sent and no answer came (the connection broke, or it timed out): the
    /// node may have committed or not.
    #[error(
        "no answer to COMMIT ({0}): it may or may not have committed; `ctl cluster status` tells which CTL it holds, and running the change again is safe (commits are idempotent)"
    )]
    CommitUnanswered(Arc<NetError>),
    /// A step after the commit failed.
    #[error("{what}: {error}")]
    Followup {
        /// The step.
        what: String,
        /// Why.
        error: Arc<NetError>,
    },
}

impl TargetError {
    /// The provider's error code, when it refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::StageRefused { code, .. } => Some(*code),
            Self::Conflict(_) | Self::Diverged { .. } => Some(ErrorCode::Conflict),
            Self::Connect(e)
            | Self::Stage(e)
            | Self::Commit(e)
            | Self::CommitUnanswered(e)
            | Self::Followup { error: e, .. } => e.code(),
        }
    }
}

/// What became of the file on one target.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TargetStatus {
    /// The file is current there.
    Committed,
    /// Staged, then aborted because another target failed: the target is unchanged.
    Aborted,
    /// This target failed; it is unchanged unless it committed.
    Failed(TargetError),
    /// The commit was sent and not answered: whether the target took the file is
    /// unknown ([`TargetError::CommitUnanswered`] says what tells).
    Unknown(TargetError),
}

impl TargetStatus {
    /// `committed`, `aborted`, `failed` or `unknown`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Committed => "committed",
            Self::Aborted => "aborted",
            Self::Failed(_) => "failed",
            Self::Unknown(_) => "unknown",
        }
    }

    /// Whether the file is current there.
    pub const fn is_committed(&self) -> bool {
        matches!(self, Self::Committed)
    }
}

impl fmt::Display for TargetStatus {
    /// `committed`, `aborted (unchanged)`, `failed: WHY` or `unknown: WHY`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Committed => f.write_str("committed"),
            Self::Aborted => f.write_str("aborted (unchanged)"),
            Self::Failed(why) => write!(f, "failed: {why}"),
            Self::Unknown(why) => write!(f, "unknown: {why}"),
        }
    }
}

/// One target of a distribution.
#[derive(Clone, Debug)]
pub struct TargetReport {
    /// Node name.
    pub name: String,
    /// Host and port of its provider.
    pub server: String,
    /// Where the file is.
    pub location: String,
    /// What happened.
    pub status: TargetStatus,
    /// Services to restart on it for the new CTL to take effect.
    pub restart: Vec<&'static str>,
    /// The on-commit hook, if it ran.
    pub hook: Option<HookOutcome>,
    /// What was done on it after the commit (the CAPF certificate stored on a subsequent
    /// node, the security mode set on the first node).
    pub after_commit: Vec<Followup>,
}

/// A step done on a target, on the same session, once it committed the file.
#[derive(Clone, Debug)]
pub struct Followup {
    /// What it is (`security mode set to mixed`, `CAPF certificate stored`).
    pub what: String,
    /// Why it failed, if it did.
    pub error: Option<Arc<NetError>>,
}

/// Every target of a distribution.
#[derive(Clone, Debug)]
pub struct DistributionReport {
    /// SHA-256 of the file, hex.
    pub hash: String,
    /// Per target.
    pub targets: Vec<TargetReport>,
}

impl DistributionReport {
    /// One line per step done after the commits, failed ones saying so.
    pub fn followup_notes(&self) -> Vec<String> {
        self.followups(true)
    }

    /// The steps after the commits that failed, as text; empty when all were done.
    pub fn followups_failed(&self) -> Vec<String> {
        self.followups(false)
    }

    fn followups(&self, done_too: bool) -> Vec<String> {
        self.targets
            .iter()
            .flat_map(|t| {
                t.after_commit.iter().filter_map(move |f| match &f.error {
                    None => done_too.then(|| format!("{} on {}", f.what, t.name)),
                    Some(e) => Some(format!("{} NOT done on {}: {e}", f.what, t.name)),
                })
            })
            .collect()
    }

    /// Whether the file is current on every target.
    pub fn all_committed(&self) -> bool {
        self.targets.iter().all(|t| t.status.is_committed())
    }
}

impl fmt::Display for DistributionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bad: Vec<String> = self
            .targets
            .iter()
            .filter_map(|t| match &t.status {
                TargetStatus::Failed(r) | TargetStatus::Unknown(r) => {
                    Some(format!("{} ({}): {r}", t.name, t.server))
                }
                _ => None,
            })
            .collect();
        write!(f, "{}", bad.join("; "))
    }
}
