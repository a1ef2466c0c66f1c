//! Test fixtures for the token tests: a fresh SoftHSM2 token directory per process,
//! and uniquely labelled tokens provisioned in-process.
//!
//! Does not mock anything: the tokens are real SoftHSM2 tokens behind the real module.
#![allow(clippy::missing_panics_doc)] // fixtures panic on a broken test environment by design

pub mod daemon;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use ctl_token::pkcs11::lab;
use ctl_token::pkcs11::{Module, Token};
use secrecy::SecretString;

/// Where SoftHSM2's module is: `CTL_TEST_PKCS11_MODULE`, else the Debian path.
pub fn softhsm_module_path() -> PathBuf {
    std::env::var_os("CTL_TEST_PKCS11_MODULE").map_or_else(
        || PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
        PathBuf::from,
    )
}

/// The SO PIN of every test token.
pub const SO_PIN: &str = "87654321";

struct Fixture {
    _dir: tempfile::TempDir,
    module: Module,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary token directory");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).expect("token directory");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .expect("softhsm2.conf");
        // Read by SoftHSM2 in C_Initialize, which has not run yet in this process.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let module = Module::load(&softhsm_module_path()).expect("SoftHSM2 loads");
        Fixture { _dir: dir, module }
    })
}

/// The loaded SoftHSM2 module of this test process.
pub fn module() -> Module {
    fixture().module.clone()
}

/// The SOFTHSM2_CONF of this test process (for child processes).
pub fn softhsm_conf() -> PathBuf {
    let _ = fixture();
    PathBuf::from(std::env::var_os("SOFTHSM2_CONF").expect("set by the fixture"))
}

/// A label no other token of this process has.
pub fn unique_label(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new token with its own label and this user PIN.
pub fn new_token(prefix: &str, pin: &str) -> (Token, String) {
    let label = unique_label(prefix);
    let token = lab::init_token(
        &module(),
        &label,
        &SecretString::from(SO_PIN),
        &SecretString::from(pin),
    )
    .expect("token initialized");
    (token, label)
}

/// The URI of a token by label, with its PIN and the module.
pub fn uri(label: &str, pin: &str) -> ctl_token::Pkcs11Uri {
    format!(
        "pkcs11:token={label}?module-path={}&pin-value={pin}",
        softhsm_module_path().display()
    )
    .parse()
    .expect("test URI")
}

/// Reads a test data file of the calling crate.
pub fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Removes a SoftHSM2 token's files from this process's token directory, as when a
/// USB token is pulled out. Returns whether a token with that serial was found.
pub fn remove_token_files(serial: &str) -> bool {
    let conf = std::fs::read_to_string(softhsm_conf()).expect("softhsm2.conf");
    let dir = conf
        .lines()
        .find_map(|l| l.strip_prefix("directories.tokendir = "))
        .map(PathBuf::from)
        .expect("tokendir in the conf");
    for entry in std::fs::read_dir(dir).expect("token directory").flatten() {
        let token_object = entry.path().join("token.object");
        let Ok(bytes) = std::fs::read(&token_object) else {
            continue;
        };
        if bytes.windows(serial.len()).any(|w| w == serial.as_bytes()) {
            std::fs::remove_dir_all(entry.path()).expect("remove token files");
            return true;
        }
    }
    false
}

/// A free TCP port on 127.0.0.1 (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// A provider node served on a thread of this process, initialized in `dir` with the
/// password `s3cret` for user `admin`.
#[derive(Debug, Clone)]
pub struct TestNode {
    /// Its directory (provider.toml, tftp/, state/).
    pub dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// What a test node runs and knows.
#[derive(Debug, Clone, Default)]
pub struct NodeSpec {
    /// Node name.
    pub node: String,
    /// The first node.
    pub first_node: bool,
    /// Services.
    pub services: Vec<String>,
    /// `NAME=HOST:PORT` members (first node).
    pub members: Vec<String>,
    /// `NAME=HOST:PORT` alternate TFTP servers.
    pub alternate_tftp: Vec<String>,
    /// `NAME=HOST:PORT` firewalls.
    pub firewalls: Vec<String>,
    /// Stage and commit only for a TLS client certificate that is a SAST of the CTL.
    pub require_sast_client_certificate: bool,
}

impl NodeSpec {
    /// A node with these services.
    pub fn new(node: &str, services: &[&str]) -> Self {
        Self {
            node: node.to_owned(),
            services: services.iter().map(|s| (*s).to_owned()).collect(),
            ..Self::default()
        }
    }
}

/// Initializes a node in `dir` and serves it on `port` until the process ends.
pub fn start_node(dir: &Path, port: u16, spec: &NodeSpec) -> TestNode {
    std::fs::create_dir_all(dir).expect("node directory");
    std::fs::write(dir.join("password"), "s3cret\n").expect("password file");
    let args = ctl_providerd::init::InitArgs {
        dir: dir.to_owned(),
        node: spec.node.clone(),
        listen: format!("127.0.0.1:{port}").parse().expect("address"),
        first_node: spec.first_node,
        services: spec.services.clone(),
        member: spec.members.clone(),
        alternate_tftp: spec.alternate_tftp.clone(),
        firewall: spec.firewalls.clone(),
        user: "admin".to_owned(),
        password_file: dir.join("password"),
    };
    let config = ctl_providerd::init::run(&args).expect("init");
    if spec.require_sast_client_certificate {
        let text = std::fs::read_to_string(&config).expect("provider.toml");
        let strict = text.replace(
            "require_sast_client_certificate = false",
            "require_sast_client_certificate = true",
        );
        assert_ne!(
            text, strict,
            "provider.toml names require_sast_client_certificate"
        );
        std::fs::write(&config, strict).expect("provider.toml");
    }
    let bound = ctl_providerd::spawn(&config).expect("provider starts");
    assert_eq!(bound.port(), port);
    TestNode {
        dir: dir.to_owned(),
        port,
    }
}
