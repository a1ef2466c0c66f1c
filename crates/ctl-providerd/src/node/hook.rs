//! The on-commit hook: a command run after every commit, with the node, hash and file in
//! its environment, killed after its timeout.

use std::time::Duration;

use ctl_provider::message::HookOutcome;

use super::Node;

/// What the hook said, at most this many bytes.
const MESSAGE_LIMIT: usize = 1000;

impl Node {
    /// Runs the hook, if one is configured, for the CTL with hash `h`.
    pub(super) async fn run_hook(&self, h: &[u8; 32]) -> Option<HookOutcome> {
        let (program, args) = self.config.hook.on_commit.split_first()?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env("CTL_NODE", &self.config.node)
            .env("CTL_HASH", ctl_format::hex(h))
            .env("CTL_FILE", self.store.ctl_path())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let timeout = Duration::from_secs(self.config.hook.timeout_secs);
        let outcome = match tokio::time::timeout(timeout, cmd.output()).await {
            Ok(Ok(out)) => {
                let mut text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                if !err.is_empty() {
                    text = if text.is_empty() {
                        err
                    } else {
                        format!("{text}; {err}")
                    };
                }
                truncate(&mut text, MESSAGE_LIMIT);
                HookOutcome {
                    exit_status: out.status.code().unwrap_or(-1),
                    message: text,
                }
            }
            Ok(Err(e)) => HookOutcome {
                exit_status: -1,
                message: format!("could not run {program}: {e}"),
            },
            Err(_) => HookOutcome {
                exit_status: -1,
                message: format!("killed after {} s", timeout.as_secs()),
            },
        };
        Some(outcome)
    }
}

/// Cuts `text` to at most `limit` bytes, at a character boundary.
fn truncate(text: &mut String, limit: usize) {
    text.truncate(text.floor_char_boundary(limit));
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn long_output_is_cut_at_a_character_boundary() {
        let mut t = "é".repeat(600);
        truncate(&mut t, 1000);
        assert_eq!(t.len(), 1000);
        let mut odd = format!("a{}", "é".repeat(600));
        truncate(&mut odd, 1000);
        assert_eq!(odd.len(), 999, "never half a character");
        let mut short = "ok".to_owned();
        truncate(&mut short, 1000);
        assert_eq!(short, "ok");
    }
}
