//! Issue 11, "it says what happens": the daemon's log on stderr, in both forms, against a
//! real `ctl-providerd`: the events an operator needs, and no secret in any of them.

use ctl_test_support::hostile::{self, Behaviour};

use crate::support::*;

/// Sessions that log in right and wrong, with a hostile user name, a commit, and a burst
/// of connections from one address that the node turns away.
async fn a_busy_minute(d: &Daemon) {
    // The first failure from a source is written at once (the rest of the minute is a
    // summary): the hostile name first.
    let mut c = connect(d).await;
    let _ = c
        .login(
            "adm\u{1b}]0;pwned\u{7}in\nforged line",
            &Password::new("hunter2-WRONG"),
        )
        .await;
    let _ = c.login("admin", &Password::new("hunter2-WRONG")).await;
    let mut c = logged_in(d).await;
    assert!(matches!(
        stage_commit(&mut c, ctl("sast1", 1_700_000_000), None).await,
        Response::Committed { .. }
    ));
    drop(c);
    let target = hostile::Target {
        addr: d.addr,
        tls: client_tls(Arc::new(Fingerprints(vec![fingerprint(&tls_cert(&d.dir))]))).unwrap(),
    };
    let until = tokio::time::Instant::now() + Duration::from_millis(600);
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..12 {
        flood.spawn(hostile::run(
            target.clone(),
            "127.0.0.3".parse().unwrap(),
            Behaviour::Silent,
            until,
        ));
    }
    while flood.join_next().await.is_some() {}
    // The log is written as it happens; give the last session's end a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

fn no_secret_and_no_control_character(log: &str) {
    for secret in ["s3cret", "hunter2"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    let raw = log.bytes().find(|&b| (b < 0x20 && b != b'\n') || b == 0x7f);
    assert!(raw.is_none(), "a raw control character in the log:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_lines_tell_sessions_logins_commits_and_refusals_without_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    let log = tmp.path().join("stderr.log");
    let d = daemon::run_logged(Path::new(BIN), tmp.path(), &["--log-format", "json"], &log);
    a_busy_minute(&d).await;
    let text = std::fs::read_to_string(&log).unwrap();
    no_secret_and_no_control_character(&text);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let with = |message: &str| {
        events
            .iter()
            .filter(|e| e["message"] == message)
            .collect::<Vec<_>>()
    };
    assert!(!with("session started").is_empty(), "{text}");
    assert!(!with("session ended").is_empty(), "{text}");
    let actions: Vec<&str> = with("audit")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in ["login-failed", "login", "stage", "commit"] {
        assert!(
            actions.contains(&action),
            "no {action} event: {actions:?}\n{text}"
        );
    }
    let refused = with("connections closed before TLS");
    assert!(!refused.is_empty(), "{text}");
    assert_eq!(refused[0]["source"], "127.0.0.3");
    assert_eq!(refused[0]["level"], "WARN");
    // A flood is a few lines, not a line per connection.
    assert!(refused.len() <= 2, "{refused:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn journald_lines_have_a_priority_and_escape_what_clients_sent() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    let log = tmp.path().join("stderr.log");
    let d = daemon::run_logged(Path::new(BIN), tmp.path(), &[], &log);
    a_busy_minute(&d).await;
    let text = std::fs::read_to_string(&log).unwrap();
    no_secret_and_no_control_character(&text);
    for line in text.lines() {
        let prio = line
            .strip_prefix('<')
            .and_then(|r| r.split_once('>'))
            .map(|(p, _)| p);
        assert!(
            matches!(prio, Some("3" | "4" | "6" | "7")),
            "no priority: {line}"
        );
    }
    // The hostile name is there, escaped, and its newline did not forge a line.
    assert!(text.contains("adm\\u{1b}]0;pwned\\u{7}in"), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("forged line")),
        "{text}"
    );
    assert!(text.contains("<4>"), "no warning for the refusals: {text}");
}
