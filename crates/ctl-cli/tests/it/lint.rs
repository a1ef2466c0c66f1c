//! `ctl lint`: rules per phone family with their sources, and lists made by someone else.

use crate::support::{ctl, stderr, stdout, v};

#[test]
fn lint_flags_a_list_made_by_someone_else_as_a_lock_in() {
    // The ITL vector is signed by its ITLRecovery key; the user holds the two tokens
    // (one named by its certificate, one by its private key).
    let mine = [
        "--my-key",
        &v("keys/sast1.crt.pem"),
        "--my-key",
        &v("keys/sast2.key.pem"),
    ];
    let itl = v("itl/ITLFile-sha1.tlv");
    let o = ctl(&[&["lint", itl.as_str()][..], &mine].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(": foreign-signer: signed by CN=ITLRECOVERY_cucm-pub.example.com"),
        "{out}"
    );
    assert!(out.contains(": foreign-sast: record #1 (SAST)"), "{out}");
    assert!(out.contains("its holder can sign the next list"), "{out}");
    assert!(out.contains("    affects all phones; source: "), "{out}");

    // The user's own CTL: nothing to say.
    let ctl_file = v("ctl/CTLFile-sha1.tlv");
    let o = ctl(&[&["lint", ctl_file.as_str()][..], &mine].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).ends_with("CTLFile-sha1.tlv: no warnings\n"),
        "{}",
        stdout(&o)
    );

    // Without --my-key nobody's keys are known: the ITL itself is clean.
    let o = ctl(&["lint", &itl]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn lint_json_gives_code_phones_and_source_per_warning() {
    let files = [
        v("ctl/CTLFile-sha1.tlv"),
        v("ctl/CTLFile-sha512.tlv"),
        v("neg/CTLFile-sha1-tampered.tlv"),
    ];
    let o = ctl(&["lint", "--json", &files[0], &files[1], &files[2]]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["ok"], false);
    let f = j["files"].as_array().unwrap();
    assert_eq!(f.len(), 3);
    assert_eq!(f[0]["ok"], true);
    assert_eq!(f[0]["warnings"].as_array().unwrap().len(), 0);
    let w = &f[1]["warnings"][0];
    assert_eq!(w["code"], "digest-needs-firmware");
    assert!(w["phones"].as_str().unwrap().contains("7900"), "{w}");
    assert!(!w["source"].as_str().unwrap().is_empty(), "{w}");
    assert!(w["message"].as_str().unwrap().contains("SHA-512"), "{w}");
    // A tampered list: phones refuse it first of all.
    assert_eq!(f[2]["warnings"][0]["code"], "signature");
    assert!(
        f[2]["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("does not match the file"),
        "{}",
        f[2]
    );
}

#[test]
fn lint_goes_on_past_an_unreadable_file_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.tlv");
    std::fs::write(&junk, b"not a trust list").unwrap();
    let good = v("ctl/CTLFile-sha1.tlv");
    let o = ctl(&["lint", junk.to_str().unwrap(), &good]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("ctl: ") && err.contains("junk.tlv"),
        "{err}"
    );
    assert!(
        stdout(&o).contains("CTLFile-sha1.tlv: no warnings"),
        "{}",
        stdout(&o)
    );

    let o = ctl(&["lint", "--json", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        j["files"][0]["error"]
            .as_str()
            .unwrap()
            .contains("junk.tlv"),
        "{j}"
    );

    // A --my-key that is neither a certificate nor a key is a wrong call.
    let o = ctl(&["lint", &good, "--my-key", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--my-key"), "{}", stderr(&o));
}

/// Issue 12: the workflows said nothing about what phones will not take in the CTL they
/// distribute. Five SAST records (more than a CTL is documented to carry): the dry run's
/// preview names it before anything is signed, and the run's report after.
#[test]
fn workflows_show_the_lint_warnings_of_the_ctl_they_distribute() {
    let tmp = tempfile::tempdir().unwrap();
    let node = ctl_test_support::start(&crate::support::lone_first_node(tmp.path()));
    let connect = crate::support::connect_args(&format!("127.0.0.1:{}", node.port), tmp.path());
    let keys = ctl_test_support::keys();
    let mut args: Vec<String> = vec!["cluster".into(), "set-mode".into(), "mixed".into()];
    // The last token signs.
    for t in [
        "sast2.crt.pem",
        "itlrecovery.crt.pem",
        "tvs.crt.pem",
        "capf.crt.pem",
        "sast1.pem",
    ] {
        args.push("--token".into());
        args.push(keys.join(t).display().to_string());
    }
    args.extend(connect);
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ctl"))
            .args(&args)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let o = run(&["--dry-run", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["dry_run"], true);
    assert_eq!(j["warnings"][0]["code"], "too-many-sast", "{j}");
    assert!(
        !node.dir.join("tftp/CTLFile.tlv").exists(),
        "a dry run sent nothing"
    );

    // The digest asked for is the one signed with: SHA-512 is named as such.
    let o = run(&["--dry-run", "--json", "--digest", "sha512"]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let codes: Vec<&str> = j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"digest-needs-firmware"), "{j}");
    let o = run(&["--dry-run", "--digest", "sha256"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--digest sha256"), "{}", stderr(&o));

    let o = run(&["--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: the distributed CTL: 5 SAST records: phones are documented to hold at most 4 in a CTL"),
        "{}",
        stderr(&o)
    );
}
