#![doc = include_str!("../README.md")]
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
