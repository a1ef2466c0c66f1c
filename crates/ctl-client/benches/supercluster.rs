//! First-time mixed mode on a supercluster against the same on one node, measured in one run.
//!
//! The supercluster of the Cisco guide: 1 first node, 16 CallManager nodes, 2 TFTP nodes and
//! 9 media-resource nodes, 28 CTL providers in this process on loopback, each answering every
//! request after an injected 20 ms delay (a WAN-ish round trip). The client contacts the
//! nodes concurrently, so the run should cost a few round trips, not 28 times one.
//! Target: supercluster time <= 3 x one-node time.
//!
//! Run: `cargo bench -p ctl-client --bench supercluster`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctl_client::{Certificate, Client, Password, TrustPolicy};
use ctl_provider::message::{Request, Response, Role};
use ctl_provider::net::{Handler, PeerInfo};
use ctl_providerd::node::Node;

const DELAY: Duration = Duration::from_millis(20);

/// A node that answers after a delay.
struct Delayed(Node);

impl Handler for Delayed {
    async fn login(&self, peer: &PeerInfo, user: &str, password: &Password) -> Response {
        tokio::time::sleep(DELAY).await;
        self.0.login(peer, user, password).await
    }

    async fn handle(&self, peer: &PeerInfo, user: &str, role: Role, request: Request) -> Response {
        tokio::time::sleep(DELAY).await;
        self.0.handle(peer, user, role, request).await
    }

    async fn closed(&self, peer: &PeerInfo) {
        self.0.closed(peer).await;
    }
}

fn serve(dir: &Path, listener: std::net::TcpListener) {
    let config = ctl_providerd::config::Config::load(&dir.join("provider.toml")).unwrap();
    let chain = ctl_providerd::read_pem_blocks(&config.tls_certificate, "CERTIFICATE").unwrap();
    let key = ctl_providerd::read_pem_blocks(&config.tls_key, "PRIVATE KEY")
        .unwrap()
        .remove(0);
    let tls = ctl_provider::net::server_tls(chain, key).unwrap();
    let bound = listener.local_addr().unwrap();
    let node = Arc::new(Delayed(Node::new(config, bound).unwrap()));
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = ctl_provider::net::serve(
                listener,
                tls,
                ctl_provider::net::ServeConfig::default(),
                node,
                std::future::pending(),
            )
            .await;
        });
    });
}

fn init(dir: &Path, name: &str, port: u16, services: &str, first: bool, members: Vec<String>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("password"), "bench\n").unwrap();
    ctl_providerd::init::run(&ctl_providerd::init::InitArgs {
        dir: dir.to_owned(),
        node: name.to_owned(),
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        first_node: first,
        services: services.split(',').map(str::to_owned).collect(),
        member: members,
        alternate_tftp: Vec::new(),
        firewall: Vec::new(),
        user: "admin".to_owned(),
        password_file: dir.join("password"),
    })
    .unwrap();
}

/// Starts a cluster with these subsequent nodes; returns the first node's address.
fn cluster(root: &Path, others: &[(String, &str)]) -> SocketAddr {
    let mut members = Vec::new();
    for (name, services) in others {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let dir = root.join(name);
        init(&dir, name, port, services, false, Vec::new());
        serve(&dir, listener);
        members.push(format!("{name}=127.0.0.1:{port}"));
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = root.join("pub");
    init(
        &dir,
        "pub",
        addr.port(),
        "callmanager,tftp,capf,provider",
        true,
        members,
    );
    serve(&dir, listener);
    addr
}

fn tokens() -> (Vec<Certificate>, ctl_token::SoftwareSigner) {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ctl-format/tests/vectors/keys");
    let s1 = ctl_token::SoftwareSigner::from_files(&keys.join("sast1.pem"), None).unwrap();
    let s2 = ctl_token::SoftwareSigner::from_files(&keys.join("sast2.pem"), None).unwrap();
    let c1 = Certificate::from_der(ctl_format::Signer::certificate(&s1)).unwrap();
    let c2 = Certificate::from_der(ctl_format::Signer::certificate(&s2)).unwrap();
    let _ = s2;
    (vec![c1, c2], s1)
}

async fn mixed_mode(addr: SocketAddr) -> (Duration, usize, usize) {
    let client = Client::builder("127.0.0.1", addr.port(), "admin", Password::new("bench"))
        .trust(TrustPolicy {
            trust_on_first_use: true,
            ..TrustPolicy::default()
        })
        .concurrency(64)
        .build();
    let (certs, signer) = tokens();
    let t = Instant::now();
    let outcome = client.set_mixed_mode(&certs, &signer).await.unwrap();
    (
        t.elapsed(),
        outcome.distribution.targets.len(),
        outcome.ctl.len(),
    )
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let mut others: Vec<(String, &str)> = Vec::new();
    others.extend((1..=16).map(|i| (format!("cm{i:02}"), "callmanager,provider")));
    others.extend((1..=2).map(|i| (format!("tftp{i}"), "tftp,provider")));
    others.extend((1..=9).map(|i| (format!("media{i}"), "callmanager,provider")));
    println!(
        "starting 1 + 28 providers in-process (each answers after {} ms) ...",
        DELAY.as_millis()
    );
    let single = cluster(&tmp.path().join("single"), &[]);
    let superc = cluster(&tmp.path().join("super"), &others);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (one, n1, _) = rt.block_on(mixed_mode(single));
    let (many, n28, size) = rt.block_on(mixed_mode(superc));
    let ratio = many.as_secs_f64() / one.as_secs_f64();
    println!(
        "first-time mixed mode, one node ({n1} target): {:.0} ms",
        one.as_secs_f64() * 1e3
    );
    println!(
        "first-time mixed mode, supercluster ({n28} targets, CTL {size} bytes): {:.0} ms",
        many.as_secs_f64() * 1e3
    );
    println!(
        "RATIO supercluster / one node = {ratio:.2} (target <= 3.00: {}; a sequential client would be about 28)",
        if ratio <= 3.0 {
            "within target"
        } else {
            "OVER TARGET"
        }
    );
}
