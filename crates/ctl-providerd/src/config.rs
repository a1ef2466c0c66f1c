//! `provider.toml`: every key is documented in the README.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The whole configuration file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// This node's name.
    pub(crate) node: String,
    /// Address and port to listen on.
    pub(crate) listen: SocketAddr,
    /// Whether this is the first node (publisher): it answers MEMBERS and holds the security mode.
    #[serde(default)]
    pub(crate) first_node: bool,
    /// Services: callmanager, tftp, capf, tvs, provider.
    pub(crate) services: Vec<String>,
    /// Addresses reported in NODE_INFO (default: the listen address).
    #[serde(default)]
    pub(crate) addresses: Vec<IpAddr>,
    /// The node's TFTP directory: CTLFile.tlv, CTLFile_old.tlv, capf.cer, capf.pem.
    pub(crate) tftp_dir: PathBuf,
    /// Where state (security mode, current hash) and the audit log live.
    pub(crate) state_dir: PathBuf,
    /// TLS identity: the CallManager certificate (PEM) and its key (PKCS#8 PEM).
    pub(crate) tls_certificate: PathBuf,
    /// Key of `tls_certificate`.
    pub(crate) tls_key: PathBuf,
    /// Certificates served per role: callmanager (always), capf and tvs where they run.
    pub(crate) certificates: Certificates,
    /// Cluster members (first node).
    #[serde(default, rename = "member")]
    pub(crate) members: Vec<MemberConfig>,
    /// Off-cluster alternate TFTP servers (first node).
    #[serde(default)]
    pub(crate) alternate_tftp: Vec<PeerConfig>,
    /// Firewalls (first node).
    #[serde(default, rename = "firewall")]
    pub(crate) firewalls: Vec<PeerConfig>,
    /// Application users.
    #[serde(rename = "user")]
    pub(crate) users: Vec<UserConfig>,
    /// Limits and timeouts.
    #[serde(default)]
    pub(crate) limits: Limits,
    /// The on-commit hook.
    #[serde(default)]
    pub(crate) hook: Hook,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Certificates {
    pub(crate) callmanager: PathBuf,
    #[serde(default)]
    pub(crate) capf: Option<PathBuf>,
    #[serde(default)]
    pub(crate) tvs: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberConfig {
    pub(crate) name: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    #[serde(default)]
    pub(crate) services: Vec<String>,
    #[serde(default)]
    pub(crate) addresses: Vec<IpAddr>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PeerConfig {
    pub(crate) name: String,
    pub(crate) host: String,
    pub(crate) port: u16,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserConfig {
    pub(crate) name: String,
    /// `super-user` or `read-only`.
    pub(crate) role: String,
    /// An argon2id PHC string; never the password.
    pub(crate) password_hash: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Limits {
    pub(crate) max_sessions: usize,
    pub(crate) max_preparing: usize,
    pub(crate) handshake_timeout_secs: u64,
    pub(crate) login_timeout_secs: u64,
    pub(crate) idle_timeout_secs: u64,
    pub(crate) lock_lease_secs: u64,
    pub(crate) login_backoff_ms: u64,
    pub(crate) lockout_after: u32,
    pub(crate) lockout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_sessions: 64,
            max_preparing: 5,
            handshake_timeout_secs: 10,
            login_timeout_secs: 10,
            idle_timeout_secs: 60,
            lock_lease_secs: 30,
            login_backoff_ms: 1000,
            lockout_after: 5,
            lockout_secs: 300,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Hook {
    /// A command and its arguments, run after every commit (no shell).
    #[serde(default)]
    pub(crate) on_commit: Vec<String>,
    /// Seconds before the hook is killed.
    #[serde(default = "default_hook_timeout")]
    pub(crate) timeout_secs: u64,
}

const fn default_hook_timeout() -> u64 {
    30
}

/// The services bit set of a list of names.
pub(crate) fn services_bits(names: &[String]) -> Result<u16, String> {
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
                return Err(format!(
                    "unknown service {other:?} (known: callmanager, tftp, capf, tvs, provider)"
                ));
            }
        };
    }
    Ok(bits)
}

impl Config {
    /// Reads and checks a configuration; relative paths are taken from its directory.
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut config: Self =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
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
        services_bits(&config.services)
            .map_err(|e| format!("{}: services: {e}", path.display()))?;
        for m in &config.members {
            services_bits(&m.services)
                .map_err(|e| format!("{}: member {}: {e}", path.display(), m.name))?;
        }
        for u in &config.users {
            if u.role != "super-user" && u.role != "read-only" {
                return Err(format!(
                    "{}: user {}: role must be super-user or read-only, found {:?}",
                    path.display(),
                    u.name,
                    u.role
                ));
            }
            if !u.password_hash.starts_with("$argon2") {
                return Err(format!(
                    "{}: user {}: password_hash must be an argon2 PHC string",
                    path.display(),
                    u.name
                ));
            }
        }
        if config.users.is_empty() {
            return Err(format!("{}: no [[user]]", path.display()));
        }
        Ok(config)
    }
}
