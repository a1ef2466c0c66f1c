//! Typed messages and their encoding (`docs/protocol.md`, sections 4 to 6): message
//! types and element tags here, each [`Request`] and [`Response`] with its encoder and
//! decoder in its own module, the types they carry in [`crate::types`].

mod request;
mod response;

pub use request::Request;
pub use response::Response;
// Element tags live with the elements; messages are where callers look for them.
pub use crate::element::tag;
// The types messages carry, where callers of the messages look for them.
pub use crate::types::{
    AuditEntry, ErrorCode, HookOutcome, Member, Members, NodeInfo, OffCluster, Password, Peer,
    PeerSource, RoleCertificate, SecurityMode, UserRole, cut_text, service,
};

/// The TCP port of the CTL provider service (as Cisco's CTL Provider uses it).
pub const DEFAULT_PORT: u16 = 2444;

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

    /// The name of a message type (`STAGE`, `STAGE_OK`, `ERROR`), as logs and errors show it.
    pub const fn name(kind: u8) -> &'static str {
        let request = kind & !RESPONSE;
        let names: (&str, &str) = match request {
            HELLO => ("HELLO", "HELLO_OK"),
            LOGIN => ("LOGIN", "LOGIN_OK"),
            NODE_INFO => ("NODE_INFO", "NODE_INFO_OK"),
            MEMBERS => ("MEMBERS", "MEMBERS_OK"),
            GET_CTL => ("GET_CTL", "GET_CTL_OK"),
            GET_MODE => ("GET_MODE", "GET_MODE_OK"),
            STAGE => ("STAGE", "STAGE_OK"),
            COMMIT => ("COMMIT", "COMMIT_OK"),
            ABORT => ("ABORT", "ABORT_OK"),
            SET_MODE => ("SET_MODE", "SET_MODE_OK"),
            PUT_CAPF => ("PUT_CAPF", "PUT_CAPF_OK"),
            AUDIT => ("AUDIT", "AUDIT_OK"),
            BYE => ("BYE", "BYE_OK"),
            _ if kind == ERROR => return "ERROR",
            _ => return "an unknown message type",
        };
        if kind & RESPONSE == 0 {
            names.0
        } else {
            names.1
        }
    }
}
