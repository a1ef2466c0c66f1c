//! How a command fails: an exit code and one line for stderr. Every library error
//! becomes words and an exit code here, and nowhere else.

/// The outcome of a command that did not succeed: an exit code and one line for stderr.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
    /// A stable name of what failed, for `--json` (`usage`, `failed`, a library's code).
    pub(crate) error_code: &'static str,
}

impl Failure {
    /// A malformed input or a wrong call (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
            error_code: "usage",
        }
    }

    /// A failure while working, or a negative verdict (exit 1).
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
            error_code: "failed",
        }
    }

    /// A negative verdict already reported on stdout (exit 1, nothing on stderr).
    pub(crate) const fn quiet(code: u8) -> Self {
        Self {
            code,
            message: String::new(),
            error_code: "failed",
        }
    }

    /// The same failure under a stable name.
    const fn named(mut self, error_code: &'static str) -> Self {
        self.error_code = error_code;
        self
    }

    /// The one JSON object a `--json` command prints when it fails before printing its
    /// own (scripts always get one object).
    pub(crate) fn json(&self) -> String {
        let out = serde_json::json!({
            "ok": false,
            "error_code": self.error_code,
            "error": self.message,
        });
        serde_json::to_string_pretty(&out).unwrap_or_default()
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
            | E::LabelInUse { .. } => Self::usage(e.to_string()).named("token"),
            // The library says "allow factory PINs for a lab"; here that is a flag.
            E::FactoryPin { .. } => {
                Self::failed(format!("{e} (--allow-factory-pin)")).named("token")
            }
            _ => Self::failed(e.to_string()).named("token"),
        }
    }
}

/// A workflow error: a Cisco rule's refusal is a wrong call (exit 2), anything else a
/// failure while working (exit 1).
impl From<ctl_client::Error> for Failure {
    fn from(e: ctl_client::Error) -> Self {
        let code = e.code();
        match e {
            ctl_client::Error::Rule(_) => Self::usage(e.to_string()).named(code),
            _ => Self::failed(e.to_string()).named(code),
        }
    }
}

/// A provisioning error: a manifest, key or source the run cannot use, or a list phones
/// would refuse, is a wrong input (exit 2); a signer or the disk failing while working 1.
impl From<ctl_site::ProvisionError> for Failure {
    fn from(e: ctl_site::ProvisionError) -> Self {
        use ctl_site::ProvisionError as E;
        match e {
            E::Key { source, what } => {
                let inner = Self::from(*source);
                Self {
                    message: format!("{what}: {}", inner.message),
                    ..inner
                }
            }
            E::Build { .. } | E::Io { .. } => Self::failed(e.to_string()).named("provision"),
            E::Refused { .. } | E::PhoneRefuses { .. } => {
                Self::usage(e.to_string()).named("refused")
            }
            _ => Self::usage(e.to_string()).named("provision"),
        }
    }
}

/// A command-line error as one line: clap's message, its tips and the arguments it
/// lists, then which `--help` to read (`help`: the command path, `ctl build`).
pub(crate) fn usage_line(e: &clap::Error, help: &str) -> String {
    let text = e.to_string();
    let mut parts: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("Usage: ") || line.starts_with("For more information") {
            continue;
        }
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let line = line.strip_prefix("tip: ").unwrap_or(line);
        match parts.last_mut() {
            // The items of a list ("the following required arguments were not provided:").
            Some(last) if last.ends_with(':') => {
                last.push(' ');
                last.push_str(line);
            }
            Some(last) if last.contains(": --") => {
                last.push_str(", ");
                last.push_str(line);
            }
            _ => parts.push(line.to_owned()),
        }
    }
    format!("{} (see '{help} --help')", parts.join("; "))
}
