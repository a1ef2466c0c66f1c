//! `ctl-providerd` as separate processes, driven over TLS by the protocol client.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ctl_format::{Certificate, Layout, RecordSpec, Role as CtlRole, TrustListBuilder};
use ctl_provider::message::{
    ErrorCode, Members, OffCluster, Password, Peer, PeerSource, Request, Response, SecurityMode,
    UserRole,
};
use ctl_provider::net::{Session, client_tls};
use ctl_provider::trust::{Fingerprints, fingerprint};
use ctl_test_support::daemon::{self, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_ctl-providerd");

fn vectors() -> PathBuf {
    ctl_test_support::vectors()
}

fn init(dir: &Path, node: &str, extra: &[&str]) {
    let mut args = vec!["--node", node];
    args.extend_from_slice(extra);
    daemon::init(Path::new(BIN), dir, "127.0.0.1:0", &args);
}

fn start(dir: &Path) -> Daemon {
    daemon::run(Path::new(BIN), dir)
}

fn tls_cert(dir: &Path) -> Vec<u8> {
    Certificate::from_pem(&std::fs::read(dir.join("callmanager.pem")).unwrap())
        .unwrap()
        .der()
        .to_vec()
}

async fn connect(d: &Daemon) -> Session {
    let tls = client_tls(Arc::new(Fingerprints(vec![fingerprint(&tls_cert(&d.dir))]))).unwrap();
    Session::connect(d.addr, "localhost", tls, Duration::from_secs(10))
        .await
        .unwrap()
}

/// A CTL of the vector certificates, signed by `signer` (sast1 or sast2).
fn ctl(signer: &str, timestamp: u32) -> Vec<u8> {
    let keys = vectors().join("keys");
    let cert = |n: &str| {
        Certificate::from_der(&std::fs::read(keys.join(format!("{n}.crt.der"))).unwrap()).unwrap()
    };
    let mut b = TrustListBuilder::new();
    b.layout(Layout::Cucm).timestamp(timestamp);
    b.push(RecordSpec::new(cert("sast1"), CtlRole::SAST));
    b.push(RecordSpec::new(cert("sast2"), CtlRole::SAST));
    b.push(RecordSpec::new(cert("ccm"), CtlRole::CCM_TFTP));
    let s =
        ctl_token::SoftwareSigner::from_files(&keys.join(format!("{signer}.pem")), None).unwrap();
    b.build(&s).unwrap()
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    fingerprint(bytes)
}

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
    assert_eq!(m.firewalls[0].host, "asa.example.com");
    assert_eq!(c.call(&Request::GetCtl).await.unwrap(), Response::Ctl(None));

    // First CTL: signed by its own SAST.
    let first = ctl("sast1", 1_735_689_600);
    let Response::Staged(h1) = c
        .call(&Request::Stage {
            base: None,
            file: first.clone(),
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
            file: second.clone(),
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
            file: itl,
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
            file: vec![1, 2, 3],
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
            file: second.clone(),
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
        Response::Ctl(Some((h2, second)))
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
            file: ctl("sast1", 1),
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
            certificate: capf.clone()
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

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_back_off_then_lock_out() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    // Fast back-off for the test.
    let path = tmp.path().join("provider.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("login_backoff_ms = 1000", "login_backoff_ms = 10")
        .replace("lockout_after = 5", "lockout_after = 3");
    std::fs::write(&path, text).unwrap();
    let d = start(tmp.path());
    let mut c = connect(&d).await;
    for _ in 0..2 {
        let err = c.login("admin", &Password::new("nope")).await.unwrap_err();
        assert!(err.to_string().contains("wrong user or password"), "{err}");
    }
    let err = c.login("admin", &Password::new("nope")).await.unwrap_err();
    assert!(err.to_string().contains("too many failed logins"), "{err}");
    // Locked out even with the right password, from a new session.
    let mut c = connect(&d).await;
    let err = c
        .login("admin", &Password::new("s3cret"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too many failed logins"), "{err}");
}

fn edit_config(dir: &Path, from: &str, to: &str) {
    let path = dir.join("provider.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in {text}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

async fn logged_in(d: &Daemon) -> Session {
    let mut c = connect(d).await;
    c.login("admin", &Password::new("s3cret")).await.unwrap();
    c
}

async fn current_hash(c: &mut Session) -> Option<[u8; 32]> {
    match c.call(&Request::GetCtl).await.unwrap() {
        Response::Ctl(x) => x.map(|(h, _)| h),
        other => panic!("{other:?}"),
    }
}

fn peer(name: &str, port: u16) -> Peer {
    Peer {
        name: name.into(),
        host: "127.0.0.1".into(),
        port,
        source: PeerSource::Configured,
    }
}

/// (name, source) of every off-cluster server MEMBERS lists, alternate TFTP first.
async fn peers_listed(c: &mut Session) -> Vec<(String, PeerSource)> {
    let Response::Members(Members {
        alternate_tftp,
        firewalls,
        ..
    }) = c.call(&Request::Members).await.unwrap()
    else {
        panic!()
    };
    alternate_tftp
        .iter()
        .chain(&firewalls)
        .map(|p| (p.name.clone(), p.source))
        .collect()
}

async fn stage_commit(c: &mut Session, file: Vec<u8>, peers: Option<OffCluster>) -> Response {
    let base = current_hash(c).await;
    match c.call(&Request::Stage { base, file, peers }).await.unwrap() {
        Response::Staged(hash) => c.call(&Request::Commit { hash }).await.unwrap(),
        other => other,
    }
}

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
            file,
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

#[tokio::test(flavor = "multi_thread")]
async fn five_sessions_stage_at_once_and_exactly_one_commit_wins() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    let d = start(tmp.path());
    let mut first = logged_in(&d).await;
    let Response::Staged(h0) = first
        .call(&Request::Stage {
            base: None,
            file: ctl("sast1", 1),
            peers: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    first.call(&Request::Commit { hash: h0 }).await.unwrap();
    let mut clients = Vec::new();
    for i in 0..5u32 {
        let mut c = logged_in(&d).await;
        let r = c
            .call(&Request::Stage {
                base: Some(h0),
                file: ctl("sast2", 100 + i),
                peers: None,
            })
            .await
            .unwrap();
        let Response::Staged(h) = r else {
            panic!("{r:?}")
        };
        clients.push((c, h));
    }
    // A sixth session may not prepare while five are.
    let mut sixth = logged_in(&d).await;
    let r = sixth
        .call(&Request::Stage {
            base: Some(h0),
            file: ctl("sast2", 999),
            peers: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(&r, Response::Error { code: ErrorCode::Busy, message } if message.contains("5 sessions")),
        "{r:?}"
    );
    let mut tasks = Vec::new();
    for (mut c, h) in clients {
        tasks.push(tokio::spawn(async move {
            c.call(&Request::Commit { hash: h }).await.unwrap()
        }));
    }
    let mut won = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Response::Committed { .. } => won += 1,
            Response::Error {
                code: ErrorCode::Conflict,
                ..
            } => conflicts += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((won, conflicts), (1, 4));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_on_commit_hook_reports_and_is_killed_after_its_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    edit_config(
        tmp.path(),
        "on_commit = []",
        r#"on_commit = ["/bin/sh", "-c", "echo restarted CallManager and TFTP on $CTL_NODE; exit 3"]"#,
    );
    let d = start(tmp.path());
    let mut c = logged_in(&d).await;
    let Response::Staged(h) = c
        .call(&Request::Stage {
            base: None,
            file: ctl("sast1", 1),
            peers: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    let Response::Committed {
        hook: Some(hook), ..
    } = c.call(&Request::Commit { hash: h }).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(hook.exit_status, 3);
    assert_eq!(hook.message, "restarted CallManager and TFTP on n1");
    drop(d);
    edit_config(tmp.path(), "exit 3", "sleep 30");
    edit_config(tmp.path(), "timeout_secs = 30", "timeout_secs = 1");
    let d = start(tmp.path());
    let mut c = logged_in(&d).await;
    let Response::Staged(h2) = c
        .call(&Request::Stage {
            base: Some(h),
            file: ctl("sast2", 2),
            peers: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    let started = std::time::Instant::now();
    let Response::Committed {
        hook: Some(hook), ..
    } = c.call(&Request::Commit { hash: h2 }).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(hook.exit_status, -1);
    assert!(
        hook.message.contains("killed after 1 s"),
        "{}",
        hook.message
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let Response::Audit(log) = c.call(&Request::Audit { limit: 10 }).await.unwrap() else {
        panic!()
    };
    assert!(
        log.iter()
            .any(|e| e.action == "hook" && e.message.contains("killed")),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_write_leaves_the_old_file_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    let d = start(tmp.path());
    let mut c = logged_in(&d).await;
    let first = ctl("sast1", 1);
    let Response::Staged(h) = c
        .call(&Request::Stage {
            base: None,
            file: first.clone(),
            peers: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    c.call(&Request::Commit { hash: h }).await.unwrap();
    // A directory where the next write renames CTLFile_old.tlv: the rename fails (EISDIR),
    // even for root.
    let tftp = tmp.path().join("tftp");
    std::fs::create_dir(tftp.join("CTLFile_old.tlv")).unwrap();
    let Response::Staged(h2) = c
        .call(&Request::Stage {
            base: Some(h),
            file: ctl("sast2", 2),
            peers: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    let r = c.call(&Request::Commit { hash: h2 }).await.unwrap();
    assert!(
        matches!(&r, Response::Error { code: ErrorCode::Storage, message } if message.contains("unchanged")),
        "{r:?}"
    );
    assert_eq!(std::fs::read(tftp.join("CTLFile.tlv")).unwrap(), first);
    assert_eq!(current_hash(&mut c).await, Some(h));
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_wrong_passwords() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    edit_config(
        tmp.path(),
        "login_backoff_ms = 1000",
        "login_backoff_ms = 5",
    );
    let d = start(tmp.path());
    let mut refused = 0;
    let mut locked = 0;
    for _ in 0..20 {
        let mut c = connect(&d).await;
        let err = c
            .login("admin", &Password::new("guess"))
            .await
            .unwrap_err()
            .to_string();
        if err.contains("too many failed logins") {
            locked += 1;
        } else {
            assert!(err.contains("wrong user or password"), "{err}");
            refused += 1;
        }
    }
    assert_eq!((refused, locked), (4, 16));
    let audit = std::fs::read_to_string(tmp.path().join("state/audit.log")).unwrap();
    assert_eq!(audit.matches("login-failed").count(), 5);
    assert!(!audit.contains("guess"));
}

#[test]
fn kill_9_during_commits_never_leaves_a_torn_file() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let files: Vec<Vec<u8>> = (0..40u32)
        .map(|i| ctl(if i % 2 == 0 { "sast1" } else { "sast2" }, 1000 + i))
        .collect();
    let files = Arc::new(files);
    for round in 0..6u64 {
        let mut d = start(tmp.path());
        let sent = Arc::clone(&files);
        let addr = d.addr;
        let cert = tls_cert(tmp.path());
        let worker = rt.spawn(async move {
            let tls = client_tls(Arc::new(Fingerprints(vec![fingerprint(&cert)]))).unwrap();
            let mut c = Session::connect(addr, "localhost", tls, Duration::from_secs(5)).await?;
            c.login("admin", &Password::new("s3cret")).await?;
            for f in sent.iter() {
                let base = match c.call(&Request::GetCtl).await? {
                    Response::Ctl(x) => x.map(|(h, _)| h),
                    _ => None,
                };
                if let Response::Staged(h) = c
                    .call(&Request::Stage {
                        base,
                        file: f.clone(),
                        peers: None,
                    })
                    .await?
                {
                    c.call(&Request::Commit { hash: h }).await?;
                }
            }
            Ok::<(), ctl_provider::net::NetError>(())
        });
        // Wait until this round's commits are under way, then kill at a different moment each round.
        let commits = || {
            std::fs::read_to_string(tmp.path().join("state/audit.log"))
                .unwrap_or_default()
                .matches("\"commit\"")
                .count()
        };
        let before = commits();
        let waited = std::time::Instant::now();
        while commits() == before && waited.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(commits() > before, "round {round}: no commit happened");
        std::thread::sleep(Duration::from_millis(round * 17 % 60));
        // SIGKILL: no chance to clean up.
        d.child.kill().unwrap();
        d.child.wait().unwrap();
        let _ = rt.block_on(worker);
        for name in ["CTLFile.tlv", "CTLFile_old.tlv"] {
            if let Ok(bytes) = std::fs::read(tmp.path().join("tftp").join(name)) {
                let doc = ctl_format::parse_trust_list(&bytes)
                    .unwrap_or_else(|e| panic!("round {round}: {name} torn: {e}"));
                doc.verify(&ctl_format::RsaVerifier).unwrap();
                assert!(
                    files.contains(&bytes),
                    "round {round}: {name} is one of the files sent"
                );
            }
        }
    }
    // After a restart the state agrees with the file.
    let d = start(tmp.path());
    let bytes = std::fs::read(tmp.path().join("tftp/CTLFile.tlv")).unwrap();
    let state = std::fs::read_to_string(tmp.path().join("state/state.json")).unwrap();
    assert!(state.contains(&ctl_format::hex(&sha(&bytes))), "{state}");
    rt.block_on(async {
        let mut c = logged_in(&d).await;
        assert_eq!(current_hash(&mut c).await, Some(sha(&bytes)));
    });
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

/// A client authenticating with the `name` vector identity.
async fn connect_as(d: &Daemon, name: &str) -> Session {
    let keys = vectors().join("keys");
    let cert = std::fs::read(keys.join(format!("{name}.crt.der"))).unwrap();
    let pem = std::fs::read(keys.join(format!("{name}.key.pem"))).unwrap();
    let key = ctl_format::pem_decode_all(&pem, "PRIVATE KEY")
        .unwrap()
        .remove(0);
    let policy = Arc::new(Fingerprints(vec![fingerprint(&tls_cert(&d.dir))]));
    let tls = ctl_provider::net::client_tls_with_identity(policy, Some((vec![cert], key))).unwrap();
    let mut c = Session::connect(d.addr, "localhost", tls, Duration::from_secs(10))
        .await
        .unwrap();
    c.login("admin", &Password::new("s3cret")).await.unwrap();
    c
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
            file: first.clone(),
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
            file: first.clone(),
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
            file: first.clone(),
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
            file: ctl("sast2", 2),
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

/// The state race: SET_MODE read-modified-wrote `state.json` outside the commit lock, and
/// both writers used one temporary name, so an acknowledged mode could be lost and
/// `state.json` be seen empty. Two sessions commit in turns while a third sets and reads
/// back the mode 1,000 times; a thread reads `state.json` all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mode_changes_survive_concurrent_commits() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "cucm-pub", &["--first-node"]);
    let d = start(tmp.path());
    let files = Arc::new([ctl("sast1", 1_000), ctl("sast2", 2_000)]);
    {
        let mut c = logged_in(&d).await;
        assert!(matches!(
            stage_commit(&mut c, files[0].clone(), None).await,
            Response::Committed { .. }
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicUsize::new(0));
    let mut committers = Vec::new();
    for _ in 0..2 {
        let (stop, commits, files) = (Arc::clone(&stop), Arc::clone(&commits), Arc::clone(&files));
        let mut c = logged_in(&d).await;
        committers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let base = current_hash(&mut c).await;
                let next = if base == Some(sha(&files[0])) {
                    &files[1]
                } else {
                    &files[0]
                };
                let Response::Staged(hash) = c
                    .call(&Request::Stage {
                        base,
                        file: next.clone(),
                        peers: None,
                    })
                    .await
                    .unwrap()
                else {
                    continue; // the other committer moved the CTL first
                };
                if let Response::Committed { .. } = c.call(&Request::Commit { hash }).await.unwrap()
                {
                    commits.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let state = tmp.path().join("state/state.json");
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let (mut reads, mut bad) = (0usize, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                if let Ok(text) = std::fs::read(&state) {
                    reads += 1;
                    if serde_json::from_slice::<serde_json::Value>(&text).is_err() {
                        bad.push(text.len());
                    }
                }
            }
            (reads, bad)
        })
    };
    let mut c = logged_in(&d).await;
    let (mut lost, mut failed) = (0, Vec::new());
    for i in 0..1_000 {
        let mode = if i % 2 == 0 {
            SecurityMode::Mixed
        } else {
            SecurityMode::NonSecure
        };
        match c.call(&Request::SetMode(mode)).await.unwrap() {
            Response::ModeSet(m) if m == mode => {}
            other => failed.push(other),
        }
        if c.call(&Request::GetMode).await.unwrap() != Response::Mode(mode) {
            lost += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in committers {
        t.await.unwrap();
    }
    let (reads, bad) = reader.join().unwrap();
    let commits = commits.load(Ordering::Relaxed);
    assert!(
        commits > 10,
        "only {commits} commits ran beside the mode changes"
    );
    assert!(reads > 0, "state.json was never read");
    assert!(
        failed.is_empty() && lost == 0 && bad.is_empty(),
        "beside {commits} commits: {} of 1,000 mode changes failed (first: {:?}), {lost} lost; \
         state.json unreadable {} times in {reads} reads",
        failed.len(),
        failed.first(),
        bad.len()
    );
    // The last mode (non-secure) and the current file survive a restart.
    drop(c);
    drop(d);
    let d = start(tmp.path());
    let mut c = logged_in(&d).await;
    assert_eq!(
        c.call(&Request::GetMode).await.unwrap(),
        Response::Mode(SecurityMode::NonSecure)
    );
    let on_disk = std::fs::read(tmp.path().join("tftp/CTLFile.tlv")).unwrap();
    assert_eq!(current_hash(&mut c).await, Some(sha(&on_disk)));
}
