//! The CTL provider protocol: how the `ctl` client and the `ctl-providerd` node service
//! talk (`docs/protocol.md` is the specification).
//!
//! The core is sans-I/O: frames ([`frame`]) and their elements ([`element`]), messages
//! ([`message`]) and the types they carry ([`types`]), the client and server session state
//! machines ([`conn`]), the cluster as a client sees it ([`cluster`]), the trust placed in
//! provider certificates ([`trust`]) and the CTL hash ([`ctl_hash`]). It does **not** open
//! sockets, run TLS, start tasks, read files or read clocks: callers feed it bytes and the
//! current `Instant`, and send the bytes it gives back. The `net` feature (default) adds
//! the tokio + rustls shell in [`net`]: TLS, the server, client sessions, discovery.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod cluster;
pub mod conn;
pub mod element;
mod error;
pub mod frame;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod message;
#[cfg(feature = "net")]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub mod net;
pub mod trust;
pub mod types;

pub use conn::{ClientConn, ClientEvent, ServerConfig, ServerConn, ServerEvent};
pub use error::ProtocolError;
pub use message::{ErrorCode, Request, Response};

/// The CTL hash the protocol defines (STAGE, COMMIT, GET_CTL): SHA-256 of the file.
pub fn ctl_hash(file: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(file).into()
}
