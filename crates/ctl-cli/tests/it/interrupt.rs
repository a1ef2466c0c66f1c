//! Issue 12: Ctrl-C during a workflow says what state the cluster is in. Before the
//! commits: nothing committed, the process stops. During them: they finish first.

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ctl_test_support::rogue::start_rogue;

use crate::support::{connect_args, lone_first_node};

/// `ctl cluster set-mode mixed` against a first node that takes its time, as a child
/// that can be sent SIGINT.
fn set_mode(dir: &std::path::Path, port: u16) -> std::process::Child {
    let keys = ctl_test_support::keys();
    Command::new(env!("CARGO_BIN_EXE_ctl"))
        .args([
            "cluster",
            "set-mode",
            "mixed",
            "--yes",
            "--timeout",
            "30",
            "--token",
        ])
        .arg(keys.join("sast2.crt.pem"))
        .arg("--token")
        .arg(keys.join("sast1.pem"))
        .args(connect_args(&format!("127.0.0.1:{port}"), dir))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn sigint(child: &std::process::Child) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

fn wait_for(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_before_the_commits_stops_and_says_nothing_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let (node, liar) = start_rogue(&lone_first_node(tmp.path()));
    let stages = {
        let mut lies = liar.lock().unwrap();
        lies.stage_delay_ms = 3_000;
        std::sync::Arc::clone(&lies.stages_seen)
    };
    let child = set_mode(tmp.path(), node.port);
    wait_for("STAGE", || stages.load(Ordering::SeqCst) > 0);
    sigint(&child);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("ctl: interrupted: nothing was committed anywhere"),
        "{err}"
    );
    // The node took nothing; once the slow STAGE is answered into the closed session,
    // the same command runs through (nothing was left half-done).
    std::thread::sleep(Duration::from_millis(3_500));
    assert!(!node.dir.join("tftp/CTLFile.tlv").exists());
    liar.lock().unwrap().stage_delay_ms = 0;
    let o = set_mode(tmp.path(), node.port).wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(node.dir.join("tftp/CTLFile.tlv").exists());
}

#[test]
fn ctrl_c_during_the_commits_finishes_them_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (node, liar) = start_rogue(&lone_first_node(tmp.path()));
    let commits = {
        let mut lies = liar.lock().unwrap();
        lies.commit_delay_ms = 2_000;
        std::sync::Arc::clone(&lies.commits_seen)
    };
    let child = set_mode(tmp.path(), node.port);
    wait_for("COMMIT", || commits.load(Ordering::SeqCst) > 0);
    sigint(&child);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("the commits are under way; finishing them"),
        "{err}"
    );
    assert!(node.dir.join("tftp/CTLFile.tlv").exists(), "{err}");
}
