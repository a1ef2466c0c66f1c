//! The attacks of issue 10, each through the library against providers in this process:
//! a node that lies about its certificates' roles.

use ctl_format::Role;
use ctl_test_support::rogue::{Liar, reported, start_rogue};

use crate::cluster::*;

/// A first node and a subsequent CallManager node that can be made to lie.
fn cluster_with_a_rogue() -> (Cluster, Liar) {
    let tmp = tempfile::tempdir().unwrap();
    let (sub, liar) = start_rogue(&node_setup(
        &tmp.path().join("sub"),
        "cucm-sub",
        0,
        &["callmanager", "provider"],
    ));
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST_NODE);
    first.first_node(true).member(local("cucm-sub", sub.port));
    let first = start(&first);
    (
        Cluster {
            _tmp: tmp,
            nodes: vec![first, sub],
        },
        liar,
    )
}

/// The error of a workflow that must be refused (a short message if it was not).
fn refusal<T>(result: Result<T, Error>) -> Error {
    match result {
        Ok(_) => panic!("the workflow went through"),
        Err(e) => e,
    }
}

fn refused_for_role(err: &Error, role: &str) -> bool {
    matches!(err, Error::Rule(r) if r.to_string().contains("cucm-sub") && r.to_string().contains(role))
}

/// Finding 1: a node's NODE_INFO turned into records with whatever role it claimed, so a
/// rogue node got its own key signed in as a SAST (and phones then took CTLs it signs).
#[tokio::test(flavor = "multi_thread")]
async fn a_node_cannot_get_a_key_signed_in_as_a_security_token() {
    let (c, liar) = cluster_with_a_rogue();
    let client = c.client(Arc::new(Mutex::new(Vec::new())));
    let (t1, s1) = token("sast1");
    let (t2, _) = token("sast2");
    liar.lock().unwrap().extra_certificates = vec![reported("tvs", Role::SAST)];
    let err = refusal(
        client
            .set_mixed_mode(&[t1.clone(), t2.clone()], s1.clone())
            .await,
    );
    assert!(refused_for_role(&err, "SAST"), "{err}");
    assert_eq!(
        (c.ctl_of(0), c.ctl_of(1)),
        (None, None),
        "nothing distributed"
    );
    // Honest, mixed mode goes through; lying again, the next update is refused.
    liar.lock().unwrap().extra_certificates.clear();
    let first = client
        .set_mixed_mode(&[t1, t2], s1.clone())
        .await
        .unwrap()
        .ctl;
    liar.lock().unwrap().extra_certificates = vec![reported("tvs", Role::SAST)];
    let err = refusal(client.update(s1, &Changes::default()).await);
    assert!(refused_for_role(&err, "SAST"), "{err}");
    assert_eq!(c.ctl_of(0).unwrap(), first, "nothing changed");
}

/// Finding 1: a CallManager-only node claimed CCM+TFTP (the right to sign configuration
/// files), and a role no node has (CAPF away from the first node, TVS where none runs).
#[tokio::test(flavor = "multi_thread")]
async fn a_node_gets_only_the_roles_its_services_justify() {
    let (c, liar) = cluster_with_a_rogue();
    let client = c.client(Arc::new(Mutex::new(Vec::new())));
    let (t1, s1) = token("sast1");
    let (t2, _) = token("sast2");
    let cases: [(Option<u16>, Vec<_>, &str); 4] = [
        (Some(Role::CCM_TFTP.0), Vec::new(), "CCM+TFTP"),
        (Some(Role::TFTP.0), Vec::new(), "TFTP"),
        (None, vec![reported("capf", Role::CAPF)], "CAPF"),
        (None, vec![reported("tvs", Role::TVS)], "TVS"),
    ];
    for (role, extra, name) in cases {
        {
            let mut lies = liar.lock().unwrap();
            lies.callmanager_role = role;
            lies.extra_certificates = extra;
        }
        let err = refusal(
            client
                .set_mixed_mode(&[t1.clone(), t2.clone()], s1.clone())
                .await,
        );
        assert!(refused_for_role(&err, name), "{name}: {err}");
        assert_eq!((c.ctl_of(0), c.ctl_of(1)), (None, None), "{name}");
    }
}

/// Finding 4: distribution read each node's hash right before STAGE and sent it as
/// BASE_HASH, so the node compared itself with itself: a token removal client B committed
/// while client A was building its update was silently undone, and both reported success.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_committed_meanwhile_is_not_undone() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let c = cluster();
    let (t1, s1) = token("sast1");
    let (t2, _) = token("sast2");
    let (t3, _) = token("itlrecovery");
    let setup = c.client(Arc::new(Mutex::new(Vec::new())));
    setup
        .set_mixed_mode(&[t1.clone(), t2.clone(), t3.clone()], s1.clone())
        .await
        .unwrap();
    // Client A's update adds a firewall. Once A has read the current CTL and contacts the
    // firewall, client B removes the third token, a second before A builds its file (so
    // A's file is newer than B's and only the base tells them apart).
    let tmp = tempfile::tempdir().unwrap();
    let fw = start(&node_setup(
        &tmp.path().join("asa"),
        "asa-x",
        0,
        &["provider"],
    ));
    let port = c.nodes[0].port;
    let once = Arc::new(AtomicBool::new(false));
    let b_signer = s1.clone();
    let t3_subject = t3.subject_text(ctl_format::NameStyle::Reversed);
    let a = Client::builder("127.0.0.1", port, "admin", Password::new("s3cret"))
        .trust(TrustPolicy {
            trust_on_first_use: true,
            ..TrustPolicy::default()
        })
        .on_event(move |e| {
            if matches!(&e, Event::NodeContacted { node, .. } if node == "asa-x")
                && !once.swap(true, Ordering::SeqCst)
            {
                let (signer, subject) = (b_signer.clone(), t3_subject.clone());
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Runtime::new().unwrap();
                    let b = Client::builder("127.0.0.1", port, "admin", Password::new("s3cret"))
                        .trust(TrustPolicy {
                            trust_on_first_use: true,
                            ..TrustPolicy::default()
                        })
                        .build();
                    let removal = Changes {
                        remove: Some(Selector::Subject(subject)),
                        ..Changes::default()
                    };
                    rt.block_on(b.update(signer, &removal)).unwrap();
                })
                .join()
                .unwrap();
                std::thread::sleep(std::time::Duration::from_millis(2100));
            }
        })
        .build();
    let add_firewall = Changes {
        add_peers: vec![Peer {
            name: "asa-x".into(),
            host: "127.0.0.1".into(),
            port: fw.port,
            firewall: true,
        }],
        ..Changes::default()
    };
    let err = refusal(a.update(s1, &add_firewall).await);
    assert!(
        matches!(&err, Error::Distribution(r) if r.targets.iter().all(|t| !t.status.is_committed())),
        "{err}"
    );
    // B's removal stands on every node.
    for i in 0..3 {
        let ctl = c.ctl_of(i).unwrap();
        let doc = parse_trust_list(&ctl).unwrap();
        assert!(
            !doc.records()
                .iter()
                .any(|r| r.certificate() == Some(t3.der())),
            "node {i} lists the removed token again"
        );
    }
}

/// A CTL that lists the attacker's key as a SAST, signed by it, with the operator's public
/// token certificate beside it: what a rogue first node hands out as "the current CTL".
fn forged_current() -> Vec<u8> {
    let mut b = ctl_format::TrustListBuilder::new();
    b.timestamp(u32::MAX - 100);
    for (name, role) in [
        ("tvs", Role::SAST),
        ("sast1", Role::SAST),
        ("ccm", Role::CCM_TFTP),
    ] {
        b.push(ctl_format::RecordSpec::new(
            ctl_test_support::certificate(name),
            role,
        ));
    }
    let attacker = SoftwareSigner::from_files(&keys().join("tvs.pem"), None).unwrap();
    b.build(&attacker).unwrap()
}

/// Finding 3: `update` took the first node's current CTL when the presented token was
/// among its SAST records and the file verified against its own signer record, so a
/// forged file was laundered: the attacker's SAST went into the CTL the operator's token
/// signed, and every node took it.
#[tokio::test(flavor = "multi_thread")]
async fn a_forged_current_ctl_is_not_laundered() {
    let (c, liar) = cluster_with_a_rogue_first_node();
    let (t1, s1) = token("sast1");
    let (t2, _) = token("sast2");
    let operator = c.client(Arc::new(Mutex::new(Vec::new())));
    let first = operator
        .set_mixed_mode(&[t1, t2], s1.clone())
        .await
        .unwrap()
        .ctl;
    liar.lock().unwrap().current_ctl = Some(forged_current());
    // A client that holds the CTL it committed: a phone holding it would not take the
    // forgery, so neither does the client.
    let err = refusal(operator.update(s1.clone(), &Changes::default()).await);
    assert!(
        matches!(&err, Error::Rule(r) if r.to_string().contains("not trusted")),
        "{err}"
    );
    // A fresh client, holding nothing: the current CTL must be signed by the token it
    // presents, and the unknown SAST is named.
    let fresh = c.client(Arc::new(Mutex::new(Vec::new())));
    let err = refusal(fresh.update(s1, &Changes::default()).await);
    let text = err.to_string();
    assert!(
        matches!(&err, Error::Rule(_)) && text.contains("cucm-pub.example.com"),
        "{text}"
    );
    for i in 0..2 {
        assert_eq!(c.ctl_of(i).unwrap(), first, "node {i} changed");
    }
}

/// A first node that can be made to lie, and an honest subsequent CallManager node.
fn cluster_with_a_rogue_first_node() -> (Cluster, Liar) {
    let tmp = tempfile::tempdir().unwrap();
    let sub = start(&node_setup(
        &tmp.path().join("sub"),
        "cucm-sub",
        0,
        &["callmanager", "provider"],
    ));
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST_NODE);
    first.first_node(true).member(local("cucm-sub", sub.port));
    let (first, liar) = start_rogue(&first);
    (
        Cluster {
            _tmp: tmp,
            nodes: vec![first, sub],
        },
        liar,
    )
}
