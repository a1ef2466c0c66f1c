//! Discovery through `Client::discover`: statuses per node, pinning and trust on first
//! use, the known-providers file.

use std::time::Duration;

use ctl_client::{ClusterView, Error, NodeStatus, TargetKind, TrustPolicy, known};
use ctl_provider::message::Password;
use ctl_providerd::Endpoint;
use ctl_test_support::{closing_port, local, node_setup, start};

async fn discover(port: u16, trust: TrustPolicy) -> Result<(ClusterView, TrustPolicy), NodeStatus> {
    let client = ctl_client::Client::builder("127.0.0.1", port, "admin", Password::new("s3cret"))
        .trust(trust)
        .timeout(Duration::from_secs(5))
        .build();
    match client.discover().await {
        Ok(view) => Ok((view, client.trust())),
        Err(Error::Publisher { status, .. }) => Err(status),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_view_with_a_status_per_node() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = start(&node_setup(
        &tmp.path().join("sub"),
        "sub1",
        0,
        &["callmanager", "provider"],
    ));
    let tftp = start(&node_setup(
        &tmp.path().join("tftp"),
        "tftp2",
        0,
        &["tftp", "provider"],
    ));
    let mut first = node_setup(
        &tmp.path().join("pub"),
        "cucm-pub",
        0,
        &["callmanager", "tftp", "capf", "provider"],
    );
    first
        .first_node(true)
        .member(local("sub1", sub.port))
        .member(local("down", closing_port()))
        .member(Endpoint::new("ghost", "no-such-host.invalid", 2444))
        .alternate_tftp(local("tftp2", tftp.port));
    let p_pub = start(&first).port;
    let p_sub = sub.port;

    // Without trust on first use, an unknown first node is refused: as unknown, not as
    // a changed identity (issue 12).
    let err = discover(p_pub, TrustPolicy::default()).await.unwrap_err();
    assert!(
        matches!(&err, NodeStatus::UnknownIdentity(m) if m.contains("unknown certificate")),
        "{err}"
    );
    assert_eq!(err.name(), "unknown-identity");

    let known_path = tmp.path().join("known_providers");
    let policy = TrustPolicy {
        known: known::load(&known_path).unwrap(),
        trust_on_first_use: true,
        ..TrustPolicy::default()
    };
    let (view, policy) = discover(p_pub, policy).await.unwrap();
    known::save(&known_path, &policy.known).unwrap();
    let status: Vec<(&str, &str)> = view
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.status.name()))
        .collect();
    assert_eq!(
        status,
        [
            ("cucm-pub", "ok"),
            ("sub1", "ok"),
            ("down", "unreachable"),
            ("ghost", "unresolvable"),
            ("tftp2", "ok")
        ],
        "{view:#?}"
    );
    assert!(
        view.nodes[3]
            .status
            .detail()
            .unwrap()
            .contains("no-such-host.invalid")
    );
    assert_eq!(view.nodes[4].kind, TargetKind::AlternateTftp);
    let pub_info = view.nodes[0].info.as_ref().unwrap();
    assert_eq!(
        pub_info
            .certificates
            .iter()
            .map(|c| c.role)
            .collect::<Vec<_>>(),
        [2, 4]
    );
    assert_eq!(view.nodes[1].info.as_ref().unwrap().certificates[0].role, 1);
    assert_eq!(view.nodes[4].info.as_ref().unwrap().certificates[0].role, 3);
    let known = std::fs::read_to_string(&known_path).unwrap();
    assert_eq!(
        known.lines().filter(|l| !l.starts_with('#')).count(),
        3,
        "{known}"
    );

    // Pinned now: a second run needs no trust on first use.
    let pinned = TrustPolicy {
        known: known::load(&known_path).unwrap(),
        ..TrustPolicy::default()
    };
    let (again, _) = discover(p_pub, pinned).await.unwrap();
    assert_eq!(again.nodes[1].status, NodeStatus::Ok);

    // A changed certificate is refused, with both fingerprints.
    let lines: Vec<String> = known
        .lines()
        .map(|l| {
            if l.starts_with(&format!("127.0.0.1 {p_sub} ")) {
                format!("127.0.0.1 {p_sub} {}", ["ab"; 32].join(":"))
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(&known_path, lines.join("\n")).unwrap();
    let changed = TrustPolicy {
        known: known::load(&known_path).unwrap(),
        ..TrustPolicy::default()
    };
    let (view, _) = discover(p_pub, changed).await.unwrap();
    let NodeStatus::IdentityMismatch(detail) = &view.nodes[1].status else {
        panic!("{:?}", view.nodes[1].status)
    };
    assert!(
        detail.contains("changed") && detail.contains(&["ab"; 32].join(":")),
        "{detail}"
    );
}
