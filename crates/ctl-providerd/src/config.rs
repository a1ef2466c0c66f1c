//! `provider.toml`: every key is documented in the README.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, DaemonError};

/// The whole configuration file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This node's name.
    pub node: String,
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Whether this is the first node (publisher): it answers MEMBERS and holds the security mode.
    #[serde(default)]
    pub first_node: bool,
    /// Services: callmanager, tftp, capf, tvs, provider.
    pub services: Vec<String>,
    /// Addresses reported in NODE_INFO (default: the listen address).
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    /// The node's TFTP directory: CTLFile.tlv, CTLFile_old.tlv, capf.cer, capf.pem.
    pub tftp_dir: PathBuf,
    /// Where state (security mode, current hash) and the audit log live.
    pub state_dir: PathBuf,
    /// TLS identity: the CallManager certificate (PEM) and its key (PKCS#8 PEM).
    pub tls_certificate: PathBuf,
    /// Key of `tls_certificate`.
    pub tls_key: PathBuf,
    /// Certificates served per role: callmanager (always), capf and tvs where they run.
    pub certificates: Certificates,
    /// Cluster members (first node).
    #[serde(default, rename = "member")]
    pub members: Vec<MemberConfig>,
    /// Off-cluster alternate TFTP servers (first node).
    #[serde(default)]
    pub alternate_tftp: Vec<PeerConfig>,
    /// Firewalls (first node).
    #[serde(default, rename = "firewall")]
    pub firewalls: Vec<PeerConfig>,
    /// Application users.
    #[serde(rename = "user")]
    pub users: Vec<UserConfig>,
    /// Limits and timeouts.
    #[serde(default)]
    pub limits: Limits,
    /// The on-commit hook.
    #[serde(default)]
    pub hook: Hook,
    /// Every change (stage, commit, abort, mode, CAPF) only for clients whose TLS
    /// certificate is a SAST of the current CTL (of the staged file when there is none
    /// yet): the Cisco model, where the token authenticates the client. On unless a file
    /// says `false`.
    #[serde(default = "yes")]
    pub require_sast_client_certificate: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// Certificates served per role (PEM files).
pub struct Certificates {
    /// The CallManager certificate (CCM, CCM+TFTP or TFTP by the node's services).
    pub callmanager: PathBuf,
    /// The CAPF certificate, where CAPF runs.
    #[serde(default)]
    pub capf: Option<PathBuf>,
    /// The TVS certificate, where TVS runs.
    #[serde(default)]
    pub tvs: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// A cluster member the first node lists.
pub struct MemberConfig {
    /// Node name.
    pub name: String,
    /// Host name clients resolve.
    pub host: String,
    /// Provider port.
    pub port: u16,
    /// Services it runs.
    #[serde(default)]
    pub services: Vec<String>,
    /// Addresses the first node reports for it.
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// An off-cluster server (alternate TFTP or firewall).
pub struct PeerConfig {
    /// Its name.
    pub name: String,
    /// Host name.
    pub host: String,
    /// Provider port.
    pub port: u16,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// An application user.
pub struct UserConfig {
    /// User name.
    pub name: String,
    /// `super-user` or `read-only`.
    pub role: String,
    /// An argon2id PHC string; never the password.
    pub password_hash: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
/// Limits and timeouts (README: configuration keys).
pub struct Limits {
    /// Sessions at once.
    pub max_sessions: usize,
    /// Sessions not logged in yet, at once.
    pub max_unauthenticated: usize,
    /// Sessions not logged in yet from one source (an IPv4 address, an IPv6 /64).
    pub max_unauthenticated_per_source: usize,
    /// New sessions per second from one source (twice as many in a burst).
    pub new_sessions_per_source: u32,
    /// Sessions with staged files at once.
    pub max_preparing: usize,
    /// TLS handshake timeout.
    pub handshake_timeout_secs: u64,
    /// Time from connection to a successful login.
    pub login_timeout_secs: u64,
    /// Idle session timeout.
    pub idle_timeout_secs: u64,
    /// A write to a client must finish within this time.
    pub write_timeout_secs: u64,
    /// Commit lock lease.
    pub lock_lease_secs: u64,
    /// First back-off after a failed login; doubles with each failure.
    pub login_backoff_ms: u64,
    /// Failed logins (per user and address) before a lockout.
    pub lockout_after: u32,
    /// Failed logins of one user from any address before that user is locked out.
    pub user_lockout_after: u32,
    /// Failed logins from one source, for any user, before that source is locked out.
    pub source_lockout_after: u32,
    /// Lockout length.
    pub lockout_secs: u64,
    /// Failed logins from one source are written to the audit log as one line per this
    /// many seconds, with their count.
    pub failure_audit_interval_secs: u64,
    /// The audit log is rotated (to `audit.log.1`, ...) when it grows past this size.
    pub audit_max_bytes: u64,
    /// Rotated audit logs kept.
    pub audit_keep: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_sessions: 64,
            max_unauthenticated: 32,
            max_unauthenticated_per_source: 4,
            new_sessions_per_source: 10,
            max_preparing: 5,
            handshake_timeout_secs: 10,
            login_timeout_secs: 10,
            idle_timeout_secs: 60,
            write_timeout_secs: 10,
            lock_lease_secs: 30,
            login_backoff_ms: 1000,
            lockout_after: 5,
            user_lockout_after: 20,
            source_lockout_after: 20,
            lockout_secs: 300,
            failure_audit_interval_secs: 60,
            audit_max_bytes: 8 * 1024 * 1024,
            audit_keep: 3,
        }
    }
}

/// `text` as an error shows it: cut to 64 characters, anything a terminal or a log would
/// act on escaped, on one line.
pub(crate) fn shown(text: &str) -> String {
    let cut = ctl_provider::message::cut_text(text, 64);
    ctl_format::printable(&cut).replace('\n', "\\n")
}

/// The longest user name a LOGIN may give (longer ones are refused before any check).
pub const MAX_USER_NAME: usize = 256;

/// Checks that `name` can log in: not empty, at most [`MAX_USER_NAME`] bytes, no control
/// characters (they would reach logs and terminals).
///
/// # Errors
/// The first thing wrong with it.
pub fn check_user_name(name: &str) -> Result<(), ConfigError> {
    let why = if name.is_empty() {
        "empty"
    } else if name.len() > MAX_USER_NAME {
        "over 256 bytes (LOGIN refuses longer names)"
    } else if name.chars().any(char::is_control) {
        "has control characters"
    } else {
        return Ok(());
    };
    Err(ConfigError::UserName {
        shown: shown(name),
        why,
    })
}

impl Limits {
    /// Checks that no limit is zero where zero would stop the node (no session could
    /// ever log in) or leave it unbounded.
    ///
    /// # Errors
    /// The first such limit.
    pub fn check(&self) -> Result<(), ConfigError> {
        let width = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let at_least = [
            ("max_sessions", width(self.max_sessions), 1),
            ("max_unauthenticated", width(self.max_unauthenticated), 1),
            (
                "max_unauthenticated_per_source",
                width(self.max_unauthenticated_per_source),
                1,
            ),
            (
                "new_sessions_per_source",
                u64::from(self.new_sessions_per_source),
                1,
            ),
            ("max_preparing", width(self.max_preparing), 1),
            ("handshake_timeout_secs", self.handshake_timeout_secs, 1),
            ("login_timeout_secs", self.login_timeout_secs, 1),
            ("idle_timeout_secs", self.idle_timeout_secs, 1),
            ("write_timeout_secs", self.write_timeout_secs, 1),
            ("lockout_after", u64::from(self.lockout_after), 1),
            ("user_lockout_after", u64::from(self.user_lockout_after), 1),
            (
                "source_lockout_after",
                u64::from(self.source_lockout_after),
                1,
            ),
            ("audit_max_bytes", self.audit_max_bytes, 64 * 1024),
            ("audit_keep", u64::from(self.audit_keep), 1),
        ];
        match at_least.into_iter().find(|(_, v, min)| v < min) {
            Some((key, value, min)) => Err(ConfigError::Limit { key, value, min }),
            None => Ok(()),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// The on-commit hook.
pub struct Hook {
    /// A command and its arguments, run after every commit (no shell).
    #[serde(default)]
    pub on_commit: Vec<String>,
    /// Seconds before the hook is killed.
    #[serde(default = "default_hook_timeout")]
    pub timeout_secs: u64,
}

const fn yes() -> bool {
    true
}

const fn default_hook_timeout() -> u64 {
    30
}

/// The services bit set of a list of names (`context` names the list in errors).
///
/// # Errors
/// An unknown service name.
pub fn services_bits(names: &[String], context: &str) -> Result<u16, ConfigError> {
    use ctl_provider::message::service;
    let mut bits = 0;
    for n in names {
        bits |= match n.as_str() {
            "callmanager" => service::CALLMANAGER,
            "tftp" => service::TFTP,
            "capf" => service::CAPF,
            "tvs" => service::TVS,
            "provider" => service::PROVIDER,
            other => {
                return Err(ConfigError::UnknownService {
                    context: context.to_owned(),
                    name: shown(other),
                });
            }
        };
    }
    Ok(bits)
}

impl Config {
    /// Reads and checks a configuration; relative paths are taken from its directory.
    ///
    /// # Errors
    /// Unreadable, not TOML, unknown keys, bad services, roles or password hashes.
    pub fn load(path: &Path) -> Result<Self, DaemonError> {
        let text = std::fs::read_to_string(path).map_err(DaemonError::file(path))?;
        Self::from_toml(&text, path)
    }

    /// Parses and checks the text of a configuration read from `path` (named in errors;
    /// relative paths are taken from its directory).
    ///
    /// # Errors
    /// Not TOML, unknown keys, bad services, roles or password hashes.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, DaemonError> {
        let mut config: Self = toml::from_str(text).map_err(|e| DaemonError::Toml {
            path: path.to_owned(),
            message: toml_message(text, &e),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut config.tftp_dir,
            &mut config.state_dir,
            &mut config.tls_certificate,
            &mut config.tls_key,
            &mut config.certificates.callmanager,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for p in [&mut config.certificates.capf, &mut config.certificates.tvs]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        config.check().map_err(|source| DaemonError::Config {
            path: path.to_owned(),
            source,
        })?;
        Ok(config)
    }

    /// Checks the settings a file can get wrong beyond its shape.
    ///
    /// # Errors
    /// Unknown services, roles other than super-user and read-only, password hashes that
    /// are not argon2 PHC strings, no user.
    pub fn check(&self) -> Result<(), ConfigError> {
        services_bits(&self.services, "services")?;
        self.limits.check()?;
        // Names and hosts reach MEMBERS answers, logs and terminals.
        let names = std::iter::once(("node", &self.node))
            .chain(
                self.members
                    .iter()
                    .flat_map(|m| [("member name", &m.name), ("member host", &m.host)]),
            )
            .chain(
                self.alternate_tftp
                    .iter()
                    .chain(&self.firewalls)
                    .flat_map(|p| {
                        [
                            ("off-cluster server name", &p.name),
                            ("off-cluster server host", &p.host),
                        ]
                    }),
            );
        for (key, name) in names {
            if name.chars().any(char::is_control) {
                return Err(ConfigError::ControlCharacters {
                    key,
                    shown: shown(name),
                });
            }
        }
        for m in &self.members {
            services_bits(&m.services, &format!("member {}", m.name))?;
        }
        for u in &self.users {
            check_user_name(&u.name)?;
            if u.role != "super-user" && u.role != "read-only" {
                return Err(ConfigError::Role {
                    user: u.name.clone(),
                    role: shown(&u.role),
                });
            }
            if !u.password_hash.starts_with("$argon2") {
                return Err(ConfigError::PasswordHash {
                    user: u.name.clone(),
                });
            }
        }
        if self.users.is_empty() {
            return Err(ConfigError::NoUser);
        }
        Ok(())
    }
}

/// The TOML parser's message on one line, with the line it points at.
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(0, |before| before.matches('\n').count())
                + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}
