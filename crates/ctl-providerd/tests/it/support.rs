//! What the daemon tests share: `ctl-providerd` processes in a directory each, sessions
//! with them, and CTLs of the vector certificates.

pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::sync::Arc;
pub(crate) use std::time::Duration;

pub(crate) use ctl_format::{Certificate, Layout, RecordSpec, Role as CtlRole, TrustListBuilder};
pub(crate) use ctl_provider::message::{
    ErrorCode, Members, OffCluster, Password, Peer, PeerSource, Request, Response, SecurityMode,
    UserRole,
};
pub(crate) use ctl_provider::net::{Session, client_tls};
pub(crate) use ctl_provider::trust::{Fingerprints, fingerprint};
pub(crate) use ctl_test_support::daemon::{self, Daemon};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_ctl-providerd");

pub(crate) fn vectors() -> PathBuf {
    ctl_test_support::vectors()
}

/// `ctl-providerd init` of `node` in `dir`. These tests drive the node with a password
/// alone (`--password-only`) unless they ask for the client certificate rule
/// (`--require-sast-client-certificate`), which `rules` and `serve` test.
pub(crate) fn init(dir: &Path, node: &str, extra: &[&str]) {
    let mut args = vec!["--node", node];
    args.extend_from_slice(extra);
    if !extra.contains(&"--require-sast-client-certificate") {
        args.push("--password-only");
    }
    daemon::init(Path::new(BIN), dir, "127.0.0.1:0", &args);
}

pub(crate) fn start(dir: &Path) -> Daemon {
    daemon::run(Path::new(BIN), dir)
}

pub(crate) fn tls_cert(dir: &Path) -> Vec<u8> {
    Certificate::from_pem(&std::fs::read(dir.join("callmanager.pem")).unwrap())
        .unwrap()
        .der()
        .to_vec()
}

pub(crate) async fn connect(d: &Daemon) -> Session {
    let tls = client_tls(Arc::new(Fingerprints(vec![fingerprint(&tls_cert(&d.dir))]))).unwrap();
    Session::connect(d.addr, "localhost", tls, Duration::from_secs(10))
        .await
        .unwrap()
}

/// A session from the loopback address `local` (127.0.0.2 ...): another source to the node.
pub(crate) async fn connect_from(d: &Daemon, local: &str) -> Session {
    let tls = client_tls(Arc::new(Fingerprints(vec![fingerprint(&tls_cert(&d.dir))]))).unwrap();
    Session::connect_from(
        local.parse().unwrap(),
        d.addr,
        "localhost",
        tls,
        Duration::from_secs(10),
    )
    .await
    .unwrap()
}

/// A CTL of the vector certificates, signed by `signer` (sast1 or sast2).
pub(crate) fn ctl(signer: &str, timestamp: u32) -> Vec<u8> {
    let keys = vectors().join("keys");
    let cert = |n: &str| {
        Certificate::from_der(&std::fs::read(keys.join(format!("{n}.crt.der"))).unwrap()).unwrap()
    };
    let mut b = TrustListBuilder::new();
    b.layout(Layout::Cucm).timestamp(timestamp);
    b.push(RecordSpec::new(cert("sast1"), CtlRole::SAST));
    b.push(RecordSpec::new(cert("sast2"), CtlRole::SAST));
    b.push(RecordSpec::new(cert("ccm"), CtlRole::CCM_TFTP));
    let s =
        ctl_token::SoftwareSigner::from_files(&keys.join(format!("{signer}.pem")), None).unwrap();
    b.build(&s).unwrap()
}

pub(crate) fn sha(bytes: &[u8]) -> [u8; 32] {
    fingerprint(bytes)
}

pub(crate) fn edit_config(dir: &Path, from: &str, to: &str) {
    let path = dir.join("provider.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in {text}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

pub(crate) async fn logged_in(d: &Daemon) -> Session {
    let mut c = connect(d).await;
    c.login("admin", &Password::new("s3cret")).await.unwrap();
    c
}

pub(crate) async fn current_hash(c: &mut Session) -> Option<[u8; 32]> {
    match c.call(&Request::GetCtl).await.unwrap() {
        Response::Ctl(x) => x.map(|(h, _)| h),
        other => panic!("{other:?}"),
    }
}

pub(crate) fn peer(name: &str, port: u16) -> Peer {
    Peer {
        name: name.into(),
        host: "127.0.0.1".into(),
        port,
        source: PeerSource::Configured,
    }
}

/// (name, source) of every off-cluster server MEMBERS lists, alternate TFTP first.
pub(crate) async fn peers_listed(c: &mut Session) -> Vec<(String, PeerSource)> {
    let Response::Members(Members {
        alternate_tftp,
        firewalls,
        ..
    }) = c.call(&Request::Members).await.unwrap()
    else {
        panic!()
    };
    alternate_tftp
        .iter()
        .chain(&firewalls)
        .map(|p| (p.name.clone(), p.source))
        .collect()
}

pub(crate) async fn stage_commit(
    c: &mut Session,
    file: Vec<u8>,
    peers: Option<OffCluster>,
) -> Response {
    let base = current_hash(c).await;
    match c
        .call(&Request::Stage {
            base,
            file: file.into(),
            peers,
        })
        .await
        .unwrap()
    {
        Response::Staged(hash) => c.call(&Request::Commit { hash }).await.unwrap(),
        other => other,
    }
}

/// A session presenting the `name` vector identity as its TLS client certificate, not
/// logged in yet.
pub(crate) async fn connect_with_identity(d: &Daemon, name: &str) -> Session {
    let keys = vectors().join("keys");
    let cert = std::fs::read(keys.join(format!("{name}.crt.der"))).unwrap();
    let pem = std::fs::read(keys.join(format!("{name}.key.pem"))).unwrap();
    let key = ctl_format::pem_decode_all(&pem, "PRIVATE KEY")
        .unwrap()
        .remove(0);
    let policy = Arc::new(Fingerprints(vec![fingerprint(&tls_cert(&d.dir))]));
    let tls = ctl_provider::net::client_tls_with_identity(policy, Some((vec![cert], key))).unwrap();
    Session::connect(d.addr, "localhost", tls, Duration::from_secs(10))
        .await
        .unwrap()
}

/// A client authenticating with the `name` vector identity.
pub(crate) async fn connect_as(d: &Daemon, name: &str) -> Session {
    let mut c = connect_with_identity(d, name).await;
    c.login("admin", &Password::new("s3cret")).await.unwrap();
    c
}
