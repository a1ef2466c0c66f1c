//! The server shell: accepts TLS sessions, runs each through a [`ServerConn`], and hands
//! logins and requests to the node's [`Handler`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::NetError;
use crate::message::{ErrorCode, Password, Request, Response, UserRole};
use crate::{ServerConfig, ServerConn, ServerEvent};

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
        role: UserRole,
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
    .to_frame(0);
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
