//! `provision` on real directories with the project's vector keys.

use std::fs;
use std::path::PathBuf;

use ctl_format::{Role, parse_signed, parse_trust_list, phone_accepts};
use ctl_site::{Action, Manifest, Options, ProvisionError, Report, provision};

/// 2026-01-01: the vector certificates are valid.
const NOW: u32 = 1_767_225_600;

pub(crate) struct Site {
    pub(crate) dir: tempfile::TempDir,
}

impl Site {
    /// A site with the vector keys, a CCM server, two phones and their configs.
    pub(crate) fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = ctl_test_support::keys();
        let manifest = format!(
            "out = \"tftp\"\n\
             sast = [\"{k}/sast1.pem\", \"{k}/sast2.pem\"]\n\
             tftp = \"{k}/tftp.pem\"\n\
             lists = [\"itl\", \"ctl\"]\n\
             devices = [\"00:11:22:33:44:55\", \"0011.2233.4466\"]\n\
             sign = [\"SEP*.cnf.xml\", \"Dialplan.xml\"]\n\
             {extra}\n\
             [[server]]\n\
             cert = \"{k}/ccm.crt.pem\"\n\
             role = \"ccm\"\n\
             dns = \"pbx.example.com\"\n\
             ip = \"192.0.2.10\"\n",
            k = keys.display()
        );
        fs::write(dir.path().join("trust.toml"), manifest).unwrap();
        let tftp = dir.path().join("tftp");
        fs::create_dir(&tftp).unwrap();
        for mac in ["001122334455", "001122334466"] {
            fs::write(
                tftp.join(format!("SEP{mac}.cnf.xml")),
                format!("<device><name>SEP{mac}</name></device>\n"),
            )
            .unwrap();
        }
        fs::write(tftp.join("Dialplan.xml"), "<DIALTEMPLATE/>\n").unwrap();
        fs::write(tftp.join("README.txt"), "not signed\n").unwrap();
        Self { dir }
    }

    pub(crate) fn manifest(&self) -> Manifest {
        Manifest::load(&self.dir.path().join("trust.toml")).unwrap()
    }

    pub(crate) fn tftp(&self) -> PathBuf {
        self.dir.path().join("tftp")
    }

    pub(crate) fn run(&self, now: u32) -> Result<Report, ProvisionError> {
        provision(&self.manifest(), &Options::new(now))
    }

    fn check(&self) -> Report {
        let mut options = Options::new(NOW + 1_000_000);
        options.check = true;
        provision(&self.manifest(), &options).unwrap()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.tftp().join(name)).unwrap()
    }
}

fn names(report: &Report, action: Action) -> Vec<&str> {
    report
        .changes
        .iter()
        .filter(|c| c.action == action)
        .map(|c| c.name.as_str())
        .collect()
}

#[test]
fn a_first_run_writes_every_list_and_signed_config_and_phones_take_them() {
    let site = Site::new("");
    let report = site.run(NOW).unwrap();
    let mut created = names(&report, Action::Created);
    created.sort_unstable();
    assert_eq!(
        created,
        [
            "CTLFile.tlv",
            "CTLSEP001122334455.tlv",
            "CTLSEP001122334466.tlv",
            "Dialplan.xml.sgn",
            "ITLFile.tlv",
            "ITLSEP001122334455.tlv",
            "ITLSEP001122334466.tlv",
            "SEP001122334455.cnf.xml.sgn",
            "SEP001122334466.cnf.xml.sgn",
        ]
    );
    assert_eq!(report.changes.len(), created.len(), "{report:?}");
    assert!(!site.tftp().join("README.txt.sgn").exists());

    let itl_bytes = site.read("ITLFile.tlv");
    let itl = parse_trust_list(&itl_bytes).unwrap();
    assert_eq!(itl.header().timestamp(), Some(NOW));
    let roles: Vec<Role> = itl.records().iter().filter_map(|r| r.role()).collect();
    assert_eq!(roles, [Role::SAST, Role::SAST, Role::TFTP, Role::CCM]);
    assert_eq!(
        itl.records()[3].dns_name().as_deref(),
        Some("pbx.example.com")
    );
    // A phone with nothing takes the ITL, then the CTL (signed by a SAST it now holds),
    // then its configuration.
    let verifier = ctl_format::RsaVerifier;
    phone_accepts(None, &itl, &verifier).unwrap();
    let ctl_bytes = site.read("CTLFile.tlv");
    let ctl = parse_trust_list(&ctl_bytes).unwrap();
    phone_accepts(Some(&itl), &ctl, &verifier).unwrap();
    let sgn_bytes = site.read("SEP001122334455.cnf.xml.sgn");
    let sgn = parse_signed(&sgn_bytes).unwrap();
    phone_accepts(Some(&ctl), &sgn, &verifier).unwrap();
    assert_eq!(
        sgn.body_unverified(),
        b"<device><name>SEP001122334455</name></device>\n"
    );
    // Per-device lists are the site's list under the phone's name.
    assert_eq!(site.read("ITLSEP001122334455.tlv"), itl_bytes);
    assert_eq!(site.read("CTLSEP001122334466.tlv"), ctl_bytes);
    // ... as hard links: 10,000 phones cost names, not copies.
    use std::os::unix::fs::MetadataExt as _;
    let ino = |n: &str| fs::metadata(site.tftp().join(n)).unwrap().ino();
    assert_eq!(ino("ITLSEP001122334455.tlv"), ino("ITLFile.tlv"));
    assert_eq!(ino("CTLSEP001122334455.tlv"), ino("CTLFile.tlv"));
    // Served files are readable by the TFTP server; no temporaries are left.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(site.tftp().join("ITLFile.tlv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    let leftovers: Vec<_> = fs::read_dir(site.tftp())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_rerun_changes_nothing_and_one_edited_config_is_the_only_file_re_signed() {
    let site = Site::new("");
    site.run(NOW).unwrap();
    let before_itl = site.read("ITLFile.tlv");
    let before_other = site.read("SEP001122334466.cnf.xml.sgn");

    let again = site.run(NOW + 3600).unwrap();
    assert!(again.is_clean(), "{:?}", again.changes);
    assert_eq!(again.unchanged, 9);
    assert_eq!(
        site.read("ITLFile.tlv"),
        before_itl,
        "timestamps move only with content"
    );
    assert!(site.check().is_clean());

    fs::write(
        site.tftp().join("SEP001122334455.cnf.xml"),
        "<device><name>SEP001122334455</name><vlan>20</vlan></device>\n",
    )
    .unwrap();
    let dirty = site.check();
    assert_eq!(
        names(&dirty, Action::Updated),
        ["SEP001122334455.cnf.xml.sgn"]
    );
    let edited = site.run(NOW + 7200).unwrap();
    assert_eq!(
        names(&edited, Action::Updated),
        ["SEP001122334455.cnf.xml.sgn"]
    );
    assert_eq!(edited.changes.len(), 1);
    let sgn_bytes = site.read("SEP001122334455.cnf.xml.sgn");
    let sgn = parse_signed(&sgn_bytes).unwrap();
    assert_eq!(sgn.header().timestamp(), Some(NOW + 7200));
    assert_eq!(site.read("SEP001122334466.cnf.xml.sgn"), before_other);
    assert_eq!(site.read("ITLFile.tlv"), before_itl);
}

#[test]
fn the_same_manifest_and_time_make_the_same_bytes_in_two_directories() {
    let a = Site::new("");
    let b = Site::new("");
    a.run(NOW).unwrap();
    b.run(NOW).unwrap();
    for name in ["ITLFile.tlv", "CTLFile.tlv", "Dialplan.xml.sgn"] {
        assert_eq!(a.read(name), b.read(name), "{name}");
    }
}

#[test]
fn a_tampered_or_replaced_file_is_re_signed_and_check_says_so() {
    let site = Site::new("");
    site.run(NOW).unwrap();
    // Same content, a signature that is not the key's: not "unchanged".
    let mut sgn = site.read("Dialplan.xml.sgn");
    let at = parse_signed(&sgn).unwrap().header().signature_offset() + 10;
    sgn[at] ^= 1;
    fs::write(site.tftp().join("Dialplan.xml.sgn"), &sgn).unwrap();
    // A per-device list replaced by a link to something else.
    let link = site.tftp().join("ITLSEP001122334455.tlv");
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();

    let check = site.check();
    assert_eq!(names(&check, Action::Updated), ["Dialplan.xml.sgn"]);
    assert_eq!(names(&check, Action::Replaced), ["ITLSEP001122334455.tlv"]);
    let fixed = site.run(NOW + 60).unwrap();
    assert_eq!(fixed.changes.len(), 2, "{:?}", fixed.changes);
    assert!(!link.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(
        site.read("ITLSEP001122334455.tlv"),
        site.read("ITLFile.tlv")
    );
    let sgn = site.read("Dialplan.xml.sgn");
    let doc = parse_signed(&sgn).unwrap();
    // The replaced file moves past the timestamp of the one it replaces.
    assert_eq!(doc.header().timestamp(), Some(NOW + 60));
    assert!(site.check().is_clean());
}

#[test]
fn files_the_manifest_no_longer_names_are_removed_only_when_the_site_signed_them() {
    let site = Site::new("");
    site.run(NOW).unwrap();
    fs::remove_file(site.tftp().join("SEP001122334466.cnf.xml")).unwrap();
    // A per-device list of a phone the site does not list, signed by someone else.
    fs::copy(
        ctl_test_support::vectors().join("itl/ITLFile-sha1.tlv"),
        site.tftp().join("ITLSEP00AABBCCDDEE.tlv"),
    )
    .unwrap();
    let manifest = site.dir.path().join("trust.toml");
    let text = fs::read_to_string(&manifest)
        .unwrap()
        .replace(", \"0011.2233.4466\"", "");
    fs::write(&manifest, text).unwrap();

    // A temporary a crashed run left for a name no run writes any more.
    let leftover = site
        .tftp()
        .join(".SEP0000000000FF.cnf.xml.sgn.provision.tmp");
    fs::write(&leftover, "half").unwrap();
    let report = site.run(NOW + 60).unwrap();
    assert!(!leftover.exists());
    let mut removed = names(&report, Action::Removed);
    removed.sort_unstable();
    assert_eq!(
        removed,
        [
            "CTLSEP001122334466.tlv",
            "ITLSEP001122334466.tlv",
            "SEP001122334466.cnf.xml.sgn"
        ]
    );
    assert!(!site.tftp().join("SEP001122334466.cnf.xml.sgn").exists());
    assert!(site.tftp().join("ITLSEP00AABBCCDDEE.tlv").exists());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("ITLSEP00AABBCCDDEE.tlv: not named by the manifest")),
        "{:?}",
        report.notes
    );
}

#[test]
fn a_source_that_is_a_link_is_refused_and_nothing_is_written() {
    let site = Site::new("");
    std::os::unix::fs::symlink("/etc/passwd", site.tftp().join("SEP0000000000AA.cnf.xml")).unwrap();
    let e = site.run(NOW).unwrap_err().to_string();
    assert!(
        e.contains("SEP0000000000AA.cnf.xml") && e.contains("symbolic link"),
        "{e}"
    );
    assert!(!site.tftp().join("ITLFile.tlv").exists());
    assert!(!site.tftp().join("SEP001122334455.cnf.xml.sgn").exists());
}

#[test]
fn a_list_phones_would_refuse_is_not_written_unless_its_rule_is_allowed() {
    // The vector certificates expire in 2045: at 2046 every record is expired.
    let later = 2_398_377_600;
    let site = Site::new("");
    let e = site.run(later).unwrap_err().to_string();
    assert!(
        e.starts_with("ITLFile.tlv: refused") && e.contains("[expired;"),
        "{e}"
    );
    assert!(e.contains("add \"expired\" to `allow`"), "{e}");
    assert!(!site.tftp().join("ITLFile.tlv").exists());
    let allowed = Site::new("allow = [\"expired\"]");
    allowed.run(later).unwrap();
}

#[test]
fn a_foreign_list_being_replaced_is_named_as_a_lock_in() {
    let site = Site::new("");
    fs::copy(
        ctl_test_support::vectors().join("itl/ITLFile-sha1.tlv"),
        site.tftp().join("ITLFile.tlv"),
    )
    .unwrap();
    let report = site.run(NOW).unwrap();
    assert_eq!(names(&report, Action::Updated)[0], "ITLFile.tlv");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("ITLFile.tlv: the list it replaces was not signed")),
        "{:?}",
        report.notes
    );
}

#[test]
fn init_generates_missing_software_keys_with_mode_0600_once() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        (
            "sast[0]".to_owned(),
            ctl_site::KeySource::Pem(dir.path().join("sast1.pem")),
        ),
        (
            "tftp".to_owned(),
            ctl_site::KeySource::Split {
                key: dir.path().join("tftp.key"),
                cert: dir.path().join("tftp.crt"),
            },
        ),
    ];
    let first = ctl_site::generate_missing(&keys).unwrap();
    assert!(matches!(first[0], ctl_site::KeyOutcome::Generated { .. }));
    for f in ["sast1.pem", "tftp.key"] {
        let mode = fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let signer = ctl_token::SoftwareSigner::from_files(
        &dir.path().join("tftp.key"),
        Some(&dir.path().join("tftp.crt")),
    )
    .unwrap();
    let cert = ctl_format::Certificate::from_der(ctl_format::Signer::certificate(&signer)).unwrap();
    assert!(
        cert.subject_text(ctl_format::NameStyle::Reversed)
            .contains("CN=tftp")
    );
    let before = fs::read(dir.path().join("sast1.pem")).unwrap();
    let second = ctl_site::generate_missing(&keys).unwrap();
    assert!(
        second
            .iter()
            .all(|o| matches!(o, ctl_site::KeyOutcome::Exists { .. }))
    );
    assert_eq!(fs::read(dir.path().join("sast1.pem")).unwrap(), before);
    // Half a pair is not completed with a key that would not match.
    fs::remove_file(dir.path().join("tftp.crt")).unwrap();
    assert!(ctl_site::generate_missing(&keys).is_err());
}

#[test]
fn watch_re_signs_an_edited_config_and_removes_the_sgn_of_a_removed_one() {
    let site = Site::new("");
    let manifest = site.manifest();
    let (tx, rx) = std::sync::mpsc::channel();
    let clock = std::sync::atomic::AtomicU32::new(NOW);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut runs = 0;
            ctl_site::watch(
                &manifest,
                &Options::new(NOW),
                std::time::Duration::from_millis(20),
                || clock.fetch_add(60, std::sync::atomic::Ordering::Relaxed),
                |r| {
                    runs += 1;
                    tx.send(r.map(|r| r.changes)).unwrap();
                    if runs == 3 {
                        std::ops::ControlFlow::Break(())
                    } else {
                        std::ops::ControlFlow::Continue(())
                    }
                },
            );
        });
        let first = rx.recv().unwrap().unwrap();
        assert_eq!(first.len(), 9);
        fs::write(
            site.tftp().join("Dialplan.xml"),
            "<DIALTEMPLATE>9</DIALTEMPLATE>\n",
        )
        .unwrap();
        let second = rx.recv().unwrap().unwrap();
        assert_eq!(second.len(), 1, "{second:?}");
        assert_eq!(
            (second[0].name.as_str(), second[0].action),
            ("Dialplan.xml.sgn", Action::Updated)
        );
        fs::remove_file(site.tftp().join("Dialplan.xml")).unwrap();
        let third = rx.recv().unwrap().unwrap();
        assert_eq!(third.len(), 1, "{third:?}");
        assert_eq!(
            (third[0].name.as_str(), third[0].action),
            ("Dialplan.xml.sgn", Action::Removed)
        );
    });
    assert!(!site.tftp().join("Dialplan.xml.sgn").exists());
}

#[test]
fn the_readme_manifest_is_a_valid_manifest_of_at_most_15_lines() {
    let readme =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme
        .split("## Cisco phones on your own call server")
        .nth(1)
        .unwrap();
    let toml = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let lines = toml
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .count();
    assert!(lines <= 15, "{lines} lines");
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("trust.toml"), toml).unwrap();
    fs::write(dir.path().join("phones.csv"), "mac\n001122334455\n").unwrap();
    let m = Manifest::load(&dir.path().join("trust.toml")).unwrap();
    assert_eq!(m.devices.len(), 1);
    assert_eq!(m.servers[0].dns.as_deref(), Some("pbx.example.com"));
}

#[test]
fn a_tftp_key_that_cannot_open_fails_the_run_with_its_own_error_on_every_thread() {
    let site = Site::new("");
    // Many configs, so that several threads ask for the signer at once.
    for i in 0..40 {
        fs::write(
            site.tftp().join(format!("SEP0000000000{i:02}.cnf.xml")),
            "<d/>",
        )
        .unwrap();
    }
    let manifest_path = site.dir.path().join("trust.toml");
    let keys = ctl_test_support::keys();
    // The certificate reads (no key needed to check), the key file does not match it.
    let text = fs::read_to_string(&manifest_path).unwrap().replace(
        &format!("tftp = \"{}/tftp.pem\"", keys.display()),
        &format!(
            "tftp = {{ key = \"{k}/sast1.key.pem\", cert = \"{k}/tftp.crt.pem\" }}",
            k = keys.display()
        ),
    );
    fs::write(&manifest_path, text).unwrap();
    let mut options = Options::new(NOW);
    options.threads = 4;
    let e = provision(&site.manifest(), &options)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("tftp: ") && e.contains("does not match"),
        "{e}"
    );
    assert!(!site.tftp().join("ITLFile.tlv").exists());
}

#[test]
fn a_tftp_key_phones_cannot_check_is_refused_before_anything_is_signed() {
    let site = Site::new("");
    let key = ctl_token::SoftwareSigner::generate("tftp3072", "test", 3072).unwrap();
    let pem = site.dir.path().join("tftp3072.pem");
    fs::write(&pem, key.to_pem().unwrap().as_bytes()).unwrap();
    let manifest_path = site.dir.path().join("trust.toml");
    let keys = ctl_test_support::keys();
    let text = fs::read_to_string(&manifest_path).unwrap().replace(
        &format!("tftp = \"{}/tftp.pem\"", keys.display()),
        &format!("tftp = \"{}\"", pem.display()),
    );
    fs::write(&manifest_path, &text).unwrap();
    let e = site.run(NOW).unwrap_err().to_string();
    assert!(
        e.starts_with("the .sgn files: refused") && e.contains("[signer-key-over-2048;"),
        "{e}"
    );
    // Allowed for a site without 7900 phones, 3072 bits still has no SIGNATURE_MODULUS code.
    fs::write(
        &manifest_path,
        format!("allow = [\"signer-key-over-2048\"]\n{text}"),
    )
    .unwrap();
    let e = site.run(NOW).unwrap_err().to_string();
    assert!(e.contains("[signer-key-no-modulus-code;"), "{e}");
    assert!(!site.tftp().join("ITLFile.tlv").exists());
}
