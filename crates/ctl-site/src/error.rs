//! The errors of reading a manifest and of provisioning a directory.

use std::path::PathBuf;

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The file could not be read.
    #[error("{}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The TOML does not parse, or a field has the wrong type.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(": line {l}")).unwrap_or_default())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line of the error, when known.
        line: Option<usize>,
        /// The parser's message, on one line.
        reason: String,
    },
    /// A field holds something the site cannot use.
    #[error("{}: {field}: {reason}", path.display())]
    Invalid {
        /// The manifest.
        path: PathBuf,
        /// The field, as `sast[1]` or `server[0]`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A line of the devices CSV is not a MAC address.
    #[error("{}: line {line}: {reason}", path.display())]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why a directory could not be provisioned. Nothing in it changed unless the error
/// says so: files are written only once every file of the run was built and checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// The manifest.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A key or certificate named by the manifest could not be opened.
    #[error("{what}: {source}")]
    Key {
        /// The manifest entry (`sast[0]`, `tftp`, `server[2]`).
        what: String,
        /// Why.
        source: Box<ctl_token::Error>,
    },
    /// A certificate named by the manifest could not be read.
    #[error("{what}: {}: {reason}", path.display())]
    Certificate {
        /// The manifest entry.
        what: String,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file could not be built (a signer failed, the list is over 64 KiB, ...).
    #[error("{file}: {source}")]
    Build {
        /// The file being built.
        file: String,
        /// Why.
        source: ctl_format::BuildError,
    },
    /// A built list breaks a rule of the phones (a lint rule not in `allow`).
    #[error(
        "{file}: refused, phones would not take it: {warning} [{code}; {phones}]{}",
        allow_hint(code)
    )]
    Refused {
        /// The file.
        file: String,
        /// The rule's stable code.
        code: &'static str,
        /// The rule's words.
        warning: String,
        /// The phones it concerns.
        phones: &'static str,
    },
    /// A phone holding the new lists would refuse a file of the run.
    #[error("{file}: a phone holding the new lists would refuse it: {reason}")]
    PhoneRefuses {
        /// The file.
        file: String,
        /// The phone's reason.
        reason: ctl_format::Refusal,
    },
    /// A file to sign is not one (a symlink, a directory, too large).
    #[error("{}: {reason}", path.display())]
    Source {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing the directory failed.
    #[error("{}: {}", path.display(), ctl_format::io_words(source))]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn allow_hint(code: &str) -> String {
    format!(" (if no such phone is served, add \"{code}\" to `allow`)")
}

/// Why a text is not a file-name pattern of the files to sign.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// An empty pattern.
    #[error("an empty pattern")]
    Empty,
    /// A pattern with a path separator.
    #[error("{0:?}: a pattern names files of the configs directory, not paths")]
    Path(String),
    /// A pattern of hidden names.
    #[error("{0:?}: hidden files are not signed")]
    Hidden(String),
    /// A pattern of the run's own outputs.
    #[error("{0:?}: names the signed outputs; name the files to sign instead")]
    Output(String),
}

/// A text that is not a MAC address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a MAC address (12 hex digits)")]
pub struct MacError(pub String);

/// A text that names no phone model or family.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected a phone model or family (7900, 7800, 8800, 9900, enterprise)")]
pub struct FamilyError(pub String);
