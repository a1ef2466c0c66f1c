//! The TLS shell on loopback sockets: real rustls on both ends.

use std::sync::Arc;
use std::time::Duration;

use ctl_provider::ServerConfig;
use ctl_provider::message::{ErrorCode, Password, Request, Response, SecurityMode, UserRole};
use ctl_provider::net::{
    ClientIdentity, Handler, KeyError, KeyScheme, NetError, PeerInfo, ServeConfig, Session, TlsKey,
    client_tls, client_tls_for, serve, server_tls,
};
use ctl_provider::trust::{Fingerprints, fingerprint, fingerprint_text};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

struct Toy;

impl Handler for Toy {
    async fn login(&self, _: &PeerInfo, user: &str, password: &Password) -> Response {
        if user == "admin" && password.expose() == "s3cret" {
            Response::LoginOk(UserRole::SuperUser)
        } else {
            Response::error(ErrorCode::LoginRefused, "wrong user or password")
        }
    }

    async fn handle(&self, _: &PeerInfo, _: &str, _: UserRole, request: Request) -> Response {
        match request {
            Request::GetMode => Response::Mode(SecurityMode::Mixed),
            Request::GetCtl => Response::Ctl(Some(([9; 32], vec![0xab; 65_536].into()))),
            _ => Response::error(ErrorCode::Internal, "not in this toy"),
        }
    }

    async fn closed(&self, _: &PeerInfo) {}
}

struct Server {
    addr: std::net::SocketAddr,
    cert: Vec<u8>,
}

async fn start(config: ServeConfig) -> Server {
    start_with(config, Arc::new(Toy)).await
}

/// A server on 127.0.0.1 answering with `handler`.
async fn start_with<H: Handler>(config: ServeConfig, handler: Arc<H>) -> Server {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let tls = server_tls(vec![cert.der().to_vec()], key.serialize_der()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        tls,
        config,
        handler,
        std::future::pending(),
    ));
    Server {
        addr,
        cert: cert.der().to_vec(),
    }
}

fn trusting(cert: &[u8]) -> Arc<rustls::ClientConfig> {
    client_tls(Arc::new(Fingerprints(vec![fingerprint(cert)]))).unwrap()
}

#[tokio::test]
async fn a_session_over_tls() {
    let s = start(ServeConfig::default()).await;
    let mut c = Session::connect(
        s.addr,
        "localhost",
        trusting(&s.cert),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(c.version(), Some(1));
    assert_eq!(c.peer_certificate(), s.cert.as_slice());
    assert!(c.login("admin", &Password::new("wrong")).await.is_err());
    assert_eq!(
        c.login("admin", &Password::new("s3cret")).await.unwrap(),
        UserRole::SuperUser
    );
    assert_eq!(
        c.call(&Request::GetMode).await.unwrap(),
        Response::Mode(SecurityMode::Mixed)
    );
    // A whole 64 KiB CTL comes back in one message.
    let Response::Ctl(Some((_, file))) = c.call(&Request::GetCtl).await.unwrap() else {
        panic!()
    };
    assert_eq!(file.len(), 65_536);
    c.bye().await.unwrap();
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_with_its_fingerprint() {
    let s = start(ServeConfig::default()).await;
    let other = rcgen::KeyPair::generate().unwrap();
    let other = rcgen::CertificateParams::new(vec!["x".into()])
        .unwrap()
        .self_signed(&other)
        .unwrap();
    let err = Session::connect(
        s.addr,
        "localhost",
        trusting(other.der()),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, NetError::Untrusted(_)), "{text}");
    let fp = fingerprint_text(&fingerprint(&s.cert));
    assert!(text.contains(&fp) && text.contains("not trusted"), "{text}");
}

/// A raw TLS stream to the server, trusting its certificate.
async fn raw(s: &Server) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(trusting(&s.cert));
    connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

async fn read_all(stream: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    out
}

#[tokio::test]
async fn garbage_closes_that_session_only() {
    let s = start(ServeConfig::default()).await;
    let mut good = Session::connect(
        s.addr,
        "localhost",
        trusting(&s.cert),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let mut bad = raw(&s).await;
    bad.write_all(b"\x00\x01garbage garbage garbage")
        .await
        .unwrap();
    let reply = read_all(&mut bad).await;
    assert_eq!(&reply[..2], b"CT");
    assert_eq!(reply[3], 0xff, "an ERROR frame");
    assert!(String::from_utf8_lossy(&reply).contains("expected a frame starting with"));
    // The other session is untouched.
    good.login("admin", &Password::new("s3cret")).await.unwrap();
    assert_eq!(
        good.call(&Request::GetMode).await.unwrap(),
        Response::Mode(SecurityMode::Mixed)
    );
}

#[tokio::test]
async fn an_oversized_frame_is_refused_before_its_body() {
    let s = start(ServeConfig::default()).await;
    let mut c = raw(&s).await;
    c.write_all(&[b'C', b'T', 1, 1, 0, 0, 0, 1, 0x10, 0, 0, 0])
        .await
        .unwrap();
    let reply = read_all(&mut c).await;
    assert!(
        String::from_utf8_lossy(&reply).contains("over the limit"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn a_slow_client_is_cut_off_by_the_login_timeout() {
    let config = ServeConfig {
        session: ServerConfig {
            login_timeout: Duration::from_millis(800),
            ..ServerConfig::default()
        },
        ..ServeConfig::default()
    };
    let s = start(config).await;
    let mut c = raw(&s).await;
    let hello = Request::Hello {
        versions: vec![1],
        software: "slow".into(),
    }
    .to_frame(1)
    .encode()
    .unwrap();
    let started = std::time::Instant::now();
    for b in &hello {
        if c.write_all(std::slice::from_ref(b)).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let reply = read_all(&mut c).await;
    assert!(
        String::from_utf8_lossy(&reply).contains("no login in time"),
        "{reply:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn sessions_over_the_cap_are_refused() {
    let s = start(ServeConfig {
        max_sessions: 1,
        ..ServeConfig::default()
    })
    .await;
    let _first = Session::connect(
        s.addr,
        "localhost",
        trusting(&s.cert),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let err = Session::connect(
        s.addr,
        "localhost",
        trusting(&s.cert),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("too many sessions"), "{err}");
}

/// Answers NODE_INFO with the SHA-256 of the client's TLS certificate as the node name.
struct Echo;

impl Handler for Echo {
    async fn login(&self, _: &PeerInfo, _: &str, _: &Password) -> Response {
        Response::LoginOk(UserRole::SuperUser)
    }

    async fn handle(&self, peer: &PeerInfo, _: &str, _: UserRole, _: Request) -> Response {
        Response::NodeInfo(ctl_provider::message::NodeInfo {
            name: peer
                .client_certificate
                .as_deref()
                .map_or_else(|| "none".to_owned(), |c| fingerprint_text(&fingerprint(c))),
            ..ctl_provider::message::NodeInfo::default()
        })
    }

    async fn closed(&self, _: &PeerInfo) {}
}

/// A key kept "elsewhere": rustls's own RSA signer standing in for a token.
#[derive(Debug)]
struct Elsewhere {
    key: Arc<dyn rustls::sign::SigningKey>,
    schemes: Vec<KeyScheme>,
}

impl TlsKey for Elsewhere {
    fn sign(&self, scheme: KeyScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let wanted = match scheme {
            KeyScheme::RsaPssSha256 => rustls::SignatureScheme::RSA_PSS_SHA256,
            KeyScheme::RsaPkcs1Sha256 => rustls::SignatureScheme::RSA_PKCS1_SHA256,
            _ => panic!("asked for a scheme it does not offer"),
        };
        assert!(self.schemes.contains(&scheme), "asked for {scheme:?}");
        self.key
            .choose_scheme(&[wanted])
            .ok_or_else(|| KeyError("no such scheme".into()))?
            .sign(message)
            .map_err(|e| KeyError(Box::new(e)))
    }

    fn schemes(&self) -> Vec<KeyScheme> {
        self.schemes.clone()
    }
}

#[tokio::test]
async fn a_client_key_kept_elsewhere_authenticates_tls_13_with_pss_and_tls_12_without() {
    use rustls::pki_types::pem::PemObject as _;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let tls = ctl_provider::net::server_tls_with_client_certificates(
        vec![cert.der().to_vec()],
        key.serialize_der(),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        tls,
        ServeConfig::default(),
        Arc::new(Echo),
        std::future::pending(),
    ));
    let keys =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ctl-format/tests/vectors/keys");
    let client_cert = std::fs::read(keys.join("sast1.crt.der")).unwrap();
    let pkcs8 =
        rustls::pki_types::PrivateKeyDer::from_pem_file(keys.join("sast1.key.pem")).unwrap();
    let signing = rustls::crypto::ring::sign::any_supported_type(&pkcs8).unwrap();
    for (schemes, version) in [
        (
            vec![KeyScheme::RsaPssSha256, KeyScheme::RsaPkcs1Sha256],
            rustls::ProtocolVersion::TLSv1_3,
        ),
        (
            vec![KeyScheme::RsaPkcs1Sha256],
            rustls::ProtocolVersion::TLSv1_2,
        ),
    ] {
        let identity = ClientIdentity::External {
            chain: vec![client_cert.clone()],
            key: Arc::new(Elsewhere {
                key: Arc::clone(&signing),
                schemes,
            }),
        };
        let config = client_tls_for(
            Arc::new(Fingerprints(vec![fingerprint(cert.der())])),
            Some(&identity),
        )
        .unwrap();
        let mut c = Session::connect(addr, "localhost", config, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(c.tls_version(), Some(version));
        c.login("admin", &Password::new("x")).await.unwrap();
        let Response::NodeInfo(info) = c.call(&Request::NodeInfo).await.unwrap() else {
            panic!()
        };
        assert_eq!(info.name, fingerprint_text(&fingerprint(&client_cert)));
        // The identity's Debug shows whose certificate it is, never the key.
        let shown = format!("{identity:?}");
        assert!(
            shown.contains(&fingerprint_text(&fingerprint(&client_cert))),
            "{shown}"
        );
    }
}

/// Issue 11, finding 8: a process holding passwords could be dumped. After
/// `protect_secrets` it is not dumpable and makes no core file.
#[test]
fn a_protected_process_is_not_dumpable() {
    ctl_provider::net::protect_secrets().unwrap();
    assert!(!ctl_provider::net::is_dumpable().unwrap());
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(core.split_whitespace().nth(4), Some("0"), "{core}");
}

/// Panics on GET_MODE (a bug in a node), counts what it was told failed.
struct Buggy(std::sync::atomic::AtomicU32);

impl Handler for Buggy {
    async fn login(&self, _: &PeerInfo, _: &str, _: &Password) -> Response {
        Response::LoginOk(UserRole::SuperUser)
    }

    #[allow(clippy::panic)]
    async fn handle(&self, _: &PeerInfo, _: &str, _: UserRole, request: Request) -> Response {
        match request {
            Request::GetMode => panic!("a bug in the handler"),
            _ => Response::Ctl(None),
        }
    }

    async fn closed(&self, _: &PeerInfo) {}

    async fn failed(&self, _: &PeerInfo, user: &str, kind: u8) {
        assert_eq!(
            (user, kind),
            ("admin", ctl_provider::message::kind::GET_MODE)
        );
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Issue 11, "no panic reaches a session": a handler that panicked killed the session's
/// task, so the request was never answered. It is answered INTERNAL, the handler is told,
/// and the session goes on.
#[tokio::test]
async fn a_handler_that_panics_costs_an_internal_answer_not_the_session() {
    let buggy = Arc::new(Buggy(std::sync::atomic::AtomicU32::new(0)));
    let s = start_with(ServeConfig::default(), Arc::clone(&buggy)).await;
    let mut c = Session::connect(
        s.addr,
        "localhost",
        trusting(&s.cert),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    c.login("admin", &Password::new("x")).await.unwrap();
    for _ in 0..2 {
        let err = c.ask(&Request::GetMode).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Internal), "{err}");
        assert!(matches!(
            c.call(&Request::GetCtl).await.unwrap(),
            Response::Ctl(None)
        ));
    }
    assert_eq!(buggy.0.load(std::sync::atomic::Ordering::SeqCst), 2);
}
