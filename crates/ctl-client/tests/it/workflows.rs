//! The Cisco CTL Client workflows against three providers (real TLS on loopback), with
//! software tokens: mixed mode, updates, removals, non-secure mode, refusals, logins, mTLS.

use crate::cluster::*;

#[tokio::test(flavor = "multi_thread")]
async fn mixed_mode_update_remove_and_non_secure() {
    let c = cluster();
    let events = Arc::new(Mutex::new(Vec::new()));
    let client = c.client(Arc::clone(&events));
    let (t1, s1) = token("sast1");
    let (t2, s2) = token("sast2");
    let (t3, _) = token("itlrecovery");

    // One token is not enough.
    let err = client
        .set_mixed_mode(std::slice::from_ref(&t1), s1.clone())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("at least two security tokens"),
        "{err}"
    );

    // First time: two tokens; every node gets the same file.
    let outcome = client
        .set_mixed_mode(&[t1.clone(), t2.clone()], s2.clone())
        .await
        .unwrap();
    assert_eq!(outcome.distribution.targets.len(), 3);
    assert!(
        outcome
            .distribution
            .targets
            .iter()
            .all(|t| t.status.is_committed())
    );
    assert_eq!(
        outcome.distribution.targets[0].restart,
        ["Cisco CallManager", "Cisco TFTP"]
    );
    assert!(
        outcome.room_for_records > 25,
        "{}",
        outcome.room_for_records
    );
    for i in 0..3 {
        assert_eq!(
            c.ctl_of(i).as_deref(),
            Some(outcome.ctl.as_slice()),
            "node {i}"
        );
    }
    assert_eq!(
        roles(&outcome.ctl),
        ["SAST", "SAST", "CCM+TFTP", "CAPF", "CCM", "TFTP"]
    );
    let doc = parse_trust_list(&outcome.ctl).unwrap();
    doc.verify(&RsaVerifier).unwrap();
    assert_eq!(doc.records()[2].dns_name().as_deref(), Some("cucm-pub"));
    assert_eq!(
        doc.records()[2].ip_address(),
        Some("127.0.0.1".parse().unwrap())
    );
    assert!(
        outcome.notes.iter().any(|n| n.contains("mixed")),
        "{:?}",
        outcome.notes
    );
    for i in 1..3 {
        assert!(
            c.nodes[i].dir.join("tftp/capf.cer").exists(),
            "CAPF certificate on node {i}"
        );
    }
    {
        let ev = events.lock().unwrap();
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e, Event::Committed { .. }))
                .count(),
            3
        );
        assert!(
            ev.iter().any(
                |e| matches!(e, Event::CertificateCollected { from, .. } if from == "cucm-sub")
            )
        );
    }
    // A second first time is refused.
    let err = client
        .set_mixed_mode(&[t1.clone(), t2.clone()], s1.clone())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("use update"), "{err}");
    // Nothing changed since.
    let status = client.status().await.unwrap();
    assert!(status.up_to_date(), "{:?}", status.changes);

    // Update: add a token, signed by a token of the current CTL; a phone takes it.
    let held = outcome.ctl.clone();
    let updated = client
        .update(
            s1.clone(),
            &Changes {
                add_tokens: vec![t3.clone()],
                ..Changes::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(roles(&updated.ctl)[..3], ["SAST", "SAST", "SAST"]);
    let held_doc = parse_trust_list(&held).unwrap();
    phone_accepts(
        Some(&held_doc),
        &parse_trust_list(&updated.ctl).unwrap(),
        &RsaVerifier,
    )
    .unwrap();

    // A token that is not in the CTL cannot update.
    let (_, tftp_key) = token("tftp");
    let err = client
        .update(tftp_key.clone(), &Changes::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not in the current CTL"), "{err}");

    // Removing entries: servers never, tokens while two remain.
    let ccm_serial = ctl_format::hex(
        parse_trust_list(&updated.ctl).unwrap().records()[3]
            .serial()
            .unwrap(),
    );
    let err = client
        .update(
            s1.clone(),
            &Changes {
                remove: Some(Selector::Serial(ccm_serial)),
                ..Changes::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rule(m) if m.to_string().contains("cannot be deleted by hand")),
        "{err}"
    );
    let removed = client
        .update(
            s1.clone(),
            &Changes {
                remove: Some(Selector::Serial(ctl_format::hex(t3.serial()))),
                ..Changes::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        roles(&removed.ctl).iter().filter(|r| *r == "SAST").count(),
        2
    );
    let err = client
        .update(
            s1.clone(),
            &Changes {
                remove: Some(Selector::Serial(ctl_format::hex(t2.serial()))),
                ..Changes::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rule(m) if m.to_string().contains("two must remain")),
        "{err}"
    );

    // Non-secure: the CTL stays, its server records carry no certificates.
    let ns = client
        .update(
            s2.clone(),
            &Changes {
                non_secure: true,
                ..Changes::default()
            },
        )
        .await
        .unwrap();
    let doc = parse_trust_list(&ns.ctl).unwrap();
    doc.verify(&RsaVerifier).unwrap();
    for r in doc.records() {
        let sast = r.role() == Some(ctl_format::Role::SAST);
        assert_eq!(r.certificate().is_some(), sast, "{r:?}");
    }
    assert!(
        ns.notes.iter().any(|n| n.contains("non-secure")),
        "{:?}",
        ns.notes
    );
    // An update keeps a non-secure CTL non-secure.
    let still = client
        .update(s1.clone(), &Changes::default())
        .await
        .unwrap();
    let doc = parse_trust_list(&still.ctl).unwrap();
    assert!(
        doc.records()
            .iter()
            .all(|r| r.certificate().is_some() == (r.role() == Some(ctl_format::Role::SAST)))
    );
    assert!(still.notes.is_empty(), "{:?}", still.notes);
    // Mixed mode again: needs a token of the CTL; the server certificates come back.
    let (_, outsider) = token("tftp");
    let err = client
        .set_mixed_mode(&[t1.clone(), t2.clone()], outsider.clone())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("one of the tokens in the CTL"),
        "{err}"
    );
    let back = client
        .set_mixed_mode(&[t1.clone(), t2.clone()], s2.clone())
        .await
        .unwrap();
    let doc = parse_trust_list(&back.ctl).unwrap();
    assert!(doc.records().iter().all(|r| r.certificate().is_some()));
    assert!(
        back.notes.iter().any(|n| n.contains("mixed")),
        "{:?}",
        back.notes
    );
    phone_accepts(
        Some(&parse_trust_list(&still.ctl).unwrap()),
        &doc,
        &RsaVerifier,
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_refuses_the_stage_aborts_everywhere() {
    let c = cluster();
    let client = c.client(Arc::new(Mutex::new(Vec::new())));
    let (t1, s1) = token("sast1");
    let (t2, _) = token("sast2");
    let first = client
        .set_mixed_mode(&[t1.clone(), t2.clone()], s1.clone())
        .await
        .unwrap()
        .ctl;
    // The TFTP node gets a CTL of other tokens behind the cluster's back.
    let (ti, si) = token("itlrecovery");
    let (tc, _) = token("capf");
    let other = {
        let mut b = ctl_format::TrustListBuilder::new();
        // Newer than anything the node committed: a node takes no older CTL, even after a
        // reinstall.
        b.timestamp(u32::MAX - 1);
        b.push(ctl_format::RecordSpec::new(
            ti.clone(),
            ctl_format::Role::SAST,
        ));
        b.push(ctl_format::RecordSpec::new(tc, ctl_format::Role::SAST));
        b.build(&si).unwrap()
    };
    direct_replace(&c.nodes[2], &other, &si).await;
    // An update signed by sast1: the TFTP node refuses it, so nobody takes it.
    let err = client
        .update(s1.clone(), &Changes::default())
        .await
        .unwrap_err();
    let Error::Distribution(report) = &err else {
        panic!("{err}")
    };
    let statuses: Vec<String> = report
        .targets
        .iter()
        .map(|t| format!("{}={:?}", t.name, t.status))
        .collect();
    assert!(
        matches!(report.targets[0].status, TargetStatus::Aborted),
        "{statuses:?}"
    );
    assert!(
        matches!(report.targets[1].status, TargetStatus::Aborted),
        "{statuses:?}"
    );
    assert!(
        matches!(&report.targets[2].status, TargetStatus::Failed(m) if m.to_string().contains("stage refused")),
        "{statuses:?}"
    );
    assert_eq!(c.ctl_of(0), Some(first.clone()));
    assert_eq!(c.ctl_of(1), Some(first));
    assert_eq!(c.ctl_of(2), Some(other));
}

/// Every workflow can be spawned on a multi-threaded runtime (its future is `Send`).
#[test]
fn workflow_futures_can_be_spawned() {
    fn send<T: Send>(_: &T) {}
    let client = Client::builder("127.0.0.1", 1, "admin", Password::new("s3cret")).build();
    let (t1, s1) = token("sast1");
    let mixed = client.set_mixed_mode(std::slice::from_ref(&t1), s1.clone());
    send(&mixed);
    let changes = Changes::default();
    let update = client.update(s1.clone(), &changes);
    send(&update);
    let status = client.status();
    send(&status);
    let discover = client.discover();
    send(&discover);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_workflow_logs_in_once_per_node_and_a_failed_last_step_can_be_redone() {
    let c = cluster();
    let client = c.client(Arc::new(Mutex::new(Vec::new())));
    let (t1, s1) = token("sast1");
    let (t2, _) = token("sast2");
    let count = || c.nodes.iter().map(logins).collect::<Vec<_>>();
    assert_eq!(count(), [0, 0, 0]);
    client
        .set_mixed_mode(&[t1.clone(), t2.clone()], s1.clone())
        .await
        .unwrap();
    assert_eq!(count(), [1, 1, 1], "mixed mode: one login per node");
    client
        .update(s1.clone(), &Changes::default())
        .await
        .unwrap();
    assert_eq!(count(), [2, 2, 2], "update: one login per node");
    client.status().await.unwrap();
    assert_eq!(count(), [3, 3, 3], "status: one login per node");

    // The last step of a first run (the mode) did not happen: set-mode mixed again does it.
    {
        use ctl_provider::message::{Request, Response, SecurityMode};
        let mut s = session_as(&c.nodes[0], &s1).await;
        assert_eq!(
            s.call(&Request::SetMode(SecurityMode::NonSecure))
                .await
                .unwrap(),
            Response::ModeSet(SecurityMode::NonSecure)
        );
    }
    let again = client.set_mixed_mode(&[t1, t2], s1.clone()).await.unwrap();
    assert!(
        again
            .notes
            .iter()
            .any(|n| n == "security mode set to mixed on cucm-pub"),
        "{:?}",
        again.notes
    );
    assert!(again.distribution.followups_failed().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_that_require_a_sast_client_certificate_take_the_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sub = node_setup(
        &tmp.path().join("sub"),
        "cucm-sub",
        0,
        &["callmanager", "provider"],
    );
    sub.require_sast_client_certificate(true);
    let sub = start(&sub);
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST_NODE);
    first
        .first_node(true)
        .member(local("cucm-sub", sub.port))
        .require_sast_client_certificate(true);
    let c = Cluster {
        nodes: vec![start(&first), sub],
        _tmp: tmp,
    };
    let (t1, s1) = token("sast1");
    let (t2, _) = token("sast2");
    let (_, outsider) = token("tftp");
    // No identity, or one that is not a SAST of the file: refused everywhere, nothing written.
    for identity in [
        None,
        Some(ctl_client::software_identity(&outsider).unwrap()),
    ] {
        let mut builder = Client::builder(
            "127.0.0.1",
            c.nodes[0].port,
            "admin",
            Password::new("s3cret"),
        )
        .trust(TrustPolicy {
            trust_on_first_use: true,
            ..TrustPolicy::default()
        });
        builder = match identity {
            Some(i) => builder.identity(i),
            None => builder.password_only(),
        };
        let err = builder
            .build()
            .set_mixed_mode(&[t1.clone(), t2.clone()], s1.clone())
            .await
            .unwrap_err();
        let Error::Distribution(report) = &err else {
            panic!("{err}")
        };
        assert!(
            report.targets.iter().all(|t| matches!(&t.status,
                TargetStatus::Failed(m) if m.code() == Some(ErrorCode::Forbidden) && m.to_string().contains("client certificate"))),
            "{err}"
        );
        assert_eq!((c.ctl_of(0), c.ctl_of(1)), (None, None));
    }
    // The signing key as identity: done on both.
    let client = Client::builder(
        "127.0.0.1",
        c.nodes[0].port,
        "admin",
        Password::new("s3cret"),
    )
    .trust(TrustPolicy {
        trust_on_first_use: true,
        ..TrustPolicy::default()
    })
    .identity(ctl_client::software_identity(&s1).unwrap())
    .build();
    let outcome = client.set_mixed_mode(&[t1, t2], s1.clone()).await.unwrap();
    assert_eq!(c.ctl_of(0).as_deref(), Some(outcome.ctl.as_slice()));
    assert_eq!(c.ctl_of(1).as_deref(), Some(outcome.ctl.as_slice()));
}

/// Issue 10: the operator sees what the token is about to sign (security tokens first)
/// before it signs; saying no (or a dry run) signs and sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_operator_sees_what_the_token_signs_and_may_say_no() {
    let c = cluster();
    let (t1, s1) = token("sast1");
    let (t2, _) = token("sast2");
    let (t3, _) = token("itlrecovery");
    let shown = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&shown);
    let client = Client::builder(
        "127.0.0.1",
        c.nodes[0].port,
        "admin",
        Password::new("s3cret"),
    )
    .trust(TrustPolicy {
        trust_on_first_use: true,
        ..TrustPolicy::default()
    })
    .confirm(move |p| {
        seen.lock().unwrap().push(p.clone());
        seen.lock().unwrap().len() == 1
    })
    .build();
    let first = client
        .set_mixed_mode(&[t1, t2, t3.clone()], s1.clone())
        .await
        .unwrap()
        .ctl;
    let removal = Changes {
        remove: Some(Selector::Subject(
            t3.subject_text(ctl_format::NameStyle::Reversed),
        )),
        ..Changes::default()
    };
    let err = client.update(s1, &removal).await.unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    let shown = shown.lock().unwrap();
    // The first CTL: everything added, three tokens among it.
    assert_eq!(shown[0].tokens_added.len(), 3, "{}", shown[0]);
    assert_eq!(shown[0].targets, ["cucm-pub", "cucm-sub", "tftp-1"]);
    // The removal: one token removed, nothing else changed, and said first.
    let p = &shown[1];
    assert_eq!(p.tokens_removed.len(), 1, "{p}");
    assert!(
        p.tokens_added.is_empty() && p.added.is_empty() && p.removed.is_empty(),
        "{p}"
    );
    assert!(
        p.to_string().starts_with("  SECURITY TOKEN REMOVED: "),
        "{p}"
    );
    assert!(p.size > 0 && p.kept > 0, "{p}");
    for i in 0..3 {
        assert_eq!(c.ctl_of(i).unwrap(), first, "node {i} changed");
    }
}

/// Issue 12: status failed outright when a node could not be reached. It reports the node
/// (and does not tell what changed, since its records would look removed).
#[tokio::test(flavor = "multi_thread")]
async fn status_reports_an_unreachable_node_instead_of_failing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST_NODE);
    first
        .first_node(true)
        .member(local("down", ctl_test_support::closing_port()));
    let config = first.write().unwrap();
    // A CTL the first node holds: its own copy, in its state directory.
    std::fs::create_dir_all(tmp.path().join("pub/state")).unwrap();
    std::fs::copy(
        ctl_test_support::vectors().join("ctl/CTLFile-sha1.tlv"),
        tmp.path().join("pub/state/CTLFile.tlv"),
    )
    .unwrap();
    let port = ctl_providerd::spawn(&config).unwrap().port();
    let client = Client::builder("127.0.0.1", port, "admin", Password::new("s3cret"))
        .trust(TrustPolicy {
            trust_on_first_use: true,
            ..TrustPolicy::default()
        })
        .build();
    let status = client.status().await.unwrap();
    assert!(!status.up_to_date());
    assert!(status.changes.is_none());
    let down: Vec<&str> = status.unreachable().map(|n| n.name.as_str()).collect();
    assert_eq!(down, ["down"]);
    assert_eq!(
        status.differing().count(),
        0,
        "the first node holds its own CTL"
    );
}

/// Issue 12: events and statuses had no `Display`, so every UI wrote its own words.
#[test]
fn events_and_statuses_read_as_one_line_each() {
    assert_eq!(
        Event::Staged {
            target: "cucm-sub".into()
        }
        .to_string(),
        "staged on cucm-sub"
    );
    assert_eq!(
        Event::Committed {
            target: "tftp-1".into()
        }
        .to_string(),
        "committed on tftp-1"
    );
    assert_eq!(TargetStatus::Committed.to_string(), "committed");
    assert_eq!(TargetStatus::Aborted.to_string(), "aborted (unchanged)");
    assert_eq!(ctl_client::SecurityMode::Mixed.to_string(), "mixed");
}

/// Issue 12: the facade chooses the CTL's digest (it built SHA-1 lists only).
#[tokio::test(flavor = "multi_thread")]
async fn the_client_signs_with_the_digest_it_is_given() {
    let c = cluster();
    let client = Client::builder(
        "127.0.0.1",
        c.nodes[0].port,
        "admin",
        Password::new("s3cret"),
    )
    .trust(TrustPolicy {
        trust_on_first_use: true,
        ..TrustPolicy::default()
    })
    .digest(ctl_format::DigestAlgorithm::Sha512)
    .build();
    let (t1, _) = token("sast1");
    let (t2, s2) = token("sast2");
    let outcome = client.set_mixed_mode(&[t1, t2], s2).await.unwrap();
    let doc = parse_trust_list(&outcome.ctl).unwrap();
    doc.verify(&RsaVerifier).unwrap();
    assert_eq!(doc.header().digest(), ctl_format::DigestAlgorithm::Sha512);
    assert_eq!(c.ctl_of(0).as_deref(), Some(outcome.ctl.as_slice()));
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| matches!(w, ctl_format::Warning::DigestNeedsFirmware { .. })),
        "{:?}",
        outcome.warnings
    );
}
