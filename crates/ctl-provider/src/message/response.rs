//! Responses, server to client: their shapes, encoder and decoder. A response's type
//! comes from its variant.

use bytes::Bytes;

use super::{MAX_FILE, VERSION, kind, tag};
use crate::ProtocolError;
use crate::element::{BodyWriter, Elements};
use crate::frame::Frame;
use crate::types::{AuditEntry, ErrorCode, HookOutcome, Members, NodeInfo, SecurityMode, UserRole};

/// A response, server to client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// The version chosen.
    HelloOk {
        /// Version.
        version: u8,
        /// The node's name.
        node: String,
        /// Server software.
        software: String,
    },
    /// Logged in.
    LoginOk(UserRole),
    /// This node's facts.
    NodeInfo(NodeInfo),
    /// The cluster.
    Members(Members),
    /// The current CTL, if any: hash and bytes.
    Ctl(Option<([u8; 32], Bytes)>),
    /// The mode.
    Mode(SecurityMode),
    /// Staged, with this hash.
    Staged([u8; 32]),
    /// Committed, and what the hook did.
    Committed {
        /// Hash of the committed CTL.
        hash: [u8; 32],
        /// The on-commit hook, if one ran.
        hook: Option<HookOutcome>,
    },
    /// Dropped.
    Aborted([u8; 32]),
    /// The mode is now this.
    ModeSet(SecurityMode),
    /// The CAPF certificate is stored.
    CapfStored,
    /// Audit entries, oldest first.
    Audit(Vec<AuditEntry>),
    /// Goodbye.
    ByeOk,
    /// The request failed.
    Error {
        /// Why.
        code: ErrorCode,
        /// Details.
        message: String,
    },
}

impl Response {
    /// The message type, from the variant: a request's type with the response bit, or ERROR.
    pub const fn kind(&self) -> u8 {
        let request = match self {
            Self::Error { .. } => return kind::ERROR,
            Self::HelloOk { .. } => kind::HELLO,
            Self::LoginOk(_) => kind::LOGIN,
            Self::NodeInfo(_) => kind::NODE_INFO,
            Self::Members(_) => kind::MEMBERS,
            Self::Ctl(_) => kind::GET_CTL,
            Self::Mode(_) => kind::GET_MODE,
            Self::Staged(_) => kind::STAGE,
            Self::Committed { .. } => kind::COMMIT,
            Self::Aborted(_) => kind::ABORT,
            Self::ModeSet(_) => kind::SET_MODE,
            Self::CapfStored => kind::PUT_CAPF,
            Self::Audit(_) => kind::AUDIT,
            Self::ByeOk => kind::BYE,
        };
        request | kind::RESPONSE
    }

    /// Whether it answers a request of type `request_kind` (an ERROR answers any).
    pub const fn answers(&self, request_kind: u8) -> bool {
        let k = self.kind();
        k == kind::ERROR || k == request_kind | kind::RESPONSE
    }

    /// An error response.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
        }
    }

    /// Encodes the response as a frame.
    pub fn to_frame(&self, id: u32) -> Frame {
        let mut w = BodyWriter::new();
        match self {
            Self::HelloOk {
                version,
                node,
                software,
            } => {
                w.put(tag::VERSION, &[*version])
                    .put(tag::NODE_NAME, node.as_bytes())
                    .put(tag::SOFTWARE, software.as_bytes());
            }
            Self::LoginOk(role) => {
                w.put(tag::ROLE, &[role.code()]);
            }
            Self::NodeInfo(n) => n.put(&mut w),
            Self::Members(m) => m.put(&mut w),
            Self::Ctl(current) => {
                if let Some((hash, file)) = current {
                    w.put(tag::HASH, hash).put_shared(tag::FILE, file);
                }
            }
            Self::Mode(m) | Self::ModeSet(m) => {
                w.put(tag::MODE, &[m.code()]);
            }
            Self::Staged(h) | Self::Aborted(h) => {
                w.put(tag::HASH, h);
            }
            Self::Committed { hash, hook } => {
                w.put(tag::HASH, hash);
                if let Some(h) = hook {
                    h.put(&mut w);
                }
            }
            Self::CapfStored | Self::ByeOk => {}
            Self::Audit(entries) => {
                for e in entries {
                    e.put(&mut w);
                }
            }
            Self::Error { code, message } => {
                w.put(tag::ERROR_CODE, &code.code().to_be_bytes())
                    .put(tag::MESSAGE, message.as_bytes());
            }
        }
        Frame {
            version: VERSION,
            kind: self.kind(),
            id,
            body: w.into_body(),
        }
    }

    /// Decodes a response frame.
    ///
    /// # Errors
    /// An unknown type, a missing or malformed element.
    pub fn from_frame(frame: &Frame) -> Result<Self, ProtocolError> {
        let body = frame.body.contiguous();
        let m = Elements::parse(frame.kind, &body)?;
        if frame.kind == kind::ERROR {
            return Ok(Self::Error {
                code: ErrorCode::from_code(m.u16(tag::ERROR_CODE)?),
                message: m.opt_text(tag::MESSAGE)?.unwrap_or_default(),
            });
        }
        if frame.kind & kind::RESPONSE == 0 {
            return Err(ProtocolError::UnknownMessage { kind: frame.kind });
        }
        let mode =
            || SecurityMode::from_code(m.u8(tag::MODE)?).ok_or(m.bad("MODE other than 0 or 1"));
        Ok(match frame.kind & !kind::RESPONSE {
            kind::HELLO => Self::HelloOk {
                version: m.u8(tag::VERSION)?,
                node: m.opt_text(tag::NODE_NAME)?.unwrap_or_default(),
                software: m.opt_text(tag::SOFTWARE)?.unwrap_or_default(),
            },
            kind::LOGIN => {
                Self::LoginOk(UserRole::from_code(m.u8(tag::ROLE)?).ok_or(m.bad("unknown ROLE"))?)
            }
            kind::NODE_INFO => Self::NodeInfo(NodeInfo::read(&m)?),
            kind::MEMBERS => Self::Members(Members::read(&m)?),
            kind::GET_CTL => match m.opt(tag::HASH) {
                None => Self::Ctl(None),
                Some(h) => Self::Ctl(Some((
                    m.hash_of(h)?,
                    m.file(tag::FILE, MAX_FILE)?
                        .ok_or(m.bad("CTL hash without FILE"))?,
                ))),
            },
            kind::GET_MODE => Self::Mode(mode()?),
            kind::STAGE => Self::Staged(m.hash(tag::HASH)?),
            kind::COMMIT => Self::Committed {
                hash: m.hash(tag::HASH)?,
                hook: m.opt_nested(tag::HOOK, HookOutcome::read)?,
            },
            kind::ABORT => Self::Aborted(m.hash(tag::HASH)?),
            kind::SET_MODE => Self::ModeSet(mode()?),
            kind::PUT_CAPF => Self::CapfStored,
            kind::AUDIT => Self::Audit(m.each(tag::AUDIT_ENTRY, AuditEntry::read)?),
            kind::BYE => Self::ByeOk,
            _ => return Err(ProtocolError::UnknownMessage { kind: frame.kind }),
        })
    }
}
