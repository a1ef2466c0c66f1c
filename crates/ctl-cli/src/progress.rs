//! Progress of a cluster workflow: one line per node that changes as it goes (indicatif,
//! on a terminal), or one plain line per event (otherwise).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ctl_client::Event;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where events go.
#[derive(Clone)]
pub(crate) enum Progress {
    /// Plain lines on stderr.
    Lines,
    /// A live line per target.
    Bars(Arc<Bars>),
}

impl Progress {
    /// Bars when stderr is a terminal, else lines.
    pub(crate) fn for_stderr(terminal: bool) -> Self {
        if terminal {
            Self::Bars(Arc::new(Bars::new(ProgressDrawTarget::stderr())))
        } else {
            Self::Lines
        }
    }

    pub(crate) fn event(&self, e: Event) {
        match self {
            Self::Lines => errln!("  {e}"),
            Self::Bars(b) => b.event(e),
        }
    }

    /// Stops every line still moving (before the report is printed).
    pub(crate) fn finish(&self) {
        if let Self::Bars(b) = self {
            b.finish();
        }
    }
}

/// One spinner line per target, in the order they first report.
pub(crate) struct Bars {
    multi: MultiProgress,
    lines: Mutex<Vec<(String, ProgressBar)>>,
}

/// The state a line is in after an event, and whether it is final.
fn state(e: &Event) -> Option<(&str, String, bool)> {
    Some(match e {
        Event::NodeContacted { node, status } => (node, format!("contacted: {status}"), false),
        Event::CertificateCollected { from, entry } => (from, format!("collected {entry}"), false),
        Event::Staged { target } => (target, "staged".to_owned(), false),
        Event::Committed { target } => (target, "committed".to_owned(), true),
        Event::Aborted { target } => (target, "aborted (unchanged)".to_owned(), true),
        Event::Failed { target, reason } => (target, format!("FAILED: {reason}"), true),
        _ => return None,
    })
}

impl Bars {
    pub(crate) fn new(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            lines: Mutex::new(Vec::new()),
        }
    }

    fn event(&self, e: Event) {
        let Some((target, message, last)) = state(&e) else {
            return;
        };
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bar = match lines.iter().find(|(t, _)| t == target) {
            Some((_, b)) => b.clone(),
            None => {
                let b = self.multi.add(ProgressBar::new_spinner());
                if let Ok(style) = ProgressStyle::with_template("  {spinner} {prefix:<18} {msg}") {
                    b.set_style(style);
                }
                // Names and reasons come from the nodes: escaped like every other output.
                b.set_prefix(ctl_format::printable(target).into_owned());
                b.enable_steady_tick(Duration::from_millis(120));
                lines.push((target.to_owned(), b.clone()));
                b
            }
        };
        let message = ctl_format::printable(&message).into_owned();
        if last {
            bar.finish_with_message(message);
        } else if !bar.is_finished() {
            bar.set_message(message);
        }
    }

    fn finish(&self) {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, b) in lines.iter().filter(|(_, b)| !b.is_finished()) {
            b.abandon();
        }
    }

    #[cfg(test)]
    fn shown(&self) -> Vec<(String, String, bool)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|(t, b)| (t.clone(), b.message(), b.is_finished()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_line_per_target_that_follows_its_events() {
        let bars = Bars::new(ProgressDrawTarget::hidden());
        let ev = |e| bars.event(e);
        ev(Event::NodeContacted {
            node: "pub".into(),
            status: ctl_client::NodeStatus::Ok,
        });
        ev(Event::NodeContacted {
            node: "sub".into(),
            status: ctl_client::NodeStatus::Ok,
        });
        ev(Event::Staged {
            target: "pub".into(),
        });
        ev(Event::Failed {
            target: "sub".into(),
            reason: ctl_client::TargetError::StageRefused {
                code: ctl_provider::message::ErrorCode::SignatureRefused,
                message: "not signed".into(),
            },
        });
        ev(Event::Aborted {
            target: "pub".into(),
        });
        // A final state stays final.
        ev(Event::Staged {
            target: "sub".into(),
        });
        assert_eq!(
            bars.shown(),
            [
                ("pub".into(), "aborted (unchanged)".into(), true),
                (
                    "sub".into(),
                    "FAILED: stage refused (SIGNATURE_REFUSED): not signed".into(),
                    true
                ),
            ]
        );
        ev(Event::NodeContacted {
            node: "tftp".into(),
            status: ctl_client::NodeStatus::Ok,
        });
        bars.finish();
        assert!(bars.shown()[2].2, "finish stops the lines still moving");
    }
}
