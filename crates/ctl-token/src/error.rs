//! The error of every signer and token operation.

use std::path::PathBuf;
use std::time::Duration;

use ctl_format::CertificateError;

use crate::pkcs11::uri::UriError;

/// Key and certificate files are small; anything larger is not one.
pub(crate) const MAX_PEM_FILE: u64 = 1024 * 1024;

/// Why a signer could not be made, could not sign, or a token operation failed.
///
/// No variant carries key material or a PIN: texts name the file, the token and the problem only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("{}: {}", path.display(), ctl_format::io_words(source))]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than any key or certificate file.
    #[error("{path}: over {MAX_PEM_FILE} bytes, not a key or certificate file")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// No private key block in the PEM text.
    #[error("{what}: no private key (expected a PEM block PRIVATE KEY or RSA PRIVATE KEY)")]
    NoKey {
        /// Where it was looked for.
        what: String,
    },
    /// No certificate in the PEM text, and none given.
    #[error("{what}: no certificate (expected a PEM block CERTIFICATE)")]
    NoCertificate {
        /// Where it was looked for.
        what: String,
    },
    /// An encrypted private key.
    #[error(
        "{what}: the private key is encrypted; decrypt it first (openssl pkcs8 -in KEY -out PLAIN)"
    )]
    EncryptedKey {
        /// Where it was found.
        what: String,
    },
    /// A key that is not RSA.
    #[error("{what}: the key is {algorithm}; CTL, ITL and .sgn files can only be signed with RSA")]
    KeyNotRsa {
        /// Where it was found.
        what: String,
        /// The algorithm found.
        algorithm: &'static str,
    },
    /// The key could not be decoded (the decoder's message, which carries no key material).
    #[error("{what}: invalid RSA private key: {reason}")]
    InvalidKey {
        /// Where it was found.
        what: String,
        /// Why.
        reason: String,
    },
    /// The certificate could not be decoded.
    #[error("{what}: {source}")]
    Certificate {
        /// Where it was found.
        what: String,
        /// Why.
        source: CertificateError,
    },
    /// The key does not belong to the certificate.
    #[error("{what}: the private key does not match the certificate's public key")]
    Mismatch {
        /// Where they were found.
        what: String,
    },

    /// The password of a PKCS #12 file does not open it (its MAC does not check out).
    #[error("{what}: wrong password (the file's MAC does not check out with it)")]
    WrongPassword {
        /// The file.
        what: String,
    },

    /// A `pkcs11:` URI that cannot be read.
    #[error("pkcs11 URI: {0}")]
    Uri(#[from] UriError),
    /// A PKCS#11 module that cannot be loaded or initialized.
    #[error("PKCS#11 module {}: {reason}", path.display())]
    ModuleLoad {
        /// The module.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No PKCS#11 module to use.
    #[error("no PKCS#11 module: {what}")]
    ModuleNotFound {
        /// What was looked for.
        what: String,
    },
    /// No token matches the URI.
    #[error("no token matches {uri} (present: {present})")]
    TokenNotPresent {
        /// The URI.
        uri: String,
        /// The tokens present, or `none`.
        present: String,
    },
    /// More than one token matches the URI.
    #[error("{uri} matches {} tokens: {}; insert one token at a time, or name it with token= or serial=", tokens.len(), tokens.join("; "))]
    AmbiguousToken {
        /// The URI.
        uri: String,
        /// The matching tokens.
        tokens: Vec<String>,
    },
    /// A wrong PIN.
    #[error("token {token}: wrong PIN")]
    PinIncorrect {
        /// The token.
        token: String,
    },
    /// A wrong PIN, and the token says few tries are left.
    #[error("token {token}: wrong PIN; few tries are left before the token locks")]
    PinCountLow {
        /// The token.
        token: String,
    },
    /// A wrong PIN, and the next wrong PIN locks the token.
    #[error("token {token}: wrong PIN; the next wrong PIN locks the token")]
    PinFinalTry {
        /// The token.
        token: String,
    },
    /// The user PIN is locked.
    #[error("token {token}: the PIN is locked; it must be unlocked with the security officer PIN")]
    PinLocked {
        /// The token.
        token: String,
    },
    /// The token still has a factory PIN (or asks for its PIN to be changed).
    #[error(
        "token {token}: still on its factory PIN; change it first (ctl token change-pin), or allow factory PINs for a lab"
    )]
    FactoryPin {
        /// The token.
        token: String,
    },
    /// No PIN was given and none can be asked for.
    #[error(
        "token {token}: no PIN; give pin-source or pin-value in the URI, or run on a terminal to be asked"
    )]
    NoPin {
        /// The token.
        token: String,
    },
    /// The PIN source could not be read.
    #[error("PIN source {source_name}: {reason}")]
    PinSource {
        /// The source (a path).
        source_name: String,
        /// Why.
        reason: String,
    },
    /// No private key matches.
    #[error("token {token}: {what}")]
    KeyNotFound {
        /// The token.
        token: String,
        /// What was looked for and what was found instead.
        what: String,
    },
    /// Several keys match.
    #[error("token {token}: {} keys match; name one with object= or id=: {}", keys.len(), keys.join("; "))]
    AmbiguousKey {
        /// The token.
        token: String,
        /// The matching keys.
        keys: Vec<String>,
    },
    /// The key has no certificate with the same CKA_ID.
    #[error("token {token}: key {key} has no certificate with the same CKA_ID")]
    CertificateNotFound {
        /// The token.
        token: String,
        /// The key.
        key: String,
    },
    /// The key on the token is not RSA.
    #[error(
        "token {token}: key {key} is {key_type}; CTL, ITL and .sgn files can only be signed with RSA"
    )]
    TokenKeyNotRsa {
        /// The token.
        token: String,
        /// The key.
        key: String,
        /// Its type.
        key_type: String,
    },
    /// The token went away (removed, or its session closed) during an operation.
    #[error("token {token} was removed or its session closed during {operation}")]
    TokenRemoved {
        /// The token.
        token: String,
        /// The operation.
        operation: &'static str,
    },
    /// No new token appeared in time.
    #[error("no new token was inserted within {} s", .0.as_secs())]
    Timeout(Duration),
    /// Waiting for a token was cancelled.
    #[error("cancelled while waiting for a token")]
    Cancelled,
    /// Several new tokens appeared at once.
    #[error("{} tokens were inserted at once ({}); insert one token at a time", tokens.len(), tokens.join("; "))]
    SeveralInserted {
        /// The new tokens.
        tokens: Vec<String>,
    },
    /// A PKCS#11 call failed.
    #[error("token {token}: {function} failed: {code}")]
    Pkcs11 {
        /// The token (or module).
        token: String,
        /// The PKCS#11 function.
        function: String,
        /// The return value.
        code: String,
        /// The cryptoki error.
        #[source]
        source: cryptoki::error::Error,
    },
    /// A token collected as a security token holds no certificate.
    #[error("token {token} holds no certificate; it is not a security token")]
    NotASecurityToken {
        /// The token.
        token: String,
    },
    /// A token collected as a security token holds several certificates with keys.
    #[error("token {token} holds {} certificates ({}); name the one to use with --token pkcs11:...;object=LABEL", labels.len(), labels.join(", "))]
    WhichCertificate {
        /// The token.
        token: String,
        /// The labels of its certificates.
        labels: Vec<String>,
    },
    /// A token collected carries the certificate of one collected before.
    #[error(
        "token {token} carries the certificate of token {earlier} ({subject}); each security token must be another"
    )]
    SameToken {
        /// The token.
        token: String,
        /// Which token (from 1) had it.
        earlier: usize,
        /// The certificate's subject.
        subject: String,
    },
    /// A token of this label exists already: every `token=` URI would then name two.
    #[error(
        "a token labelled \"{label}\" exists already (serial {serial}); `token=` URIs would not tell them apart: choose another label"
    )]
    LabelInUse {
        /// The label.
        label: String,
        /// The existing token's serial.
        serial: String,
    },
    /// A lab operation that this module cannot do (no free slot to initialize a token in).
    #[error("{0}")]
    Unsupported(String),
    /// A wait that could not be run (the thread panicked).
    #[error("internal: {0}")]
    Internal(String),
}
