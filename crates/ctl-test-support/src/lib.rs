//! Test fixtures of the whole workspace: the one path to the test vectors and key files
//! ([`vectors`], [`keys`], [`fixture`]), a fresh SoftHSM2 token directory per process with
//! uniquely labelled tokens provisioned in-process, the one node template of tests and
//! benches ([`node_setup`], [`start`]: providers in this process, bound on port 0), and
//! `ctl-providerd` processes ([`daemon`]), and the clients that attack them ([`hostile`]).
//!
//! Does not mock anything: the tokens are real SoftHSM2 tokens behind the real module, the
//! nodes real providers on loopback TLS.
#![allow(clippy::missing_panics_doc)] // fixtures panic on a broken test environment by design

pub mod daemon;
pub mod hostile;
pub mod rogue;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::net::SocketAddr;

use ctl_provider::message::Password;
use ctl_providerd::{Endpoint, Setup};
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

fn softhsm() -> &'static Fixture {
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
    softhsm().module.clone()
}

/// The SOFTHSM2_CONF of this test process (for child processes).
pub fn softhsm_conf() -> PathBuf {
    let _ = softhsm();
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

/// The project's copy of the golden vectors (`crates/ctl-format/tests/vectors`): the one
/// home of every key, certificate, CTL and `.sgn` the tests and benches share.
pub fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ctl-format/tests/vectors")
}

/// The vectors' keys and certificates (`NAME.pem`, `NAME.key.pem`, `NAME.crt.pem`, `NAME.crt.der`).
pub fn keys() -> PathBuf {
    vectors().join("keys")
}

/// The vector certificate `NAME.crt.pem` (sast1, sast2, ccm, tftp, capf, tvs, itlrecovery).
pub fn certificate(name: &str) -> ctl_format::Certificate {
    let path = fixture(&format!("{name}.crt.pem"));
    let pem = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ctl_format::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A test file by name, from its one home: the vectors' keys, CTLs and `.sgn` files, then
/// ctl-format's extra keys (EC, 3072 and 4096 bits), then ctl-token's odd key files
/// (PKCS #1, encrypted).
pub fn fixture(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let homes = [
        keys(),
        vectors().join("ctl"),
        vectors().join("sgn/sha1"),
        root.join("../ctl-format/tests/data"),
        root.join("../ctl-token/tests/data"),
    ];
    homes
        .iter()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no test file {name}"))
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

/// A provider node served on a thread of this process, initialized in `dir` with the
/// password `s3cret` for user `admin`.
#[derive(Debug, Clone)]
pub struct TestNode {
    /// Its directory (provider.toml, tftp/, state/).
    pub dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// The one node template of the tests: `node` in `dir` running `services`, user `admin`
/// with password `s3cret`, listening on 127.0.0.1:`port` (0: any free port).
pub fn node_setup(dir: &Path, node: &str, port: u16, services: &[&str]) -> Setup {
    let mut setup = Setup::new(
        dir,
        node,
        SocketAddr::from(([127, 0, 0, 1], port)),
        "admin",
        Password::new("s3cret"),
    );
    setup.services(services);
    setup
}

/// A member or off-cluster server on 127.0.0.1.
pub fn local(name: &str, port: u16) -> Endpoint {
    Endpoint::new(name, "127.0.0.1", port)
}

/// A port on 127.0.0.1 where a node is down: a listener, held for the whole test process,
/// that closes every connection at once (so no other test can take the port).
pub fn closing_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for connection in listener.incoming() {
            drop(connection);
        }
    });
    port
}

/// Writes the node of `setup` and serves it until the process ends.
pub fn start(setup: &Setup) -> TestNode {
    let config = setup.write().expect("init");
    let bound = ctl_providerd::spawn(&config).expect("provider starts");
    TestNode {
        dir: setup.dir().to_owned(),
        port: bound.port(),
    }
}
