//! What the workflow tests share: a three-node cluster served in this process, software
//! tokens, a client that records its events.

pub(crate) use std::path::PathBuf;
pub(crate) use std::sync::{Arc, Mutex};

pub(crate) use ctl_client::{
    Certificate, Changes, Client, Error, Event, Password, Peer, Selector, TargetStatus, TrustPolicy,
};
pub(crate) use ctl_format::{RsaVerifier, parse_trust_list, phone_accepts};
pub(crate) use ctl_provider::message::ErrorCode;
pub(crate) use ctl_test_support::{TestNode, local, node_setup, start};

/// The services of every first node here.
pub(crate) const FIRST_NODE: &[&str] = &["callmanager", "tftp", "capf", "provider"];
pub(crate) use ctl_token::SoftwareSigner;

pub(crate) fn keys() -> PathBuf {
    ctl_test_support::keys()
}

pub(crate) fn token(name: &str) -> (Certificate, Arc<SoftwareSigner>) {
    let signer = SoftwareSigner::from_files(&keys().join(format!("{name}.pem")), None).unwrap();
    let cert = Certificate::from_der(ctl_format::Signer::certificate(&signer)).unwrap();
    (cert, Arc::new(signer))
}

pub(crate) struct Cluster {
    pub(crate) _tmp: tempfile::TempDir,
    pub(crate) nodes: Vec<TestNode>,
}

impl Cluster {
    pub(crate) fn ctl_of(&self, i: usize) -> Option<Vec<u8>> {
        std::fs::read(self.nodes[i].dir.join("tftp/CTLFile.tlv")).ok()
    }

    pub(crate) fn client(&self, events: Arc<Mutex<Vec<Event>>>) -> Client {
        Client::builder(
            "127.0.0.1",
            self.nodes[0].port,
            "admin",
            Password::new("s3cret"),
        )
        .trust(TrustPolicy {
            trust_on_first_use: true,
            ..TrustPolicy::default()
        })
        .on_event(move |e| events.lock().unwrap().push(e))
        .build()
    }
}

/// A first node (CallManager, TFTP, CAPF), a subsequent CallManager node, a TFTP node.
pub(crate) fn cluster() -> Cluster {
    let tmp = tempfile::tempdir().unwrap();
    let n1 = start(&node_setup(
        &tmp.path().join("sub"),
        "cucm-sub",
        0,
        &["callmanager", "provider"],
    ));
    let n2 = start(&node_setup(
        &tmp.path().join("tftp"),
        "tftp-1",
        0,
        &["tftp", "provider"],
    ));
    let mut first = node_setup(&tmp.path().join("pub"), "cucm-pub", 0, FIRST_NODE);
    first
        .first_node(true)
        .member(local("cucm-sub", n1.port))
        .member(local("tftp-1", n2.port));
    let n0 = start(&first);
    Cluster {
        _tmp: tmp,
        nodes: vec![n0, n1, n2],
    }
}

pub(crate) fn roles(ctl: &[u8]) -> Vec<String> {
    parse_trust_list(ctl)
        .unwrap()
        .records()
        .iter()
        .map(|r| r.role().unwrap().to_string())
        .collect()
}

/// A session with `node` as `admin`, its TLS authenticated with `token` (nodes change
/// only for a SAST of their CTL).
pub(crate) async fn session_as(
    node: &TestNode,
    token: &SoftwareSigner,
) -> ctl_provider::net::Session {
    let cert =
        Certificate::from_pem(&std::fs::read(node.dir.join("callmanager.pem")).unwrap()).unwrap();
    let tls = ctl_provider::net::client_tls_for(
        Arc::new(ctl_provider::trust::Fingerprints(vec![
            ctl_provider::trust::fingerprint(cert.der()),
        ])),
        Some(&ctl_client::software_identity(token).unwrap()),
    )
    .unwrap();
    let mut s = ctl_provider::net::Session::connect(
        format!("127.0.0.1:{}", node.port).parse().unwrap(),
        "localhost",
        tls,
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();
    s.login("admin", &Password::new("s3cret")).await.unwrap();
    s
}

/// Commits `file` on one node with its own session (a file signed by its own SAST, the
/// `signer`, which also authenticates the session).
pub(crate) async fn direct_replace(node: &TestNode, file: &[u8], signer: &SoftwareSigner) {
    use ctl_provider::message::{Request, Response};
    let cert =
        Certificate::from_pem(&std::fs::read(node.dir.join("callmanager.pem")).unwrap()).unwrap();
    let tls = ctl_provider::net::client_tls_for(
        Arc::new(ctl_provider::trust::Fingerprints(vec![
            ctl_provider::trust::fingerprint(cert.der()),
        ])),
        Some(&ctl_client::software_identity(signer).unwrap()),
    )
    .unwrap();
    let mut s = ctl_provider::net::Session::connect(
        format!("127.0.0.1:{}", node.port).parse().unwrap(),
        "localhost",
        tls,
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();
    s.login("admin", &Password::new("s3cret")).await.unwrap();
    // Remove the node's current CTL first (its own copy, in the state directory), as a
    // reinstall would.
    std::fs::remove_file(node.dir.join("state/CTLFile.tlv")).unwrap();
    let Response::Staged(h) = s
        .call(&Request::Stage {
            base: None,
            file: file.to_vec().into(),
            peers: None,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        s.call(&Request::Commit { hash: h }).await.unwrap(),
        Response::Committed { .. }
    ));
}

/// Logins recorded in a node's audit log.
pub(crate) fn logins(node: &TestNode) -> usize {
    std::fs::read_to_string(node.dir.join("state/audit.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"action\":\"login\""))
        .count()
}
