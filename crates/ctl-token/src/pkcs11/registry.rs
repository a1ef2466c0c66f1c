//! Modules registered with p11-kit, found by name (`module-name=softhsm2`), the way
//! distributions expose tokens to applications: a file `NAME.module` in the user's
//! `~/.config/pkcs11/modules/`, the system's `/etc/pkcs11/modules/` or the packages'
//! `/usr/share/p11-kit/modules/` (the first that has one wins), whose `module:` line
//! gives the library, absolute or relative to p11-kit's module directory.

use std::path::{Path, PathBuf};

/// Where p11-kit looks for module files, most specific first.
pub(crate) fn config_dirs() -> Vec<PathBuf> {
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))
        .map(|c| c.join("pkcs11/modules"));
    user.into_iter()
        .chain(["/etc/pkcs11/modules", "/usr/share/p11-kit/modules"].map(PathBuf::from))
        .collect()
}

/// p11-kit's directory for module paths that are not absolute.
pub(crate) const MODULE_DIR: &str = "/usr/lib/x86_64-linux-gnu/pkcs11";

/// The largest module file read (they are a few lines).
const MAX_FILE: u64 = 64 * 1024;

/// The library of the module registered as `name`: from the first of `dirs` with a
/// `name.module` file that names one. `None` when no file registers it.
pub(crate) fn registered(name: &str, dirs: &[PathBuf], module_dir: &Path) -> Option<PathBuf> {
    // A name is a file name, never a path.
    if name.is_empty() || name.contains(['/', '\0']) || name.starts_with('.') {
        return None;
    }
    dirs.iter().find_map(|d| {
        let text = read_small(&d.join(format!("{name}.module")))?;
        let module = text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "module").then(|| value.trim().to_owned())
        })?;
        (!module.is_empty()).then(|| module_dir.join(module))
    })
}

/// The text of a regular file of at most [`MAX_FILE`] bytes.
fn read_small(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_module_is_found_by_its_file_name_and_the_first_directory_wins() {
        let root = tempfile::tempdir().unwrap();
        let (user, system) = (root.path().join("user"), root.path().join("system"));
        std::fs::create_dir_all(&user).unwrap();
        std::fs::create_dir_all(&system).unwrap();
        std::fs::write(
            system.join("softhsm2.module"),
            "# This file describes how to load the module\n\nmodule: /usr/lib/softhsm/libsofthsm2.so\ncritical: no\n",
        )
        .unwrap();
        std::fs::write(
            system.join("tpm2_pkcs11.module"),
            "module: libtpm2_pkcs11.so\n",
        )
        .unwrap();
        let dirs = [user.clone(), system];
        let lib = Path::new("/lib/pkcs11");
        assert_eq!(
            registered("softhsm2", &dirs, lib),
            Some(PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
        );
        // Relative: from p11-kit's module directory.
        assert_eq!(
            registered("tpm2_pkcs11", &dirs, lib),
            Some(PathBuf::from("/lib/pkcs11/libtpm2_pkcs11.so"))
        );
        // The user's file comes first.
        std::fs::write(user.join("softhsm2.module"), "module: /opt/hsm/lib.so\n").unwrap();
        assert_eq!(
            registered("softhsm2", &dirs, lib),
            Some(PathBuf::from("/opt/hsm/lib.so"))
        );
        for unknown in ["opensc", "", "../system/softhsm2", ".hidden", "a/b"] {
            assert_eq!(registered(unknown, &dirs, lib), None, "{unknown}");
        }
        // A file without a module line registers nothing.
        std::fs::write(user.join("empty.module"), "critical: yes\n").unwrap();
        assert_eq!(registered("empty", &dirs, lib), None);
    }
}
