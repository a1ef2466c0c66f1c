//! Discovery against `ctl-providerd` processes: statuses per node, pinning and trust on first use.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::Path;
use std::time::Duration;

use ctl_provider::discovery::{
    DiscoverOptions, KnownProviders, NodeStatus, TargetKind, TrustPolicy, discover,
};
use ctl_provider::message::Password;
use ctl_test_support::daemon::{self, Daemon};
use ctl_test_support::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_ctl-providerd");

fn node(dir: &Path, name: &str, port: u16, extra: &[&str]) -> Daemon {
    let mut args = vec!["--node", name];
    args.extend_from_slice(extra);
    daemon::init(Path::new(BIN), dir, &format!("127.0.0.1:{port}"), &args);
    let d = daemon::run(Path::new(BIN), dir);
    assert_eq!(d.addr.port(), port);
    d
}

fn options(port: u16) -> DiscoverOptions {
    DiscoverOptions {
        publisher: ("127.0.0.1".into(), port),
        user: "admin".into(),
        password: Password::new("s3cret"),
        timeout: Duration::from_secs(5),
        identity: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_view_with_a_status_per_node() {
    let tmp = tempfile::tempdir().unwrap();
    let (p_pub, p_sub, p_tftp, p_down) = (free_port(), free_port(), free_port(), free_port());
    let sub = format!("sub1=127.0.0.1:{p_sub}");
    let tftp = format!("tftp2=127.0.0.1:{p_tftp}");
    let down = format!("down=127.0.0.1:{p_down}");
    let _pub = node(
        &tmp.path().join("pub"),
        "cucm-pub",
        p_pub,
        &[
            "--first-node",
            "--services",
            "callmanager,tftp,capf,provider",
            "--member",
            &sub,
            "--member",
            &down,
            "--member",
            "ghost=no-such-host.invalid:2444",
            "--alternate-tftp",
            &tftp,
        ],
    );
    let _sub = node(
        &tmp.path().join("sub"),
        "sub1",
        p_sub,
        &["--services", "callmanager,provider"],
    );
    let _tftp = node(
        &tmp.path().join("tftp"),
        "tftp2",
        p_tftp,
        &["--services", "tftp,provider"],
    );

    // Without trust on first use, an unknown first node is refused.
    let err = discover(options(p_pub), TrustPolicy::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, NodeStatus::IdentityMismatch(m) if m.contains("unknown certificate")),
        "{err}"
    );

    let known_path = tmp.path().join("known_providers");
    let policy = TrustPolicy {
        known: KnownProviders::load(&known_path).unwrap(),
        trust_on_first_use: true,
        ..TrustPolicy::default()
    };
    let (view, policy) = discover(options(p_pub), policy).await.unwrap();
    policy.known.save().unwrap();
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
        known: KnownProviders::load(&known_path).unwrap(),
        ..TrustPolicy::default()
    };
    let (again, _) = discover(options(p_pub), pinned).await.unwrap();
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
        known: KnownProviders::load(&known_path).unwrap(),
        ..TrustPolicy::default()
    };
    let (view, _) = discover(options(p_pub), changed).await.unwrap();
    let NodeStatus::IdentityMismatch(detail) = &view.nodes[1].status else {
        panic!("{:?}", view.nodes[1].status)
    };
    assert!(
        detail.contains("changed") && detail.contains(&["ab"; 32].join(":")),
        "{detail}"
    );
}
