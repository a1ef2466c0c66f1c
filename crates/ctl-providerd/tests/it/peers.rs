//! Off-cluster servers stored with the CTL they came with (PEERS, MEMBERS' SOURCE).

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn off_cluster_servers_are_stored_with_the_ctl_they_came_with() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(
        dir,
        "cucm-pub",
        &[
            "--first-node",
            "--member",
            "sub1=127.0.0.1:2444",
            "--firewall",
            "asa=127.0.0.1:2445",
        ],
    );
    let mut d = start(dir);
    let mut c = logged_in(&d).await;
    let configured = ("asa".to_owned(), PeerSource::Configured);
    assert_eq!(
        peers_listed(&mut c).await,
        std::slice::from_ref(&configured)
    );

    // Refused: a member named as off-cluster, a name given twice; nothing is stored.
    for (peers, why) in [
        (
            OffCluster {
                firewalls: vec![peer("sub1", 1)],
                ..OffCluster::default()
            },
            "sub1 is a cluster member",
        ),
        (
            OffCluster {
                alternate_tftp: vec![peer("dr", 1)],
                firewalls: vec![peer("dr", 2)],
            },
            "dr is named twice",
        ),
    ] {
        let r = stage_commit(&mut c, ctl("sast1", 1), Some(peers)).await;
        let Response::Error {
            code: ErrorCode::InvalidFile,
            message,
        } = &r
        else {
            panic!("{r:?}")
        };
        assert!(message.contains(why), "{message}");
    }

    // Staged with a CTL: listed once that CTL commits (the configured one listed once).
    let peers = OffCluster {
        alternate_tftp: vec![peer("tftp-dr", 7001)],
        firewalls: vec![peer("asa", 2445), peer("asa2", 7002)],
    };
    let file = ctl("sast1", 10);
    let Response::Staged(h1) = c
        .call(&Request::Stage {
            base: None,
            file: file.into(),
            peers: Some(peers),
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        peers_listed(&mut c).await,
        std::slice::from_ref(&configured),
        "staged only"
    );
    assert!(matches!(
        c.call(&Request::Commit { hash: h1 }).await.unwrap(),
        Response::Committed { .. }
    ));
    let stored = vec![
        ("tftp-dr".to_owned(), PeerSource::Stored),
        configured.clone(),
        ("asa2".to_owned(), PeerSource::Stored),
    ];
    assert_eq!(peers_listed(&mut c).await, stored);

    // A later CTL staged without PEERS keeps them; the list survives a restart.
    assert!(matches!(
        stage_commit(&mut c, ctl("sast2", 11), None).await,
        Response::Committed { .. }
    ));
    drop(c);
    drop(d);
    d = start(dir);
    let mut c = logged_in(&d).await;
    assert_eq!(peers_listed(&mut c).await, stored);

    // A crash after a commit wrote its list and its file, before it made the list current:
    // the restart takes the list that goes with the file on disk. A crash before the file
    // was written: the list of the other file is dropped.
    let state_path = dir.join("state/state.json");
    let current = ctl_format::hex(&current_hash(&mut c).await.unwrap());
    let asa3 = ("asa3".to_owned(), PeerSource::Stored);
    for (hash, name) in [(current, "asa3"), ("00".repeat(32), "asa4")] {
        let mut state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
        state["pending_peers"] = serde_json::json!({
            "hash": hash,
            "peers": { "firewalls": [{ "name": name, "host": "127.0.0.1", "port": 7003 }] }
        });
        drop(c);
        drop(d);
        std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
        d = start(dir);
        c = logged_in(&d).await;
        assert_eq!(
            peers_listed(&mut c).await,
            [configured.clone(), asa3.clone()],
            "pending {name}"
        );
    }

    // An empty PEERS clears the stored ones; the configured one stays.
    assert!(matches!(
        stage_commit(&mut c, ctl("sast1", 12), Some(OffCluster::default())).await,
        Response::Committed { .. }
    ));
    assert_eq!(peers_listed(&mut c).await, [configured]);
}
