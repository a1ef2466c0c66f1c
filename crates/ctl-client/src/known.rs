//! The operator's known-providers file: the pinned provider certificates, read at the
//! start of a run and written back (atomically, synced) with what the run pinned.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ctl_provider::trust::{BadLine, KnownProviders};

/// Why the known-providers file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KnownError {
    /// It cannot be read or written.
    #[error("{}: {}", path.display(), ctl_format::io_words(source))]
    Io {
        /// The file (or its directory).
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `HOST PORT SHA256`.
    #[error("{} {source}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// Which line.
        source: BadLine,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KnownError + '_ {
    move |source| KnownError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads the file; a missing file is an empty list.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("known_providers");
/// let mut known = ctl_client::known::load(&path)?; // none yet
/// known.insert("cucm-pub", 2444, [0xab; 32]);
/// ctl_client::known::save(&path, &known)?;
/// assert_eq!(ctl_client::known::load(&path)?.get("cucm-pub", 2444), Some(&[0xab; 32]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unreadable file, or a line that is not `host port fingerprint` (named by number).
pub fn load(path: &Path) -> Result<KnownProviders, KnownError> {
    let text = match read_capped(path, MAX_KNOWN)? {
        Some(bytes) => String::from_utf8(bytes).map_err(|_| KnownError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
        })?,
        None => String::new(),
    };
    KnownProviders::parse(&text).map_err(|source| KnownError::Line {
        path: path.to_owned(),
        source,
    })
}

/// Writes the list to `path` atomically: a new temporary file beside it, synced, renamed
/// over the old one, and the directory synced. A failure leaves the old file as it was.
///
/// # Errors
/// The directory or the file cannot be written.
pub fn save(path: &Path, known: &KnownProviders) -> Result<(), KnownError> {
    write_atomic(path, known.to_text().as_bytes())
}

/// Where the CTL held for the cluster whose first node is `host:port` is kept: beside the
/// known-providers file at `known`.
pub fn anchor_path(known: &Path, host: &str, port: u16) -> PathBuf {
    let safe: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = known.parent().unwrap_or(Path::new("."));
    dir.join(format!("ctl-{safe}-{port}.tlv"))
}

/// The CTL held at `path`, if there is one.
///
/// # Errors
/// It exists but cannot be read.
pub fn load_anchor(path: &Path) -> Result<Option<Vec<u8>>, KnownError> {
    read_capped(path, ctl_format::MAX_LEN as u64)
}

/// A known-providers file holds a line per provider: this is thousands of clusters.
const MAX_KNOWN: u64 = 4 * 1024 * 1024;

/// The file's bytes (`None` when it does not exist), refusing one over `max` bytes.
fn read_capped(path: &Path, max: u64) -> Result<Option<Vec<u8>>, KnownError> {
    use std::io::Read as _;
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > max {
        return Err(KnownError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("over {max} bytes"),
            ),
        });
    }
    Ok(Some(bytes))
}

/// Keeps `ctl` as the CTL held at `path` (atomically, synced).
///
/// # Errors
/// It cannot be written.
pub fn save_anchor(path: &Path, ctl: &[u8]) -> Result<(), KnownError> {
    write_atomic(path, ctl)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), KnownError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        // create_new: never write through a file or symlink someone put there.
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(io(path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn saved_lists_load_back_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/known");
        assert!(load(&path).unwrap().is_empty(), "missing is empty");
        let mut k = KnownProviders::default();
        k.insert("cucm-pub", 2444, [7; 32]);
        save(&path, &k).unwrap();
        assert_eq!(load(&path).unwrap(), k);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        fs::write(&path, "cucm-pub 2444\n").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(
            e.ends_with("known line 1: expected HOST PORT SHA256"),
            "{e}"
        );
    }
}
