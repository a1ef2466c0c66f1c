//! How a command fails: an exit code and one line for stderr. Every library error
//! becomes words and an exit code here, and nowhere else.

/// The outcome of a command that did not succeed: an exit code and one line for stderr.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    /// A malformed input or a wrong call (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// A failure while working, or a negative verdict (exit 1).
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }

    /// A negative verdict already reported on stdout (exit 1, nothing on stderr).
    pub(crate) const fn quiet(code: u8) -> Self {
        Self {
            code,
            message: String::new(),
        }
    }
}

/// What every command returns.
pub(crate) type Outcome = Result<(), Failure>;

/// A token or key error: a wrong call (a bad URI, no such module, several tokens
/// matching, a key file that is not one) exits 2, a token that fails while working 1.
impl From<ctl_token::Error> for Failure {
    fn from(e: ctl_token::Error) -> Self {
        use ctl_token::Error as E;
        match e {
            E::Uri(_)
            | E::ModuleNotFound { .. }
            | E::AmbiguousToken { .. }
            | E::Io { .. }
            | E::TooLarge { .. }
            | E::NoKey { .. }
            | E::NoCertificate { .. }
            | E::EncryptedKey { .. }
            | E::KeyNotRsa { .. }
            | E::InvalidKey { .. }
            | E::Certificate { .. }
            | E::Mismatch { .. }
            | E::NotASecurityToken { .. }
            | E::WhichCertificate { .. }
            | E::SameToken { .. }
            | E::LabelInUse { .. } => Self::usage(e.to_string()),
            // The library says "allow factory PINs for a lab"; here that is a flag.
            E::FactoryPin { .. } => Self::failed(format!("{e} (--allow-factory-pin)")),
            _ => Self::failed(e.to_string()),
        }
    }
}

/// A workflow error: a Cisco rule's refusal is a wrong call (exit 2), anything else a
/// failure while working (exit 1).
impl From<ctl_client::Error> for Failure {
    fn from(e: ctl_client::Error) -> Self {
        match e {
            ctl_client::Error::Rule(_) => Self::usage(e.to_string()),
            _ => Self::failed(e.to_string()),
        }
    }
}
