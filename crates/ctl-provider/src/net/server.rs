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
use super::admission::{AcceptBackoff, Admission, Limits, RefusalLog, Source, Ticket};
use crate::frame::Transmit;
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

impl PeerInfo {
    /// The client's [`Source`], as the server's limits count it.
    pub fn source(&self) -> Source {
        Source::of(self.addr.ip())
    }
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

    /// Answering a login or request of `user` (of type `kind`) failed without an answer:
    /// a bug in the handler (it panicked). The client gets an INTERNAL answer and the
    /// session goes on; the node should log it.
    fn failed(&self, peer: &PeerInfo, user: &str, kind: u8) -> impl Future<Output = ()> + Send {
        let _ = (peer, user, kind);
        async {}
    }
}

/// The answer to a request whose handling failed without one.
fn internal() -> Response {
    Response::error(
        ErrorCode::Internal,
        "the node failed while answering; it is in its log",
    )
}

/// How a server runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Per-session settings.
    pub session: ServerConfig,
    /// The TLS handshake must finish within this time.
    pub handshake_timeout: Duration,
    /// A write that does not finish within this time ends the session (a client that
    /// does not read its answers cannot hold the session).
    pub write_timeout: Duration,
    /// Sessions at once; more are refused with TOO_MANY_SESSIONS.
    pub max_sessions: usize,
    /// Sessions not logged in yet, at once; more connections are closed before TLS.
    pub max_unauthenticated: usize,
    /// Sessions not logged in yet from one [`Source`] (an IPv4 address, an IPv6 /64).
    pub max_unauthenticated_per_source: usize,
    /// New sessions per second from one source, on average (twice as many in a burst);
    /// more are closed before TLS.
    pub new_sessions_per_source: u32,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            session: ServerConfig::default(),
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_sessions: 64,
            max_unauthenticated: 32,
            max_unauthenticated_per_source: 4,
            new_sessions_per_source: 10,
        }
    }
}

/// Accepts sessions on `listener` until `shutdown` completes.
///
/// Before any TLS work, a connection must be admitted: its source may have only a few
/// sessions that are not logged in yet, and open new ones only so fast; the server takes
/// only so many such sessions in all. A session is then bounded in time in every state:
/// the handshake and the login by their timeouts (counted from the connection, whatever
/// the session is doing), each write by the write timeout, a logged-in session by its idle
/// timeout.
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
    let admission = Admission::new(Limits {
        per_source: config.max_unauthenticated_per_source,
        total: config.max_unauthenticated,
        rate: config.new_sessions_per_source,
    });
    let config = Arc::new(config);
    let mut backoff = AcceptBackoff::default();
    let mut refusals = RefusalLog::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => return Ok(()),
        };
        let (stream, addr) = match accepted {
            Ok(x) => {
                backoff.succeeded();
                x
            }
            Err(e) => {
                // Out of descriptors (or a reset before accept): pause instead of spinning.
                let pause = backoff.failed();
                tracing::warn!(error = %e, pause_ms = pause.as_millis(), "accept failed; pausing");
                tokio::select! {
                    () = tokio::time::sleep(pause) => continue,
                    () = &mut shutdown => return Ok(()),
                }
            }
        };
        let at = now();
        let source = Source::of(addr.ip());
        let ticket = match admission.admit(source, at) {
            Ok(t) => t,
            Err(why) => {
                // Closed before TLS: a refused connection costs a socket, not a handshake.
                drop(stream);
                if let Some(count) = refusals.refused(source, at) {
                    tracing::warn!(%source, count, reason = %why, "connections closed before TLS");
                }
                continue;
            }
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
            let tls = match tokio::time::timeout(config.handshake_timeout, acceptor.accept(stream))
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(session, peer = %addr, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(session, peer = %addr, "TLS handshake timed out");
                    return;
                }
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
                Ok(_permit) => {
                    tracing::info!(
                        session,
                        peer = %addr,
                        client_certificate = peer.client_certificate.is_some(),
                        "session started"
                    );
                    let start = Start { at, ticket };
                    let ended = run_session(tls, start, &config, &handler, &peer).await;
                    tracing::info!(session, peer = %addr, reason = %ended, "session ended");
                }
                Err(_) => {
                    tracing::warn!(session, peer = %addr, "refused: too many sessions");
                    refuse(tls, config.write_timeout).await;
                }
            }
        });
    }
}

async fn refuse(mut tls: tokio_rustls::server::TlsStream<TcpStream>, within: Duration) {
    let frame = Response::error(
        ErrorCode::TooManySessions,
        "too many sessions; try again later",
    )
    .to_frame(0);
    let _ = tokio::time::timeout(within, async {
        if let Ok(bytes) = frame.encode() {
            let _ = tls.write_all(&bytes).await;
        }
        let _ = tls.shutdown().await;
    })
    .await;
}

fn now() -> std::time::Instant {
    std::time::Instant::now()
}

/// How a session began: when it was accepted, and its place among those not logged in.
struct Start {
    at: std::time::Instant,
    ticket: Ticket,
}

/// Writes `out` (vectored: its segments as they are) unless it takes past `deadline`;
/// why not, when the session must end.
async fn write_by<W: tokio::io::AsyncWrite + Unpin>(
    wr: &mut W,
    out: &mut Transmit,
    deadline: std::time::Instant,
) -> Result<(), &'static str> {
    let d = tokio::time::Instant::from_std(deadline);
    match tokio::time::timeout_at(d, wr.write_all_buf(out)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err("the connection failed while writing"),
        Err(_) => Err("a write did not finish in time (the client does not read)"),
    }
}

/// The latest a write may finish: the write timeout, and the login deadline before login.
fn write_deadline(conn: &ServerConn, config: &ServeConfig) -> std::time::Instant {
    let limit = now() + config.write_timeout;
    conn.login_deadline().map_or(limit, |d| d.min(limit))
}

async fn run_session<H: Handler>(
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    start: Start,
    config: &ServeConfig,
    handler: &Arc<H>,
    peer: &PeerInfo,
) -> String {
    let (mut rd, mut wr) = tokio::io::split(tls);
    // Why the session ended, for the log.
    let mut ended = String::from("the client closed the connection");
    let mut conn = ServerConn::new(config.session.clone(), start.at);
    let mut ticket = Some(start.ticket);
    'session: loop {
        // Answer everything the input produced, then send. Each answer is made in a task
        // of its own, so a handler that panics costs an INTERNAL answer, not the session.
        while let Some(event) = conn.poll_event() {
            match event {
                ServerEvent::Login { id, user, password } => {
                    let (h, p, u) = (Arc::clone(handler), peer.clone(), user.clone());
                    let mut task = tokio::spawn(async move { h.login(&p, &u, &password).await });
                    // The login deadline holds while the password is checked, too.
                    let checked = match conn.login_deadline() {
                        Some(d) => {
                            let d = tokio::time::Instant::from_std(d);
                            match tokio::time::timeout_at(d, &mut task).await {
                                Ok(r) => Some(r),
                                Err(_) => {
                                    task.abort();
                                    None
                                }
                            }
                        }
                        None => Some(task.await),
                    };
                    match checked {
                        Some(Ok(r)) => {
                            if matches!(r, Response::LoginOk(_)) {
                                // Logged in: no longer counted among the unauthenticated.
                                ticket = None;
                            }
                            conn.respond(id, &r, now());
                        }
                        Some(Err(_)) => {
                            tracing::error!(
                                session = peer.session,
                                "the login check failed (a bug in the node)"
                            );
                            handler
                                .failed(peer, &user, crate::message::kind::LOGIN)
                                .await;
                            conn.respond(id, &internal(), now());
                        }
                        None => conn.handle_timeout(now()),
                    }
                }
                ServerEvent::Request {
                    id,
                    request,
                    role,
                    user,
                } => {
                    let kind = request.kind();
                    let (h, p, u) = (Arc::clone(handler), peer.clone(), user.clone());
                    let task = tokio::spawn(async move { h.handle(&p, &u, role, request).await });
                    let r = match task.await {
                        Ok(r) => r,
                        Err(_) => {
                            tracing::error!(
                                session = peer.session,
                                request = crate::message::kind::name(kind),
                                "answering failed (a bug in the node)"
                            );
                            handler.failed(peer, &user, kind).await;
                            internal()
                        }
                    };
                    conn.respond(id, &r, now());
                }
                ServerEvent::Closed { reason } => ended = reason,
            }
        }
        if let Some(mut out) = conn.poll_transmit()
            && let Err(why) = write_by(&mut wr, &mut out, write_deadline(&conn, config)).await
        {
            why.clone_into(&mut ended);
            break 'session;
        }
        if conn.is_closed() {
            break;
        }
        let deadline = conn.poll_timeout().map(tokio::time::Instant::from_std);
        // Read straight into the buffer of the frame being received.
        tokio::select! {
            r = rd.read(conn.input_space()) => match r {
                Ok(0) => break 'session,
                Err(e) => {
                    ended = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        "the client closed the connection without a TLS close_notify".to_owned()
                    } else {
                        format!("reading: {}", super::io_text(&e))
                    };
                    break 'session;
                }
                Ok(n) => conn.input_filled(n, now()),
            },
            () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                conn.handle_timeout(now());
            }
        }
    }
    if let Some(mut out) = conn.poll_transmit() {
        let limit = now() + config.write_timeout.min(Duration::from_secs(1));
        let _ = write_by(&mut wr, &mut out, limit).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
    drop(ticket);
    handler.closed(peer).await;
    ended
}
