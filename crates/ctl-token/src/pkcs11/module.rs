//! Loading PKCS#11 modules: once per process and path, never finalized.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;

use super::Error;
use super::uri::Pkcs11Uri;

/// The environment variable naming the default module.
pub const MODULE_ENV: &str = "CTL_PKCS11_MODULE";

/// Modules tried when neither the URI nor [`MODULE_ENV`] names one: every one that exists.
pub const WELL_KNOWN_MODULES: &[&str] = &[
    // SafeNet eToken
    "/usr/lib/libeTPkcs11.so",
    "/usr/lib/x86_64-linux-gnu/libeTPkcs11.so",
    // YubiKey PIV
    "/usr/lib/x86_64-linux-gnu/libykcs11.so",
    "/usr/lib/libykcs11.so",
    "/usr/local/lib/libykcs11.so",
    // OpenSC
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
    // SoftHSM2
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// Directories searched for `module-name=NAME` (as `NAME.so` and `libNAME.so`).
const MODULE_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/pkcs11",
    "/usr/lib64/pkcs11",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/softhsm",
    "/usr/lib",
    "/usr/local/lib",
];

/// A loaded and initialized module.
#[derive(Clone, Debug)]
pub struct Module {
    path: PathBuf,
    ctx: Pkcs11,
}

impl Module {
    /// The module's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) const fn ctx(&self) -> &Pkcs11 {
        &self.ctx
    }

    /// Loads and initializes the module at `path`, or returns the one this process
    /// already loaded. C_Initialize runs once per module and process, and C_Finalize
    /// never runs (it would pull the module from under every other user in the process).
    ///
    /// # Errors
    /// The module cannot be loaded or initialized.
    pub fn load(path: &Path) -> Result<Self, Error> {
        static LOADED: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
        let loaded = LOADED.get_or_init(|| Mutex::new(HashMap::new()));
        let mut loaded = loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(ctx) = loaded.get(path) {
            return Ok(Self {
                path: path.to_owned(),
                ctx: ctx.clone(),
            });
        }
        let fail = |reason: String| Error::ModuleLoad {
            path: path.to_owned(),
            reason,
        };
        if !path.exists() {
            return Err(Error::ModuleNotFound {
                what: format!("{}: no such file", path.display()),
            });
        }
        // The loader's own words, without the binding's wrapper around them.
        let ctx = Pkcs11::new(path).map_err(|e| {
            let text = e.to_string();
            let inner = text
                .strip_prefix("libloading error (")
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(&text);
            fail(inner.to_owned())
        })?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(fail(format!("C_Initialize: {e}"))),
        }
        loaded.insert(path.to_owned(), ctx.clone());
        Ok(Self {
            path: path.to_owned(),
            ctx,
        })
    }

    /// Finalizes the module and initializes it again, so that it lists tokens created
    /// since it was loaded by other processes (SoftHSM2 reads its token directory only in
    /// `C_Initialize`; hardware modules report an inserted token without this).
    ///
    /// Every session of the module in this process ends with it: call it only when none
    /// is open, as while waiting for the operator to insert the next token.
    ///
    /// # Errors
    /// `C_Finalize` or `C_Initialize` failed.
    pub fn rescan(&self) -> Result<(), Error> {
        let fail = |function: &str, e: cryptoki::error::Error| Error::ModuleLoad {
            path: self.path.clone(),
            reason: format!("{function}: {e}"),
        };
        match self.ctx.clone().finalize() {
            Ok(()) | Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiNotInitialized, _)) => {}
            Err(e) => return Err(fail("C_Finalize", e)),
        }
        match self
            .ctx
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
            Err(e) => Err(fail("C_Initialize", e)),
        }
    }

    /// The modules a URI designates: its `module-path`, its `module-name` (a module
    /// registered with p11-kit under that name, else a library of that name), else
    /// [`MODULE_ENV`], else every well-known module present on this machine.
    ///
    /// # Errors
    /// A named module that does not exist or does not load, or no module at all.
    pub fn for_uri(uri: &Pkcs11Uri) -> Result<Vec<Self>, Error> {
        if let Some(path) = &uri.module_path {
            return Ok(vec![Self::load(path)?]);
        }
        if let Some(name) = &uri.module_name {
            // Registered with p11-kit first, then a library of that name.
            let p11_kit = super::registry::config_dirs();
            let found = super::registry::registered(name, &p11_kit, Path::new(super::registry::MODULE_DIR))
                .or_else(|| {
                    MODULE_DIRS
                        .iter()
                        .flat_map(|d| {
                            [
                                Path::new(d).join(format!("{name}.so")),
                                Path::new(d).join(format!("lib{name}.so")),
                            ]
                        })
                        .find(|p| p.exists())
                })
                .ok_or_else(|| Error::ModuleNotFound {
                    what: format!(
                        "module-name={name}: no {name}.module in {} and no library {name}.so or lib{name}.so in {}",
                        p11_kit
                            .iter()
                            .map(|d| d.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        MODULE_DIRS.join(", ")
                    ),
                })?;
            return Ok(vec![Self::load(&found)?]);
        }
        Self::defaults()
    }

    /// [`MODULE_ENV`] when set, else every well-known module present.
    ///
    /// # Errors
    /// None present, or one that does not load.
    pub fn defaults() -> Result<Vec<Self>, Error> {
        if let Some(path) = std::env::var_os(MODULE_ENV).filter(|p| !p.is_empty()) {
            return Ok(vec![Self::load(Path::new(&path))?]);
        }
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for p in WELL_KNOWN_MODULES
            .iter()
            .map(Path::new)
            .filter(|p| p.exists())
        {
            // Symlinks to the same library count once.
            let real = p.canonicalize().unwrap_or_else(|_| p.to_owned());
            if seen.contains(&real) {
                continue;
            }
            seen.push(real);
            out.push(Self::load(p)?);
        }
        if out.is_empty() {
            return Err(Error::ModuleNotFound {
                what: format!(
                    "no module-path in the URI, {MODULE_ENV} unset, and none of {} present",
                    WELL_KNOWN_MODULES.join(", ")
                ),
            });
        }
        Ok(out)
    }
}
