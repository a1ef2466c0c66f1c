//! The protocol's domain types (a node's facts, the member list, off-cluster servers, the
//! hook's outcome, audit entries, roles, modes, error codes), each with its element layout.

use std::fmt;
use std::net::IpAddr;

use bytes::Bytes;
use zeroize::Zeroizing;

use crate::ProtocolError;
use crate::element::{BodyWriter, Elements, address_bytes, tag};

/// What an authenticated user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserRole {
    /// May read, stage, commit and change the mode.
    SuperUser,
    /// May only read.
    ReadOnly,
}

impl UserRole {
    /// The ROLE byte.
    pub const fn code(self) -> u8 {
        match self {
            Self::SuperUser => 1,
            Self::ReadOnly => 2,
        }
    }

    /// The role of a ROLE byte.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::SuperUser),
            2 => Some(Self::ReadOnly),
            _ => None,
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

impl SecurityMode {
    /// The MODE byte.
    pub const fn code(self) -> u8 {
        match self {
            Self::NonSecure => 0,
            Self::Mixed => 1,
        }
    }

    /// The mode of a MODE byte.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::NonSecure),
            1 => Some(Self::Mixed),
            _ => None,
        }
    }

    /// `mixed` or `non-secure`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NonSecure => "non-secure",
            Self::Mixed => "mixed",
        }
    }
}

impl fmt::Display for SecurityMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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
    pub der: Bytes,
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
    /// The SOURCE byte.
    pub const fn code(self) -> u8 {
        match self {
            Self::Configured => 1,
            Self::Stored => 2,
        }
    }

    /// The source of a SOURCE byte.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Configured),
            2 => Some(Self::Stored),
            _ => None,
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
    /// 18: the file is not newer than the current CTL, or was committed before.
    Rollback,
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
            Self::Rollback => 18,
            Self::Other(c) => c,
        }
    }

    /// The name the protocol gives the code (`CONFLICT`, `LOCKED_OUT`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::BadMessage => "BAD_MESSAGE",
            Self::UnsupportedVersion => "UNSUPPORTED_VERSION",
            Self::NotLoggedIn => "NOT_LOGGED_IN",
            Self::LoginRefused => "LOGIN_REFUSED",
            Self::LockedOut => "LOCKED_OUT",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFirstNode => "NOT_FIRST_NODE",
            Self::Conflict => "CONFLICT",
            Self::InvalidFile => "INVALID_FILE",
            Self::SignatureRefused => "SIGNATURE_REFUSED",
            Self::Busy => "BUSY",
            Self::UnknownHash => "UNKNOWN_HASH",
            Self::Storage => "STORAGE",
            Self::TooManySessions => "TOO_MANY_SESSIONS",
            Self::Timeout => "TIMEOUT",
            Self::UnknownMessage => "UNKNOWN_MESSAGE",
            Self::Internal => "INTERNAL",
            Self::Rollback => "ROLLBACK",
            Self::Other(_) => "an unknown error code",
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
            18 => Self::Rollback,
            c => Self::Other(c),
        }
    }
}

// The element layout of each nested type, its encoder beside its decoder.

impl RoleCertificate {
    /// CERTIFICATE: the role code (u16) then the DER.
    pub(crate) fn put(&self, w: &mut BodyWriter) {
        let mut v = self.role.to_be_bytes().to_vec();
        v.extend_from_slice(&self.der);
        w.put(tag::CERTIFICATE, &v);
    }

    /// Every CERTIFICATE of `e`.
    pub(crate) fn read_all(e: &Elements<'_>) -> Result<Vec<Self>, ProtocolError> {
        e.all(tag::CERTIFICATE)
            .map(|v| match v {
                [a, b, der @ ..] if !der.is_empty() => Ok(Self {
                    role: u16::from_be_bytes([*a, *b]),
                    der: e.share(der),
                }),
                _ => Err(e.bad("CERTIFICATE without a role and a certificate")),
            })
            .collect()
    }
}

impl NodeInfo {
    pub(crate) fn put(&self, w: &mut BodyWriter) {
        w.put(tag::NODE_NAME, self.name.as_bytes());
        for a in &self.addresses {
            w.put(tag::ADDRESS, &address_bytes(*a));
        }
        w.put(tag::SERVICES, &self.services.to_be_bytes())
            .put(tag::FIRST_NODE, &[u8::from(self.first_node)]);
        for c in &self.certificates {
            c.put(w);
        }
    }

    pub(crate) fn read(e: &Elements<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            name: e.text(tag::NODE_NAME)?,
            addresses: e.addresses(tag::ADDRESS)?,
            services: e.u16(tag::SERVICES)?,
            first_node: e.opt_u8(tag::FIRST_NODE)?.unwrap_or(0) != 0,
            certificates: RoleCertificate::read_all(e)?,
        })
    }
}

impl Member {
    /// MEMBER, nested.
    pub(crate) fn put(&self, w: &mut BodyWriter) {
        let mut inner = BodyWriter::new();
        inner
            .put(tag::NODE_NAME, self.name.as_bytes())
            .put(tag::HOST, self.host.as_bytes());
        for a in &self.addresses {
            inner.put(tag::ADDRESS, &address_bytes(*a));
        }
        inner
            .put(tag::SERVICES, &self.services.to_be_bytes())
            .put(tag::PORT, &self.port.to_be_bytes());
        w.put(tag::MEMBER, &inner.finish());
    }

    pub(crate) fn read(e: &Elements<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            name: e.text(tag::NODE_NAME)?,
            host: e.text(tag::HOST)?,
            addresses: e.addresses(tag::ADDRESS)?,
            services: e.u16(tag::SERVICES)?,
            port: e.u16(tag::PORT)?,
        })
    }
}

impl Peer {
    /// ALTERNATE_TFTP or FIREWALL (`t`), nested; SOURCE only when `with_source`.
    pub(crate) fn put(&self, w: &mut BodyWriter, t: u8, with_source: bool) {
        let mut inner = BodyWriter::new();
        inner
            .put(tag::NODE_NAME, self.name.as_bytes())
            .put(tag::HOST, self.host.as_bytes())
            .put(tag::PORT, &self.port.to_be_bytes());
        if with_source {
            inner.put(tag::SOURCE, &[self.source.code()]);
        }
        w.put(t, &inner.finish());
    }

    /// SOURCE absent: configured.
    pub(crate) fn read(e: &Elements<'_>) -> Result<Self, ProtocolError> {
        let source = match e.opt_u8(tag::SOURCE)? {
            None => PeerSource::Configured,
            Some(c) => PeerSource::from_code(c).ok_or(e.bad("SOURCE other than 1 or 2"))?,
        };
        Ok(Self {
            name: e.text(tag::NODE_NAME)?,
            host: e.text(tag::HOST)?,
            port: e.u16(tag::PORT)?,
            source,
        })
    }
}

impl OffCluster {
    /// ALTERNATE_TFTP and FIREWALL elements, without SOURCE.
    pub(crate) fn put(&self, w: &mut BodyWriter, with_source: bool) {
        for p in &self.alternate_tftp {
            p.put(w, tag::ALTERNATE_TFTP, with_source);
        }
        for p in &self.firewalls {
            p.put(w, tag::FIREWALL, with_source);
        }
    }

    pub(crate) fn read(e: &Elements<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            alternate_tftp: e.each(tag::ALTERNATE_TFTP, Peer::read)?,
            firewalls: e.each(tag::FIREWALL, Peer::read)?,
        })
    }
}

impl Members {
    pub(crate) fn put(&self, w: &mut BodyWriter) {
        for m in &self.members {
            m.put(w);
        }
        for p in &self.alternate_tftp {
            p.put(w, tag::ALTERNATE_TFTP, true);
        }
        for p in &self.firewalls {
            p.put(w, tag::FIREWALL, true);
        }
    }

    pub(crate) fn read(e: &Elements<'_>) -> Result<Self, ProtocolError> {
        let OffCluster {
            alternate_tftp,
            firewalls,
        } = OffCluster::read(e)?;
        Ok(Self {
            members: e.each(tag::MEMBER, Member::read)?,
            alternate_tftp,
            firewalls,
        })
    }
}

impl HookOutcome {
    /// HOOK, nested.
    pub(crate) fn put(&self, w: &mut BodyWriter) {
        let mut inner = BodyWriter::new();
        inner
            .put(tag::EXIT_STATUS, &self.exit_status.to_be_bytes())
            .put(tag::MESSAGE, self.message.as_bytes());
        w.put(tag::HOOK, &inner.finish());
    }

    pub(crate) fn read(e: &Elements<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            exit_status: e.i32(tag::EXIT_STATUS, "EXIT_STATUS is 4 bytes")?,
            message: e.opt_text(tag::MESSAGE)?.unwrap_or_default(),
        })
    }
}

impl AuditEntry {
    /// The most bytes of USER sent (a failed login may name anything).
    pub const MAX_USER: usize = 256;
    /// The most bytes of ACTION sent.
    pub const MAX_ACTION: usize = 64;
    /// The most bytes of MESSAGE sent.
    pub const MAX_MESSAGE: usize = 4096;

    /// AUDIT_ENTRY, nested; its texts cut to their limits, so the entry stays one element
    /// (under 65,535 bytes) whatever was logged.
    pub(crate) fn put(&self, w: &mut BodyWriter) {
        let mut inner = BodyWriter::new();
        inner
            .put(tag::TIME, &self.time.to_be_bytes())
            .put(tag::USER, cut_text(&self.user, Self::MAX_USER).as_bytes())
            .put(
                tag::ACTION,
                cut_text(&self.action, Self::MAX_ACTION).as_bytes(),
            )
            .put(
                tag::MESSAGE,
                cut_text(&self.message, Self::MAX_MESSAGE).as_bytes(),
            );
        w.put(tag::AUDIT_ENTRY, &inner.finish());
    }

    pub(crate) fn read(e: &Elements<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            time: e.u64(tag::TIME, "TIME is 8 bytes")?,
            user: e.text(tag::USER)?,
            action: e.text(tag::ACTION)?,
            message: e.opt_text(tag::MESSAGE)?.unwrap_or_default(),
        })
    }
}

/// `text` if it has at most `limit` bytes, else its longest prefix (at a character
/// boundary) with `…` after it: how untrusted texts are shortened for the wire and logs.
pub fn cut_text(text: &str, limit: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= limit {
        return std::borrow::Cow::Borrowed(text);
    }
    let end = text.floor_char_boundary(limit);
    std::borrow::Cow::Owned(format!("{}…", &text[..end]))
}
