//! Discovery through `Client::discover`: statuses per node, pinning and trust on first
//! use, the known-providers file.

use std::time::Duration;

use ctl_client::{ClusterView, Error, NodeStatus, TargetKind, TrustPolicy, known};
use ctl_provider::message::Password;
use ctl_test_support::{NodeSpec, free_port, start_node};

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
    let (p_pub, p_sub, p_tftp, p_down) = (free_port(), free_port(), free_port(), free_port());
    let sub = format!("sub1=127.0.0.1:{p_sub}");
    let tftp = format!("tftp2=127.0.0.1:{p_tftp}");
    let down = format!("down=127.0.0.1:{p_down}");
    let mut first = NodeSpec::new("cucm-pub", &["callmanager", "tftp", "capf", "provider"]);
    first.first_node = true;
    first.members = vec![sub, down, "ghost=no-such-host.invalid:2444".into()];
    first.alternate_tftp = vec![tftp];
    start_node(&tmp.path().join("pub"), p_pub, &first);
    start_node(
        &tmp.path().join("sub"),
        p_sub,
        &NodeSpec::new("sub1", &["callmanager", "provider"]),
    );
    start_node(
        &tmp.path().join("tftp"),
        p_tftp,
        &NodeSpec::new("tftp2", &["tftp", "provider"]),
    );

    // Without trust on first use, an unknown first node is refused.
    let err = discover(p_pub, TrustPolicy::default()).await.unwrap_err();
    assert!(
        matches!(&err, NodeStatus::IdentityMismatch(m) if m.contains("unknown certificate")),
        "{err}"
    );

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
