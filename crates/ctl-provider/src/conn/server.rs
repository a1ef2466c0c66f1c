//! The server side of a session (`docs/protocol.md`, section 7).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::ProtocolError;
use crate::frame::{Frame, FrameReader, Transmit};
use crate::message::{ErrorCode, Password, Request, Response, UserRole, VERSION, kind};

/// How a server session behaves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The node's name (sent in HELLO_OK).
    pub node_name: String,
    /// Server software name and version.
    pub software: String,
    /// Protocol versions served.
    pub versions: Vec<u8>,
    /// HELLO and a successful LOGIN must happen within this time.
    pub login_timeout: Duration,
    /// A logged-in session with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Requests a client may have waiting for answers at once.
    pub max_outstanding: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            node_name: String::new(),
            software: concat!("ctl-providerd ", env!("CARGO_PKG_VERSION")).to_owned(),
            versions: vec![VERSION],
            login_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_outstanding: 8,
        }
    }
}

/// What the server application must act on.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Check these credentials and answer with [`Response::LoginOk`] or an error.
    Login {
        /// Request id.
        id: u32,
        /// User name.
        user: String,
        /// Password.
        password: Password,
    },
    /// Carry out a request (the role is already checked) and answer it.
    Request {
        /// Request id.
        id: u32,
        /// The request.
        request: Request,
        /// The user's role.
        role: UserRole,
        /// The user's name.
        user: String,
    },
    /// The session is over; send what [`ServerConn::poll_transmit`] still has, then close.
    Closed {
        /// Why.
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    AwaitHello,
    AwaitLogin,
    LoginPending { user: String },
    Ready { role: UserRole, user: String },
    Closed,
}

/// The server side of one session. `Debug` shows its state, never bytes or requests.
pub struct ServerConn {
    config: ServerConfig,
    phase: Phase,
    version: u8,
    reader: FrameReader,
    out: Transmit,
    events: VecDeque<ServerEvent>,
    pending: HashMap<u32, u8>,
    /// Requests received while another awaits its answer: handled in order, one at a time.
    queued: VecDeque<Frame>,
    deadline: Instant,
}

impl ServerConn {
    /// A new session, accepted at `now` (the login timeout counts from then).
    pub fn new(config: ServerConfig, now: Instant) -> Self {
        let deadline = now + config.login_timeout;
        Self {
            config,
            phase: Phase::AwaitHello,
            version: VERSION,
            reader: FrameReader::new(),
            out: Transmit::new(),
            events: VecDeque::new(),
            pending: HashMap::new(),
            queued: VecDeque::new(),
            deadline,
        }
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The logged-in user's role, if any.
    pub fn role(&self) -> Option<UserRole> {
        match &self.phase {
            Phase::Ready { role, .. } => Some(*role),
            _ => None,
        }
    }

    /// Feeds received bytes.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        if self.is_closed() {
            return;
        }
        self.reader.push(data);
        self.process(now);
    }

    /// Where to read received bytes into: straight into the buffer of the frame being
    /// received (at most what is left of it), no copy in between. Empty once the session
    /// is closed. Say how many were read with [`input_filled`](Self::input_filled).
    pub fn input_space(&mut self) -> &mut [u8] {
        if self.is_closed() {
            return &mut [];
        }
        self.reader.spare()
    }

    /// `n` bytes were read into [`input_space`](Self::input_space).
    pub fn input_filled(&mut self, n: usize, now: Instant) {
        if self.is_closed() {
            return;
        }
        self.reader.advance(n);
        self.process(now);
    }

    fn process(&mut self, now: Instant) {
        loop {
            match self.reader.next_frame() {
                Ok(Some(frame)) if self.pending.is_empty() => self.handle_frame(&frame, now),
                Ok(Some(frame)) => {
                    if self.queued.len() >= self.config.max_outstanding {
                        self.fail(
                            ErrorCode::BadMessage,
                            "too many requests waiting for answers",
                        );
                        break;
                    }
                    self.queued.push_back(frame);
                }
                Ok(None) => break,
                Err(e) => {
                    self.fail(ErrorCode::BadMessage, &e.to_string());
                    break;
                }
            }
            if self.is_closed() {
                break;
            }
        }
    }

    fn send(&mut self, id: u32, request_kind: u8, response: &Response) {
        if !response.answers(request_kind) {
            // A handler answering with another request's response is a bug on this side;
            // the client gets an error instead of a frame it would have to refuse.
            let wrong = Response::error(
                ErrorCode::Internal,
                format!(
                    "the node answered request type 0x{request_kind:02x} with type 0x{:02x}",
                    response.kind()
                ),
            );
            return self.send(id, request_kind, &wrong);
        }
        let mut frame = response.to_frame(id);
        frame.version = self.version;
        // Responses are built by this crate and stay under the cap; an oversized one
        // (a bug in the caller's data) closes the session rather than send a bad frame.
        if let Err(e) = frame.encode_into(&mut self.out) {
            self.fail(ErrorCode::Internal, &e.to_string());
        }
    }

    /// Sends an ERROR and ends the session.
    fn fail(&mut self, code: ErrorCode, message: &str) {
        if self.is_closed() {
            return;
        }
        let frame = Response::error(code, message).to_frame(0);
        let _ = frame.encode_into(&mut self.out);
        self.phase = Phase::Closed;
        self.events.push_back(ServerEvent::Closed {
            reason: message.to_owned(),
        });
    }

    fn handle_frame(&mut self, frame: &Frame, now: Instant) {
        if self.phase != Phase::AwaitHello && frame.version != self.version {
            let e = ProtocolError::WrongVersion {
                expected: self.version,
                found: frame.version,
            };
            return self.fail(ErrorCode::BadMessage, &e.to_string());
        }
        let request = match Request::from_frame(frame) {
            Ok(r) => r,
            Err(e @ ProtocolError::UnknownMessage { .. }) => {
                return self.send(
                    frame.id,
                    frame.kind,
                    &Response::error(ErrorCode::UnknownMessage, e.to_string()),
                );
            }
            Err(e) => return self.fail(ErrorCode::BadMessage, &e.to_string()),
        };
        let id = frame.id;
        let k = request.kind();
        match (&self.phase, request) {
            (Phase::AwaitHello, Request::Hello { versions, .. }) => {
                let Some(v) = self
                    .config
                    .versions
                    .iter()
                    .copied()
                    .filter(|v| versions.contains(v))
                    .max()
                else {
                    return self.fail(
                        ErrorCode::UnsupportedVersion,
                        &format!(
                            "no protocol version in common: client {}, server {}",
                            version_list(&versions),
                            version_list(&self.config.versions)
                        ),
                    );
                };
                self.version = v;
                self.phase = Phase::AwaitLogin;
                let hello = Response::HelloOk {
                    version: v,
                    node: self.config.node_name.clone(),
                    software: self.config.software.clone(),
                };
                self.send(id, k, &hello);
            }
            (Phase::AwaitHello, _) => self.fail(ErrorCode::BadMessage, "expected HELLO first"),
            (_, Request::Hello { .. }) => self.fail(ErrorCode::BadMessage, "HELLO twice"),
            (_, Request::Bye) => {
                self.send(id, k, &Response::ByeOk);
                self.phase = Phase::Closed;
                self.events.push_back(ServerEvent::Closed {
                    reason: "client said BYE".to_owned(),
                });
            }
            (Phase::AwaitLogin, Request::Login { user, password }) => {
                self.phase = Phase::LoginPending { user: user.clone() };
                self.pending.insert(id, k);
                self.events
                    .push_back(ServerEvent::Login { id, user, password });
            }
            (Phase::AwaitLogin | Phase::LoginPending { .. }, _) => {
                self.send(
                    id,
                    k,
                    &Response::error(ErrorCode::NotLoggedIn, "log in first"),
                );
            }
            (Phase::Ready { .. }, Request::Login { .. }) => {
                self.send(
                    id,
                    k,
                    &Response::error(ErrorCode::BadMessage, "already logged in"),
                );
            }
            (
                Phase::Ready {
                    role: UserRole::ReadOnly,
                    ..
                },
                request,
            ) if request.needs_super_user() => {
                self.send(
                    id,
                    k,
                    &Response::error(ErrorCode::Forbidden, "this user's role may only read"),
                );
            }
            (Phase::Ready { role, user }, request) => {
                let (role, user) = (*role, user.clone());
                self.deadline = now + self.config.idle_timeout;
                self.pending.insert(id, k);
                self.events.push_back(ServerEvent::Request {
                    id,
                    request,
                    role,
                    user,
                });
            }
            (Phase::Closed, _) => {}
        }
    }

    /// Answers request `id`. A LOGIN answered with [`Response::LoginOk`] opens the session
    /// for requests; answered with an error, it may be tried again.
    pub fn respond(&mut self, id: u32, response: &Response, now: Instant) {
        let Some(k) = self.pending.remove(&id) else {
            return;
        };
        if self.is_closed() {
            return;
        }
        if k == kind::LOGIN {
            let user = match &self.phase {
                Phase::LoginPending { user } => user.clone(),
                _ => String::new(),
            };
            match response {
                Response::LoginOk(role) => {
                    self.phase = Phase::Ready { role: *role, user };
                    self.deadline = now + self.config.idle_timeout;
                }
                _ => self.phase = Phase::AwaitLogin,
            }
        }
        self.send(id, k, response);
        if matches!(
            response,
            Response::Error {
                code: ErrorCode::LockedOut | ErrorCode::TooManySessions,
                ..
            }
        ) {
            self.phase = Phase::Closed;
            self.events.push_back(ServerEvent::Closed {
                reason: "refused".to_owned(),
            });
            return;
        }
        while self.pending.is_empty() && !self.is_closed() {
            let Some(frame) = self.queued.pop_front() else {
                break;
            };
            self.handle_frame(&frame, now);
        }
    }

    /// The next thing for the application to act on.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Bytes to send, if any: segments for a vectored write (zeroized when dropped, but
    /// for a CTL shared with the node's other sessions).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.out.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.out))
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next: the login
    /// deadline until a login succeeds (even while a login is being checked), then the
    /// idle deadline while no request is being answered.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.is_closed() && (self.pending.is_empty() || self.role().is_none()))
            .then_some(self.deadline)
    }

    /// The time by which the session must have logged in, while it has not.
    pub fn login_deadline(&self) -> Option<Instant> {
        (!self.is_closed() && self.role().is_none()).then_some(self.deadline)
    }

    /// Closes the session with a TIMEOUT error if its deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.deadline {
            return;
        }
        if self.role().is_none() {
            self.fail(ErrorCode::Timeout, "no login in time");
        } else if self.pending.is_empty() {
            self.fail(ErrorCode::Timeout, "idle too long");
        }
    }
}

impl std::fmt::Debug for ServerConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match &self.phase {
            Phase::AwaitHello => "awaiting HELLO",
            Phase::AwaitLogin => "awaiting LOGIN",
            Phase::LoginPending { .. } => "checking a login",
            Phase::Ready { .. } => "logged in",
            Phase::Closed => "closed",
        };
        f.debug_struct("ServerConn")
            .field("phase", &phase)
            .field("version", &self.version)
            .field("pending", &self.pending.len())
            .field("queued", &self.queued.len())
            .field("unsent", &self.out.len())
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

/// Versions as `1, 2` (`none` when empty).
fn version_list(versions: &[u8]) -> String {
    if versions.is_empty() {
        return "none".to_owned();
    }
    versions
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
