//! `ctl provision`: init, a first run, `--check` for cron, and errors as one line.

use std::fs;

use crate::support::{assert_one_line_error, ctl, stdout};

fn manifest_arg(dir: &std::path::Path) -> String {
    dir.join("trust.toml").display().to_string()
}

/// A site made by `ctl provision --init` with one phone's config in `tftp/`, provisioned
/// when asked: the directory and the manifest argument.
fn site(provisioned: bool) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest_arg(dir.path());
    let init = ctl(&["provision", "--init", "--manifest", &m]);
    assert!(init.status.success(), "{}", crate::support::stderr(&init));
    fs::create_dir(dir.path().join("tftp")).unwrap();
    fs::write(
        dir.path().join("tftp/SEP001122334455.cnf.xml"),
        "<device/>\n",
    )
    .unwrap();
    if provisioned {
        let run = ctl(&["provision", "--manifest", &m]);
        assert!(run.status.success(), "{}", crate::support::stderr(&run));
    }
    (dir, m)
}

#[test]
fn init_then_provision_then_check_as_cron_would() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest_arg(dir.path());
    let init = ctl(&["provision", "--init", "--manifest", &m]);
    assert!(init.status.success(), "{}", crate::support::stderr(&init));
    assert!(
        stdout(&init).contains("sast[1]: generated"),
        "{}",
        stdout(&init)
    );
    fs::create_dir(dir.path().join("tftp")).unwrap();
    fs::write(
        dir.path().join("tftp/SEP001122334455.cnf.xml"),
        "<device/>\n",
    )
    .unwrap();

    let first = ctl(&["provision", "--manifest", &m]);
    assert!(first.status.success(), "{}", crate::support::stderr(&first));
    let text = stdout(&first);
    assert!(text.contains("created ITLFile.tlv"), "{text}");
    assert!(
        text.contains("created SEP001122334455.cnf.xml.sgn"),
        "{text}"
    );

    let clean = ctl(&["provision", "--manifest", &m, "--check"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    fs::write(
        dir.path().join("tftp/SEP001122334455.cnf.xml"),
        "<device>2</device>\n",
    )
    .unwrap();
    let dirty = ctl(&["provision", "--manifest", &m, "--check", "--json"]);
    assert_eq!(dirty.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&dirty)).unwrap();
    assert_eq!(json["changes"][0]["name"], "SEP001122334455.cnf.xml.sgn");
    assert_eq!(json["changes"][0]["action"], "updated");
    // --check wrote nothing.
    let again = ctl(&["provision", "--manifest", &m, "--check"]);
    assert_eq!(again.status.code(), Some(1));

    // A second --init leaves the manifest and the keys alone.
    let key = fs::read(dir.path().join("keys/sast1.pem")).unwrap();
    let reinit = ctl(&["provision", "--init", "--manifest", &m]);
    assert!(stdout(&reinit).contains("sast[0]: exists, left alone"));
    assert_eq!(fs::read(dir.path().join("keys/sast1.pem")).unwrap(), key);
}

#[test]
fn a_bad_manifest_or_missing_key_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest_arg(dir.path());
    fs::write(&m, "out = \"tftp\"\nsast = [\"a.pem\"]\ntftp = \"t.pem\"\n").unwrap();
    assert_one_line_error(&ctl(&["provision", "--manifest", &m]), 2, "sast: 1 signers");
    fs::write(
        &m,
        "out = \"tftp\"\nsast = [\"a.pem\", \"b.pem\"]\ntftp = \"t.pem\"\n",
    )
    .unwrap();
    assert_one_line_error(&ctl(&["provision", "--manifest", &m]), 2, "sast[0]");
    assert!(!dir.path().join("tftp/ITLFile.tlv").exists());
}

#[test]
fn a_virtual_phone_boots_from_a_provisioned_directory_over_tftp() {
    let (dir, _) = site(true);
    let tftpd = ctl_test_support::tftpd::start(&dir.path().join("tftp"));
    let addr = tftpd.addr().to_string();
    let state = dir.path().join("flash").display().to_string();
    let boot = ctl(&[
        "phone",
        "boot",
        "--tftp",
        &addr,
        "--mac",
        "00:11:22:33:44:55",
        "--state",
        &state,
        "--json",
    ]);
    assert_eq!(boot.status.code(), Some(0), "{}", stdout(&boot));
    let json: serde_json::Value = serde_json::from_str(&stdout(&boot)).unwrap();
    assert_eq!(json["config_accepted"], true);
    assert_eq!(json["steps"][3]["name"], "ITLFile.tlv");
    assert_eq!(json["steps"][3]["outcome"], "installed");
    // A phone of another MAC gets no configuration: exit 1, the steps on stdout.
    let other = ctl(&[
        "phone",
        "boot",
        "--tftp",
        &addr,
        "--mac",
        "00aabbccddee",
        "--state",
        &state,
    ]);
    assert_eq!(other.status.code(), Some(1));
    assert!(
        stdout(&other).contains("configuration NOT accepted"),
        "{}",
        stdout(&other)
    );
    assert_one_line_error(
        &ctl(&[
            "phone", "boot", "--tftp", &addr, "--mac", "0011", "--state", &state,
        ]),
        2,
        "--mac",
    );
}

#[test]
fn migrate_names_a_lock_in_without_the_old_key_and_bridges_with_it() {
    let (_dir, m) = site(false);
    let held = ctl_test_support::vectors().join("itl/ITLFile-sha1.tlv");
    let held = held.to_str().unwrap();
    let locked = ctl(&["migrate", "--from", held, "--manifest", &m]);
    assert_eq!(locked.status.code(), Some(1));
    let text = stdout(&locked);
    assert!(text.contains("erased by hand"), "{text}");
    assert!(text.contains("ITLRECOVERY"), "{text}");

    let key = ctl_test_support::keys().join("itlrecovery.key.pem");
    let bridge = ctl(&[
        "migrate",
        "--from",
        held,
        "--old-key",
        key.to_str().unwrap(),
        "--manifest",
        &m,
    ]);
    assert!(
        bridge.status.success(),
        "{}",
        crate::support::stderr(&bridge)
    );
    let text = stdout(&bridge);
    assert!(
        text.contains("bridge written") && text.contains("4. then run `ctl provision"),
        "{text}"
    );
    // The bridge is what is served until the final run: --check says it differs.
    let check = ctl(&["provision", "--manifest", &m, "--check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stdout(&check).contains("would be updated ITLFile.tlv"),
        "{}",
        stdout(&check)
    );

    let wrong = ctl_test_support::keys().join("tvs.pem");
    assert_one_line_error(
        &ctl(&[
            "migrate",
            "--from",
            held,
            "--old-key",
            wrong.to_str().unwrap(),
            "--manifest",
            &m,
        ]),
        2,
        "is not a SAST of this list",
    );
}

#[test]
fn audit_says_what_each_phone_gets_and_exits_1_when_one_refuses_its_config() {
    let (dir, _) = site(true);
    let tftp = dir.path().join("tftp");
    let tree = tftp.to_str().unwrap();
    let ok = ctl(&["audit", tree, "--json"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    let json: serde_json::Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(json["phones"][0]["mac"], "001122334455");
    assert_eq!(json["phones"][0]["config_accepted"], true);
    assert_eq!(json["files"][0]["name"], "ITLFile.tlv");
    assert_eq!(json["files"][0]["md5"].as_str().unwrap().len(), 32);
    // A configuration edited by hand after signing: the phone refuses it.
    let sgn = tftp.join("SEP001122334455.cnf.xml.sgn");
    let mut bytes = fs::read(&sgn).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    fs::write(&sgn, bytes).unwrap();
    let bad = ctl(&["audit", tree]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stdout(&bad).contains("configuration NOT accepted"),
        "{}",
        stdout(&bad)
    );
}

#[test]
fn migrate_takes_the_old_key_from_an_itlrecovery_p12() {
    let (dir, m) = site(false);
    let p12 = dir.path().join("ITLRecovery.p12");
    let o = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-export",
            "-nocerts",
            "-passout",
            "env:P12_PASSWORD",
            "-inkey",
        ])
        .arg(ctl_test_support::keys().join("itlrecovery.key.pem"))
        .arg("-out")
        .arg(&p12)
        .env("P12_PASSWORD", "s3cret")
        .output()
        .expect("openssl is required (scripts/test installs it)");
    assert!(o.status.success());
    let pw = dir.path().join("p12-password");
    fs::write(&pw, "s3cret\n").unwrap();
    let held = ctl_test_support::vectors().join("itl/ITLFile-sha1.tlv");
    let args = |pw: &str| {
        ctl(&[
            "migrate",
            "--from",
            held.to_str().unwrap(),
            "--old-key",
            p12.to_str().unwrap(),
            "--p12-password-file",
            pw,
            "--manifest",
            &m,
        ])
    };
    let ok = args(pw.to_str().unwrap());
    assert!(ok.status.success(), "{}", crate::support::stderr(&ok));
    assert!(
        stdout(&ok).contains("signed by CN=ITLRECOVERY"),
        "{}",
        stdout(&ok)
    );
    fs::write(&pw, "hunter2\n").unwrap();
    assert_one_line_error(&args(pw.to_str().unwrap()), 1, "wrong password");
}
