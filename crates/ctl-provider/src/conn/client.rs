//! The client side of a session (`docs/protocol.md`, section 7).

use std::collections::{HashMap, VecDeque};

use crate::ProtocolError;
use crate::frame::{FrameReader, Transmit};
use crate::message::{ErrorCode, Request, Response, VERSION, kind};

/// What a client receives.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The answer to request `id`.
    Response {
        /// Request id.
        id: u32,
        /// The answer.
        response: Response,
    },
    /// The session is over.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Why a client session ended.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// The server sent an error outside any request (a timeout, too many sessions, a
    /// frame it refused) and closed the session.
    #[error("the server closed the session: {message} (error {})", code.code())]
    Refused {
        /// Its code.
        code: ErrorCode,
        /// Its text.
        message: String,
    },
    /// The server broke the protocol.
    #[error("protocol error from the server: {0}")]
    Protocol(#[from] ProtocolError),
    /// The server sent a message outside any request.
    #[error("unsolicited {} from the server", kind::name(*.kind))]
    Unsolicited {
        /// Its type.
        kind: u8,
    },
    /// The server answered a request that was never sent.
    #[error("the server answered request {id}, which was never sent")]
    UnknownRequest {
        /// The id it answered.
        id: u32,
    },
    /// The server answered with another request's response.
    #[error("the server answered {} with {}", kind::name(*.request), kind::name(*.answer))]
    WrongAnswer {
        /// The request's type.
        request: u8,
        /// The answer's type.
        answer: u8,
    },
    /// BYE was answered.
    #[error("BYE")]
    Bye,
}

/// The client side of one session. Its output (which holds a LOGIN's password) is
/// zeroizing segments; `Debug` shows its state, never bytes.
pub struct ClientConn {
    version: Option<u8>,
    reader: FrameReader,
    out: Transmit,
    events: VecDeque<ClientEvent>,
    pending: HashMap<u32, u8>,
    next_id: u32,
    closed: bool,
}

impl ClientConn {
    /// A new session; HELLO is queued at once (its id is 1).
    pub fn new(software: &str) -> Self {
        let mut c = Self {
            version: None,
            reader: FrameReader::new(),
            out: Transmit::new(),
            events: VecDeque::new(),
            pending: HashMap::new(),
            next_id: 1,
            closed: false,
        };
        c.send(&Request::Hello {
            versions: vec![VERSION],
            software: software.to_owned(),
        });
        c
    }

    /// The version the server chose, once it has.
    pub const fn version(&self) -> Option<u8> {
        self.version
    }

    /// Whether the session is over.
    pub const fn is_closed(&self) -> bool {
        self.closed
    }

    /// Queues a request; returns its id.
    pub fn send(&mut self, request: &Request) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let mut frame = request.to_frame(id);
        frame.version = self.version.unwrap_or(VERSION);
        match frame.encode_into(&mut self.out) {
            Ok(()) => {
                self.pending.insert(id, request.kind());
            }
            Err(e) => self.events.push_back(ClientEvent::Response {
                id,
                response: Response::error(ErrorCode::BadMessage, e.to_string()),
            }),
        }
        id
    }

    fn close(&mut self, reason: CloseReason) {
        if !self.closed {
            self.closed = true;
            self.events.push_back(ClientEvent::Closed { reason });
        }
    }

    /// Feeds received bytes.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.closed {
            return;
        }
        self.reader.push(data);
        self.process();
    }

    /// Where to read received bytes into: straight into the buffer of the frame being
    /// received, no copy in between. Empty once the session is closed. Say how many were
    /// read with [`input_filled`](Self::input_filled).
    pub fn input_space(&mut self) -> &mut [u8] {
        if self.closed {
            return &mut [];
        }
        self.reader.spare()
    }

    /// `n` bytes were read into [`input_space`](Self::input_space).
    pub fn input_filled(&mut self, n: usize) {
        if self.closed {
            return;
        }
        self.reader.advance(n);
        self.process();
    }

    fn process(&mut self) {
        loop {
            let frame = match self.reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return self.close(e.into()),
            };
            let response = match Response::from_frame(&frame) {
                Ok(r) => r,
                Err(e) => return self.close(e.into()),
            };
            if frame.id == 0 {
                let reason = match response {
                    Response::Error { code, message } => CloseReason::Refused { code, message },
                    other => CloseReason::Unsolicited { kind: other.kind() },
                };
                return self.close(reason);
            }
            let Some(k) = self.pending.remove(&frame.id) else {
                return self.close(CloseReason::UnknownRequest { id: frame.id });
            };
            if !response.answers(k) {
                return self.close(CloseReason::WrongAnswer {
                    request: k,
                    answer: frame.kind,
                });
            }
            if let Response::HelloOk { version, .. } = &response {
                self.version = Some(*version);
            }
            let bye = matches!(response, Response::ByeOk);
            self.events.push_back(ClientEvent::Response {
                id: frame.id,
                response,
            });
            if bye {
                self.close(CloseReason::Bye);
            }
        }
    }

    /// The next response or closure.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Bytes to send, if any: segments for a vectored write (the ones this side wrote
    /// are zeroized when dropped; a STAGE's file is the caller's, shared).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.out.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.out))
        }
    }
}

impl std::fmt::Debug for ClientConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConn")
            .field("version", &self.version)
            .field("closed", &self.closed)
            .field("pending", &self.pending.len())
            .field("events", &self.events.len())
            .field("unsent", &self.out.len())
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}
