//! Reading what the site's directories hold without following links, and writing a
//! run's files so that each is either the old file or the new one.
//!
//! A run stages every new file as a temporary beside its final name, flushes the
//! filesystem once, then renames them all and flushes the directory: a crash leaves
//! each file old or new, never torn, and leaves at most some `.NAME.provision.tmp`
//! files, which the next run replaces.

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::error::ProvisionError;

/// Reads at most `limit` bytes of `path` (following links: manifests and keys may be
/// links the operator made), refusing larger files.
pub(crate) fn read_capped(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    read_open(file, limit)
}

fn read_open(file: File, limit: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    file.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(io::Error::other(format!(
            "file too large: expected at most {limit} bytes"
        )));
    }
    Ok(buf)
}

/// What a name in a served directory is.
#[derive(Debug)]
pub(crate) enum Found {
    /// A regular file, read.
    File(Vec<u8>),
    /// Nothing by that name.
    Absent,
    /// Something else: a link, a directory, a device (never followed or read).
    Other(&'static str),
}

/// Reads the regular file `path`, never through a symbolic link; at most `limit` bytes.
///
/// # Errors
/// I/O errors, and files over `limit`.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Found, ProvisionError> {
    let io = |source| ProvisionError::Io {
        path: path.to_owned(),
        source,
    };
    let fd = match rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(Found::Absent),
        Err(rustix::io::Errno::LOOP) => return Ok(Found::Other("a symbolic link")),
        Err(e) => return Err(io(e.into())),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Ok(Found::Other("a directory"));
    }
    if !meta.is_file() {
        return Ok(Found::Other("not a regular file"));
    }
    if meta.len() > limit {
        return Err(ProvisionError::Source {
            path: path.to_owned(),
            reason: format!(
                "file too large: expected at most {limit} bytes, found {}",
                meta.len()
            ),
        });
    }
    read_open(file, limit).map(Found::File).map_err(io)
}

/// A new file written beside its final name, not yet in place.
#[derive(Debug)]
pub(crate) struct Staged {
    tmp: PathBuf,
    path: PathBuf,
}

impl Staged {
    /// Where the new file is until it is put in place.
    pub(crate) fn tmp(&self) -> &Path {
        &self.tmp
    }
}

/// The (device, inode) of a regular file, not through a link.
pub(crate) fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let m = path.symlink_metadata().ok()?;
    m.is_file().then(|| (m.dev(), m.ino()))
}

/// Like [`stage`], with a hard link to `from` (a file of the same directory) instead of
/// a copy of its bytes: per-device lists share their site list's inode, so 10,000
/// phones cost 10,000 names, not 10,000 copies.
///
/// # Errors
/// I/O errors (a filesystem without hard links among them); nothing is left behind.
pub(crate) fn stage_link(from: &Path, path: &Path) -> Result<Staged, ProvisionError> {
    let tmp = tmp_of(path);
    let result = match fs::hard_link(from, &tmp) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(&tmp).and_then(|()| fs::hard_link(from, &tmp))
        }
        other => other,
    };
    result.map_err(|source| ProvisionError::Io {
        path: tmp.clone(),
        source,
    })?;
    Ok(Staged {
        tmp,
        path: path.to_owned(),
    })
}

/// The temporary name of `path`'s next version.
fn tmp_of(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.provision.tmp"))
}

/// Writes `bytes` (mode `mode`) beside `path`, to be put in place by [`commit`].
///
/// # Errors
/// I/O errors; nothing is left behind on error.
pub(crate) fn stage(path: &Path, bytes: &[u8], mode: u32) -> Result<Staged, ProvisionError> {
    let tmp = tmp_of(path);
    let open = || {
        // O_EXCL: an existing name, a link included, is never opened, never followed.
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
    };
    let result = (|| {
        let mut f = match open() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // A temporary a crashed run left (or a planted link): unlinked, not followed.
                fs::remove_file(&tmp)?;
                open()?
            }
            other => other?,
        };
        f.write_all(bytes)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(ProvisionError::Io { path: tmp, source });
    }
    Ok(Staged {
        tmp,
        path: path.to_owned(),
    })
}

/// Removes staged files (a run that failed before committing).
pub(crate) fn discard(staged: &[Staged]) {
    for s in staged {
        let _ = fs::remove_file(&s.tmp);
    }
}

/// Makes the staged files durable (one flush of the filesystem), puts each in place,
/// removes `remove`, and flushes `dir`.
///
/// # Errors
/// I/O errors. Files renamed before the error are in place, each whole.
pub(crate) fn commit(
    dir: &Path,
    staged: &[Staged],
    remove: &[PathBuf],
) -> Result<(), ProvisionError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ProvisionError::Io { path, source }
    };
    let d = File::open(dir).map_err(io(dir))?;
    if !staged.is_empty() {
        rustix::fs::syncfs(&d).map_err(|e| io(dir)(e.into()))?;
    }
    for (i, s) in staged.iter().enumerate() {
        if let Err(e) = fs::rename(&s.tmp, &s.path) {
            discard(staged.get(i..).unwrap_or_default());
            return Err(io(&s.path)(e));
        }
    }
    for path in remove {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(path)(e)),
        }
    }
    d.sync_all().map_err(io(dir))
}

/// Creates a file that must not exist yet with its final mode (keys: 0600).
///
/// # Errors
/// An existing file, or I/O errors.
pub(crate) fn create_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ProvisionError> {
    let io = |source| ProvisionError::Io {
        path: path.to_owned(),
        source,
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    let result = f.write_all(bytes).and_then(|()| f.sync_all());
    if let Err(e) = result {
        drop(f);
        let _ = fs::remove_file(path);
        return Err(io(e));
    }
    Ok(())
}
