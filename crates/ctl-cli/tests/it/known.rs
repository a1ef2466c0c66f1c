//! Issue 12: `ctl cluster fetch` (the current CTL, checked against the CTL held here) and
//! `ctl cluster known list|forget|pin` (no hand-editing of the known-providers file).

use std::process::{Command, Output};

use ctl_test_support::rogue::start_rogue;

use crate::support::{connect_args, lone_first_node, stderr, stdout};

#[test]
fn fetch_writes_the_current_ctl_only_when_the_held_one_vouches_for_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (node, liar) = start_rogue(&lone_first_node(tmp.path()));
    let connect = connect_args(&format!("127.0.0.1:{}", node.port), tmp.path());
    let run = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_ctl"))
            .args(args)
            .args(&connect)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = tmp.path().join("fetched.tlv");
    let out_arg = out.to_str().unwrap();

    // Nothing to fetch yet.
    let o = run(&["cluster", "fetch", "--out", out_arg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds no CTL (security mode non-secure)"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());

    let keys = ctl_test_support::keys();
    let key = |n: &str| keys.join(format!("{n}.pem")).display().to_string();
    let o = run(&[
        "cluster",
        "set-mode",
        "mixed",
        "--token",
        &key("sast1"),
        "--token",
        &key("sast2"),
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let current = std::fs::read(node.dir.join("tftp/CTLFile.tlv")).unwrap();

    let o = run(&["cluster", "fetch", "--out", out_arg, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(j["mode"], "mixed");
    assert_eq!(j["vouched"], "held");
    assert_eq!(std::fs::read(&out).unwrap(), current);

    // The node (or whoever answers in its place) hands out a list signed by a stranger.
    let mut foreign = ctl_format::TrustListBuilder::new();
    foreign.timestamp(2_000_000_000);
    foreign.push(ctl_format::RecordSpec::new(
        ctl_test_support::certificate("itlrecovery"),
        ctl_format::Role::SAST,
    ));
    foreign.push(ctl_format::RecordSpec::new(
        ctl_test_support::certificate("ccm"),
        ctl_format::Role::CCM_TFTP,
    ));
    let signer =
        ctl_token::SoftwareSigner::from_files(&keys.join("itlrecovery.pem"), None).unwrap();
    let foreign = foreign.build(&signer).unwrap();
    liar.lock().unwrap().current_ctl = Some(foreign);
    let o = run(&["cluster", "fetch", "--out", out_arg]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is not trusted: a phone holding the CTL held here would refuse it"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        current,
        "the fetched file was replaced"
    );
}

#[test]
fn known_lists_forgets_and_pins_providers() {
    let tmp = tempfile::tempdir().unwrap();
    let known = tmp.path().join("known");
    let k = known.to_str().unwrap();
    let ctl = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_ctl"))
            .args(args)
            .output()
            .unwrap()
    };
    let o = ctl(&["cluster", "known", "list", "--known-providers", k]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("no provider is pinned"),
        "{}",
        stderr(&o)
    );

    let cert = ctl_test_support::keys().join("ccm.crt.pem");
    let o = ctl(&[
        "cluster",
        "known",
        "pin",
        "cucm-pub",
        "--cert",
        cert.to_str().unwrap(),
        "--known-providers",
        k,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fp = ctl_provider::trust::fingerprint_text(&ctl_provider::trust::fingerprint(
        ctl_test_support::certificate("ccm").der(),
    ));
    assert_eq!(stdout(&o).trim(), format!("pinned cucm-pub:2444 to {fp}"));
    let other = "ab".repeat(32);
    let o = ctl(&[
        "cluster",
        "known",
        "pin",
        "10.0.0.2:3000",
        "--fingerprint",
        &other,
        "--known-providers",
        k,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = ctl(&["cluster", "known", "list", "--known-providers", k, "--json"]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 2, "{j}");
    assert_eq!(j[0]["host"], "10.0.0.2");
    assert_eq!(j[0]["port"], 3000);
    assert_eq!(j[1]["sha256"], fp.as_str());

    // A changed certificate, re-pinned on purpose.
    let o = ctl(&[
        "cluster",
        "known",
        "pin",
        "cucm-pub",
        "--fingerprint",
        &other,
        "--known-providers",
        k,
    ]);
    assert!(stdout(&o).contains("(was "), "{}", stdout(&o));

    let o = ctl(&[
        "cluster",
        "known",
        "forget",
        "10.0.0.2:3000",
        "--known-providers",
        k,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = ctl(&[
        "cluster",
        "known",
        "forget",
        "10.0.0.2:3000",
        "--known-providers",
        k,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not pinned"), "{}", stderr(&o));
    let o = ctl(&[
        "cluster",
        "known",
        "pin",
        "cucm-pub",
        "--fingerprint",
        "xyz",
        "--known-providers",
        k,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&known)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count(),
        1
    );
}
