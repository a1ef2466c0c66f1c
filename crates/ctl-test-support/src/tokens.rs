//! The PKCS#11 implementation the token tests run on, chosen by `CTL_TEST_PKCS11`:
//!
//! - `softhsm` (the default): SoftHSM2, a token directory per test process;
//! - `tpm2`: tpm2-pkcs11 over a software TPM (swtpm behind tpm2-abrmd, started once per
//!   machine by [`tpm2`]), a token store per test process.
//!
//! `CTL_TEST_PKCS11_MODULE` overrides the module's path (as for `p11-kit-proxy.so`, which
//! loads the registered modules, SoftHSM2 among them). Tokens are made the same way on
//! both: `C_InitToken` on the module's free slot. Keys from files go in with the module
//! where it can (`C_CreateObject` on SoftHSM2) and with the implementation's own tool
//! where it cannot (`tpm2_ptool import`: tpm2-pkcs11 creates no private key objects).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use ctl_token::pkcs11::lab;
use ctl_token::pkcs11::{Module, Token, list_tokens};
use rsa::pkcs8::DecodePrivateKey as _;
use secrecy::SecretString;

pub mod tpm2;

/// The environment variable that picks the implementation.
pub const BACKEND_ENV: &str = "CTL_TEST_PKCS11";

/// A PKCS#11 implementation the suite runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SoftHSM2 (a software token in files).
    SoftHsm,
    /// tpm2-pkcs11 on a software TPM 2.0.
    Tpm2,
}

impl Backend {
    /// The implementation `CTL_TEST_PKCS11` names (`softhsm` when unset).
    ///
    /// # Panics
    /// Any other value: a test run on an implementation nobody asked for would mislead.
    pub fn from_env() -> Self {
        match std::env::var(BACKEND_ENV).as_deref() {
            Err(_) | Ok("" | "softhsm") => Self::SoftHsm,
            Ok("tpm2") => Self::Tpm2,
            Ok(other) => panic!(
                "{BACKEND_ENV}={} names no PKCS#11 implementation of the suite (softhsm, tpm2)",
                other.escape_debug()
            ),
        }
    }

    /// Its name in `CTL_TEST_PKCS11`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SoftHsm => "softhsm",
            Self::Tpm2 => "tpm2",
        }
    }

    /// Where Debian installs its module.
    pub fn default_module(self) -> PathBuf {
        PathBuf::from(match self {
            Self::SoftHsm => "/usr/lib/softhsm/libsofthsm2.so",
            Self::Tpm2 => "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
        })
    }
}

/// The implementation of this test process.
pub fn backend() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(Backend::from_env)
}

/// The module under test: `CTL_TEST_PKCS11_MODULE`, else the implementation's Debian path.
pub fn module_path() -> PathBuf {
    std::env::var_os("CTL_TEST_PKCS11_MODULE")
        .map_or_else(|| backend().default_module(), PathBuf::from)
}

/// The SO PIN of every test token.
pub const SO_PIN: &str = "87654321";

struct Fixture {
    dir: tempfile::TempDir,
    module: Module,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary token directory");
        // Both implementations read their configuration in C_Initialize, which has not
        // run yet in this process.
        match backend() {
            Backend::SoftHsm => softhsm_conf_in(dir.path()),
            Backend::Tpm2 => tpm2::prepare(dir.path()),
        }
        let path = module_path();
        let module = Module::load(&path)
            .unwrap_or_else(|e| panic!("the {} module loads: {e}", backend().name()));
        Fixture { dir, module }
    })
}

fn softhsm_conf_in(dir: &Path) {
    let tokens = dir.join("tokens");
    std::fs::create_dir(&tokens).expect("token directory");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .expect("softhsm2.conf");
    std::env::set_var("SOFTHSM2_CONF", &conf);
}

/// The loaded module of this test process.
pub fn module() -> Module {
    fixture().module.clone()
}

/// The SOFTHSM2_CONF of this test process (for child processes).
///
/// # Panics
/// On another implementation than SoftHSM2.
pub fn softhsm_conf() -> PathBuf {
    assert_eq!(backend(), Backend::SoftHsm, "SOFTHSM2_CONF is SoftHSM2's");
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

/// A new token holding the vector key `name` (`NAME.key.pem`) and its certificate under
/// CKA_ID 01, both labelled `name`. Returns the token's label.
pub fn token_with_vector_key(name: &str, pin: &str) -> String {
    let (token, label) = new_token(name, pin);
    let mut token = import_vector_key(token, pin, name, &[1], name);
    let cert = crate::certificate(name);
    lab::import_certificate(&mut token, &SecretString::from(pin), cert.der(), &[1], name)
        .expect("certificate imported");
    label
}

/// Puts the private vector key `name` on `token` (its user PIN `pin`) under CKA_ID `id`
/// and CKA_LABEL `object`: with the module where it creates private keys (SoftHSM2), with
/// `tpm2_ptool` and a rescan on tpm2-pkcs11. Returns the token, found again.
pub fn import_vector_key(
    mut token: Token,
    pin: &str,
    name: &str,
    id: &[u8],
    object: &str,
) -> Token {
    let key_file = crate::fixture(&format!("{name}.key.pem"));
    match backend() {
        Backend::SoftHsm => {
            let pem = std::fs::read_to_string(&key_file).expect("key file");
            let key = rsa::PrivateKey::from_pkcs8_pem(&pem).expect("PKCS #8 key");
            lab::import_rsa_key(&mut token, &SecretString::from(pin), &key, id, object)
                .expect("key imported");
            token
        }
        Backend::Tpm2 => {
            let label = token.summary().label.clone();
            let store = fixture().dir.path().join("store");
            tpm2::import_key(&store, &label, pin, &key_file, id, object);
            rescan_for(&label)
        }
    }
}

/// Re-initializes the module so that it reads what another process wrote to its store,
/// and finds the token `label` again. Every session of the module in this process ends:
/// why the tpm2 suite runs one test at a time.
fn rescan_for(label: &str) -> Token {
    static RESCAN: Mutex<()> = Mutex::new(());
    let _one = RESCAN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let module = module();
    module.rescan().expect("module re-initialized");
    list_tokens(std::slice::from_ref(&module))
        .expect("tokens listed")
        .into_iter()
        .find(|t| t.summary().label == label)
        .unwrap_or_else(|| panic!("token {label} after the rescan"))
}

/// The URI of a token by label, with its PIN and the module.
pub fn uri(label: &str, pin: &str) -> ctl_token::Pkcs11Uri {
    format!(
        "pkcs11:token={label}?module-path={}&pin-value={pin}",
        module_path().display()
    )
    .parse()
    .expect("test URI")
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
