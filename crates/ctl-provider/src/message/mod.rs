//! Typed messages and their encoding (`docs/protocol.md`, sections 4 to 6): message
//! types and element tags here, each [`Request`] and [`Response`] with its encoder and
//! decoder in its own module, the types they carry in [`crate::types`].

mod request;
mod response;

pub use request::Request;
pub use response::Response;
// The types messages carry, where callers of the messages look for them.
pub use crate::types::{
    AuditEntry, ErrorCode, HookOutcome, Member, Members, NodeInfo, OffCluster, Password, Peer,
    PeerSource, RoleCertificate, SecurityMode, UserRole, service,
};

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
    /// Where an off-cluster server comes from, 1 byte (see [`crate::types::PeerSource`]).
    pub const SOURCE: u8 = 0x1D;
    /// A chunk of a file; consecutive FILE elements are concatenated.
    pub const FILE: u8 = 0x20;
}
