//! Requests, client to server: their shapes, encoder and decoder.

use bytes::Bytes;

use super::{MAX_FILE, VERSION, kind, tag};
use crate::ProtocolError;
use crate::element::{BodyWriter, Elements};
use crate::frame::Frame;
use crate::types::{OffCluster, Password, RoleCertificate, SecurityMode};

/// A request, client to server.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// Versions the client speaks, and its software.
    Hello {
        /// Versions, any order.
        versions: Vec<u8>,
        /// Software name and version.
        software: String,
    },
    /// Application user login.
    Login {
        /// User name.
        user: String,
        /// Password.
        password: Password,
    },
    /// This node's facts.
    NodeInfo,
    /// The cluster members.
    Members,
    /// The current CTL.
    GetCtl,
    /// The security mode.
    GetMode,
    /// Stage a CTL against the hash of the current one (`None`: there is none).
    Stage {
        /// SHA-256 of the CTL it replaces.
        base: Option<[u8; 32]>,
        /// The signed CTL (shared, not copied, by the STAGE of every target it goes to).
        file: Bytes,
        /// First node only: the off-cluster servers the CTL covers besides the configured
        /// ones, stored when it commits (`None`: keep the stored ones).
        peers: Option<OffCluster>,
    },
    /// Commit a staged CTL.
    Commit {
        /// Its SHA-256.
        hash: [u8; 32],
    },
    /// Drop a staged CTL.
    Abort {
        /// Its SHA-256.
        hash: [u8; 32],
    },
    /// Set the security mode.
    SetMode(SecurityMode),
    /// Store the CAPF certificate.
    PutCapf {
        /// DER.
        certificate: Bytes,
    },
    /// Read the newest audit entries.
    Audit {
        /// At most this many.
        limit: u32,
    },
    /// End the session.
    Bye,
}

impl Request {
    /// The message type.
    pub const fn kind(&self) -> u8 {
        match self {
            Self::Hello { .. } => kind::HELLO,
            Self::Login { .. } => kind::LOGIN,
            Self::NodeInfo => kind::NODE_INFO,
            Self::Members => kind::MEMBERS,
            Self::GetCtl => kind::GET_CTL,
            Self::GetMode => kind::GET_MODE,
            Self::Stage { .. } => kind::STAGE,
            Self::Commit { .. } => kind::COMMIT,
            Self::Abort { .. } => kind::ABORT,
            Self::SetMode(_) => kind::SET_MODE,
            Self::PutCapf { .. } => kind::PUT_CAPF,
            Self::Audit { .. } => kind::AUDIT,
            Self::Bye => kind::BYE,
        }
    }

    /// Whether only the super-user role may send it.
    pub const fn needs_super_user(&self) -> bool {
        matches!(
            self,
            Self::Stage { .. }
                | Self::Commit { .. }
                | Self::Abort { .. }
                | Self::SetMode(_)
                | Self::PutCapf { .. }
        )
    }

    /// Encodes the request as a frame (a STAGE's file as slices of it, not a copy).
    pub fn to_frame(&self, id: u32) -> Frame {
        let mut w = BodyWriter::new();
        match self {
            Self::Hello { versions, software } => {
                w.put(tag::VERSIONS, versions)
                    .put(tag::SOFTWARE, software.as_bytes());
            }
            Self::Login { user, password } => {
                w.put(tag::USER, user.as_bytes())
                    .put(tag::PASSWORD, password.expose().as_bytes());
            }
            Self::NodeInfo | Self::Members | Self::GetCtl | Self::GetMode | Self::Bye => {}
            Self::Stage { base, file, peers } => {
                w.put(tag::BASE_HASH, base.as_ref().map_or(&[][..], |h| &h[..]));
                if let Some(p) = peers {
                    let mut inner = BodyWriter::new();
                    p.put(&mut inner, false);
                    w.put(tag::PEERS, &inner.finish());
                }
                w.put_shared(tag::FILE, file);
            }
            Self::Commit { hash } | Self::Abort { hash } => {
                w.put(tag::HASH, hash);
            }
            Self::SetMode(m) => {
                w.put(tag::MODE, &[m.code()]);
            }
            Self::PutCapf { certificate } => RoleCertificate {
                role: ctl_format::Role::CAPF.0,
                der: certificate.clone(),
            }
            .put(&mut w),
            Self::Audit { limit } => {
                w.put(tag::LIMIT, &limit.to_be_bytes());
            }
        }
        Frame {
            version: VERSION,
            kind: self.kind(),
            id,
            body: w.into_body(),
        }
    }

    /// Decodes a request frame.
    ///
    /// # Errors
    /// An unknown type, a missing or malformed element.
    pub fn from_frame(frame: &Frame) -> Result<Self, ProtocolError> {
        let body = frame.body.contiguous();
        let m = Elements::parse(frame.kind, &body)?;
        Ok(match frame.kind {
            kind::HELLO => Self::Hello {
                versions: m.req(tag::VERSIONS)?.to_vec(),
                software: m.opt_text(tag::SOFTWARE)?.unwrap_or_default(),
            },
            kind::LOGIN => Self::Login {
                user: m.text(tag::USER)?,
                password: Password::new(m.text(tag::PASSWORD)?),
            },
            kind::NODE_INFO => Self::NodeInfo,
            kind::MEMBERS => Self::Members,
            kind::GET_CTL => Self::GetCtl,
            kind::GET_MODE => Self::GetMode,
            kind::STAGE => {
                let base = m.req(tag::BASE_HASH)?;
                Self::Stage {
                    base: if base.is_empty() {
                        None
                    } else {
                        Some(m.hash_of(base)?)
                    },
                    file: m
                        .file(tag::FILE, MAX_FILE)?
                        .ok_or(m.bad("STAGE without FILE"))?,
                    peers: m.opt_nested(tag::PEERS, OffCluster::read)?,
                }
            }
            kind::COMMIT => Self::Commit {
                hash: m.hash(tag::HASH)?,
            },
            kind::ABORT => Self::Abort {
                hash: m.hash(tag::HASH)?,
            },
            kind::SET_MODE => Self::SetMode(
                SecurityMode::from_code(m.u8(tag::MODE)?).ok_or(m.bad("MODE other than 0 or 1"))?,
            ),
            kind::PUT_CAPF => Self::PutCapf {
                certificate: RoleCertificate::read_all(&m)?
                    .into_iter()
                    .next()
                    .ok_or(m.bad("PUT_CAPF without CERTIFICATE"))?
                    .der,
            },
            kind::AUDIT => Self::Audit {
                limit: m.opt_u32(tag::LIMIT)?.unwrap_or(100),
            },
            kind::BYE => Self::Bye,
            other => return Err(ProtocolError::UnknownMessage { kind: other }),
        })
    }
}
