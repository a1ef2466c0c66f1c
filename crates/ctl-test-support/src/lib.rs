//! Test fixtures of the whole workspace: the one path to the test vectors and key files
//! ([`vectors`], [`keys`], [`fixture`]), the PKCS#11 implementation under test ([`tokens`]:
//! SoftHSM2 or tpm2-pkcs11, a token store per process, uniquely labelled tokens), the one node template of tests and
//! benches ([`node_setup`], [`start`]: providers in this process, bound on port 0), and
//! `ctl-providerd` processes ([`daemon`]), the clients that attack them ([`hostile`]), and
//! the lines benchmarks print for `scripts/bench` ([`report`]).
//!
//! Does not mock anything: the tokens are real tokens behind the real module, the
//! nodes real providers on loopback TLS.
#![allow(clippy::missing_panics_doc)] // fixtures panic on a broken test environment by design

pub mod daemon;
pub mod hostile;
pub mod report;
pub mod rogue;
pub mod tftpd;
pub mod tokens;

pub use tokens::{
    SO_PIN, import_vector_key, module, module_path, new_token, remove_token_files, softhsm_conf,
    token_with_vector_key, unique_label, uri,
};

use std::path::{Path, PathBuf};

use std::net::SocketAddr;

use ctl_provider::message::Password;
use ctl_providerd::{Endpoint, Setup};

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
