//! What the supercluster and fleet benches share: providers in this process that answer
//! after an injected delay, cluster set-up from the tests' node template, the tokens, and
//! one first-time mixed mode.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)] // bench fixtures: a broken set-up panics

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctl_client::{Certificate, Client, Password, TrustPolicy};
use ctl_provider::message::{Request, Response, UserRole};
use ctl_provider::net::{Handler, PeerInfo};
use ctl_providerd::config::{Config, MemberConfig};
use ctl_providerd::node::Node;

/// The round trip every provider adds to each answer.
pub const DELAY: Duration = Duration::from_millis(20);

/// A node that answers after [`DELAY`].
struct Delayed(Node);

impl Handler for Delayed {
    async fn login(&self, peer: &PeerInfo, user: &str, password: &Password) -> Response {
        tokio::time::sleep(DELAY).await;
        self.0.login(peer, user, password).await
    }

    async fn handle(
        &self,
        peer: &PeerInfo,
        user: &str,
        role: UserRole,
        request: Request,
    ) -> Response {
        tokio::time::sleep(DELAY).await;
        self.0.handle(peer, user, role, request).await
    }

    async fn closed(&self, peer: &PeerInfo) {
        self.0.closed(peer).await;
    }
}

/// Serves `config` on `listener`, on `runtime`.
pub fn serve(config: Config, listener: std::net::TcpListener, runtime: &tokio::runtime::Handle) {
    let chain = ctl_providerd::read_pem_blocks(&config.tls_certificate, "CERTIFICATE").unwrap();
    let key = ctl_providerd::read_pem_blocks(&config.tls_key, "PRIVATE KEY")
        .unwrap()
        .remove(0);
    let tls = ctl_provider::net::server_tls(chain, key).unwrap();
    let bound = listener.local_addr().unwrap();
    let node = Arc::new(Delayed(Node::new(config, bound).unwrap()));
    listener.set_nonblocking(true).unwrap();
    let _guard = runtime.enter();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    runtime.spawn(async move {
        let _ = ctl_provider::net::serve(
            listener,
            tls,
            ctl_provider::net::ServeConfig::default(),
            node,
            std::future::pending(),
        )
        .await;
    });
}

/// One node from the tests' template (user `admin`, password `s3cret`), written in `dir`;
/// its configuration.
pub fn init(dir: &Path, name: &str, services: &str, first: bool) -> Config {
    let services: Vec<&str> = services.split(',').collect();
    let mut setup = ctl_test_support::node_setup(dir, name, 0, &services);
    // Password-only nodes and clients, as the figures in the README were measured: the
    // benches compare distribution, which TLS client authentication does not change.
    setup
        .first_node(first)
        .require_sast_client_certificate(false);
    Config::load(&setup.write().unwrap()).unwrap()
}

/// The 27 subsequent nodes of the Cisco supercluster: 16 CallManager, 2 TFTP, 9 media.
pub fn supercluster_members() -> Vec<(String, &'static str)> {
    let mut others: Vec<(String, &str)> = Vec::new();
    others.extend((1..=16).map(|i| (format!("cm{i:02}"), "callmanager,provider")));
    others.extend((1..=2).map(|i| (format!("tftp{i}"), "tftp,provider")));
    others.extend((1..=9).map(|i| (format!("media{i}"), "callmanager,provider")));
    others
}

/// Two SAST certificates and the signer of the first.
pub fn tokens() -> (Vec<Certificate>, ctl_token::SoftwareSigner) {
    let keys = ctl_test_support::keys();
    let s1 = ctl_token::SoftwareSigner::from_files(&keys.join("sast1.pem"), None).unwrap();
    let s2 = ctl_token::SoftwareSigner::from_files(&keys.join("sast2.pem"), None).unwrap();
    let c1 = Certificate::from_der(ctl_format::Signer::certificate(&s1)).unwrap();
    let c2 = Certificate::from_der(ctl_format::Signer::certificate(&s2)).unwrap();
    (vec![c1, c2], s1)
}

/// First-time mixed mode on the cluster whose first node is `addr`: time, targets, CTL size.
pub async fn mixed_mode(addr: SocketAddr) -> (Duration, usize, usize) {
    let client = Client::builder("127.0.0.1", addr.port(), "admin", Password::new("s3cret"))
        .trust(TrustPolicy {
            trust_on_first_use: true,
            ..TrustPolicy::default()
        })
        .concurrency(64)
        .password_only()
        .build();
    let (certs, signer) = tokens();
    let t = Instant::now();
    let outcome = client
        .set_mixed_mode(&certs, Arc::new(signer))
        .await
        .unwrap();
    (
        t.elapsed(),
        outcome.distribution.targets.len(),
        outcome.ctl.len(),
    )
}

/// An argon2id hash of the template's password with 64 KiB of memory.
pub fn light_hash() -> String {
    use argon2::PasswordHasher as _;
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(b"s3cret")
        .unwrap()
        .to_string()
}

/// The node configurations of one supercluster, made once: the first node's, then the others'.
pub fn template(root: &Path) -> (Config, Vec<Config>) {
    let others = supercluster_members()
        .iter()
        .map(|(name, services)| init(&root.join(name), name, services, false))
        .collect();
    let first = init(
        &root.join("pub"),
        "pub",
        "callmanager,tftp,capf,provider",
        true,
    );
    (first, others)
}

/// Starts cluster `k` from the template (with directories of its own under `root`, and
/// `hash` as the password hash when given); returns its first node's address.
pub fn start(
    root: &Path,
    k: usize,
    (first, others): &(Config, Vec<Config>),
    hash: Option<&str>,
    rt: &tokio::runtime::Handle,
) -> SocketAddr {
    let own = |template: &Config| {
        let mut c = template.clone();
        let dir = root.join(format!("c{k}")).join(&c.node);
        c.tftp_dir = dir.join("tftp");
        c.state_dir = dir.join("state");
        if let Some(hash) = hash {
            for u in &mut c.users {
                u.password_hash = hash.to_owned();
            }
        }
        c
    };
    let mut members = Vec::new();
    for t in others {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = own(t);
        members.push(MemberConfig {
            name: config.node.clone(),
            host: "127.0.0.1".into(),
            port: listener.local_addr().unwrap().port(),
            services: config.services.clone(),
            addresses: Vec::new(),
        });
        serve(config, listener, rt);
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = own(first);
    config.members = members;
    serve(config, listener, rt);
    addr
}
