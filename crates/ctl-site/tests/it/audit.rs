//! `audit` of a provisioned tree with a stranger's file in it.

use std::fs;

use ctl_site::audit::audit;

use crate::provision::Site;

const NOW: u32 = 1_767_225_600;

#[test]
fn the_audit_groups_files_by_phone_and_says_what_each_would_trust() {
    let site = Site::new("");
    site.run(NOW).unwrap();
    // A stranger's per-device ITL for a phone the site does not list.
    fs::copy(
        ctl_test_support::vectors().join("itl/ITLFile-sha1.tlv"),
        site.tftp().join("ITLSEP00AABBCCDDEE.tlv"),
    )
    .unwrap();
    let a = audit(&site.tftp()).unwrap();

    let itl = a.files.iter().find(|f| f.name == "ITLFile.tlv").unwrap();
    let md5sum = std::process::Command::new("md5sum")
        .arg(site.tftp().join("ITLFile.tlv"))
        .output()
        .unwrap();
    let md5sum = String::from_utf8(md5sum.stdout).unwrap();
    assert_eq!(itl.md5, md5sum.split_whitespace().next().unwrap());
    assert_eq!(itl.sha1.len(), 40);
    assert!(itl.signer.as_deref().unwrap().contains("SAST-1"), "{itl:?}");
    assert_eq!(itl.timestamp, Some(NOW));

    let phone = |mac: &str| {
        a.phones
            .iter()
            .find(|p| p.mac.map(|m| m.to_string()).as_deref() == Some(mac))
            .unwrap_or_else(|| panic!("{mac}: {:?}", a.phones))
    };
    let listed = phone("001122334455");
    assert!(listed.config_accepted, "{listed:?}");
    assert_eq!(listed.ctl.as_deref(), Some("CTLSEP001122334455.tlv"));
    assert_eq!(
        listed.config.as_deref(),
        Some("SEP001122334455.cnf.xml.sgn")
    );
    assert!(
        listed.sast.iter().any(|s| s.contains("SAST-2")),
        "{listed:?}"
    );
    assert!(
        listed.tftp.iter().any(|s| s.contains("tftp.example.com")),
        "{listed:?}"
    );

    let stranger = phone("00AABBCCDDEE");
    assert!(!stranger.config_accepted);
    assert_eq!(stranger.ctl.as_deref(), Some("CTLFile.tlv"));
    assert_eq!(stranger.itl, None, "{stranger:?}");
    assert!(
        stranger
            .notes
            .iter()
            .any(|n| n.starts_with("ITLSEP00AABBCCDDEE.tlv: refused")),
        "{stranger:?}"
    );
    // Phones the tree does not name get the site-wide lists.
    let other = a.phones.iter().find(|p| p.mac.is_none()).unwrap();
    assert_eq!(other.itl.as_deref(), Some("ITLFile.tlv"));
}

#[test]
fn a_tree_without_lists_serves_unsigned_configs_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("SEP001122334455.cnf.xml"), "<device/>\n").unwrap();
    fs::write(dir.path().join("SEP001122334455.cnf.xml.sgn"), "not signed").unwrap();
    let a = audit(dir.path()).unwrap();
    let p = a.phones.iter().find(|p| p.mac.is_some()).unwrap();
    assert!(
        p.config_accepted && p.ctl.is_none() && p.itl.is_none(),
        "{p:?}"
    );
    assert_eq!(p.config.as_deref(), Some("SEP001122334455.cnf.xml"));
    assert!(a.files.iter().any(|f| f.error.is_some()), "{:?}", a.files);
}
