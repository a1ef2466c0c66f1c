//! Typed messages and their encoding (`docs/protocol.md`, sections 4 to 6).

use std::fmt;
use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::ProtocolError;
use crate::frame::{BodyWriter, Element, Frame, elements};

/// The protocol version this implementation speaks.
pub const VERSION: u8 = 1;

/// The largest CTL a STAGE may carry (the phones' limit).
pub const MAX_FILE: usize = 64 * 1024;

/// Message types. A response is its request's type with the high bit set.
pub mod kind {
    /// Version negotiation.
    pub const HELLO: u8 = 0x01;
    /// Application user login.
    pub const LOGIN: u8 = 0x02;
    /// This node's name, addresses, services and certificates.
    pub const NODE_INFO: u8 = 0x03;
    /// The cluster members (first node only).
    pub const MEMBERS: u8 = 0x04;
    /// The current CTL and its hash.
    pub const GET_CTL: u8 = 0x05;
    /// The security mode.
    pub const GET_MODE: u8 = 0x06;
    /// Stage a signed CTL against the hash of the one it replaces.
    pub const STAGE: u8 = 0x07;
    /// Commit a staged CTL by hash.
    pub const COMMIT: u8 = 0x08;
    /// Drop a staged CTL.
    pub const ABORT: u8 = 0x09;
    /// Set the security mode (first node).
    pub const SET_MODE: u8 = 0x0A;
    /// Store the CAPF certificate (subsequent nodes).
    pub const PUT_CAPF: u8 = 0x0B;
    /// Read the audit log.
    pub const AUDIT: u8 = 0x0C;
    /// End the session.
    pub const BYE: u8 = 0x0D;
    /// The bit a response adds to its request's type.
    pub const RESPONSE: u8 = 0x80;
    /// An error response to any request.
    pub const ERROR: u8 = 0xFF;
}

/// Element tags (one namespace for every message).
pub mod tag {
    /// Versions the client speaks, one byte each.
    pub const VERSIONS: u8 = 0x01;
    /// The version chosen.
    pub const VERSION: u8 = 0x02;
    /// Software name and version, text.
    pub const SOFTWARE: u8 = 0x03;
    /// Application user name, text.
    pub const USER: u8 = 0x04;
    /// Password, text.
    pub const PASSWORD: u8 = 0x05;
    /// Role, 1 byte.
    pub const ROLE: u8 = 0x06;
    /// Node name, text.
    pub const NODE_NAME: u8 = 0x07;
    /// IPv4 (4 bytes) or IPv6 (16 bytes) address; repeatable.
    pub const ADDRESS: u8 = 0x08;
    /// Services, u16 bit set.
    pub const SERVICES: u8 = 0x09;
    /// Role code (u16) then certificate DER; repeatable.
    pub const CERTIFICATE: u8 = 0x0A;
    /// A cluster member, nested elements; repeatable.
    pub const MEMBER: u8 = 0x0B;
    /// Host name, text.
    pub const HOST: u8 = 0x0C;
    /// TCP port, u16.
    pub const PORT: u8 = 0x0D;
    /// An off-cluster alternate TFTP server, nested; repeatable.
    pub const ALTERNATE_TFTP: u8 = 0x0E;
    /// A firewall (ASA TLS proxy), nested; repeatable.
    pub const FIREWALL: u8 = 0x0F;
    /// SHA-256 of a CTL, 32 bytes.
    pub const HASH: u8 = 0x10;
    /// SHA-256 of the CTL a stage replaces, 32 bytes, or empty for "none".
    pub const BASE_HASH: u8 = 0x11;
    /// Security mode, 1 byte.
    pub const MODE: u8 = 0x12;
    /// Error code, u16.
    pub const ERROR_CODE: u8 = 0x13;
    /// Human-readable text.
    pub const MESSAGE: u8 = 0x14;
    /// On-commit hook outcome, nested.
    pub const HOOK: u8 = 0x15;
    /// Exit status, i32 (negative: killed or timed out).
    pub const EXIT_STATUS: u8 = 0x16;
    /// An audit entry, nested; repeatable.
    pub const AUDIT_ENTRY: u8 = 0x17;
    /// Unix seconds, u64.
    pub const TIME: u8 = 0x18;
    /// Audit action, text.
    pub const ACTION: u8 = 0x19;
    /// How many entries at most, u32.
    pub const LIMIT: u8 = 0x1A;
    /// Whether the node is the first node, 1 byte.
    pub const FIRST_NODE: u8 = 0x1B;
    /// The off-cluster servers a staged CTL covers, nested ALTERNATE_TFTP and FIREWALL.
    pub const PEERS: u8 = 0x1C;
    /// Where an off-cluster server comes from, 1 byte (see [`super::PeerSource`]).
    pub const SOURCE: u8 = 0x1D;
    /// A chunk of a file; consecutive FILE elements are concatenated.
    pub const FILE: u8 = 0x20;
}

/// What an authenticated user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// May read, stage, commit and change the mode.
    SuperUser,
    /// May only read.
    ReadOnly,
}

impl Role {
    const fn code(self) -> u8 {
        match self {
            Self::SuperUser => 1,
            Self::ReadOnly => 2,
        }
    }
}

/// The cluster security mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityMode {
    /// 0: non-secure.
    NonSecure,
    /// 1: mixed (secure).
    Mixed,
}

/// Services a node runs (bits of SERVICES).
pub mod service {
    /// Cisco CallManager.
    pub const CALLMANAGER: u16 = 1;
    /// TFTP.
    pub const TFTP: u16 = 1 << 1;
    /// Certificate Authority Proxy Function (first node).
    pub const CAPF: u16 = 1 << 2;
    /// Trust Verification Service.
    pub const TVS: u16 = 1 << 3;
    /// The CTL provider itself.
    pub const PROVIDER: u16 = 1 << 4;
}

/// A password on the wire: zeroized when dropped, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password.
    pub fn new(p: impl Into<String>) -> Self {
        Self(Zeroizing::new(p.into()))
    }

    /// The password text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A certificate with the role it serves on the node (ctl-format role codes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleCertificate {
    /// Role code (1 CCM, 2 CCM+TFTP, 3 TFTP, 4 CAPF, 21 TVS, ...).
    pub role: u16,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

/// NODE_INFO's answer.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
    /// Services bit set.
    pub services: u16,
    /// Whether it is the first node.
    pub first_node: bool,
    /// Its certificates per role.
    pub certificates: Vec<RoleCertificate>,
}

/// A cluster member.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Member {
    /// Node name.
    pub name: String,
    /// Host name the client resolves.
    pub host: String,
    /// Addresses the first node knows for it.
    pub addresses: Vec<IpAddr>,
    /// Services bit set.
    pub services: u16,
    /// Provider port.
    pub port: u16,
}

/// Where the first node knows an off-cluster server from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum PeerSource {
    /// Its own configuration (`alternate_tftp` and `firewall` in the provider's config);
    /// only an administrator of the first node removes it.
    #[default]
    Configured,
    /// A client named it in the STAGE of the CTL that is now current.
    Stored,
}

impl PeerSource {
    const fn code(self) -> u8 {
        match self {
            Self::Configured => 1,
            Self::Stored => 2,
        }
    }
}

/// An off-cluster server (alternate TFTP or firewall).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Peer {
    /// Its name.
    pub name: String,
    /// Host name.
    pub host: String,
    /// Provider port.
    pub port: u16,
    /// Where the first node knows it from (MEMBERS_OK; not sent in STAGE).
    pub source: PeerSource,
}

/// The off-cluster servers a CTL covers, as a client tells the first node in STAGE.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OffCluster {
    /// Alternate TFTP servers.
    pub alternate_tftp: Vec<Peer>,
    /// Firewalls.
    pub firewalls: Vec<Peer>,
}

/// MEMBERS' answer.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Members {
    /// Every node of the cluster.
    pub members: Vec<Member>,
    /// Off-cluster alternate TFTP servers (configured, and stored with the current CTL).
    pub alternate_tftp: Vec<Peer>,
    /// Firewalls (configured, and stored with the current CTL).
    pub firewalls: Vec<Peer>,
}

/// What the on-commit hook did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookOutcome {
    /// Exit status (negative: killed or timed out).
    pub exit_status: i32,
    /// What it said, or why it failed.
    pub message: String,
}

/// An audit log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix seconds.
    pub time: u64,
    /// Who.
    pub user: String,
    /// What (stage, commit, abort, set-mode, put-capf, login-failed, ...).
    pub action: String,
    /// Details.
    pub message: String,
}

/// Error codes of ERROR responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 1: a malformed frame or message; the session closes.
    BadMessage,
    /// 2: no protocol version in common; the session closes.
    UnsupportedVersion,
    /// 3: this request needs a login first.
    NotLoggedIn,
    /// 4: wrong user or password.
    LoginRefused,
    /// 5: too many failed logins; try later.
    LockedOut,
    /// 6: the user's role may not do this.
    Forbidden,
    /// 7: only the first node does this.
    NotFirstNode,
    /// 8: the base hash is not the current CTL's (someone else committed first).
    Conflict,
    /// 9: the file is not a valid CTL (the parser's message says where).
    InvalidFile,
    /// 10: the CTL is not signed by a SAST of the current CTL.
    SignatureRefused,
    /// 11: another commit holds the lock.
    Busy,
    /// 12: no staged CTL with that hash.
    UnknownHash,
    /// 13: the node could not store the file; nothing changed.
    Storage,
    /// 14: too many sessions.
    TooManySessions,
    /// 15: a timeout; the session closes.
    Timeout,
    /// 16: an unknown message type.
    UnknownMessage,
    /// 17: anything else.
    Internal,
    /// A code this implementation does not know.
    Other(u16),
}

impl ErrorCode {
    /// The wire code.
    pub const fn code(self) -> u16 {
        match self {
            Self::BadMessage => 1,
            Self::UnsupportedVersion => 2,
            Self::NotLoggedIn => 3,
            Self::LoginRefused => 4,
            Self::LockedOut => 5,
            Self::Forbidden => 6,
            Self::NotFirstNode => 7,
            Self::Conflict => 8,
            Self::InvalidFile => 9,
            Self::SignatureRefused => 10,
            Self::Busy => 11,
            Self::UnknownHash => 12,
            Self::Storage => 13,
            Self::TooManySessions => 14,
            Self::Timeout => 15,
            Self::UnknownMessage => 16,
            Self::Internal => 17,
            Self::Other(c) => c,
        }
    }

    /// The error of a wire code.
    pub const fn from_code(code: u16) -> Self {
        match code {
            1 => Self::BadMessage,
            2 => Self::UnsupportedVersion,
            3 => Self::NotLoggedIn,
            4 => Self::LoginRefused,
            5 => Self::LockedOut,
            6 => Self::Forbidden,
            7 => Self::NotFirstNode,
            8 => Self::Conflict,
            9 => Self::InvalidFile,
            10 => Self::SignatureRefused,
            11 => Self::Busy,
            12 => Self::UnknownHash,
            13 => Self::Storage,
            14 => Self::TooManySessions,
            15 => Self::Timeout,
            16 => Self::UnknownMessage,
            17 => Self::Internal,
            c => Self::Other(c),
        }
    }
}

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
        /// The signed CTL.
        file: Vec<u8>,
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
        certificate: Vec<u8>,
    },
    /// Read the newest audit entries.
    Audit {
        /// At most this many.
        limit: u32,
    },
    /// End the session.
    Bye,
}

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
    LoginOk(Role),
    /// This node's facts.
    NodeInfo(NodeInfo),
    /// The cluster.
    Members(Members),
    /// The current CTL, if any: hash and bytes.
    Ctl(Option<([u8; 32], Vec<u8>)>),
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

    /// Encodes the request as a frame.
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
                    put_peers(&mut inner, &p.alternate_tftp, &p.firewalls, false);
                    w.put(tag::PEERS, &inner.finish());
                }
                w.put(tag::FILE, file);
            }
            Self::Commit { hash } | Self::Abort { hash } => {
                w.put(tag::HASH, hash);
            }
            Self::SetMode(m) => {
                w.put(tag::MODE, &[mode_code(*m)]);
            }
            Self::PutCapf { certificate } => {
                let mut v = 4u16.to_be_bytes().to_vec();
                v.extend_from_slice(certificate);
                w.put(tag::CERTIFICATE, &v);
            }
            Self::Audit { limit } => {
                w.put(tag::LIMIT, &limit.to_be_bytes());
            }
        }
        Frame {
            version: VERSION,
            kind: self.kind(),
            id,
            body: w.finish(),
        }
    }

    /// Decodes a request frame.
    ///
    /// # Errors
    /// An unknown type, a missing or malformed element.
    pub fn from_frame(frame: &Frame) -> Result<Self, ProtocolError> {
        let els = elements(&frame.body)?;
        let m = Msg {
            kind: frame.kind,
            els: &els,
        };
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
                let base = if base.is_empty() {
                    None
                } else {
                    Some(m.hash_of(base, tag::BASE_HASH)?)
                };
                let file = m.file()?.ok_or(m.bad("STAGE without FILE"))?;
                let peers = match m.opt(tag::PEERS) {
                    None => None,
                    Some(v) => {
                        let els = elements(v)?;
                        let mut out = OffCluster::default();
                        read_peers(
                            frame.kind,
                            &els,
                            &mut out.alternate_tftp,
                            &mut out.firewalls,
                        )?;
                        Some(out)
                    }
                };
                Self::Stage { base, file, peers }
            }
            kind::COMMIT => Self::Commit {
                hash: m.hash(tag::HASH)?,
            },
            kind::ABORT => Self::Abort {
                hash: m.hash(tag::HASH)?,
            },
            kind::SET_MODE => Self::SetMode(m.mode()?),
            kind::PUT_CAPF => Self::PutCapf {
                certificate: m
                    .certificates()?
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

impl Response {
    /// The message type (for a response to `request_kind`).
    pub const fn kind(&self, request_kind: u8) -> u8 {
        match self {
            Self::Error { .. } => kind::ERROR,
            _ => request_kind | kind::RESPONSE,
        }
    }

    /// An error response.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
        }
    }

    /// Encodes the response to a request of `request_kind`.
    pub fn to_frame(&self, id: u32, request_kind: u8) -> Frame {
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
            Self::NodeInfo(n) => {
                w.put(tag::NODE_NAME, n.name.as_bytes());
                for a in &n.addresses {
                    w.put(tag::ADDRESS, &address_bytes(*a));
                }
                w.put(tag::SERVICES, &n.services.to_be_bytes())
                    .put(tag::FIRST_NODE, &[u8::from(n.first_node)]);
                for c in &n.certificates {
                    let mut v = c.role.to_be_bytes().to_vec();
                    v.extend_from_slice(&c.der);
                    w.put(tag::CERTIFICATE, &v);
                }
            }
            Self::Members(m) => {
                for member in &m.members {
                    let mut inner = BodyWriter::new();
                    inner
                        .put(tag::NODE_NAME, member.name.as_bytes())
                        .put(tag::HOST, member.host.as_bytes());
                    for a in &member.addresses {
                        inner.put(tag::ADDRESS, &address_bytes(*a));
                    }
                    inner
                        .put(tag::SERVICES, &member.services.to_be_bytes())
                        .put(tag::PORT, &member.port.to_be_bytes());
                    w.put(tag::MEMBER, &inner.finish());
                }
                put_peers(&mut w, &m.alternate_tftp, &m.firewalls, true);
            }
            Self::Ctl(current) => {
                if let Some((hash, file)) = current {
                    w.put(tag::HASH, hash).put(tag::FILE, file);
                }
            }
            Self::Mode(m) | Self::ModeSet(m) => {
                w.put(tag::MODE, &[mode_code(*m)]);
            }
            Self::Staged(h) | Self::Aborted(h) => {
                w.put(tag::HASH, h);
            }
            Self::Committed { hash, hook } => {
                w.put(tag::HASH, hash);
                if let Some(h) = hook {
                    let mut inner = BodyWriter::new();
                    inner
                        .put(tag::EXIT_STATUS, &h.exit_status.to_be_bytes())
                        .put(tag::MESSAGE, h.message.as_bytes());
                    w.put(tag::HOOK, &inner.finish());
                }
            }
            Self::CapfStored | Self::ByeOk => {}
            Self::Audit(entries) => {
                for e in entries {
                    let mut inner = BodyWriter::new();
                    inner
                        .put(tag::TIME, &e.time.to_be_bytes())
                        .put(tag::USER, e.user.as_bytes())
                        .put(tag::ACTION, e.action.as_bytes())
                        .put(tag::MESSAGE, e.message.as_bytes());
                    w.put(tag::AUDIT_ENTRY, &inner.finish());
                }
            }
            Self::Error { code, message } => {
                w.put(tag::ERROR_CODE, &code.code().to_be_bytes())
                    .put(tag::MESSAGE, message.as_bytes());
            }
        }
        Frame {
            version: VERSION,
            kind: self.kind(request_kind),
            id,
            body: w.finish(),
        }
    }

    /// Decodes a response frame.
    ///
    /// # Errors
    /// An unknown type, a missing or malformed element.
    pub fn from_frame(frame: &Frame) -> Result<Self, ProtocolError> {
        let els = elements(&frame.body)?;
        let m = Msg {
            kind: frame.kind,
            els: &els,
        };
        if frame.kind == kind::ERROR {
            return Ok(Self::Error {
                code: ErrorCode::from_code(m.u16(tag::ERROR_CODE)?),
                message: m.opt_text(tag::MESSAGE)?.unwrap_or_default(),
            });
        }
        Ok(match frame.kind & !kind::RESPONSE {
            _ if frame.kind & kind::RESPONSE == 0 => {
                return Err(ProtocolError::UnknownMessage { kind: frame.kind });
            }
            kind::HELLO => Self::HelloOk {
                version: m.u8(tag::VERSION)?,
                node: m.opt_text(tag::NODE_NAME)?.unwrap_or_default(),
                software: m.opt_text(tag::SOFTWARE)?.unwrap_or_default(),
            },
            kind::LOGIN => Self::LoginOk(match m.u8(tag::ROLE)? {
                1 => Role::SuperUser,
                2 => Role::ReadOnly,
                _ => return Err(m.bad("unknown ROLE")),
            }),
            kind::NODE_INFO => Self::NodeInfo(NodeInfo {
                name: m.text(tag::NODE_NAME)?,
                addresses: m.addresses()?,
                services: m.u16(tag::SERVICES)?,
                first_node: m.opt_u8(tag::FIRST_NODE)?.unwrap_or(0) != 0,
                certificates: m.certificates()?,
            }),
            kind::MEMBERS => {
                let mut out = Members::default();
                for e in m.els.iter().filter(|e| e.tag == tag::MEMBER) {
                    let inner_els = elements(e.value)?;
                    let inner = Msg {
                        kind: frame.kind,
                        els: &inner_els,
                    };
                    out.members.push(Member {
                        name: inner.text(tag::NODE_NAME)?,
                        host: inner.text(tag::HOST)?,
                        addresses: inner.addresses()?,
                        services: inner.u16(tag::SERVICES)?,
                        port: inner.u16(tag::PORT)?,
                    });
                }
                read_peers(
                    frame.kind,
                    m.els,
                    &mut out.alternate_tftp,
                    &mut out.firewalls,
                )?;
                Self::Members(out)
            }
            kind::GET_CTL => match m.opt(tag::HASH) {
                None => Self::Ctl(None),
                Some(h) => Self::Ctl(Some((
                    m.hash_of(h, tag::HASH)?,
                    m.file()?.ok_or(m.bad("CTL hash without FILE"))?,
                ))),
            },
            kind::GET_MODE => Self::Mode(m.mode()?),
            kind::STAGE => Self::Staged(m.hash(tag::HASH)?),
            kind::COMMIT => Self::Committed {
                hash: m.hash(tag::HASH)?,
                hook: match m.opt(tag::HOOK) {
                    None => None,
                    Some(v) => {
                        let inner_els = elements(v)?;
                        let inner = Msg {
                            kind: frame.kind,
                            els: &inner_els,
                        };
                        let status = <[u8; 4]>::try_from(inner.req(tag::EXIT_STATUS)?)
                            .map_err(|_| inner.bad("EXIT_STATUS is 4 bytes"))?;
                        Some(HookOutcome {
                            exit_status: i32::from_be_bytes(status),
                            message: inner.opt_text(tag::MESSAGE)?.unwrap_or_default(),
                        })
                    }
                },
            },
            kind::ABORT => Self::Aborted(m.hash(tag::HASH)?),
            kind::SET_MODE => Self::ModeSet(m.mode()?),
            kind::PUT_CAPF => Self::CapfStored,
            kind::AUDIT => {
                let mut entries = Vec::new();
                for e in m.els.iter().filter(|e| e.tag == tag::AUDIT_ENTRY) {
                    let inner_els = elements(e.value)?;
                    let inner = Msg {
                        kind: frame.kind,
                        els: &inner_els,
                    };
                    let time = <[u8; 8]>::try_from(inner.req(tag::TIME)?)
                        .map_err(|_| inner.bad("TIME is 8 bytes"))?;
                    entries.push(AuditEntry {
                        time: u64::from_be_bytes(time),
                        user: inner.text(tag::USER)?,
                        action: inner.text(tag::ACTION)?,
                        message: inner.opt_text(tag::MESSAGE)?.unwrap_or_default(),
                    });
                }
                Self::Audit(entries)
            }
            kind::BYE => Self::ByeOk,
            _ => return Err(ProtocolError::UnknownMessage { kind: frame.kind }),
        })
    }
}

/// Writes ALTERNATE_TFTP and FIREWALL elements (with SOURCE when `with_source`).
fn put_peers(w: &mut BodyWriter, alternate_tftp: &[Peer], firewalls: &[Peer], with_source: bool) {
    for (t, peers) in [
        (tag::ALTERNATE_TFTP, alternate_tftp),
        (tag::FIREWALL, firewalls),
    ] {
        for p in peers {
            let mut inner = BodyWriter::new();
            inner
                .put(tag::NODE_NAME, p.name.as_bytes())
                .put(tag::HOST, p.host.as_bytes())
                .put(tag::PORT, &p.port.to_be_bytes());
            if with_source {
                inner.put(tag::SOURCE, &[p.source.code()]);
            }
            w.put(t, &inner.finish());
        }
    }
}

/// Reads the ALTERNATE_TFTP and FIREWALL elements among `els` (SOURCE absent: configured).
fn read_peers(
    kind: u8,
    els: &[Element<'_>],
    alternate_tftp: &mut Vec<Peer>,
    firewalls: &mut Vec<Peer>,
) -> Result<(), ProtocolError> {
    for e in els {
        let list = match e.tag {
            tag::ALTERNATE_TFTP => &mut *alternate_tftp,
            tag::FIREWALL => &mut *firewalls,
            _ => continue,
        };
        let inner_els = elements(e.value)?;
        let inner = Msg {
            kind,
            els: &inner_els,
        };
        let source = match inner.opt_u8(tag::SOURCE)? {
            None | Some(1) => PeerSource::Configured,
            Some(2) => PeerSource::Stored,
            Some(_) => return Err(inner.bad("SOURCE other than 1 or 2")),
        };
        list.push(Peer {
            name: inner.text(tag::NODE_NAME)?,
            host: inner.text(tag::HOST)?,
            port: inner.u16(tag::PORT)?,
            source,
        });
    }
    Ok(())
}

const fn mode_code(m: SecurityMode) -> u8 {
    match m {
        SecurityMode::NonSecure => 0,
        SecurityMode::Mixed => 1,
    }
}

fn address_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// Element lookups for one message, with errors that name the message and the element.
struct Msg<'e, 'a> {
    kind: u8,
    els: &'e [Element<'a>],
}

impl<'a> Msg<'_, 'a> {
    fn bad(&self, reason: &'static str) -> ProtocolError {
        ProtocolError::BadMessage {
            kind: self.kind,
            reason,
        }
    }

    fn opt(&self, t: u8) -> Option<&'a [u8]> {
        self.els.iter().find(|e| e.tag == t).map(|e| e.value)
    }

    fn req(&self, t: u8) -> Result<&'a [u8], ProtocolError> {
        self.opt(t).ok_or(ProtocolError::MissingElement {
            kind: self.kind,
            tag: t,
        })
    }

    fn text(&self, t: u8) -> Result<String, ProtocolError> {
        String::from_utf8(self.req(t)?.to_vec()).map_err(|_| self.bad("text that is not UTF-8"))
    }

    fn opt_text(&self, t: u8) -> Result<Option<String>, ProtocolError> {
        self.opt(t)
            .map(|v| String::from_utf8(v.to_vec()).map_err(|_| self.bad("text that is not UTF-8")))
            .transpose()
    }

    fn u8(&self, t: u8) -> Result<u8, ProtocolError> {
        self.opt_u8(t)?.ok_or(ProtocolError::MissingElement {
            kind: self.kind,
            tag: t,
        })
    }

    fn opt_u8(&self, t: u8) -> Result<Option<u8>, ProtocolError> {
        self.opt(t)
            .map(|v| {
                <[u8; 1]>::try_from(v)
                    .map(|[b]| b)
                    .map_err(|_| self.bad("a 1-byte element of another size"))
            })
            .transpose()
    }

    fn u16(&self, t: u8) -> Result<u16, ProtocolError> {
        <[u8; 2]>::try_from(self.req(t)?)
            .map(u16::from_be_bytes)
            .map_err(|_| self.bad("a 2-byte element of another size"))
    }

    fn opt_u32(&self, t: u8) -> Result<Option<u32>, ProtocolError> {
        self.opt(t)
            .map(|v| {
                <[u8; 4]>::try_from(v)
                    .map(u32::from_be_bytes)
                    .map_err(|_| self.bad("a 4-byte element of another size"))
            })
            .transpose()
    }

    fn hash_of(&self, v: &[u8], _t: u8) -> Result<[u8; 32], ProtocolError> {
        <[u8; 32]>::try_from(v).map_err(|_| self.bad("a hash that is not 32 bytes"))
    }

    fn hash(&self, t: u8) -> Result<[u8; 32], ProtocolError> {
        self.hash_of(self.req(t)?, t)
    }

    fn mode(&self) -> Result<SecurityMode, ProtocolError> {
        match self.u8(tag::MODE)? {
            0 => Ok(SecurityMode::NonSecure),
            1 => Ok(SecurityMode::Mixed),
            _ => Err(self.bad("MODE other than 0 or 1")),
        }
    }

    fn addresses(&self) -> Result<Vec<IpAddr>, ProtocolError> {
        self.els
            .iter()
            .filter(|e| e.tag == tag::ADDRESS)
            .map(|e| {
                if let Ok(v4) = <[u8; 4]>::try_from(e.value) {
                    Ok(IpAddr::from(v4))
                } else if let Ok(v6) = <[u8; 16]>::try_from(e.value) {
                    Ok(IpAddr::from(v6))
                } else {
                    Err(self.bad("ADDRESS of neither 4 nor 16 bytes"))
                }
            })
            .collect()
    }

    fn certificates(&self) -> Result<Vec<RoleCertificate>, ProtocolError> {
        self.els
            .iter()
            .filter(|e| e.tag == tag::CERTIFICATE)
            .map(|e| match e.value {
                [a, b, der @ ..] if !der.is_empty() => Ok(RoleCertificate {
                    role: u16::from_be_bytes([*a, *b]),
                    der: der.to_vec(),
                }),
                _ => Err(self.bad("CERTIFICATE without a role and a certificate")),
            })
            .collect()
    }

    /// The concatenated FILE chunks, if any; at most [`MAX_FILE`] bytes.
    fn file(&self) -> Result<Option<Vec<u8>>, ProtocolError> {
        let mut out: Option<Vec<u8>> = None;
        for e in self.els.iter().filter(|e| e.tag == tag::FILE) {
            let buf = out.get_or_insert_with(Vec::new);
            if buf.len() + e.value.len() > MAX_FILE {
                return Err(ProtocolError::FileTooLarge { limit: MAX_FILE });
            }
            buf.extend_from_slice(e.value);
        }
        Ok(out)
    }
}
