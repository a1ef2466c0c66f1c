//! The client shell: a [`Session`] with one provider, and the [`Connector`] that opens
//! logged-in sessions under one shared trust policy (discovery and distribution both
//! connect through it).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::NetError;
use super::tls::{ClientIdentity, client_tls_for};
use crate::message::{Password, Request, Response, UserRole, kind};
use crate::trust::{CertPolicy, TrustPolicy, Untrusted};
use crate::{ClientConn, ClientEvent};

/// A client session with one provider.
pub struct Session {
    stream: tokio_rustls::client::TlsStream<TcpStream>,
    conn: ClientConn,
    timeout: Duration,
    node: String,
    peer_certificate: Vec<u8>,
    resolved: Vec<IpAddr>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// The typed cause inside a TLS error: a refusal of the certificate policy stays an
/// [`Untrusted`], everything else stays the rustls error.
fn tls_error(e: rustls::Error) -> NetError {
    if let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) = &e
        && let Some(u) = other.0.downcast_ref::<Untrusted>()
    {
        return NetError::Untrusted(u.clone());
    }
    // Bytes that are no TLS record at all: another service on that port.
    if matches!(e, rustls::Error::InvalidMessage(_)) {
        return NetError::NotAProvider("it does not speak TLS".to_owned());
    }
    NetError::Tls(e)
}

/// A server that completed TLS but did not answer HELLO as a provider does.
fn not_a_provider(e: NetError) -> NetError {
    match e {
        NetError::Timeout(_) => {
            NetError::NotAProvider("no answer to the protocol's HELLO".to_owned())
        }
        NetError::Closed | NetError::Io(_) => {
            NetError::NotAProvider("it closed the connection instead of answering HELLO".to_owned())
        }
        NetError::Ended(crate::conn::CloseReason::Protocol(p)) => {
            NetError::NotAProvider(format!("its answer to HELLO is not the protocol: {p}"))
        }
        other => other,
    }
}

impl Session {
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
        Self::open(None, addr, server_name, tls, timeout).await
    }

    /// [`connect`](Self::connect) from the local address `local` (a multi-homed client
    /// choosing the address the server sees).
    ///
    /// # Errors
    /// `local` cannot be bound, or as [`connect`](Self::connect).
    pub async fn connect_from(
        local: IpAddr,
        addr: SocketAddr,
        server_name: &str,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Self, NetError> {
        Self::open(Some(local), addr, server_name, tls, timeout).await
    }

    async fn open(
        local: Option<IpAddr>,
        addr: SocketAddr,
        server_name: &str,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Self, NetError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| NetError::ServerName(server_name.to_owned()))?;
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if let Some(ip) = local {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let tcp = tokio::time::timeout(timeout, socket.connect(addr))
            .await
            .map_err(|_| NetError::Timeout("connecting"))??;
        let _ = tcp.set_nodelay(true);
        let connector = tokio_rustls::TlsConnector::from(tls);
        let stream = tokio::time::timeout(timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| NetError::Timeout("in the TLS handshake"))?
            .map_err(|e| {
                if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
                    match e.into_inner().map(|i| i.downcast::<rustls::Error>()) {
                        Some(Ok(tls)) => tls_error(*tls),
                        _ => NetError::Closed,
                    }
                } else {
                    NetError::Io(e)
                }
            })?;
        let peer_certificate = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec())
            .unwrap_or_default();
        let mut session = Self {
            stream,
            conn: ClientConn::new(concat!("ctl ", env!("CARGO_PKG_VERSION"))),
            timeout,
            node: String::new(),
            peer_certificate,
            resolved: vec![addr.ip()],
        };
        match session.wait(1).await.map_err(not_a_provider)? {
            Response::HelloOk { node, .. } => session.node = node,
            Response::Error { code, message } => return Err(NetError::Refused { code, message }),
            other => {
                return Err(NetError::Unexpected {
                    request: kind::HELLO,
                    answer: other.kind(),
                });
            }
        }
        Ok(session)
    }

    /// The node name the server gave.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The server's certificate (DER).
    pub fn peer_certificate(&self) -> &[u8] {
        &self.peer_certificate
    }

    /// The addresses the provider's host name resolved to (the one connected to among them).
    pub fn resolved(&self) -> &[IpAddr] {
        &self.resolved
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

    /// Sends a request whose only good answer is not an error: an ERROR answer becomes
    /// [`NetError::Refused`].
    ///
    /// # Errors
    /// The request was refused, or the session failed.
    pub async fn ask(&mut self, request: &Request) -> Result<Response, NetError> {
        match self.call(request).await? {
            Response::Error { code, message } => Err(NetError::Refused { code, message }),
            r => Ok(r),
        }
    }

    /// Logs in.
    ///
    /// # Errors
    /// Refused ([`NetError::Refused`] with the server's code), or a session failure.
    pub async fn login(&mut self, user: &str, password: &Password) -> Result<UserRole, NetError> {
        let request = Request::Login {
            user: user.to_owned(),
            password: password.clone(),
        };
        let answer = self.ask(&request).await.map_err(|e| match e {
            // Nodes answer a failed login late on purpose: say so, not just "timed out".
            NetError::Timeout(_) => NetError::Timeout(
                "waiting for the answer to LOGIN (after failed logins a node delays its answer, up to 30 s)",
            ),
            other => other,
        })?;
        match answer {
            Response::LoginOk(role) => Ok(role),
            other => Err(NetError::Unexpected {
                request: kind::LOGIN,
                answer: other.kind(),
            }),
        }
    }

    async fn wait(&mut self, id: u32) -> Result<Response, NetError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if let Some(mut out) = self.conn.poll_transmit() {
                // Vectored: a STAGE's file goes out as the slices every target shares.
                self.stream.write_all_buf(&mut out).await?;
            }
            while let Some(event) = self.conn.poll_event() {
                match event {
                    ClientEvent::Response { id: got, response } if got == id => {
                        return Ok(response);
                    }
                    ClientEvent::Closed { reason } => return Err(NetError::Ended(reason)),
                    _ => {}
                }
            }
            // Straight into the buffer of the frame being received.
            let space = self.conn.input_space();
            if space.is_empty() {
                return Err(NetError::Closed);
            }
            let n = tokio::time::timeout_at(deadline, self.stream.read(space))
                .await
                .map_err(|_| NetError::Timeout("waiting for the answer"))??;
            if n == 0 {
                return Err(NetError::Closed);
            }
            self.conn.input_filled(n);
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

/// The certificate policy of one provider endpoint under a shared trust policy: what it
/// pins (trust on first use, a vouched certificate) is recorded there.
#[derive(Debug)]
struct EndpointPolicy {
    shared: Arc<Mutex<TrustPolicy>>,
    host: String,
    port: u16,
}

impl CertPolicy for EndpointPolicy {
    fn check(&self, _server: &str, cert_der: &[u8]) -> Result<(), Untrusted> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .check(&self.host, self.port, cert_der)
    }
}

/// Opens logged-in sessions: one user, password, timeout, TLS identity and trust policy
/// (shared: what one session pins, the next one sees) for every provider of a cluster.
#[derive(Clone)]
pub struct Connector {
    user: String,
    password: Password,
    timeout: Duration,
    identity: Option<ClientIdentity>,
    trust: Arc<Mutex<TrustPolicy>>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("user", &self.user)
            .field("timeout", &self.timeout)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Sessions as `user` under `trust` (10 s timeout, no TLS client identity).
    pub fn new(user: &str, password: Password, trust: TrustPolicy) -> Self {
        Self {
            user: user.to_owned(),
            password,
            timeout: Duration::from_secs(10),
            identity: None,
            trust: Arc::new(Mutex::new(trust)),
        }
    }

    /// The timeout for connecting and for each answer.
    pub const fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Authenticates every TLS session with `identity`.
    pub fn identity(&mut self, identity: Option<ClientIdentity>) -> &mut Self {
        self.identity = identity;
        self
    }

    /// Replaces the trust policy.
    pub fn set_trust(&mut self, trust: TrustPolicy) -> &mut Self {
        self.trust = Arc::new(Mutex::new(trust));
        self
    }

    /// The trust policy as it is now (with what was pinned since), to save.
    pub fn trust(&self) -> TrustPolicy {
        self.trust
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Resolves `host`, connects to its addresses in turn until one answers (TLS, HELLO),
    /// and logs in there.
    ///
    /// ```no_run
    /// use ctl_provider::message::{Password, Request};
    /// use ctl_provider::net::Connector;
    /// use ctl_provider::trust::TrustPolicy;
    ///
    /// # async fn demo() -> Result<(), ctl_provider::net::NetError> {
    /// let connector = Connector::new("admin", Password::new("..."), TrustPolicy::default());
    /// let mut session = connector.connect("cucm-pub.example.com", 2444).await?;
    /// println!("{:?}", session.ask(&Request::GetMode).await?);
    /// session.bye().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The host does not resolve, no address answers (the last address's error), the
    /// certificate is not trusted, or the login is refused.
    pub async fn connect(&self, host: &str, port: u16) -> Result<Session, NetError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|source| NetError::Unresolvable {
                host: host.to_owned(),
                source,
            })?
            .collect();
        let policy = Arc::new(EndpointPolicy {
            shared: Arc::clone(&self.trust),
            host: host.to_owned(),
            port,
        });
        let tls = client_tls_for(policy, self.identity.as_ref())?;
        let mut last = NetError::NoAddress {
            host: host.to_owned(),
        };
        for addr in &addrs {
            match Session::connect(*addr, host, Arc::clone(&tls), self.timeout).await {
                Ok(mut s) => {
                    // A refused login is not tried again at the next address.
                    s.login(&self.user, &self.password).await?;
                    s.resolved = addrs.iter().map(SocketAddr::ip).collect();
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}
