//! The tokio + rustls shell around the sans-I/O core: TLS 1.3 (1.2 allowed) servers and
//! clients, certificate pinning, session caps and timeouts.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::message::{ErrorCode, Password, Request, Response, Role, kind};
use crate::{ClientConn, ClientEvent, ServerConfig, ServerConn, ServerEvent};

pub use rustls;

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A socket error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A TLS error (including a refused certificate).
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// Something took too long.
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// The session ended.
    #[error("session closed: {0}")]
    Closed(String),
    /// A server name that is neither a DNS name nor an address.
    #[error("invalid server name {0:?}")]
    ServerName(String),
}

/// The ring crypto provider every config here uses.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SHA-256 of a certificate's DER: what known-providers files pin.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(der).into()
}

/// Lowercase hex with colons, as fingerprints are usually shown.
pub fn fingerprint_text(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A TLS server config: TLS 1.3 and 1.2 only, with this certificate chain and PKCS#8 key.
///
/// # Errors
/// A key rustls cannot use.
pub fn server_tls(
    chain: Vec<Vec<u8>>,
    key_pkcs8: Vec<u8>,
) -> Result<Arc<rustls::ServerConfig>, NetError> {
    let certs = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8));
    let config = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// Asks clients for a certificate without requiring one, and checks only that the client
/// holds its key: whose certificate it is, the node decides (a SAST of its current CTL).
#[derive(Debug)]
struct AnyClientCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl rustls::server::danger::ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS server config like [`server_tls`] that also asks clients for a certificate
/// (optional); sessions then see it in [`PeerInfo::client_certificate`].
///
/// # Errors
/// A key rustls cannot use.
pub fn server_tls_with_client_certificates(
    chain: Vec<Vec<u8>>,
    key_pkcs8: Vec<u8>,
) -> Result<Arc<rustls::ServerConfig>, NetError> {
    let provider = crypto_provider();
    let verifier = Arc::new(AnyClientCertificate {
        algorithms: provider.signature_verification_algorithms,
    });
    let certs = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// Decides whether a provider's certificate is trusted (pinning, not a CA).
pub trait CertPolicy: Send + Sync + fmt::Debug {
    /// `Ok` to trust `cert_der` for `server`, else the reason (shown to the user).
    ///
    /// # Errors
    /// The reason the certificate is not trusted.
    fn check(&self, server: &str, cert_der: &[u8]) -> Result<(), String>;
}

/// Trusts exactly these SHA-256 fingerprints.
#[derive(Clone, Debug, Default)]
pub struct Fingerprints(pub Vec<[u8; 32]>);

impl CertPolicy for Fingerprints {
    fn check(&self, server: &str, cert_der: &[u8]) -> Result<(), String> {
        let fp = fingerprint(cert_der);
        if self.0.contains(&fp) {
            Ok(())
        } else {
            Err(format!(
                "{server} presented certificate {}, which is not trusted",
                fingerprint_text(&fp)
            ))
        }
    }
}

#[derive(Debug)]
struct PinningVerifier {
    policy: Arc<dyn CertPolicy>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let name = match server_name {
            ServerName::DnsName(d) => d.as_ref().to_owned(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            _ => "the server".to_owned(),
        };
        self.policy
            .check(&name, end_entity.as_ref())
            .map(|()| ServerCertVerified::assertion())
            .map_err(rustls::Error::General)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS client config that trusts provider certificates by `policy`.
///
/// # Errors
/// A rustls configuration error.
pub fn client_tls(policy: Arc<dyn CertPolicy>) -> Result<Arc<rustls::ClientConfig>, NetError> {
    client_tls_with_identity(policy, None)
}

/// A TLS client config that trusts provider certificates by `policy` and, when given,
/// authenticates with a certificate chain and its PKCS#8 key (a SAST identity, for nodes
/// that require one to stage and commit).
///
/// # Errors
/// A key rustls cannot use.
pub fn client_tls_with_identity(
    policy: Arc<dyn CertPolicy>,
    identity: Option<(Vec<Vec<u8>>, Vec<u8>)>,
) -> Result<Arc<rustls::ClientConfig>, NetError> {
    let identity = identity.map(|(chain, key)| ClientIdentity::Pkcs8 {
        chain,
        key: zeroize::Zeroizing::new(key),
    });
    client_tls_for(policy, identity.as_ref())
}

/// A signature a TLS handshake asks of a client key kept elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyScheme {
    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, 32-byte salt): TLS 1.3 and 1.2.
    RsaPssSha256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: TLS 1.2 only.
    RsaPkcs1Sha256,
}

/// An RSA client key that signs TLS handshakes where it lives (a PKCS#11 token): the
/// private key never reaches this process. The call blocks for as long as the key takes.
pub trait TlsKey: Send + Sync + fmt::Debug {
    /// Signs `message` with `scheme`.
    ///
    /// # Errors
    /// The key cannot sign (the text says why; no secret in it).
    fn sign(&self, scheme: KeyScheme, message: &[u8]) -> Result<Vec<u8>, String>;

    /// The schemes it can sign with. Without RSASSA-PSS the client speaks TLS 1.2 only,
    /// where PKCS #1 v1.5 signatures are allowed.
    fn schemes(&self) -> Vec<KeyScheme> {
        vec![KeyScheme::RsaPssSha256, KeyScheme::RsaPkcs1Sha256]
    }
}

/// How a client authenticates its TLS sessions (nodes may require a SAST certificate).
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientIdentity {
    /// A certificate chain (DER, leaf first) and its PKCS #8 private key.
    Pkcs8 {
        /// The chain.
        chain: Vec<Vec<u8>>,
        /// The key, zeroized when dropped.
        key: zeroize::Zeroizing<Vec<u8>>,
    },
    /// A certificate chain and a key that signs where it lives.
    External {
        /// The chain.
        chain: Vec<Vec<u8>>,
        /// The key.
        key: Arc<dyn TlsKey>,
    },
}

impl ClientIdentity {
    /// The leaf certificate (DER).
    pub fn certificate(&self) -> Option<&[u8]> {
        match self {
            Self::Pkcs8 { chain, .. } | Self::External { chain, .. } => {
                chain.first().map(Vec::as_slice)
            }
        }
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, key) = match self {
            Self::Pkcs8 { .. } => ("Pkcs8", "<redacted>".to_owned()),
            Self::External { key, .. } => ("External", format!("{key:?}")),
        };
        f.debug_struct("ClientIdentity")
            .field("kind", &kind)
            .field(
                "certificate_sha256",
                &self
                    .certificate()
                    .map(|c| fingerprint_text(&fingerprint(c))),
            )
            .field("key", &key)
            .finish()
    }
}

/// The rustls side of an [`ClientIdentity::External`] key.
#[derive(Debug)]
struct ExternalKey(Arc<dyn TlsKey>);

#[derive(Debug)]
struct ExternalSigner {
    key: Arc<dyn TlsKey>,
    scheme: SignatureScheme,
    ours: KeyScheme,
}

impl rustls::sign::SigningKey for ExternalKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        let ours = self.0.schemes();
        [
            (SignatureScheme::RSA_PSS_SHA256, KeyScheme::RsaPssSha256),
            (SignatureScheme::RSA_PKCS1_SHA256, KeyScheme::RsaPkcs1Sha256),
        ]
        .into_iter()
        .find(|(s, k)| offered.contains(s) && ours.contains(k))
        .map(|(scheme, ours)| {
            Box::new(ExternalSigner {
                key: Arc::clone(&self.0),
                scheme,
                ours,
            }) as Box<dyn rustls::sign::Signer>
        })
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        rustls::SignatureAlgorithm::RSA
    }
}

impl rustls::sign::Signer for ExternalSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        self.key
            .sign(self.ours, message)
            .map_err(|e| rustls::Error::General(format!("client key: {e}")))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// Always presents the same certificate and key.
#[derive(Debug)]
struct Presents(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Presents {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A TLS client config that trusts provider certificates by `policy` and authenticates
/// with `identity` when given.
///
/// # Errors
/// A key rustls cannot use.
pub fn client_tls_for(
    policy: Arc<dyn CertPolicy>,
    identity: Option<&ClientIdentity>,
) -> Result<Arc<rustls::ClientConfig>, NetError> {
    let provider = crypto_provider();
    let verifier = Arc::new(PinningVerifier {
        policy,
        algorithms: provider.signature_verification_algorithms,
    });
    // TLS 1.3 signs only with RSASSA-PSS; a key that cannot stays on TLS 1.2.
    let versions: &[&rustls::SupportedProtocolVersion] = match identity {
        Some(ClientIdentity::External { key, .. })
            if !key.schemes().contains(&KeyScheme::RsaPssSha256) =>
        {
            &[&rustls::version::TLS12]
        }
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(ClientIdentity::Pkcs8 { chain, key }) => builder.with_client_auth_cert(
            chain.iter().cloned().map(CertificateDer::from).collect(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec())),
        )?,
        Some(ClientIdentity::External { chain, key }) => {
            let certified = rustls::sign::CertifiedKey::new(
                chain.iter().cloned().map(CertificateDer::from).collect(),
                Arc::new(ExternalKey(Arc::clone(key))),
            );
            builder.with_client_cert_resolver(Arc::new(Presents(Arc::new(certified))))
        }
    };
    Ok(Arc::new(config))
}

/// Who is on the other end of a server session.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    /// The client's address.
    pub addr: SocketAddr,
    /// A number unique to this session in this process.
    pub session: u64,
    /// The client's TLS certificate (DER), when it presented one.
    pub client_certificate: Option<Vec<u8>>,
}

/// The node application behind a server: it checks logins and answers requests.
pub trait Handler: Send + Sync + 'static {
    /// Checks a login; answers [`Response::LoginOk`] or an error.
    fn login(
        &self,
        peer: &PeerInfo,
        user: &str,
        password: &Password,
    ) -> impl Future<Output = Response> + Send;

    /// Answers a request of a logged-in user (roles are already checked for changes).
    fn handle(
        &self,
        peer: &PeerInfo,
        user: &str,
        role: Role,
        request: Request,
    ) -> impl Future<Output = Response> + Send;

    /// The session is over (drop what it staged, release what it held).
    fn closed(&self, peer: &PeerInfo) -> impl Future<Output = ()> + Send;
}

/// How a server runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Per-session settings.
    pub session: ServerConfig,
    /// The TLS handshake must finish within this time.
    pub handshake_timeout: Duration,
    /// Sessions at once; more are refused with TOO_MANY_SESSIONS.
    pub max_sessions: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            session: ServerConfig::default(),
            handshake_timeout: Duration::from_secs(10),
            max_sessions: 64,
        }
    }
}

/// Accepts sessions on `listener` until `shutdown` completes.
///
/// # Errors
/// The listener fails.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    config: ServeConfig,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), NetError> {
    static SESSIONS: AtomicU64 = AtomicU64::new(1);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(config.max_sessions));
    let config = Arc::new(config);
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                // A failed accept (out of descriptors, a reset) is that connection's problem.
                Err(_) => continue,
            },
            () = &mut shutdown => return Ok(()),
        };
        let session = SESSIONS.fetch_add(1, Ordering::Relaxed);
        let (acceptor, handler, config, slots) = (
            acceptor.clone(),
            Arc::clone(&handler),
            Arc::clone(&config),
            Arc::clone(&slots),
        );
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Ok(Ok(tls)) =
                tokio::time::timeout(config.handshake_timeout, acceptor.accept(stream)).await
            else {
                return;
            };
            let client_certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec());
            let peer = PeerInfo {
                addr,
                session,
                client_certificate,
            };
            match slots.try_acquire_owned() {
                Ok(_permit) => run_session(tls, &config, handler.as_ref(), &peer).await,
                Err(_) => refuse(tls).await,
            }
        });
    }
}

async fn refuse(mut tls: tokio_rustls::server::TlsStream<TcpStream>) {
    let frame = Response::error(
        ErrorCode::TooManySessions,
        "too many sessions; try again later",
    )
    .to_frame(0, kind::ERROR);
    if let Ok(bytes) = frame.encode() {
        let _ = tls.write_all(&bytes).await;
    }
    let _ = tls.shutdown().await;
}

fn now() -> std::time::Instant {
    std::time::Instant::now()
}

async fn run_session<H: Handler>(
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    config: &ServeConfig,
    handler: &H,
    peer: &PeerInfo,
) {
    let (mut rd, mut wr) = tokio::io::split(tls);
    let mut conn = ServerConn::new(config.session.clone(), now());
    let mut buf = vec![0u8; 16 * 1024];
    'session: loop {
        // Answer everything the input produced, then send.
        while let Some(event) = conn.poll_event() {
            match event {
                ServerEvent::Login { id, user, password } => {
                    let r = handler.login(peer, &user, &password).await;
                    conn.respond(id, &r, now());
                }
                ServerEvent::Request {
                    id,
                    request,
                    role,
                    user,
                } => {
                    let r = handler.handle(peer, &user, role, request).await;
                    conn.respond(id, &r, now());
                }
                ServerEvent::Closed { .. } => {}
            }
        }
        if let Some(bytes) = conn.poll_transmit()
            && wr.write_all(&bytes).await.is_err()
        {
            break 'session;
        }
        if conn.is_closed() {
            break;
        }
        let deadline = conn.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break 'session,
                Ok(n) => conn.handle_input(buf.get(..n).unwrap_or_default(), now()),
            },
            () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                conn.handle_timeout(now());
            }
        }
    }
    if let Some(bytes) = conn.poll_transmit() {
        let _ = wr.write_all(&bytes).await;
    }
    let _ = wr.shutdown().await;
    handler.closed(peer).await;
}

/// A client session with one provider.
pub struct Client {
    stream: tokio_rustls::client::TlsStream<TcpStream>,
    conn: ClientConn,
    timeout: Duration,
    node: String,
    peer_certificate: Vec<u8>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects, completes TLS and HELLO. `server_name` is what the certificate policy
    /// is told (a host name or an address).
    ///
    /// # Errors
    /// Unreachable, a refused certificate, a timeout, no common version.
    pub async fn connect(
        addr: SocketAddr,
        server_name: &str,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Self, NetError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| NetError::ServerName(server_name.to_owned()))?;
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| NetError::Timeout("connecting"))??;
        let _ = tcp.set_nodelay(true);
        let connector = tokio_rustls::TlsConnector::from(tls);
        let stream = tokio::time::timeout(timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| NetError::Timeout("in the TLS handshake"))?
            .map_err(|e| match e.into_inner() {
                Some(inner) => match inner.downcast::<rustls::Error>() {
                    Ok(tls) => NetError::Tls(*tls),
                    Err(other) => NetError::Io(std::io::Error::other(other)),
                },
                None => NetError::Closed("during the TLS handshake".to_owned()),
            })?;
        let peer_certificate = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec())
            .unwrap_or_default();
        let mut client = Self {
            stream,
            conn: ClientConn::new(concat!("ctl ", env!("CARGO_PKG_VERSION"))),
            timeout,
            node: String::new(),
            peer_certificate,
        };
        match client.wait(1).await? {
            Response::HelloOk { node, .. } => client.node = node,
            Response::Error { message, .. } => return Err(NetError::Closed(message)),
            other => {
                return Err(NetError::Closed(format!(
                    "unexpected answer to HELLO: {other:?}"
                )));
            }
        }
        Ok(client)
    }

    /// The node name the server gave.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The server's certificate (DER).
    pub fn peer_certificate(&self) -> &[u8] {
        &self.peer_certificate
    }

    /// The TLS version the session runs on.
    pub fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        self.stream.get_ref().1.protocol_version()
    }

    /// The negotiated protocol version.
    pub fn version(&self) -> Option<u8> {
        self.conn.version()
    }

    /// Sends a request and waits for its answer (errors come back as [`Response::Error`]).
    ///
    /// # Errors
    /// The session closed, or no answer within the timeout.
    pub async fn call(&mut self, request: &Request) -> Result<Response, NetError> {
        let id = self.conn.send(request);
        self.wait(id).await
    }

    /// Logs in.
    ///
    /// # Errors
    /// Refused (the server's message), or a session failure.
    pub async fn login(&mut self, user: &str, password: &Password) -> Result<Role, NetError> {
        match self
            .call(&Request::Login {
                user: user.to_owned(),
                password: password.clone(),
            })
            .await?
        {
            Response::LoginOk(role) => Ok(role),
            Response::Error { message, .. } => {
                Err(NetError::Closed(format!("login refused: {message}")))
            }
            other => Err(NetError::Closed(format!(
                "unexpected answer to LOGIN: {other:?}"
            ))),
        }
    }

    async fn wait(&mut self, id: u32) -> Result<Response, NetError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if let Some(bytes) = self.conn.poll_transmit() {
                self.stream.write_all(&bytes).await?;
            }
            while let Some(event) = self.conn.poll_event() {
                match event {
                    ClientEvent::Response { id: got, response } if got == id => {
                        return Ok(response);
                    }
                    ClientEvent::Closed { reason } => return Err(NetError::Closed(reason)),
                    _ => {}
                }
            }
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut buf))
                .await
                .map_err(|_| NetError::Timeout("waiting for the answer"))??;
            if n == 0 {
                return Err(NetError::Closed(
                    "the server closed the connection".to_owned(),
                ));
            }
            self.conn.handle_input(buf.get(..n).unwrap_or_default());
        }
    }

    /// Says BYE and closes.
    ///
    /// # Errors
    /// A session failure.
    pub async fn bye(mut self) -> Result<(), NetError> {
        let _ = self.call(&Request::Bye).await;
        self.stream.shutdown().await?;
        Ok(())
    }
}
