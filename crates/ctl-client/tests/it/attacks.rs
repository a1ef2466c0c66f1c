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
