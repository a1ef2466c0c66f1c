//! `ctl cluster discover` against providers running in this test process (real TLS on loopback).

use std::path::Path;
use std::process::Command;

use ctl_providerd::Endpoint;
use ctl_test_support::{local, node_setup, start};

const FIRST: &[&str] = &["callmanager", "tftp", "capf", "provider"];
const SUB: &[&str] = &["callmanager", "provider"];

#[test]
fn discover_prints_every_node_with_its_status_and_certificates() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = start(&node_setup(&tmp.path().join("sub"), "sub1", 0, SUB));
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST);
    first
        .first_node(true)
        .member(local("sub1", sub.port))
        .firewall(Endpoint::new("asa", "no-such-host.invalid", 2444));
    let p1 = start(&first).port;
    crate::support::password_file(&tmp.path().join("pub"));
    let known = tmp.path().join("known");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "cluster".to_owned(),
            "discover".into(),
            "--publisher".into(),
            format!("127.0.0.1:{p1}"),
            "--user".into(),
            "admin".into(),
            "--password-file".into(),
            tmp.path().join("pub/password").display().to_string(),
            "--known-providers".into(),
            known.display().to_string(),
            "--json".into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        Command::new(env!("CARGO_BIN_EXE_ctl"))
            .args(&args)
            .output()
            .unwrap()
    };
    // Unknown providers are refused without trust on first use.
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown certificate"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&["--trust-on-first-use"]);
    assert_eq!(o.status.code(), Some(1), "the firewall does not resolve");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let nodes = j.as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert_eq!(nodes[0]["name"], "cucm-pub");
    assert_eq!(nodes[0]["status"], "ok");
    assert_eq!(
        nodes[0]["services"],
        serde_json::json!(["callmanager", "tftp", "capf", "provider"])
    );
    assert_eq!(nodes[0]["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(
        nodes[0]["certificates"][0]["subject"],
        "O=CTL provider;CN=cucm-pub"
    );
    assert_eq!(
        nodes[0]["certificates"][0]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        95
    );
    assert_eq!(nodes[1]["name"], "sub1");
    assert_eq!(nodes[1]["status"], "ok");
    assert_eq!(nodes[2]["kind"], "firewall");
    assert_eq!(nodes[2]["status"], "unresolvable");
    assert!(
        nodes[2]["detail"]
            .as_str()
            .unwrap()
            .contains("no-such-host.invalid")
    );
    // Pinned: the next run needs no trust on first use, and the text output lists roles.
    let text = Command::new(env!("CARGO_BIN_EXE_ctl"))
        .args([
            "cluster",
            "discover",
            "--publisher",
            &format!("127.0.0.1:{p1}"),
            "--user",
            "admin",
            "--password-file",
        ])
        .arg(tmp.path().join("pub/password"))
        .arg("--known-providers")
        .arg(&known)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(
        out.contains("sub1 (node 127.0.0.1:") && out.contains(": ok"),
        "{out}"
    );
    assert!(
        out.contains("CCM+TFTP: O=CTL provider;CN=cucm-pub"),
        "{out}"
    );

    // A CTL holding the first node's certificate vouches for it (and only for it), at the
    // address its record names.
    let vectors = ctl_test_support::keys();
    let ctl = tmp.path().join("CTLFile.tlv");
    let o = Command::new(env!("CARGO_BIN_EXE_ctl"))
        .args(["build", "--out", ctl.to_str().unwrap(), "--sast"])
        .arg(vectors.join("sast1.pem"))
        .arg("--ccm-tftp")
        .arg(format!(
            "{},ip=127.0.0.1",
            tmp.path().join("pub/callmanager.pem").display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_file(&known).unwrap();
    let o = run(&["--trust-ctl", ctl.to_str().unwrap()]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j[0]["status"], "ok", "{j}");
    assert_eq!(j[1]["status"], "unknown-identity", "{j}");

    // Issue 10, finding 5: a certificate of the CTL is not the identity of any host. A
    // provider at an address its record does not name (here sub1, whose record says
    // 10.9.9.9, answering at the first node's address) is refused before the password
    // is sent.
    let elsewhere = tmp.path().join("elsewhere.tlv");
    let o = Command::new(env!("CARGO_BIN_EXE_ctl"))
        .args(["build", "--out", elsewhere.to_str().unwrap(), "--sast"])
        .arg(vectors.join("sast1.pem"))
        .arg("--ccm")
        .arg(format!(
            "{},dns=sub1,ip=10.9.9.9",
            tmp.path().join("sub/callmanager.pem").display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let logins = || {
        std::fs::read_to_string(tmp.path().join("sub/state/audit.log"))
            .unwrap_or_default()
            .matches("\"action\":\"login\"")
            .count()
    };
    let before = logins();
    let impostor = Command::new(env!("CARGO_BIN_EXE_ctl"))
        .args([
            "cluster",
            "discover",
            "--publisher",
            &format!("127.0.0.1:{}", sub.port),
            "--user",
            "admin",
            "--password-file",
        ])
        .arg(tmp.path().join("pub/password"))
        .arg("--known-providers")
        .arg(tmp.path().join("empty-known"))
        .arg("--trust-ctl")
        .arg(&elsewhere)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&impostor.stderr);
    assert_eq!(impostor.status.code(), Some(1), "{err}");
    assert!(
        err.contains("unknown certificate") && !err.contains("identity-mismatch"),
        "{err}"
    );
    assert_eq!(logins(), before, "the password reached the impostor");
}

#[test]
fn the_workflow_commands_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = start(&node_setup(&tmp.path().join("sub"), "sub1", 0, SUB));
    let tftp = start(&node_setup(
        &tmp.path().join("tftp"),
        "tftp1",
        0,
        &["tftp", "provider"],
    ));
    let p4 = start(&node_setup(
        &tmp.path().join("asa"),
        "asa1",
        0,
        &["provider"],
    ))
    .port;
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST);
    first
        .first_node(true)
        .member(local("sub1", sub.port))
        .member(local("tftp1", tftp.port));
    let p1 = start(&first).port;
    crate::support::password_file(&tmp.path().join("pub"));
    let keys = ctl_test_support::keys();
    let key = |n: &str| keys.join(format!("{n}.pem")).display().to_string();
    let connect = crate::support::connect_args(&format!("127.0.0.1:{p1}"), tmp.path());
    let ctl = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend(connect.iter().cloned());
        Command::new(env!("CARGO_BIN_EXE_ctl"))
            .args(&all)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    // Not on a terminal and no --yes: refused before anything happens.
    let o = ctl(&[
        "cluster",
        "set-mode",
        "mixed",
        "--token",
        &key("sast1"),
        "--token",
        &key("sast2"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--yes"), "{}", text(&o));
    // Mixed mode with two tokens.
    let o = ctl(&[
        "cluster",
        "set-mode",
        "mixed",
        "--token",
        &key("sast1"),
        "--token",
        &key("sast2"),
        "--yes",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], true);
    let statuses: Vec<&str> = j["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["committed", "committed", "committed"]);
    assert_eq!(
        j["targets"][0]["restart"],
        serde_json::json!(["Cisco CallManager", "Cisco TFTP"])
    );
    let first = std::fs::read(tmp.path().join("pub/tftp/CTLFile.tlv")).unwrap();
    for n in ["sub", "tftp"] {
        assert_eq!(
            std::fs::read(tmp.path().join(n).join("tftp/CTLFile.tlv")).unwrap(),
            first
        );
    }
    // Up to date.
    let o = ctl(&["cluster", "status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("up to date"), "{}", text(&o));
    // Issue 12: every node's CTL, in discover --json.
    let o = ctl(&["cluster", "discover", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let first_hash = ctl_format::hex(&ctl_provider::ctl_hash(&first));
    for n in j.as_array().unwrap().iter().filter(|n| n["kind"] == "node") {
        assert_eq!(n["ctl_sha256"], first_hash.as_str(), "{n}");
    }
    // Issue 12: a commit that did not reach a node (killed between stage and commit)
    // left it on another CTL, and status still said "up to date". The node's own copy
    // replaced by an older list stands for that node.
    let own = tmp.path().join("sub/state/CTLFile.tlv");
    let kept = std::fs::read(&own).unwrap();
    std::fs::copy(
        ctl_test_support::vectors().join("ctl/CTLFile-sha1.tlv"),
        &own,
    )
    .unwrap();
    let o = ctl(&["cluster", "status"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("DIFFERS: sub1 holds another CTL"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("up to date"), "{}", text(&o));
    let o = ctl(&["cluster", "status", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["up_to_date"], false);
    let holds: Vec<&str> = j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["holds"].as_str().unwrap())
        .collect();
    assert_eq!(holds, ["same", "other", "same"], "{j}");
    std::fs::write(&own, kept).unwrap();
    // Issue 12: an update that changes nothing (same signer, nothing asked, the cluster
    // as the CTL says, every node holding it) says so and signs and sends nothing.
    let o = ctl(&[
        "cluster",
        "update",
        "--token",
        &key("sast2"),
        "--yes",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["unchanged"], true, "{j}");
    assert_eq!(j["targets"], serde_json::json!([]), "{j}");
    assert_eq!(
        std::fs::read(tmp.path().join("pub/tftp/CTLFile.tlv")).unwrap(),
        first
    );
    let o = ctl(&["cluster", "update", "--token", &key("sast2"), "--yes"]);
    assert!(text(&o).contains("nothing changed"), "{}", text(&o));
    // Issue 10: a dry run shows what the token would sign and changes nothing.
    let o = ctl(&[
        "cluster",
        "remove-entry",
        "--token",
        &key("sast1"),
        "--subject",
        "not-there",
        "--dry-run",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a rule still refuses: {}",
        text(&o)
    );
    let o = ctl(&[
        "cluster",
        "add-firewall",
        &format!("asa1=127.0.0.1:{p4}"),
        "--token",
        &key("sast2"),
        "--dry-run",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["dry_run"], true, "{j}");
    assert_eq!(j["tokens_added"], serde_json::json!([]), "{j}");
    assert!(j["added"][0].as_str().unwrap().contains("asa1"), "{j}");
    assert_eq!(j["targets"].as_array().unwrap().len(), 4, "{j}");
    assert!(j["size"].as_u64().unwrap() > 0, "{j}");
    for n in ["pub", "sub", "tftp"] {
        assert_eq!(
            std::fs::read(tmp.path().join(n).join("tftp/CTLFile.tlv")).unwrap(),
            first,
            "{n} changed in a dry run"
        );
    }
    assert!(!tmp.path().join("asa/tftp/CTLFile.tlv").exists());
    // A firewall, signed by the second token.
    let asa = format!("asa1=127.0.0.1:{p4}");
    let o = ctl(&[
        "cluster",
        "add-firewall",
        &asa,
        "--token",
        &key("sast2"),
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("asa1") && text(&o).contains("committed"),
        "{}",
        text(&o)
    );
    assert!(tmp.path().join("asa/tftp/CTLFile.tlv").exists());
    // Server entries cannot be removed by hand.
    let ccm_serial = ctl_format::hex(
        ctl_format::Certificate::from_pem(
            &std::fs::read(tmp.path().join("sub/callmanager.pem")).unwrap(),
        )
        .unwrap()
        .serial(),
    );
    let o = ctl(&[
        "cluster",
        "remove-entry",
        "--serial",
        &ccm_serial,
        "--token",
        &key("sast1"),
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("cannot be deleted by hand"),
        "{}",
        text(&o)
    );
    // A token that is not in the CTL cannot sign.
    let o = ctl(&["cluster", "update", "--token", &key("ccm"), "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not in the current CTL"), "{}", text(&o));
    // Non-secure mode.
    let o = ctl(&[
        "cluster",
        "set-mode",
        "non-secure",
        "--token",
        &key("sast1"),
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc_bytes = std::fs::read(tmp.path().join("pub/tftp/CTLFile.tlv")).unwrap();
    let doc = ctl_format::parse_trust_list(&doc_bytes).unwrap();
    assert!(
        doc.records()
            .iter()
            .all(|r| (r.role() == Some(ctl_format::Role::SAST)) == r.certificate().is_some())
    );
}

/// Moves every token directory of `from` into `to`: inserting those tokens into the slots
/// of the module configured by `to` (a rename, so the token appears whole).
fn insert_tokens(from: &Path, to: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::rename(e.path(), to.join(e.file_name())).unwrap();
        n += 1;
    }
    n
}

/// A first node and a subsequent node, and `set-mode mixed --collect 2` with SoftHSM2
/// tokens "inserted" one at a time while it waits (or two at once, refused).
#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn set_mode_mixed_collects_tokens_one_at_a_time() {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;

    let tmp = tempfile::tempdir().unwrap();
    let sub = start(&node_setup(&tmp.path().join("sub"), "sub1", 0, SUB));
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST);
    first.first_node(true).member(local("sub1", sub.port));
    let p1 = start(&first).port;
    crate::support::password_file(&tmp.path().join("pub"));
    // Two SAST tokens made in a workshop of their own, each kept aside until inserted.
    let workshop = crate::support::Lab::new();
    let aside: Vec<std::path::PathBuf> = ["SAST-A", "SAST-B"]
        .iter()
        .map(|label| {
            workshop.init_generated(label, "2468");
            let dir = tmp.path().join(format!("aside-{label}"));
            std::fs::create_dir(&dir).unwrap();
            assert_eq!(insert_tokens(&workshop.path("tokens"), &dir), 1);
            dir
        })
        .collect();
    let reader = crate::support::Lab::new();
    let pin = reader.pin_file("pin", "2468");
    let publisher = format!("127.0.0.1:{p1}");
    let module = crate::support::module();
    let collect = || {
        Command::new(env!("CARGO_BIN_EXE_ctl"))
            .args([
                "cluster",
                "set-mode",
                "mixed",
                "--collect",
                "2",
                "--module",
                &module,
                "--pin-file",
                &pin,
                "--token-wait",
                "30",
                "--yes",
                "--json",
            ])
            .args(crate::support::connect_args(&publisher, tmp.path()))
            .env("SOFTHSM2_CONF", reader.path("softhsm2.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let slots = reader.path("tokens");
    // Plays the operator: on each prompt, inserts what `insert` says; returns stderr.
    let operate = |child: &mut std::process::Child, insert: &dyn Fn(usize)| -> String {
        let mut seen = String::new();
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("insert security token ") {
                insert(rest[..1].parse().unwrap());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    };

    // Two tokens at once: refused, nothing sent.
    let mut child = collect();
    let stderr = operate(&mut child, &|i| {
        if i == 1 {
            for dir in &aside {
                insert_tokens(dir, &slots);
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("inserted at once"), "{stderr}");
    assert!(!tmp.path().join("pub/tftp/CTLFile.tlv").exists());
    // Taken out again.
    for (dir, label) in aside.iter().zip(["SAST-A", "SAST-B"]) {
        for e in std::fs::read_dir(&slots).unwrap() {
            let e = e.unwrap();
            let token = std::fs::read(e.path().join("token.object")).unwrap_or_default();
            if token.windows(label.len()).any(|w| w == label.as_bytes()) {
                std::fs::rename(e.path(), dir.join(e.file_name())).unwrap();
            }
        }
    }
    assert_eq!(std::fs::read_dir(&slots).unwrap().count(), 0);

    // One at a time: both certificates collected, the second token signs.
    let mut child = collect();
    let stderr = operate(&mut child, &|i| {
        insert_tokens(&aside[i - 1], &slots);
    });
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("token 1 of 2") && stderr.contains("token 2 of 2"),
        "{stderr}"
    );
    assert!(!stderr.contains("2468"), "the PIN must not be printed");
    let ctl = std::fs::read(tmp.path().join("pub/tftp/CTLFile.tlv")).unwrap();
    assert_eq!(
        std::fs::read(tmp.path().join("sub/tftp/CTLFile.tlv")).unwrap(),
        ctl
    );
    let doc = ctl_format::parse_trust_list(&ctl).unwrap();
    let sasts: Vec<String> = doc
        .records()
        .iter()
        .filter(|r| r.role() == Some(ctl_format::Role::SAST))
        .map(|r| r.subject_name().unwrap_or_default().into_owned())
        .collect();
    assert_eq!(sasts.len(), 2, "{sasts:?}");
    assert!(sasts.iter().any(|s| s.contains("SAST-A")), "{sasts:?}");
    assert!(sasts.iter().any(|s| s.contains("SAST-B")), "{sasts:?}");
    let signer = doc.verify(&ctl_format::RsaVerifier).unwrap();
    assert!(
        ctl_format::Certificate::from_der(signer.signer_certificate())
            .unwrap()
            .subject_text(ctl_format::NameStyle::Reversed)
            .contains("SAST-B"),
        "signed by the last token"
    );
}

/// On a terminal (a pseudo-terminal from util-linux `script`), progress is a live line per
/// node that ends in its final state; off a terminal it is plain lines.
#[test]
fn progress_is_drawn_as_live_lines_on_a_terminal() {
    let Ok(script) = which("script") else {
        panic!("util-linux `script` is needed for the terminal test (apt-get install bsdutils)")
    };
    let tmp = tempfile::tempdir().unwrap();
    let sub = start(&node_setup(&tmp.path().join("sub"), "sub1", 0, SUB));
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST);
    first.first_node(true).member(local("sub1", sub.port));
    let p1 = start(&first).port;
    crate::support::password_file(&tmp.path().join("pub"));
    let mut args = vec![
        env!("CARGO_BIN_EXE_ctl").to_owned(),
        "cluster".into(),
        "set-mode".into(),
        "mixed".into(),
        "--token".into(),
        crate::support::v("keys/sast1.pem"),
        "--token".into(),
        crate::support::v("keys/sast2.pem"),
        "--yes".into(),
    ];
    args.extend(crate::support::connect_args(
        &format!("127.0.0.1:{p1}"),
        tmp.path(),
    ));
    let o = Command::new(script)
        .args(["-qec", &args.join(" "), "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{seen}");
    // indicatif redraws its lines with cursor movements; plain lines would say "committed on".
    assert!(seen.contains("\u{1b}["), "no terminal drawing: {seen}");
    assert!(!seen.contains("committed on"), "{seen}");
    for node in ["cucm-pub", "sub1"] {
        assert!(
            seen.lines()
                .any(|l| l.contains(node) && l.contains("committed")),
            "{node}: {seen}"
        );
    }
    assert!(tmp.path().join("sub/tftp/CTLFile.tlv").exists());
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// Issue 12: a cluster command that failed before distribution printed nothing on stdout
/// with `--json`. It prints one object: `ok: false`, a stable `error_code`, the `error`.
#[test]
fn json_failures_are_one_object_with_a_stable_code() {
    let tmp = tempfile::tempdir().unwrap();
    crate::support::password_file(&tmp.path().join("pub"));
    let port = ctl_test_support::closing_port();
    let connect = crate::support::connect_args(&format!("127.0.0.1:{port}"), tmp.path());
    let keys = ctl_test_support::keys();
    let sast1 = keys.join("sast1.pem").display().to_string();
    for args in [
        vec!["cluster", "status", "--json"],
        vec!["cluster", "update", "--token", &sast1, "--yes", "--json"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_ctl"))
            .args(&args)
            .args(&connect)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let j: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {:?}", String::from_utf8_lossy(&o.stdout)));
        assert_eq!(j["ok"], false, "{j}");
        assert_eq!(j["error_code"], "publisher", "{j}");
        assert!(j["error"].as_str().unwrap().contains("first node"), "{j}");
    }
}

/// Issue 12: an on-commit hook that failed (the service the node's operator restarts
/// there did not restart) left the command at exit 0.
#[test]
fn a_failing_on_commit_hook_makes_the_command_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST);
    first.first_node(true);
    let config = first.write().unwrap();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("on_commit = []", "on_commit = [\"false\"]");
    std::fs::write(&config, text).unwrap();
    let port = ctl_providerd::spawn(&config).unwrap().port();
    crate::support::password_file(&tmp.path().join("pub"));
    let keys = ctl_test_support::keys();
    let key = |n: &str| keys.join(format!("{n}.pem")).display().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_ctl"))
        .args([
            "cluster",
            "set-mode",
            "mixed",
            "--token",
            &key("sast1"),
            "--token",
        ])
        .arg(key("sast2"))
        .args(["--yes", "--json"])
        .args(crate::support::connect_args(
            &format!("127.0.0.1:{port}"),
            tmp.path(),
        ))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], false, "{j}");
    assert_eq!(j["error_code"], "hook", "{j}");
    assert_eq!(j["targets"][0]["status"], "committed", "{j}");
    assert!(err.contains("the on-commit hook exited 1"), "{err}");
}
