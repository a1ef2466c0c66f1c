//! The tokio + rustls shell around the sans-I/O core: TLS 1.3 (1.2 allowed) servers and
//! client sessions, certificate pinning, session caps and timeouts, cluster discovery.

mod admission;
pub mod discovery;
mod process;
mod server;
mod session;
mod tls;

pub use rustls;

pub use admission::Source;
pub use discovery::{Target, discover, visit_peer};
pub use process::{is_dumpable, protect_secrets, raise_descriptor_limit};
pub use server::{Handler, PeerInfo, ServeConfig, serve};
pub use session::{Connector, Session};
pub use tls::{
    ClientIdentity, KeyError, KeyScheme, TlsKey, client_tls, client_tls_for,
    client_tls_with_identity, crypto_provider, server_tls, server_tls_with_client_certificates,
};

use crate::conn::CloseReason;
use crate::message::{ErrorCode, kind};
use crate::trust::Untrusted;

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A socket error.
    #[error("{}", io_text(.0))]
    Io(#[from] std::io::Error),
    /// A TLS error other than a certificate the trust policy refused.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The server is not a CTL provider: it does not speak TLS, or it completed TLS but
    /// did not answer the protocol's HELLO.
    #[error("not a CTL provider ({0})")]
    NotAProvider(String),
    /// The provider's certificate is not trusted.
    #[error("{0}")]
    Untrusted(#[from] Untrusted),
    /// Something took too long.
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// The provider answered a request with an error.
    #[error("{message} ({})", code.name())]
    Refused {
        /// The error code.
        code: ErrorCode,
        /// The provider's text.
        message: String,
    },
    /// The provider answered with a message that does not answer the request.
    #[error("{} answered {}", kind::name(*.request), kind::name(*.answer))]
    Unexpected {
        /// The request's type.
        request: u8,
        /// The answer's type.
        answer: u8,
    },
    /// The session ended (the provider closed it with an error, or broke the protocol).
    #[error("{0}")]
    Ended(CloseReason),
    /// The provider closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// A host name that does not resolve.
    #[error("{host} does not resolve: {}", ctl_format::io_words(source))]
    Unresolvable {
        /// The host name.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// A host name that resolves to no address.
    #[error("{host} has no address")]
    NoAddress {
        /// The host name.
        host: String,
    },
    /// A server name that is neither a DNS name nor an address.
    #[error("invalid server name \"{0}\"")]
    ServerName(String),
}

/// An I/O error in words: without the OS error number and without a library's pointer
/// to its documentation (rustls names a URL when a peer vanishes without close_notify).
pub(crate) fn io_text(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::UnexpectedEof => "the connection ended in the middle of the session".to_owned(),
        K::ConnectionRefused => "connection refused".to_owned(),
        K::ConnectionReset => "the connection was reset".to_owned(),
        K::ConnectionAborted => "the connection was aborted".to_owned(),
        K::BrokenPipe => "the connection was closed while writing".to_owned(),
        K::TimedOut => "timed out".to_owned(),
        _ => ctl_format::io_words(e),
    }
}

impl NetError {
    /// The provider's error code, when it refused.
    pub const fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused { code, .. } | Self::Ended(CloseReason::Refused { code, .. }) => {
                Some(*code)
            }
            _ => None,
        }
    }
}
