//! Ctrl-C during a changing workflow. Before the commits nothing has changed anywhere:
//! the process stops at once and says so (the nodes discard their staged copies as the
//! sessions close). Once the commits are sent, stopping could leave some nodes on the
//! new CTL and others on the old one: the first Ctrl-C says the commits are finishing,
//! a second one stops anyway and says how to see and mend the cluster.

use std::sync::{Arc, Mutex, PoisonError};

use ctl_client::Event;

/// Where the workflow is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Discovery, signing, staging: nothing committed anywhere.
    Preparing,
    /// The commits are being sent.
    Committing,
}

/// Watches the workflow's events and answers Ctrl-C by where it is.
#[derive(Clone, Debug)]
pub(crate) struct Interrupt {
    phase: Arc<Mutex<Phase>>,
}

/// Exit status after an interrupt (128 + SIGINT, as shells report it).
const INTERRUPTED: i32 = 130;

impl Interrupt {
    /// Starts listening for Ctrl-C (on a thread of its own). `json`: the interrupted
    /// command still prints its one JSON object.
    pub(crate) fn install(json: bool) -> Self {
        let phase = Arc::new(Mutex::new(Phase::Preparing));
        let watched = Arc::clone(&phase);
        let listener = std::thread::Builder::new()
            .name("ctrl-c".to_owned())
            .spawn(move || listen(&watched, json));
        if listener.is_err() {
            errln!("ctl: warning: Ctrl-C cannot be watched; it stops the command wherever it is");
        }
        Self { phase }
    }

    /// Sees an event of the workflow. Called before the commits are sent: a Ctrl-C that
    /// holds the lock stops the process before any is.
    pub(crate) fn observe(&self, e: &Event) {
        if matches!(e, Event::Committing { .. }) {
            *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = Phase::Committing;
        }
    }
}

fn listen(phase: &Mutex<Phase>, json: bool) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let mut asked = false;
    while rt.block_on(tokio::signal::ctrl_c()).is_ok() {
        // Held until the process is gone: the workflow cannot move on to the commits.
        let now = phase.lock().unwrap_or_else(PoisonError::into_inner);
        match (*now, asked) {
            (Phase::Preparing, _) => stop(
                json,
                "interrupted: nothing was committed anywhere; the nodes discard the staged copies as the sessions close",
            ),
            (Phase::Committing, false) => {
                asked = true;
                errln!(
                    "ctl: interrupt: the commits are under way; finishing them so that no node is left on the old CTL (Ctrl-C again stops now)"
                );
            }
            (Phase::Committing, true) => stop(
                json,
                "interrupted during the commits: some nodes may hold the new CTL and others the old one; `ctl cluster status` tells which, and running the command again brings them together",
            ),
        }
        drop(now);
    }
}

fn stop(json: bool, message: &str) -> ! {
    if json {
        let out = serde_json::json!({
            "ok": false,
            "error_code": "interrupted",
            "error": message,
        });
        outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    errln!("ctl: {message}");
    std::process::exit(INTERRUPTED)
}
