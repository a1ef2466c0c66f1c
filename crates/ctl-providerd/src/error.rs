//! Why the daemon cannot start or a node cannot be set up: one typed error, each variant
//! naming the file or setting that is wrong.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A setting of the configuration that is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A service name the node does not know.
    #[error(
        "{context}: unknown service \"{name}\" (known: callmanager, tftp, capf, tvs, provider)"
    )]
    UnknownService {
        /// Where it was (`services`, `member NAME`).
        context: String,
        /// The name, cut and escaped for showing.
        name: String,
    },
    /// A user role other than `super-user` or `read-only`.
    #[error("user {user}: role must be super-user or read-only, found \"{role}\"")]
    Role {
        /// The user.
        user: String,
        /// What the file says, cut and escaped for showing.
        role: String,
    },
    /// A password hash that is not an argon2 PHC string.
    #[error("user {user}: password_hash must be an argon2 PHC string")]
    PasswordHash {
        /// The user.
        user: String,
    },
    /// No user at all.
    #[error("no [[user]]")]
    NoUser,
    /// A `NAME=HOST:PORT` that is not one (the text cut and escaped for showing).
    #[error("\"{0}\": expected NAME=HOST:PORT")]
    Endpoint(String),
    /// A name or host with control characters.
    #[error("{key} \"{shown}\": has control characters")]
    ControlCharacters {
        /// Which setting.
        key: &'static str,
        /// The text, cut and escaped for showing.
        shown: String,
    },
    /// A user name no LOGIN can carry.
    #[error("user name \"{shown}\": {why}")]
    UserName {
        /// The name, cut and escaped for showing.
        shown: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A limit that would stop the node from serving, or from being bounded.
    #[error("[limits] {key} = {value}: must be at least {min}")]
    Limit {
        /// The key.
        key: &'static str,
        /// What the file says.
        value: u64,
        /// The smallest value that works.
        min: u64,
    },
}

/// Why the daemon cannot start, or `init` cannot write a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// A file cannot be read or written.
    #[error("{}: {}", path.display(), ctl_format::io_words(source))]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is not TOML of the expected shape.
    #[error("{}: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// What the parser says, with the line.
        message: String,
    },
    /// A setting is not valid.
    #[error("{}: {source}", path.display())]
    Config {
        /// The file (or directory) it comes from.
        path: PathBuf,
        /// Which setting.
        source: ConfigError,
    },
    /// A setting of a configuration built in code is not valid.
    #[error("configuration: {0}")]
    Invalid(#[from] ConfigError),
    /// A certificate that cannot be read.
    #[error("{}: {source}", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ctl_format::CertificateError,
    },
    /// A PEM file without the block it must have.
    #[error("{}: no {label} block", path.display())]
    NoPem {
        /// The file.
        path: PathBuf,
        /// The label.
        label: String,
    },
    /// The TLS identity cannot be used.
    #[error("TLS identity: {0}")]
    Tls(#[source] ctl_provider::net::NetError),
    /// The address cannot be listened on.
    #[error("listen on {addr}: {}", ctl_format::io_words(source))]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The node's storage (TFTP and state directories, state.json) cannot be used.
    #[error("storage: {}", ctl_format::io_words(.0))]
    Storage(#[source] std::io::Error),
    /// The async runtime cannot start.
    #[error("runtime: {}", ctl_format::io_words(.0))]
    Runtime(#[source] std::io::Error),
    /// The server stopped.
    #[error("serving: {0}")]
    Serve(#[source] ctl_provider::net::NetError),
    /// `init` on a directory that holds a node, without `force`.
    #[error(
        "{}: holds a node already ({file}); give --force to replace it (its files are kept in a dated backup)",
        dir.display()
    )]
    NodeExists {
        /// The directory.
        dir: PathBuf,
        /// The first of its node files found.
        file: String,
    },
    /// An empty password.
    #[error("the password is empty")]
    EmptyPassword,
    /// A password file whose first line is empty.
    #[error("{}: empty password", path.display())]
    EmptyPasswordFile {
        /// The file.
        path: PathBuf,
    },
    /// A key or certificate cannot be made.
    #[error("making the node's {what}: {message}")]
    Identity {
        /// Which (`key`, `certificate`).
        what: &'static str,
        /// Why.
        message: String,
    },
    /// The password cannot be hashed.
    #[error("hashing the password: {0}")]
    Hash(String),
}

impl DaemonError {
    /// A file error at `path`.
    pub(crate) fn file(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::File { path, source }
    }
}
