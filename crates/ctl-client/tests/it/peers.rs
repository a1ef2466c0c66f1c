//! Alternate TFTP servers and firewalls: added by an update (stored by the first node,
//! sent later files, removed again), or configured on the first node.

use crate::cluster::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_firewall_added_by_update_is_stored_sent_later_files_and_removable() {
    let c = cluster();
    let tmp = tempfile::tempdir().unwrap();
    let fw = start(&node_setup(
        &tmp.path().join("asa"),
        "asa-1",
        0,
        &["provider"],
    ));
    let client = c.client(Arc::new(Mutex::new(Vec::new())));
    let (t1, s1) = token("sast1");
    let (t2, s2) = token("sast2");
    client.set_mixed_mode(&[t1, t2], s1.clone()).await.unwrap();
    let peer = Peer {
        name: "asa-1".into(),
        host: "127.0.0.1".into(),
        port: fw.port,
        firewall: true,
    };
    let with_fw = client
        .update(
            s2.clone(),
            &Changes {
                add_peers: vec![peer],
                ..Changes::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        roles(&with_fw.ctl),
        ["SAST", "SAST", "CCM+TFTP", "CAPF", "CCM", "TFTP", "CCM"]
    );
    assert_eq!(with_fw.distribution.targets.len(), 4);
    assert_eq!(
        std::fs::read(fw.dir.join("tftp/CTLFile.tlv")).unwrap(),
        with_fw.ctl
    );
    let doc = parse_trust_list(&with_fw.ctl).unwrap();
    assert_eq!(doc.records()[6].dns_name().as_deref(), Some("asa-1"));
    // The first node stored it with that CTL: status is clean, a later refresh keeps its
    // record and sends it the new file, like every node.
    let status = client.status().await.unwrap();
    assert!(status.up_to_date(), "{:?}", status.changes);
    let later = client
        .update(s1.clone(), &Changes::default())
        .await
        .unwrap();
    assert_eq!(roles(&later.ctl).len(), 7);
    assert!(later.notes.is_empty(), "{:?}", later.notes);
    assert_eq!(later.distribution.targets.len(), 4);
    assert_eq!(
        std::fs::read(fw.dir.join("tftp/CTLFile.tlv")).unwrap(),
        later.ctl
    );
    // Adding it twice, or removing a server nobody knows, is refused by name.
    let again = Changes {
        add_peers: vec![Peer {
            name: "asa-1".into(),
            host: "127.0.0.1".into(),
            port: fw.port,
            firewall: true,
        }],
        ..Changes::default()
    };
    let err = client.update(s1.clone(), &again).await.unwrap_err();
    assert!(
        err.to_string().contains("asa-1 is already a firewall"),
        "{err}"
    );
    let unknown = Changes {
        remove_peers: vec!["asa-9".into()],
        ..Changes::default()
    };
    let err = client.update(s1.clone(), &unknown).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("no alternate TFTP server or firewall is named asa-9")
            && err.to_string().contains("known: asa-1"),
        "{err}"
    );
    // Removed: its record goes and it is not sent the file any more.
    let removed = client
        .update(
            s2.clone(),
            &Changes {
                remove_peers: vec!["asa-1".into()],
                ..Changes::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        roles(&removed.ctl),
        ["SAST", "SAST", "CCM+TFTP", "CAPF", "CCM", "TFTP"]
    );
    assert_eq!(removed.distribution.targets.len(), 3);
    assert_eq!(
        std::fs::read(fw.dir.join("tftp/CTLFile.tlv")).unwrap(),
        later.ctl
    );
    let status = client.status().await.unwrap();
    assert!(status.up_to_date(), "{:?}", status.changes);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_firewall_is_covered_and_only_removed_in_the_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let fw = start(&node_setup(
        &tmp.path().join("asa"),
        "asa-c",
        0,
        &["provider"],
    ));
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST_NODE);
    first.first_node(true).firewall(local("asa-c", fw.port));
    let n0 = start(&first);
    let c = Cluster {
        _tmp: tmp,
        nodes: vec![n0],
    };
    let client = c.client(Arc::new(Mutex::new(Vec::new())));
    let (t1, s1) = token("sast1");
    let (t2, _) = token("sast2");
    let outcome = client.set_mixed_mode(&[t1, t2], s1.clone()).await.unwrap();
    assert_eq!(
        roles(&outcome.ctl),
        ["SAST", "SAST", "CCM+TFTP", "CAPF", "CCM"]
    );
    assert_eq!(
        std::fs::read(fw.dir.join("tftp/CTLFile.tlv")).unwrap(),
        outcome.ctl
    );
    let err = client
        .update(
            s1.clone(),
            &Changes {
                remove_peers: vec!["asa-c".into()],
                ..Changes::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rule(m) if m.to_string().contains("first node's own provider configuration")),
        "{err}"
    );
}
