//! `ctl-providerd init`: a node's configuration, certificates and first user.

use std::path::{Path, PathBuf};

use argon2::{Argon2, PasswordHasher as _};
use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};

use crate::config::{
    Certificates, Config, Hook, Limits, MemberConfig, PeerConfig, UserConfig, services_bits,
};

/// Arguments of `init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Directory for provider.toml, certificates, keys, tftp/ and state/.
    #[arg(long)]
    pub dir: PathBuf,
    /// Node name (also the CallManager certificate's common name).
    #[arg(long)]
    pub node: String,
    /// Address and port to listen on (port 0: any free port, printed at start).
    #[arg(long)]
    pub listen: std::net::SocketAddr,
    /// This is the first node (publisher).
    #[arg(long)]
    pub first_node: bool,
    /// Services, comma-separated: callmanager, tftp, capf, tvs, provider.
    #[arg(
        long,
        default_value = "callmanager,tftp,provider",
        value_delimiter = ','
    )]
    pub services: Vec<String>,
    /// A cluster member, NAME=HOST:PORT (first node; repeatable).
    #[arg(long, value_name = "NAME=HOST:PORT")]
    pub member: Vec<String>,
    /// An off-cluster alternate TFTP server, NAME=HOST:PORT (repeatable).
    #[arg(long, value_name = "NAME=HOST:PORT")]
    pub alternate_tftp: Vec<String>,
    /// A firewall, NAME=HOST:PORT (repeatable).
    #[arg(long, value_name = "NAME=HOST:PORT")]
    pub firewall: Vec<String>,
    /// The application user (super-user role).
    #[arg(long)]
    pub user: String,
    /// A file holding the user's password (only its argon2id hash is written).
    #[arg(long)]
    pub password_file: PathBuf,
}

fn peer(text: &str) -> Result<(String, String, u16), String> {
    let (name, addr) = text
        .split_once('=')
        .ok_or_else(|| format!("{text}: expected NAME=HOST:PORT"))?;
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("{text}: expected NAME=HOST:PORT"))?;
    let port = port.parse().map_err(|_| format!("{text}: bad port"))?;
    Ok((
        name.to_owned(),
        host.trim_matches(['[', ']']).to_owned(),
        port,
    ))
}

/// A self-signed RSA-2048 certificate for `cn`: (certificate PEM, PKCS#8 key PEM).
fn identity(cn: &str) -> Result<(String, String), String> {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)
        .map_err(|e| format!("key generation: {e}"))?;
    let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    let pair = rcgen::KeyPair::try_from(der.as_bytes()).map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(vec![cn.to_owned()]).map_err(|e| e.to_string())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "CTL provider");
    let cert = params.self_signed(&pair).map_err(|e| e.to_string())?;
    Ok((cert.pem(), pem.to_string()))
}

fn write(path: &Path, text: &str, private: bool) -> Result<(), String> {
    crate::store::write_atomic(path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if private {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Writes the node's files; returns the path of provider.toml.
///
/// # Errors
/// Bad arguments, an unreadable password file, or files that cannot be written.
pub fn run(a: &InitArgs) -> Result<PathBuf, String> {
    services_bits(&a.services)?;
    std::fs::create_dir_all(&a.dir).map_err(|e| format!("{}: {e}", a.dir.display()))?;
    let password = std::fs::read_to_string(&a.password_file)
        .map_err(|e| format!("{}: {e}", a.password_file.display()))?;
    let password = password.lines().next().unwrap_or("");
    if password.is_empty() {
        return Err(format!("{}: empty password", a.password_file.display()));
    }
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| format!("hashing the password: {e}"))?
        .to_string();
    let (cm_cert, cm_key) = identity(&a.node)?;
    write(&a.dir.join("callmanager.pem"), &cm_cert, false)?;
    write(&a.dir.join("callmanager.key"), &cm_key, true)?;
    let mut certificates = Certificates {
        callmanager: "callmanager.pem".into(),
        capf: None,
        tvs: None,
    };
    for (service, file, cn) in [
        ("capf", "capf.pem", format!("CAPF-{}", a.node)),
        ("tvs", "tvs.pem", format!("TVS-{}", a.node)),
    ] {
        if a.services.iter().any(|s| s == service) {
            let (cert, key) = identity(&cn)?;
            write(&a.dir.join(file), &cert, false)?;
            write(&a.dir.join(file.replace(".pem", ".key")), &key, true)?;
            if service == "capf" {
                certificates.capf = Some(file.into());
            } else {
                certificates.tvs = Some(file.into());
            }
        }
    }
    let peers = |list: &[String]| -> Result<Vec<PeerConfig>, String> {
        list.iter()
            .map(|t| peer(t).map(|(name, host, port)| PeerConfig { name, host, port }))
            .collect()
    };
    let config = Config {
        node: a.node.clone(),
        listen: a.listen,
        first_node: a.first_node,
        services: a.services.clone(),
        addresses: Vec::new(),
        tftp_dir: "tftp".into(),
        state_dir: "state".into(),
        tls_certificate: "callmanager.pem".into(),
        tls_key: "callmanager.key".into(),
        certificates,
        members: a
            .member
            .iter()
            .map(|t| {
                peer(t).map(|(name, host, port)| MemberConfig {
                    name,
                    host,
                    port,
                    services: vec!["callmanager".into(), "provider".into()],
                    addresses: Vec::new(),
                })
            })
            .collect::<Result<_, _>>()?,
        alternate_tftp: peers(&a.alternate_tftp)?,
        firewalls: peers(&a.firewall)?,
        users: vec![UserConfig {
            name: a.user.clone(),
            role: "super-user".into(),
            password_hash: hash,
        }],
        limits: Limits::default(),
        hook: Hook {
            on_commit: Vec::new(),
            timeout_secs: 30,
        },
        require_sast_client_certificate: false,
    };
    let text = toml::to_string_pretty(&config).map_err(|e| e.to_string())?;
    write(&a.dir.join("provider.toml"), &text, true)?;
    Ok(a.dir.join("provider.toml"))
}
