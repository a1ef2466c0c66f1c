//! What the node enforces itself, whoever the client is (issue 10): Cisco's invariants at
//! STAGE, no rollback, a staged file belongs to its session, and every change needs the
//! SAST client certificate when the node requires one.

use crate::support::*;

/// A CTL with these SAST records and the CallManager record, signed by `signer`.
fn ctl_of(signer: &str, sasts: &[&str], timestamp: u32) -> Vec<u8> {
    let keys = vectors().join("keys");
    let cert = |n: &str| {
        Certificate::from_der(&std::fs::read(keys.join(format!("{n}.crt.der"))).unwrap()).unwrap()
    };
    let mut b = TrustListBuilder::new();
    // A signer outside the list makes a negative file the builder would refuse.
    b.layout(Layout::Cucm)
        .timestamp(timestamp)
        .unchecked(!sasts.contains(&signer));
    for s in sasts {
        b.push(RecordSpec::new(cert(s), CtlRole::SAST));
    }
    b.push(RecordSpec::new(cert("ccm"), CtlRole::CCM_TFTP));
    let s =
        ctl_token::SoftwareSigner::from_files(&keys.join(format!("{signer}.pem")), None).unwrap();
    b.build(&s).unwrap()
}

fn refused(r: &Response, code: ErrorCode, text: &str) -> bool {
    matches!(r, Response::Error { code: c, message } if *c == code && message.contains(text))
}

async fn stage(c: &mut Session, base: Option<[u8; 32]>, file: Vec<u8>) -> Response {
    c.call(&Request::Stage {
        base,
        file: file.into(),
        peers: None,
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ctl_needs_two_tokens_and_must_list_its_signer() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    let d = start(tmp.path());
    let mut c = logged_in(&d).await;
    // A first CTL with one token: refused (a cluster needs two, always).
    let r = stage(&mut c, None, ctl_of("sast1", &["sast1"], 10)).await;
    assert!(refused(&r, ErrorCode::InvalidFile, "two"), "{r:?}");
    let first = ctl_of("sast1", &["sast1", "sast2"], 10);
    assert!(matches!(
        stage_commit(&mut c, first.clone(), None).await,
        Response::Committed { .. }
    ));
    let base = Some(sha(&first));
    // Signed by a token of the current CTL, but not listing its signer: phones holding it
    // could never check a later file against that signer.
    let r = stage(&mut c, base, ctl_of("sast1", &["sast2", "itlrecovery"], 20)).await;
    assert!(refused(&r, ErrorCode::InvalidFile, "signer"), "{r:?}");
    // Down to one token: refused.
    let r = stage(&mut c, base, ctl_of("sast1", &["sast1"], 20)).await;
    assert!(refused(&r, ErrorCode::InvalidFile, "two"), "{r:?}");
    assert_eq!(current_hash(&mut c).await, base);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_or_already_committed_ctl_is_refused_even_without_a_current_one() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &["--first-node"]);
    let d = start(tmp.path());
    let mut c = logged_in(&d).await;
    let a = ctl_of("sast1", &["sast1", "sast2", "itlrecovery"], 10);
    let b = ctl_of("sast2", &["sast1", "sast2"], 20);
    for f in [&a, &b] {
        assert!(matches!(
            stage_commit(&mut c, f.clone(), None).await,
            Response::Committed { .. }
        ));
    }
    // The old file (which TFTP hands to anyone) re-staged with only a password: it is
    // signed by a token of the current CTL, but it is older.
    let r = stage(&mut c, Some(sha(&b)), a.clone()).await;
    assert!(refused(&r, ErrorCode::Rollback, "older"), "{r:?}");
    // Chained with PEERS (an attacker's alternate TFTP server, whose certificate the next
    // routine update would collect and sign in): the whole STAGE is refused, and the first
    // node stores no peer.
    let r = c
        .call(&Request::Stage {
            base: Some(sha(&b)),
            file: a.clone().into(),
            peers: Some(OffCluster {
                alternate_tftp: vec![peer("evil-tftp", 6970)],
                ..OffCluster::default()
            }),
        })
        .await
        .unwrap();
    assert!(refused(&r, ErrorCode::Rollback, "older"), "{r:?}");
    assert!(peers_listed(&mut c).await.is_empty());
    // As old as the current one: refused too.
    let r = stage(
        &mut c,
        Some(sha(&b)),
        ctl_of("sast1", &["sast1", "sast2"], 20),
    )
    .await;
    assert!(refused(&r, ErrorCode::Rollback, "older"), "{r:?}");
    // Someone who can write the TFTP directory deletes CTLFile.tlv: nothing changes, the
    // node's own copy is in its state directory.
    std::fs::remove_file(tmp.path().join("tftp/CTLFile.tlv")).unwrap();
    assert_eq!(current_hash(&mut c).await, Some(sha(&b)));
    // Even with that copy lost too, the node refuses the files it committed before, and
    // anything not newer than the last one.
    std::fs::remove_file(tmp.path().join("state/CTLFile.tlv")).unwrap();
    let r = stage(&mut c, None, a.clone()).await;
    assert!(refused(&r, ErrorCode::Rollback, ""), "{r:?}");
    let r = stage(&mut c, None, ctl_of("sast1", &["sast1", "sast2"], 15)).await;
    assert!(refused(&r, ErrorCode::Rollback, "older"), "{r:?}");
    // The history survives a restart.
    drop(c);
    drop(d);
    let d = start(tmp.path());
    let mut c = logged_in(&d).await;
    let r = stage(&mut c, None, a).await;
    assert!(refused(&r, ErrorCode::Rollback, ""), "{r:?}");
    let newer = ctl_of("sast1", &["sast1", "sast2"], 30);
    assert!(matches!(
        stage_commit(&mut c, newer, None).await,
        Response::Committed { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_staged_file_belongs_to_its_session_and_aborts_are_audited() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "n1", &[]);
    let d = start(tmp.path());
    let mut mine = logged_in(&d).await;
    let mut other = logged_in(&d).await;
    let file = ctl_of("sast1", &["sast1", "sast2"], 10);
    let Response::Staged(h) = stage(&mut mine, None, file).await else {
        panic!()
    };
    for r in [
        other.call(&Request::Commit { hash: h }).await.unwrap(),
        other.call(&Request::Abort { hash: h }).await.unwrap(),
    ] {
        assert!(refused(&r, ErrorCode::UnknownHash, "this session"), "{r:?}");
    }
    assert_eq!(
        mine.call(&Request::Abort { hash: h }).await.unwrap(),
        Response::Aborted(h)
    );
    let audit = std::fs::read_to_string(tmp.path().join("state/audit.log")).unwrap();
    assert!(audit.contains("\"action\":\"abort\""), "{audit}");
    assert_eq!(current_hash(&mut mine).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_change_needs_the_sast_client_certificate_when_required() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, sub) = (tmp.path().join("pub"), tmp.path().join("sub"));
    init(
        &first,
        "cucm-pub",
        &["--first-node", "--require-sast-client-certificate"],
    );
    init(&sub, "cucm-sub", &["--require-sast-client-certificate"]);
    let (d, s) = (start(&first), start(&sub));
    let file = ctl_of("sast1", &["sast1", "sast2"], 10);
    for node in [&d, &s] {
        let mut sast = connect_as(node, "sast1").await;
        assert!(matches!(
            stage_commit(&mut sast, file.clone(), None).await,
            Response::Committed { .. }
        ));
    }
    // A password alone: no mode change, no CAPF certificate, no abort.
    let mut plain = logged_in(&d).await;
    let r = plain
        .call(&Request::SetMode(SecurityMode::NonSecure))
        .await
        .unwrap();
    assert!(
        refused(&r, ErrorCode::Forbidden, "client certificate"),
        "{r:?}"
    );
    let r = plain.call(&Request::Abort { hash: [7; 32] }).await.unwrap();
    assert!(
        refused(&r, ErrorCode::Forbidden, "client certificate"),
        "{r:?}"
    );
    let mut plain_sub = logged_in(&s).await;
    let capf = std::fs::read(vectors().join("keys/capf.crt.der")).unwrap();
    let r = plain_sub
        .call(&Request::PutCapf {
            certificate: capf.clone().into(),
        })
        .await
        .unwrap();
    assert!(
        refused(&r, ErrorCode::Forbidden, "client certificate"),
        "{r:?}"
    );
    assert!(!sub.join("tftp/capf.cer").exists());
    // The token's certificate: all of them go through.
    let mut sast = connect_as(&d, "sast2").await;
    assert_eq!(
        sast.call(&Request::SetMode(SecurityMode::Mixed))
            .await
            .unwrap(),
        Response::ModeSet(SecurityMode::Mixed)
    );
    let mut sast_sub = connect_as(&s, "sast2").await;
    assert_eq!(
        sast_sub
            .call(&Request::PutCapf {
                certificate: capf.into()
            })
            .await
            .unwrap(),
        Response::CapfStored
    );
}
