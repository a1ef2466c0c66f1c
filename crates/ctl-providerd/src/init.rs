//! A node's configuration, certificates and first user, from a typed [`Setup`]
//! (`ctl-providerd init` fills one from its flags; tests, benches and examples build one).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use argon2::{Argon2, PasswordHasher as _};
use ctl_provider::message::Password;
use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};

use crate::config::{
    Certificates, Config, Hook, Limits, MemberConfig, PeerConfig, UserConfig, services_bits,
};
use crate::error::{ConfigError, DaemonError};
use crate::store::{Access, write_atomic};

/// A provider endpoint: a name and where its provider listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The node's or server's name.
    pub name: String,
    /// Host name or address of its provider.
    pub host: String,
    /// Provider port.
    pub port: u16,
}

impl Endpoint {
    /// An endpoint.
    pub fn new(name: &str, host: &str, port: u16) -> Self {
        Self {
            name: name.to_owned(),
            host: host.to_owned(),
            port,
        }
    }

    /// `NAME=HOST:PORT` (an IPv6 host in brackets).
    ///
    /// # Errors
    /// Text of another shape, an empty name or host, or control characters in them
    /// (they would reach the configuration, logs and terminals).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let bad = || {
            let cut = ctl_provider::message::cut_text(text, 80);
            ConfigError::Endpoint(ctl_format::printable(&cut).replace('\n', "\\n"))
        };
        let (name, addr) = text.split_once('=').ok_or_else(bad)?;
        let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        let port = port.parse().map_err(|_| bad())?;
        if name.is_empty() || host.is_empty() || text.chars().any(char::is_control) {
            return Err(bad());
        }
        Ok(Self::new(name, host.trim_matches(['[', ']']), port))
    }
}

/// Everything `init` needs to write a node: build it with [`Setup::new`] and the setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Setup {
    dir: PathBuf,
    node: String,
    listen: SocketAddr,
    first_node: bool,
    services: Vec<String>,
    members: Vec<Endpoint>,
    alternate_tftp: Vec<Endpoint>,
    firewalls: Vec<Endpoint>,
    user: String,
    password: Password,
    require_sast_client_certificate: bool,
    force: bool,
}

impl Setup {
    /// A node `node` in `dir` listening on `listen` (port 0: any free port, printed at
    /// start), running CallManager, TFTP and the provider, with one super-user, requiring
    /// the token's certificate for every change.
    pub fn new(dir: &Path, node: &str, listen: SocketAddr, user: &str, password: Password) -> Self {
        Self {
            dir: dir.to_owned(),
            node: node.to_owned(),
            listen,
            first_node: false,
            services: ["callmanager", "tftp", "provider"]
                .map(str::to_owned)
                .to_vec(),
            members: Vec::new(),
            alternate_tftp: Vec::new(),
            firewalls: Vec::new(),
            user: user.to_owned(),
            password,
            require_sast_client_certificate: true,
            force: false,
        }
    }

    /// Whether this is the first node (publisher).
    pub const fn first_node(&mut self, first: bool) -> &mut Self {
        self.first_node = first;
        self
    }

    /// The services it runs: callmanager, tftp, capf, tvs, provider.
    pub fn services<S: AsRef<str>>(&mut self, services: &[S]) -> &mut Self {
        self.services = services.iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// A cluster member the first node lists (CallManager and provider).
    pub fn member(&mut self, member: Endpoint) -> &mut Self {
        self.members.push(member);
        self
    }

    /// An off-cluster alternate TFTP server the first node lists.
    pub fn alternate_tftp(&mut self, server: Endpoint) -> &mut Self {
        self.alternate_tftp.push(server);
        self
    }

    /// A firewall the first node lists.
    pub fn firewall(&mut self, firewall: Endpoint) -> &mut Self {
        self.firewalls.push(firewall);
        self
    }

    /// Whether every change needs a TLS client certificate that is a SAST of the CTL (on by
    /// default: the Cisco model, where the token authenticates the client; off lets a
    /// password alone change the node).
    pub const fn require_sast_client_certificate(&mut self, require: bool) -> &mut Self {
        self.require_sast_client_certificate = require;
        self
    }

    /// Whether a node already in the directory is replaced (its files moved to a dated
    /// `backup-*` directory beside them) rather than refused; its `tftp/` and `state/`
    /// (the CTL and its history) stay.
    pub const fn force(&mut self, force: bool) -> &mut Self {
        self.force = force;
        self
    }

    /// The node's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the node's files: `provider.toml`, the CallManager certificate and key (also
    /// its TLS identity), CAPF and TVS ones where those run, the user with an argon2id
    /// hash of the password. Returns the path of `provider.toml`.
    ///
    /// # Errors
    /// An unknown service, an empty password, or files that cannot be written.
    pub fn write(&self) -> Result<PathBuf, DaemonError> {
        // Refused before the keys are made: a node in the way costs nothing.
        let present: Vec<&str> = NODE_FILES
            .iter()
            .copied()
            .filter(|f| self.dir.join(f).symlink_metadata().is_ok())
            .collect();
        if let (Some(first), false) = (present.first(), self.force) {
            return Err(DaemonError::NodeExists {
                dir: self.dir.clone(),
                file: (*first).to_owned(),
            });
        }
        let files = self.files()?;
        std::fs::create_dir_all(&self.dir).map_err(DaemonError::file(&self.dir))?;
        let backup = if present.is_empty() {
            None
        } else {
            Some(self.back_up(&present)?)
        };
        let keys = self.dir.join(KEYS);
        let had_keys = keys.symlink_metadata().is_ok();
        let mut written: Vec<&Path> = Vec::new();
        for (path, text, access) in &files {
            let wrote = crate::store::private_dir(&keys)
                .and_then(|()| write_atomic(path, text.as_bytes(), *access));
            if let Err(e) = wrote {
                // Nothing of this run stays; a replaced node comes back.
                for p in written {
                    let _ = std::fs::remove_file(p);
                }
                if !had_keys {
                    let _ = std::fs::remove_dir(&keys);
                }
                if let Some(b) = &backup {
                    restore(b, &self.dir);
                }
                return Err(DaemonError::file(path)(e));
            }
            written.push(path);
        }
        Ok(self.dir.join("provider.toml"))
    }

    /// Moves the node files `present` to a new private `backup-YYYYMMDDTHHMMSSZ`
    /// directory, returned (`force`).
    fn back_up(&self, present: &[&str]) -> Result<PathBuf, DaemonError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let stamp: String = ctl_format::format_utc(now)
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('T'),
                '-' | ':' => None,
                c => Some(c),
            })
            .collect();
        let mut backup = self.dir.join(format!("backup-{stamp}Z"));
        let mut n = 1;
        while backup.symlink_metadata().is_ok() {
            n += 1;
            backup = self.dir.join(format!("backup-{stamp}Z-{n}"));
        }
        crate::store::private_dir(&backup).map_err(DaemonError::file(&backup))?;
        for f in present {
            let (from, to) = (self.dir.join(f), backup.join(f));
            if let Some(parent) = to.parent().filter(|p| *p != backup) {
                crate::store::private_dir(parent).map_err(DaemonError::file(parent))?;
            }
            if let Err(e) = std::fs::rename(&from, &to) {
                restore(&backup, &self.dir);
                return Err(DaemonError::file(&from)(e));
            }
        }
        Ok(backup)
    }

    /// Every file of the node, made in memory before anything is written: (path, text, access).
    fn files(&self) -> Result<Vec<(PathBuf, String, Access)>, DaemonError> {
        services_bits(&self.services, "services")?;
        crate::config::check_user_name(&self.user)?;
        if self.password.expose().is_empty() {
            return Err(DaemonError::EmptyPassword);
        }
        let hash = Argon2::default()
            .hash_password(self.password.expose().as_bytes())
            .map_err(|e| DaemonError::Hash(e.to_string()))?
            .to_string();
        let mut files = Vec::new();
        let mut identity_files = |name: &str, cn: &str| -> Result<(), DaemonError> {
            let (cert, key) = identity(cn)?;
            files.push((self.dir.join(format!("{name}.pem")), cert, Access::Public));
            files.push((
                self.dir.join(KEYS).join(format!("{name}.key")),
                key,
                Access::Private,
            ));
            Ok(())
        };
        identity_files("callmanager", &self.node)?;
        let mut certificates = Certificates {
            callmanager: "callmanager.pem".into(),
            capf: None,
            tvs: None,
        };
        for (service, name, slot) in [
            ("capf", "capf", &mut certificates.capf),
            ("tvs", "tvs", &mut certificates.tvs),
        ] {
            if self.services.iter().any(|s| s == service) {
                identity_files(name, &format!("{}-{}", name.to_uppercase(), self.node))?;
                *slot = Some(format!("{name}.pem").into());
            }
        }
        let peers = |list: &[Endpoint]| {
            list.iter()
                .map(|e| PeerConfig {
                    name: e.name.clone(),
                    host: e.host.clone(),
                    port: e.port,
                })
                .collect()
        };
        let config = Config {
            node: self.node.clone(),
            listen: self.listen,
            first_node: self.first_node,
            services: self.services.clone(),
            addresses: Vec::new(),
            tftp_dir: "tftp".into(),
            state_dir: "state".into(),
            tls_certificate: "callmanager.pem".into(),
            tls_key: Path::new(KEYS).join("callmanager.key"),
            certificates,
            members: self
                .members
                .iter()
                .map(|e| MemberConfig {
                    name: e.name.clone(),
                    host: e.host.clone(),
                    port: e.port,
                    // All `init` knows of a member: it runs a provider. Clients learn
                    // the rest from the member itself (NODE_INFO); list its services
                    // here to show them while it cannot be reached.
                    services: vec!["provider".into()],
                    addresses: Vec::new(),
                })
                .collect(),
            alternate_tftp: peers(&self.alternate_tftp),
            firewalls: peers(&self.firewalls),
            users: vec![UserConfig {
                name: self.user.clone(),
                role: "super-user".into(),
                password_hash: hash,
            }],
            limits: Limits::default(),
            hook: Hook {
                on_commit: Vec::new(),
                timeout_secs: 30,
            },
            require_sast_client_certificate: self.require_sast_client_certificate,
        };
        let path = self.dir.join("provider.toml");
        let text = toml::to_string_pretty(&config).map_err(|e| DaemonError::Toml {
            path: path.clone(),
            message: e.to_string(),
        })?;
        // provider.toml last: a directory with it is a node.
        files.push((path, text, Access::Private));
        Ok(files)
    }
}

/// The files that make a directory a node (`tftp/` and `state/` are its data).
const NODE_FILES: [&str; 10] = [
    "provider.toml",
    "callmanager.pem",
    "keys/callmanager.key",
    "capf.pem",
    "keys/capf.key",
    "tvs.pem",
    "keys/tvs.key",
    // Where nodes made before the keys directory keep their keys.
    "callmanager.key",
    "capf.key",
    "tvs.key",
];

/// The private (0700) directory of the node's keys, in its directory.
const KEYS: &str = "keys";

/// Moves the files of `backup` back into `dir` (after a failed replacement), as far as
/// they go, and removes the then empty backup.
fn restore(backup: &Path, dir: &Path) {
    for f in NODE_FILES {
        let from = backup.join(f);
        if from.symlink_metadata().is_ok() {
            let to = dir.join(f);
            if let Some(parent) = to.parent() {
                let _ = crate::store::private_dir(parent);
            }
            let _ = std::fs::rename(&from, to);
        }
    }
    let _ = std::fs::remove_dir(backup.join(KEYS));
    let _ = std::fs::remove_dir(backup);
}

/// A self-signed RSA-2048 certificate for `cn`: (certificate PEM, PKCS#8 key PEM).
fn identity(cn: &str) -> Result<(String, String), DaemonError> {
    let failed = |what: &'static str| {
        move |e: &dyn std::fmt::Display| DaemonError::Identity {
            what,
            message: e.to_string(),
        }
    };
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).map_err(|e| failed("key")(&e))?;
    let der = key.to_pkcs8_der().map_err(|e| failed("key")(&e))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| failed("key")(&e))?;
    let pair = rcgen::KeyPair::try_from(der.as_bytes()).map_err(|e| failed("key")(&e))?;
    let mut params = rcgen::CertificateParams::new(vec![cn.to_owned()])
        .map_err(|e| failed("certificate")(&e))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "CTL provider");
    let cert = params
        .self_signed(&pair)
        .map_err(|e| failed("certificate")(&e))?;
    Ok((cert.pem(), pem.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn endpoints_parse_as_name_host_port() {
        assert_eq!(
            Endpoint::parse("sub1=10.0.0.2:2444").unwrap(),
            Endpoint::new("sub1", "10.0.0.2", 2444)
        );
        assert_eq!(
            Endpoint::parse("v6=[::1]:2444").unwrap(),
            Endpoint::new("v6", "::1", 2444)
        );
        for bad in [
            "sub1",
            "sub1=host",
            "sub1=host:port",
            "=host:1",
            "n=:1",
            "n=h:70000",
        ] {
            assert_eq!(
                Endpoint::parse(bad),
                Err(ConfigError::Endpoint(bad.to_owned())),
                "{bad}"
            );
        }
    }

    /// Found by the provider_config fuzz target: the text came back raw in the error.
    #[test]
    fn an_endpoint_with_control_characters_is_refused_and_shown_escaped() {
        for (bad, shown) in [
            ("fw\u{1b}[2J=10.0.0.1:2444", "fw\\u{1b}[2J=10.0.0.1:2444"),
            ("fw=10.0.0.1\n:2444", "fw=10.0.0.1\\n:2444"),
            ("\u{1}x", "\\u{1}x"),
        ] {
            let e = Endpoint::parse(bad).unwrap_err();
            assert_eq!(e, ConfigError::Endpoint(shown.to_owned()), "{bad:?}");
            assert!(!e.to_string().chars().any(char::is_control), "{e}");
        }
    }
}
