//! Serving a node: NODE_INFO, MEMBERS, staging and committing on the first node, CAPF
//! on subsequent nodes, the configuration keys, and the SAST client certificate rule.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn first_node_serves_stages_commits_and_remembers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(
        dir,
        "cucm-pub",
        &[
            "--first-node",
            "--services",
            "callmanager,tftp,capf,provider",
            "--member",
            "sub1=127.0.0.1:2444",
            "--firewall",
            "asa=asa.example.com:2444",
        ],
    );
    let config = std::fs::read_to_string(dir.join("provider.toml")).unwrap();
    assert!(
        config.contains("$argon2id$") && !config.contains("s3cret"),
        "{config}"
    );
    let d = start(dir);
    let mut c = connect(&d).await;
    assert_eq!(c.node(), "cucm-pub");
    assert_eq!(
        c.login("admin", &Password::new("s3cret")).await.unwrap(),
        UserRole::SuperUser
    );
    let Response::NodeInfo(info) = c.call(&Request::NodeInfo).await.unwrap() else {
        panic!()
    };
    assert!(info.first_node);
    let roles: Vec<u16> = info.certificates.iter().map(|c| c.role).collect();
    assert_eq!(roles, [2, 4], "CCM+TFTP and CAPF");
    let Response::Members(m) = c.call(&Request::Members).await.unwrap() else {
        panic!()
    };
    assert_eq!(m.members.len(), 2);
    assert_eq!(m.members[0].name, "cucm-pub");
    assert_eq!(m.members[0].port, d.addr.port());
    // Issue 12: a member given as NAME=HOST:PORT was listed with CallManager services it
    // may not run; all the first node knows of it is that it runs a provider.
    assert_eq!(
        m.members[1].services,
        ctl_provider::message::service::PROVIDER
    );
    assert_eq!(m.firewalls[0].host, "asa.example.com");
    assert_eq!(c.call(&Request::GetCtl).await.unwrap(), Response::Ctl(None));

    // First CTL: signed by its own SAST.
    let first = ctl("sast1", 1_735_689_600);
    let Response::Staged(h1) = c
        .call(&Request::Stage {
            base: None,
            file: first.clone().into(),
            peers: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(h1, sha(&first));
    assert_eq!(
        c.call(&Request::Commit { hash: h1 }).await.unwrap(),
        Response::Committed {
            hash: h1,
            hook: None
        }
    );
    assert_eq!(std::fs::read(dir.join("tftp/CTLFile.tlv")).unwrap(), first);
    // Committing again converges.
    assert!(matches!(
        c.call(&Request::Commit { hash: h1 }).await.unwrap(),
        Response::Committed { .. }
    ));

    // A stale base is a conflict; a list signed by an unknown key is refused; garbage is invalid.
    let second = ctl("sast2", 1_735_689_700);
    let r = c
        .call(&Request::Stage {
            base: None,
            file: second.clone().into(),
            peers: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            Response::Error {
                code: ErrorCode::Conflict,
                ..
            }
        ),
        "{r:?}"
    );
    let itl = std::fs::read(vectors().join("itl/ITLFile-sha1.tlv")).unwrap();
    let r = c
        .call(&Request::Stage {
            base: Some(h1),
            file: itl.into(),
            peers: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(
            &r,
            Response::Error {
                code: ErrorCode::SignatureRefused,
                ..
            }
        ),
        "{r:?}"
    );
    let r = c
        .call(&Request::Stage {
            base: Some(h1),
            file: vec![1, 2, 3].into(),
            peers: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(&r, Response::Error { code: ErrorCode::InvalidFile, message } if message.contains("at byte")),
        "{r:?}"
    );

    // An update signed by the other token of the current CTL.
    let Response::Staged(h2) = c
        .call(&Request::Stage {
            base: Some(h1),
            file: second.clone().into(),
            peers: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        c.call(&Request::Commit { hash: h2 }).await.unwrap(),
        Response::Committed { .. }
    ));
    assert_eq!(
        std::fs::read(dir.join("tftp/CTLFile_old.tlv")).unwrap(),
        first
    );
    assert_eq!(
        c.call(&Request::SetMode(SecurityMode::Mixed))
            .await
            .unwrap(),
        Response::ModeSet(SecurityMode::Mixed)
    );
    let Response::Audit(log) = c.call(&Request::Audit { limit: 100 }).await.unwrap() else {
        panic!()
    };
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"commit")
            && actions.contains(&"set-mode")
            && actions.contains(&"stage-refused"),
        "{actions:?}"
    );
    c.bye().await.unwrap();

    // After a restart: the same CTL and mode.
    drop(d);
    let d = start(dir);
    let mut c = connect(&d).await;
    c.login("admin", &Password::new("s3cret")).await.unwrap();
    assert_eq!(
        c.call(&Request::GetCtl).await.unwrap(),
        Response::Ctl(Some((h2, second.into())))
    );
    assert_eq!(
        c.call(&Request::GetMode).await.unwrap(),
        Response::Mode(SecurityMode::Mixed)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn subsequent_nodes_store_capf_and_refuse_first_node_requests() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "sub1", &["--services", "callmanager,provider"]);
    let d = start(tmp.path());
    let mut c = connect(&d).await;
    c.login("admin", &Password::new("s3cret")).await.unwrap();
    let r = c.call(&Request::Members).await.unwrap();
    assert!(
        matches!(
            r,
            Response::Error {
                code: ErrorCode::NotFirstNode,
                ..
            }
        ),
        "{r:?}"
    );
    // Only the first node keeps the off-cluster servers.
    let r = c
        .call(&Request::Stage {
            base: None,
            file: ctl("sast1", 1).into(),
            peers: Some(OffCluster::default()),
        })
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            Response::Error {
                code: ErrorCode::NotFirstNode,
                ..
            }
        ),
        "{r:?}"
    );
    let capf = std::fs::read(vectors().join("keys/capf.crt.der")).unwrap();
    assert_eq!(
        c.call(&Request::PutCapf {
            certificate: capf.clone().into()
        })
        .await
        .unwrap(),
        Response::CapfStored
    );
    assert_eq!(
        std::fs::read(tmp.path().join("tftp/capf.cer")).unwrap(),
        capf
    );
    let pem = std::fs::read(tmp.path().join("tftp/capf.pem")).unwrap();
    assert_eq!(Certificate::from_pem(&pem).unwrap().der(), capf.as_slice());
}

#[test]
fn every_configuration_key_is_documented_in_the_readme() {
    let tmp = tempfile::tempdir().unwrap();
    init(
        tmp.path(),
        "n1",
        &[
            "--first-node",
            "--member",
            "a=h:1",
            "--alternate-tftp",
            "t=h:2",
            "--firewall",
            "f=h:3",
        ],
    );
    let config: toml::Table = std::fs::read_to_string(tmp.path().join("provider.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let mut keys = Vec::new();
    for (k, v) in &config {
        keys.push(k.clone());
        let tables: Vec<&toml::Table> = match v {
            toml::Value::Table(t) => vec![t],
            toml::Value::Array(a) => a.iter().filter_map(toml::Value::as_table).collect(),
            _ => vec![],
        };
        for t in tables {
            keys.extend(t.keys().cloned());
        }
    }
    keys.push("addresses".into());
    for k in keys {
        let documented = [format!("`{k}`"), format!("`[{k}]`"), format!("`[[{k}]]`")]
            .iter()
            .any(|form| readme.contains(form));
        assert!(documented, "provider.toml key `{k}` is not in the README");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stage_and_commit_can_require_a_sast_client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    edit_config(
        tmp.path(),
        "require_sast_client_certificate = false",
        "require_sast_client_certificate = true",
    );
    let d = start(tmp.path());
    let first = ctl("sast1", 1);
    // Without a client certificate: refused; reading still works.
    let mut plain = logged_in(&d).await;
    assert_eq!(
        plain.call(&Request::GetCtl).await.unwrap(),
        Response::Ctl(None)
    );
    let r = plain
        .call(&Request::Stage {
            base: None,
            file: first.clone().into(),
            peers: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(&r, Response::Error { code: ErrorCode::Forbidden, message } if message.contains("client certificate")),
        "{r:?}"
    );
    // A certificate that is not a SAST of the file: refused.
    let mut ccm = connect_as(&d, "ccm").await;
    let r = ccm
        .call(&Request::Stage {
            base: None,
            file: first.clone().into(),
            peers: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(&r, Response::Error { code: ErrorCode::Forbidden, message } if message.contains("not a SAST")),
        "{r:?}"
    );
    // A SAST token's certificate: accepted.
    let mut sast = connect_as(&d, "sast2").await;
    let Response::Staged(h) = sast
        .call(&Request::Stage {
            base: None,
            file: first.clone().into(),
            peers: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        sast.call(&Request::Commit { hash: h }).await.unwrap(),
        Response::Committed { .. }
    ));
    // Now the current CTL decides.
    let mut itl_signer = connect_as(&d, "itlrecovery").await;
    let r = itl_signer
        .call(&Request::Stage {
            base: Some(h),
            file: ctl("sast2", 2).into(),
            peers: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(
            &r,
            Response::Error {
                code: ErrorCode::Forbidden,
                ..
            }
        ),
        "{r:?}"
    );
}

/// Issue 11, finding 8: the daemon allowed core dumps, which would hold the node key and
/// every password being checked. It makes none, and is not dumpable.
#[test]
fn the_daemon_makes_no_core_file() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    let d = start(tmp.path());
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.child.id())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(fields[4..6], ["0", "0"], "{core}");
}
