//! The virtual phone against the real TFTP server (tftpd-hpa) serving a provisioned
//! directory, over several boots with updates in between.

use std::fs;

use ctl_site::phone::{Boot, Outcome, Phone, Servers};

use crate::provision::Site;

/// 2026-01-01, as the provisioning tests.
const NOW: u32 = 1_767_225_600;

fn outcome<'b>(boot: &'b Boot, name: &str) -> &'b Outcome {
    &boot
        .steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name}: {boot:?}"))
        .outcome
}

fn installed(boot: &Boot, name: &str) -> String {
    match outcome(boot, name) {
        Outcome::Installed(why) | Outcome::Accepted(why) => why.clone(),
        other => panic!("{name}: {other:?} in {boot:?}"),
    }
}

#[test]
fn a_phone_boots_on_a_provisioned_site_and_follows_its_updates() {
    let site = Site::new("");
    site.run(NOW).unwrap();
    let tftpd = ctl_test_support::tftpd::start(&site.tftp());
    let state = tempfile::tempdir().unwrap();
    let phone = Phone::new("001122334455".parse().unwrap(), state.path().join("flash"));
    let servers = Servers::tftp(tftpd.addr());

    let first = phone.boot(&servers).unwrap();
    assert!(first.config_accepted, "{first:?}");
    let names: Vec<&str> = first.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "CTLSEP001122334455.tlv",
            "ITLSEP001122334455.tlv",
            "SEP001122334455.cnf.xml.sgn"
        ]
    );
    assert!(installed(&first, "CTLSEP001122334455.tlv").contains("leap of faith"));
    assert!(installed(&first, "ITLSEP001122334455.tlv").contains("signed by a SAST"));
    assert_eq!(first.steps[0].via, Some("tftp"));
    assert_eq!(
        fs::read(state.path().join("flash/SEP001122334455.cnf.xml")).unwrap(),
        b"<device><name>SEP001122334455</name></device>\n"
    );

    // Nothing changed: the lists are kept, the configuration taken again.
    let second = phone.boot(&servers).unwrap();
    assert!(second.config_accepted);
    assert_eq!(
        outcome(&second, "CTLSEP001122334455.tlv"),
        &Outcome::Unchanged
    );

    // The site adds a server (new lists, signed by the same SAST) and edits the config.
    let manifest = site.dir.path().join("trust.toml");
    let mut text = fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!(
        "[[server]]\ncert = \"{}/capf.crt.pem\"\nrole = \"capf\"\n",
        ctl_test_support::keys().display()
    ));
    fs::write(&manifest, text).unwrap();
    fs::write(
        site.tftp().join("SEP001122334455.cnf.xml"),
        "<device><vlan>20</vlan></device>\n",
    )
    .unwrap();
    site.run(NOW + 3600).unwrap();
    let third = phone.boot(&servers).unwrap();
    assert!(third.config_accepted, "{third:?}");
    assert!(installed(&third, "CTLSEP001122334455.tlv").contains("signed by a SAST"));
    assert_eq!(
        fs::read(state.path().join("flash/SEP001122334455.cnf.xml")).unwrap(),
        b"<device><vlan>20</vlan></device>\n"
    );

    // A phone the site does not list falls back to the site-wide files.
    let other = Phone::new("00AABBCCDDEE".parse().unwrap(), state.path().join("other"));
    let boot = other.boot(&servers).unwrap();
    assert_eq!(outcome(&boot, "CTLSEP00AABBCCDDEE.tlv"), &Outcome::Absent);
    assert!(installed(&boot, "CTLFile.tlv").contains("leap of faith"));
    // ... and has no configuration of its own: not accepted.
    assert!(!boot.config_accepted, "{boot:?}");
}

#[test]
fn a_phone_that_installed_a_stranger_s_itl_refuses_the_site_s_own_lists() {
    let site = Site::new("");
    // The TFTP root first holds a list copied from a stranger's guide.
    fs::copy(
        ctl_test_support::vectors().join("itl/ITLFile-sha1.tlv"),
        site.tftp().join("ITLFile.tlv"),
    )
    .unwrap();
    let tftpd = ctl_test_support::tftpd::start(&site.tftp());
    let servers = Servers::tftp(tftpd.addr());
    let state = tempfile::tempdir().unwrap();
    let phone = Phone::new("001122334455".parse().unwrap(), state.path().join("flash"));
    let first = phone.boot(&servers).unwrap();
    assert!(
        installed(&first, "ITLFile.tlv").contains("leap of faith"),
        "{first:?}"
    );

    // The admin provisions the site's own lists: the phone is locked in.
    site.run(NOW).unwrap();
    let locked = phone.boot(&servers).unwrap();
    assert!(!locked.config_accepted, "{locked:?}");
    for name in ["CTLSEP001122334455.tlv", "ITLSEP001122334455.tlv"] {
        match outcome(&locked, name) {
            Outcome::Refused(why) => assert!(
                why.contains("not signed by a certificate the phone trusts"),
                "{why}"
            ),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(matches!(
        outcome(&locked, "SEP001122334455.cnf.xml.sgn"),
        Outcome::Refused(_)
    ));
    // Its flash still holds the stranger's list.
    assert_eq!(
        fs::read(state.path().join("flash/ITLFile.tlv")).unwrap(),
        fs::read(ctl_test_support::vectors().join("itl/ITLFile-sha1.tlv")).unwrap()
    );
}

#[test]
fn a_bridge_signed_by_the_old_key_moves_a_locked_in_phone_to_the_site_s_lists() {
    let site = Site::new("");
    let held_path = ctl_test_support::vectors().join("itl/ITLFile-sha1.tlv");
    let held = fs::read(&held_path).unwrap();
    fs::copy(&held_path, site.tftp().join("ITLFile.tlv")).unwrap();
    let tftpd = ctl_test_support::tftpd::start(&site.tftp());
    let servers = Servers::tftp(tftpd.addr());
    let state = tempfile::tempdir().unwrap();
    let phone = Phone::new("001122334455".parse().unwrap(), state.path().join("flash"));
    assert!(installed(&phone.boot(&servers).unwrap(), "ITLFile.tlv").contains("leap of faith"));

    // The old key is a bare key file; its certificate is found among the held list's SASTs.
    let candidates = ctl_site::migrate::sast_certificates("ITLFile-sha1.tlv", &held).unwrap();
    let old = ctl_token::SoftwareSigner::from_key_file_matching(
        &ctl_test_support::keys().join("itlrecovery.key.pem"),
        &candidates,
    )
    .unwrap();
    let manifest = site.manifest();
    let migration = ctl_site::migrate::bridge(
        &manifest,
        "ITLFile-sha1.tlv",
        &held,
        std::sync::Arc::new(old),
        &ctl_site::Options::new(NOW),
    )
    .unwrap();
    assert!(migration.old.contains("ITLRECOVERY"), "{}", migration.old);
    assert_eq!(migration.plan.len(), 5);

    // On the bridge: the phone takes it with no manual erase, and its configuration.
    let bridged = phone.boot(&servers).unwrap();
    assert!(bridged.config_accepted, "{bridged:?}");
    assert!(installed(&bridged, "CTLSEP001122334455.tlv").contains("signed by a SAST"));
    assert!(installed(&bridged, "ITLSEP001122334455.tlv").contains("signed by a SAST"));

    // The final lists replace the bridge; the phone takes them too.
    let last = site.run(NOW + 86_400).unwrap();
    assert!(
        last.changes.iter().any(|c| c.name == "ITLFile.tlv"),
        "{last:?}"
    );
    let fin = phone.boot(&servers).unwrap();
    assert!(fin.config_accepted, "{fin:?}");
    assert!(installed(&fin, "ITLSEP001122334455.tlv").contains("signed by a SAST"));
    let itl = fs::read(state.path().join("flash/ITLFile.tlv")).unwrap();
    assert_eq!(itl, fs::read(site.tftp().join("ITLFile.tlv")).unwrap());
}

#[test]
fn without_the_old_key_the_lock_in_is_named_and_a_wrong_key_makes_no_bridge() {
    let site = Site::new("");
    let held = fs::read(ctl_test_support::vectors().join("itl/ITLFile-sha1.tlv")).unwrap();
    let warnings =
        ctl_site::migrate::lock_in(&site.manifest(), "ITLFile-sha1.tlv", &held, u64::from(NOW))
            .unwrap();
    let codes: Vec<&str> = warnings.iter().map(|w| w.code()).collect();
    assert!(
        codes.contains(&"foreign-signer") && codes.contains(&"foreign-sast"),
        "{codes:?}"
    );
    // A key that is no SAST of the held list: no bridge, nothing written.
    let wrong =
        ctl_token::SoftwareSigner::from_files(&ctl_test_support::keys().join("tvs.pem"), None)
            .unwrap();
    let e = ctl_site::migrate::bridge(
        &site.manifest(),
        "ITLFile-sha1.tlv",
        &held,
        std::sync::Arc::new(wrong),
        &ctl_site::Options::new(NOW),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("is not a SAST of this list"), "{e}");
    assert!(!site.tftp().join("ITLFile.tlv").exists());
}

/// Python's HTTP server serving `dir` on a loopback port (phones use 6970), killed on drop.
struct HttpServer(std::process::Child, std::net::SocketAddr);

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_server(dir: &std::path::Path) -> HttpServer {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir)
        .arg("0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 is required");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let port: u16 = line
        .split(" port ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    HttpServer(child, ([127, 0, 0, 1], port).into())
}

#[test]
fn a_phone_with_an_http_server_fetches_over_http_first() {
    let site = Site::new("");
    site.run(NOW).unwrap();
    let tftpd = ctl_test_support::tftpd::start(&site.tftp());
    let http = http_server(&site.tftp());
    let mut servers = Servers::tftp(tftpd.addr());
    servers.http = Some(http.1);
    let state = tempfile::tempdir().unwrap();
    let phone = Phone::new("001122334455".parse().unwrap(), state.path().join("flash"));
    let boot = phone.boot(&servers).unwrap();
    assert!(boot.config_accepted, "{boot:?}");
    assert!(boot.steps.iter().all(|s| s.via == Some("http")), "{boot:?}");
    // A name the HTTP server lacks falls back to TFTP, which lacks it too: absent.
    let other = Phone::new("00AABBCCDDEE".parse().unwrap(), state.path().join("other"));
    let boot = other.boot(&servers).unwrap();
    assert_eq!(outcome(&boot, "CTLSEP00AABBCCDDEE.tlv"), &Outcome::Absent);
    assert_eq!(
        boot.steps
            .iter()
            .find(|s| s.name == "CTLFile.tlv")
            .unwrap()
            .via,
        Some("http")
    );
}

#[test]
fn the_old_key_can_sign_the_bridge_from_a_pkcs11_token() {
    let site = Site::new("");
    let held = fs::read(ctl_test_support::vectors().join("itl/ITLFile-sha1.tlv")).unwrap();
    let label = ctl_test_support::token_with_vector_key("itlrecovery", "4321");
    let uri = ctl_test_support::uri(&label, "4321");
    let old = ctl_token::TokenSigner::open(&uri, &ctl_token::SignerOptions::default()).unwrap();
    let migration = ctl_site::migrate::bridge(
        &site.manifest(),
        "ITLFile-sha1.tlv",
        &held,
        std::sync::Arc::new(old),
        &ctl_site::Options::new(NOW),
    )
    .unwrap();
    assert!(migration.old.contains("ITLRECOVERY"));
    // A phone holding the old ITL takes the bridge ITL the token signed.
    let phone = ctl_site::phone::rules::Held {
        ctl: None,
        itl: Some(held),
    };
    let bridge = fs::read(site.tftp().join("ITLFile.tlv")).unwrap();
    phone
        .judge_list(
            ctl_site::phone::rules::Family::Enterprise,
            ctl_site::phone::rules::Kind::Itl,
            &bridge,
        )
        .unwrap();
}
