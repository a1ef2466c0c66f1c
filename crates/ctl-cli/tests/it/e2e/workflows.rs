//! The Cisco workflows on separate daemons, SoftHSM2 tokens and a real TFTP server.

use super::*;

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn the_cisco_workflows_on_separate_daemons_softhsm_tokens_and_a_real_tftp_server() {
    let mut c = Cluster::start();

    // Mixed mode, first time: both tokens, signed on the last one.
    let o = c.ctl(&[
        "cluster",
        "set-mode",
        "mixed",
        "--token",
        &c.token("SAST1"),
        "--token",
        &c.token("SAST2"),
        "--yes",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = json(&o);
    assert_eq!(j["ok"], true, "{j}");
    assert!(statuses(&j).iter().all(|(_, s)| s == "committed"), "{j}");
    assert_eq!(statuses(&j).len(), 3, "{j}");
    let first = c.assert_converged(&MEMBERS);
    let doc = parse_trust_list(&first).unwrap();
    let roles: Vec<Option<Role>> = doc.records().iter().map(|r| r.role()).collect();
    assert_eq!(roles.iter().filter(|r| **r == Some(Role::SAST)).count(), 2);
    for role in [Role::CCM_TFTP, Role::CCM, Role::TFTP, Role::CAPF] {
        assert!(roles.contains(&Some(role)), "{role:?} missing: {roles:?}");
    }
    assert!(!stdout(&o).contains("1234") && !stderr(&o).contains("5678"));
    // The subsequent nodes got the CAPF certificate.
    for m in ["sub", "tftp"] {
        assert!(c.node_dir(m).join("tftp/capf.cer").exists(), "{m}");
    }

    // A phone downloads the CTL from the TFTP node over TFTP and trusts it.
    let phone = c.dir.path().join("phone.tlv");
    let (_tftpd, tftp_port) = tftpd(&c.node_dir("tftp/tftp"));
    let got = tftp_get(tftp_port, &c.node_dir("tftp/tftp"), "CTLFile.tlv", &phone);
    assert_eq!(sha256(&got), sha256(&first), "TFTP served other bytes");
    let held = parse_trust_list(&got).unwrap();
    phone_accepts(None, &held, &RsaVerifier).unwrap();

    // Up to date.
    let o = c.ctl(&["cluster", "status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("up to date"), "{}", text(&o));

    // Update: a firewall joins, signed on the second token; the phone takes it.
    let o = c.ctl(&[
        "cluster",
        "add-firewall",
        &c.firewall,
        "--token",
        &c.token("SAST2"),
        "--yes",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = json(&o);
    assert_eq!(statuses(&j).len(), 4, "{j}");
    assert!(statuses(&j).iter().all(|(_, s)| s == "committed"), "{j}");
    let updated = c.assert_converged(&["pub", "sub", "tftp", "asa"]);
    assert_ne!(sha256(&updated), sha256(&first));
    let got = tftp_get(tftp_port, &c.node_dir("tftp/tftp"), "CTLFile.tlv", &phone);
    assert_eq!(sha256(&got), sha256(&updated));
    phone_accepts(Some(&held), &parse_trust_list(&got).unwrap(), &RsaVerifier).unwrap();
    assert_eq!(
        sha256(&std::fs::read(c.node_dir("tftp/tftp/CTLFile_old.tlv")).unwrap()),
        sha256(&first),
        "the previous CTL is kept as CTLFile_old.tlv"
    );
    // The first node stored the firewall with that CTL: the cluster is up to date.
    let o = c.ctl(&["cluster", "status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("up to date"), "{}", text(&o));

    // Delete-entry refusals, each naming its rule; nothing changes.
    let serial_of = |role: Role| {
        let doc = parse_trust_list(&updated).unwrap();
        let r = doc
            .records()
            .iter()
            .find(|r| r.role() == Some(role))
            .copied()
            .unwrap();
        ctl_format::hex(r.serial().unwrap())
    };
    for (serial, rule) in [
        (serial_of(Role::SAST), "two must remain"),
        (serial_of(Role::CCM), "cannot be deleted by hand"),
    ] {
        let o = c.ctl(&[
            "cluster",
            "remove-entry",
            "--serial",
            &serial,
            "--token",
            &c.token("SAST1"),
            "--yes",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(rule), "{rule}: {}", text(&o));
    }
    assert_eq!(sha256(&c.ctl_file("pub")), sha256(&updated));

    // Non-secure mode: the CTL stays, server records without certificates.
    let o = c.ctl(&[
        "cluster",
        "set-mode",
        "non-secure",
        "--token",
        &c.token("SAST1"),
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The firewall the first node stored gets the file too.
    let plain = c.assert_converged(&["pub", "sub", "tftp", "asa"]);
    let doc = parse_trust_list(&plain).unwrap();
    assert_eq!(
        doc.records().len(),
        7,
        "2 SAST, CCM+TFTP, CAPF, CCM, TFTP, firewall"
    );
    assert!(
        doc.records()
            .iter()
            .all(|r| (r.role() == Some(Role::SAST)) == r.certificate().is_some())
    );
    let got = tftp_get(tftp_port, &c.node_dir("tftp/tftp"), "CTLFile.tlv", &phone);
    assert_eq!(sha256(&got), sha256(&plain));

    // Back to mixed mode with a token of the CTL: the server certificates come back.
    let o = c.ctl(&[
        "cluster",
        "set-mode",
        "mixed",
        "--token",
        &c.token("SAST1"),
        "--token",
        &c.token("SAST2"),
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mixed = c.assert_converged(&["pub", "sub", "tftp", "asa"]);
    let doc = parse_trust_list(&mixed).unwrap();
    assert!(doc.records().iter().all(|r| r.certificate().is_some()));
    assert!(
        text(&o).contains("security mode set to mixed"),
        "{}",
        text(&o)
    );

    // The firewall removed: its record goes, it is no longer sent the file.
    let o = c.ctl(&[
        "cluster",
        "update",
        "--remove-peer",
        "asa1",
        "--token",
        &c.token("SAST1"),
        "--yes",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(statuses(&json(&o)).len(), 3, "{}", text(&o));
    let without = c.assert_converged(&MEMBERS);
    let doc = parse_trust_list(&without).unwrap();
    assert!(
        doc.records()
            .iter()
            .all(|r| r.dns_name().as_deref() != Some("asa1"))
    );
    assert_eq!(sha256(&c.ctl_file("asa")), sha256(&mixed));

    // A node removed from the cluster (the first node's configuration edited, the node
    // restarted): status says so and fails; an update leaves its record out.
    c.remove_member("tftp1");
    let o = c.ctl(&["cluster", "status"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("gone from the cluster") && text(&o).contains("tftp1"),
        "{}",
        text(&o)
    );
    let o = c.ctl(&["cluster", "update", "--token", &c.token("SAST2"), "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("left out of the new CTL: tftp1"),
        "{}",
        text(&o)
    );
    let smaller = c.assert_converged(&["pub", "sub"]);
    let doc = parse_trust_list(&smaller).unwrap();
    assert!(doc.records().iter().all(|r| r.role() != Some(Role::TFTP)));
    let o = c.ctl(&["cluster", "status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
