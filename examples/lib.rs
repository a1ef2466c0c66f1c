//! What the examples share (each example is an `[[example]]` target of this package):
//! the repository's test keys, the time, a throw-away key, an in-process provider, and a
//! SoftHSM2 token directory of its own.

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ctl_format::Certificate;
use ctl_token::SoftwareSigner;
use rsa::pkcs8::EncodePrivateKey as _;

/// The workspace README, whose Rust examples run as this crate's doctests (so the
/// snippet a newcomer copies is known to work).
#[doc = include_str!("../README.md")]
mod readme {}

/// The directory of the repository's test keys and certificates (`sast1.key.pem`,
/// `sast1.crt.pem`, `ccm.pem`, ...): stand-ins for your own PEM files.
pub fn keys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/ctl-format/tests/vectors/keys")
}

/// The certificate `keys()/NAME.crt.pem`.
///
/// # Errors
/// It cannot be read or decoded.
pub fn certificate(name: &str) -> Result<Certificate, Box<dyn Error>> {
    let pem = std::fs::read(keys().join(format!("{name}.crt.pem")))?;
    Ok(Certificate::from_pem(&pem)?)
}

/// Now, in Unix seconds, as TIMESTAMP takes it.
///
/// # Errors
/// A clock before 1970 or after 2106.
pub fn now() -> Result<u32, Box<dyn Error>> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(u32::try_from(secs)?)
}

/// A throw-away RSA-2048 key and a self-signed certificate for `cn`.
///
/// # Errors
/// The key or the certificate cannot be made.
pub fn throwaway_token(cn: &str) -> Result<(Certificate, SoftwareSigner), Box<dyn Error>> {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)?;
    let pkcs8 = key.to_pkcs8_der()?;
    let key_pair = rcgen::KeyPair::try_from(pkcs8.as_bytes())?;
    let mut params = rcgen::CertificateParams::new(vec![cn.to_owned()])?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Example");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = Certificate::from_der(params.self_signed(&key_pair)?.der())?;
    let signer = SoftwareSigner::new(key, &cert, cn)?;
    Ok((cert, signer))
}

/// The password of the examples' providers.
pub const PASSWORD: &str = "example-password";

/// Writes a provider node in `dir` (user `admin`, [`PASSWORD`]) and serves it in this
/// process on a free loopback port; its address.
///
/// # Errors
/// The node cannot be written or started.
pub fn node(
    dir: &Path,
    name: &str,
    services: &[&str],
    first: bool,
    members: Vec<ctl_providerd::Endpoint>,
) -> Result<SocketAddr, Box<dyn Error>> {
    let mut setup = ctl_providerd::Setup::new(
        dir,
        name,
        "127.0.0.1:0".parse()?,
        "admin",
        ctl_client::Password::new(PASSWORD),
    );
    setup.first_node(first).services(services);
    for m in members {
        setup.member(m);
    }
    Ok(ctl_providerd::spawn(&setup.write()?)?)
}

/// The SoftHSM2 module, where Debian's package puts it.
pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Set in the run that has a SoftHSM2 token directory of its own: the directory.
const TOKEN_DIR: &str = "CTL_EXAMPLE_TOKEN_DIR";

/// The token directory this run was given, if it was.
pub fn token_dir() -> Option<PathBuf> {
    std::env::var_os(TOKEN_DIR).map(PathBuf::from)
}

/// Runs this program again with SoftHSM2 pointed at a token directory of its own (it
/// reads `SOFTHSM2_CONF` from the environment, which a running program should not change).
///
/// # Errors
/// The run cannot be started, or it failed.
pub fn rerun_with_token_directory() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens)?;
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )?;
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env("SOFTHSM2_CONF", &conf)
        .env(TOKEN_DIR, dir.path())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the SoftHSM2 run {status}").into())
    }
}
