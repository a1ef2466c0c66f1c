//! The node's files: written atomically, so a crash leaves the old file or the new one.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Who may read a file the node writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// The node's user only (0600): keys, the password hash, the state, the audit log.
    Private,
    /// Readable by all, writable by the node's user (0644): certificates and what TFTP
    /// serves to phones.
    Public,
}

impl Access {
    /// The file mode it is created with (the umask can only take bits away).
    pub const fn mode(self) -> u32 {
        match self {
            Self::Private => 0o600,
            Self::Public => 0o644,
        }
    }
}

/// Creates a new file in `dir` for `name`'s next content, with its final mode from the
/// first byte, under a random name that is not reused and not followed if something
/// (a symlink) is already there.
fn create_temp(dir: &Path, name: &str, access: Access) -> std::io::Result<(File, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", ctl_format::hex(&random)));
    // create_new (O_EXCL): an existing name, a planted symlink included, is an error.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(access.mode())
        .open(&tmp)?;
    // The umask may have taken bits away, never added any; say the mode exactly.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(access.mode()))?;
    Ok((file, tmp))
}

/// Writes `bytes` to `path` atomically, with the mode of `access` from the first byte.
///
/// # Errors
/// Any write, sync or rename failure.
///
/// A new temporary file in the same directory (its final mode, a random name), fsync,
/// rename, fsync of the directory. On any failure the old file is untouched and the
/// temporary removed.
pub fn write_atomic(path: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (mut f, tmp) = create_temp(dir, &name, access)?;
    let result = (|| {
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `dir` (and its parents) if missing, and makes it the node's user's only (0700).
///
/// # Errors
/// It cannot be created or its mode set.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// The CTL's file name, in the state directory (the node's own) and in TFTP (published).
const CTL_FILE: &str = "CTLFile.tlv";

/// The largest CTL a node reads from disk (the format's own limit).
const MAX_CTL: u64 = 65_536;

/// Reads `path` if it is a regular file (a symlink is refused, not followed) of at most
/// `max` bytes; `None` when there is nothing.
///
/// The file is opened with `O_NOFOLLOW` (a symlink fails the open) and `O_NONBLOCK` (a
/// FIFO cannot hold the node), then judged by what was opened: no window between a look
/// and the open for another file to slip in, and a file replaced by an atomic rename at
/// that moment is read whole, old or new.
fn read_regular(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    use rustix::fs::{Mode, OFlags};
    use std::io::Read as _;
    let refuse = |why: &str| std::io::Error::other(format!("{}: {why}", path.display()));
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if e == rustix::io::Errno::NOENT => return Ok(None),
        // ELOOP: the last component is a symlink.
        Err(e) if e == rustix::io::Errno::LOOP => {
            return Err(refuse("a symlink; not followed, not read"));
        }
        Err(e) => return Err(e.into()),
    };
    let f = File::from(fd);
    if !f.metadata()?.is_file() {
        return Err(refuse("not a regular file; not read"));
    }
    let mut bytes = Vec::new();
    f.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(refuse(&format!("over {max} bytes; not read")));
    }
    Ok(Some(bytes))
}

fn what_was_there(found: &std::io::Result<Option<Vec<u8>>>) -> String {
    match found {
        Ok(Some(_)) => "other bytes".to_owned(),
        Ok(None) => "missing".to_owned(),
        Err(e) => e.to_string(),
    }
}

/// What survives restarts besides the files themselves.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// 0 non-secure, 1 mixed.
    pub mode: u8,
    /// SHA-256 (hex) of the current CTLFile.tlv, if any.
    pub current_hash: Option<String>,
    /// Off-cluster servers clients stored with the current CTL (first node).
    #[serde(default)]
    pub peers: StoredPeers,
    /// The list staged with a CTL being committed: written before the file, made current
    /// after it, so the list always matches the file (see [`State::peers_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_peers: Option<PendingPeers>,
    /// SHA-256 (hex) of every CTL this node committed, oldest first (at most
    /// [`HISTORY_LIMIT`]): none of them is ever staged again.
    #[serde(default)]
    pub history: Vec<String>,
    /// The newest TIMESTAMP of a CTL this node committed: a staged CTL must be newer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<u32>,
}

/// How many committed hashes the state remembers (the newest ones).
pub const HISTORY_LIMIT: usize = 4096;

impl State {
    /// Records that the CTL with hash `hash` (hex) and TIMESTAMP `timestamp` was committed.
    pub fn remember(&mut self, hash: &str, timestamp: u32) {
        if !self.history.iter().any(|h| h == hash) {
            self.history.push(hash.to_owned());
        }
        let excess = self.history.len().saturating_sub(HISTORY_LIMIT);
        self.history.drain(..excess);
        self.last_timestamp = Some(self.last_timestamp.map_or(timestamp, |t| t.max(timestamp)));
    }

    /// The stored off-cluster servers that go with the CTL whose hash is `current`: the
    /// pending list when the crash came after its file was written, else the stored one.
    pub fn peers_for(&self, current: Option<&str>) -> &StoredPeers {
        match &self.pending_peers {
            Some(p) if Some(p.hash.as_str()) == current => &p.peers,
            _ => &self.peers,
        }
    }
}

/// One off-cluster server's provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeerRecord {
    /// Its name (the DNS name in its CTL records).
    pub name: String,
    /// Host name or address of its provider.
    pub host: String,
    /// Provider port.
    pub port: u16,
}

/// Off-cluster servers by kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredPeers {
    /// Alternate TFTP servers.
    #[serde(default)]
    pub alternate_tftp: Vec<PeerRecord>,
    /// Firewalls.
    #[serde(default)]
    pub firewalls: Vec<PeerRecord>,
}

/// A list waiting for its CTL to commit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingPeers {
    /// SHA-256 (hex) of the CTL it goes with.
    pub hash: String,
    /// The list.
    pub peers: StoredPeers,
}

/// The node's storage.
#[derive(Debug)]
pub struct Store {
    tftp_dir: PathBuf,
    state_dir: PathBuf,
    /// Held across every read-modify-write of `state.json` ([`Store::update_state`]).
    state_lock: Mutex<()>,
}

impl Store {
    /// Opens (creating) the TFTP and state directories.
    ///
    /// # Errors
    /// They cannot be created.
    pub fn open(tftp_dir: &Path, state_dir: &Path) -> std::io::Result<Self> {
        fs::create_dir_all(tftp_dir)?;
        private_dir(state_dir)?;
        // Written by an older version with the umask's mode: private from now on.
        for name in ["state.json", "audit.log"] {
            use std::os::unix::fs::PermissionsExt as _;
            match fs::set_permissions(
                state_dir.join(name),
                fs::Permissions::from_mode(Access::Private.mode()),
            ) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(Self {
            tftp_dir: tftp_dir.to_owned(),
            state_dir: state_dir.to_owned(),
            state_lock: Mutex::new(()),
        })
    }

    /// The path of the published CTLFile.tlv (in the TFTP directory).
    pub fn ctl_path(&self) -> PathBuf {
        self.tftp_dir.join(CTL_FILE)
    }

    /// The node's own copy of its CTL, the one it serves and checks against.
    fn own_ctl_path(&self) -> PathBuf {
        self.state_dir.join(CTL_FILE)
    }

    /// The current CTL (the node's own copy, in the state directory), if there is one.
    ///
    /// # Errors
    /// It exists but cannot be read, is not a regular file, or is over 64 KiB.
    pub fn current_ctl(&self) -> std::io::Result<Option<Vec<u8>>> {
        read_regular(&self.own_ctl_path(), MAX_CTL)
    }

    /// Makes `bytes` the current CTL: the node's own copy first (the commit point), then
    /// published to TFTP, keeping the previous one there as CTLFile_old.tlv.
    ///
    /// # Errors
    /// A write failed; the current CTL is then the previous one (the own copy is put back
    /// when publishing fails; should that fail too, a restart republishes the own copy).
    pub fn install_ctl(&self, bytes: &[u8]) -> std::io::Result<()> {
        let old = self.current_ctl()?;
        write_atomic(&self.own_ctl_path(), bytes, Access::Private)?;
        let published = (|| {
            if let Some(old) = &old {
                write_atomic(&self.tftp_dir.join("CTLFile_old.tlv"), old, Access::Public)?;
            }
            write_atomic(&self.ctl_path(), bytes, Access::Public)
        })();
        if published.is_err() {
            let _ = match &old {
                Some(old) => write_atomic(&self.own_ctl_path(), old, Access::Private),
                None => fs::remove_file(self.own_ctl_path()),
            };
        }
        published
    }

    /// Makes the TFTP directory publish the node's own CTL, at start-up. A published file
    /// that differs (written there by someone else, a symlink, torn) is replaced, never
    /// adopted; with no CTL of its own the node publishes none, and what is there is moved
    /// to `state/CTLFile.tlv.rejected`. A node of an older version, whose only copy is the
    /// published one, takes it once if the state records it as the file it committed
    /// (`known_hash`). Returns what it did, for the log, when it did anything.
    ///
    /// # Errors
    /// The own copy cannot be read, or a file cannot be written or moved.
    pub fn reconcile_published(&self, known_hash: Option<&str>) -> std::io::Result<Option<String>> {
        let published = read_regular(&self.ctl_path(), MAX_CTL);
        let own = self.current_ctl()?;
        if own.is_none()
            && let Ok(Some(p)) = &published
            && known_hash == Some(ctl_format::hex(&ctl_provider::ctl_hash(p)).as_str())
        {
            write_atomic(&self.own_ctl_path(), p, Access::Private)?;
            return Ok(Some(format!(
                "took {} as the node's own CTL (committed by an earlier version)",
                self.ctl_path().display()
            )));
        }
        match (own, published) {
            (Some(o), Ok(Some(p))) if o == p => Ok(None),
            (None, Ok(None)) => Ok(None),
            (Some(o), found) => {
                write_atomic(&self.ctl_path(), &o, Access::Public)?;
                Ok(Some(format!(
                    "{} was not the node's CTL ({}): republished the node's own",
                    self.ctl_path().display(),
                    what_was_there(&found)
                )))
            }
            (None, found) => {
                let aside = self.state_dir.join("CTLFile.tlv.rejected");
                fs::rename(self.ctl_path(), &aside)?;
                Ok(Some(format!(
                    "{} is no CTL this node committed ({}): moved to {}; the node has no CTL",
                    self.ctl_path().display(),
                    what_was_there(&found),
                    aside.display()
                )))
            }
        }
    }

    /// Stores the CAPF certificate as capf.cer (DER) and capf.pem.
    ///
    /// # Errors
    /// A write failed.
    pub fn install_capf(&self, der: &[u8], pem: &str) -> std::io::Result<()> {
        write_atomic(&self.tftp_dir.join("capf.cer"), der, Access::Public)?;
        write_atomic(
            &self.tftp_dir.join("capf.pem"),
            pem.as_bytes(),
            Access::Public,
        )
    }

    /// The saved state (defaults when there is none).
    ///
    /// # Errors
    /// Unreadable or corrupt.
    pub fn state(&self) -> std::io::Result<State> {
        match fs::read(self.state_dir.join("state.json")) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| std::io::Error::other(format!("state.json: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e),
        }
    }

    /// Changes the saved state: reads it, lets `change` edit it, writes it back atomically,
    /// all under one lock, so concurrent updates (a commit, a mode change) never undo each
    /// other. Nothing is written when `change` fails.
    ///
    /// # Errors
    /// The state cannot be read or written, or `change` fails.
    pub fn update_state<T>(
        &self,
        change: impl FnOnce(&mut State) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let _guard = self
            .state_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut state = self.state()?;
        let out = change(&mut state)?;
        let json = serde_json::to_vec_pretty(&state).map_err(std::io::Error::other)?;
        write_atomic(&self.state_dir.join("state.json"), &json, Access::Private)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// A private file is never readable by others, not even while it is being written:
    /// the temporary has its final mode before its first byte.
    #[test]
    fn a_temporary_is_created_with_its_final_mode() {
        let dir = tempfile::tempdir().unwrap();
        let (f, tmp) = create_temp(dir.path(), "node.key", Access::Private).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 0);
        assert_eq!(mode(&tmp), 0o600);
        let (_, other) = create_temp(dir.path(), "node.key", Access::Public).unwrap();
        assert_ne!(tmp, other, "random names, never reused");
        assert_eq!(mode(&other), 0o644);
    }

    /// A symlink planted in place of a file is replaced, not followed: its target keeps
    /// its bytes.
    /// Only a regular file is read: a symlink is not followed and a FIFO cannot hold the
    /// node; a file renamed over while it is read is read whole (a concurrent commit).
    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("CTLFile.tlv");
        assert_eq!(read_regular(&file, 10).unwrap(), None);
        fs::write(&file, b"12345").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap().unwrap(), b"12345");
        let e = read_regular(&file, 4).unwrap_err().to_string();
        assert!(e.contains("over 4 bytes"), "{e}");
        let link = dir.path().join("link.tlv");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let e = read_regular(&link, 10).unwrap_err().to_string();
        assert!(e.contains("a symlink; not followed"), "{e}");
        let fifo = dir.path().join("fifo.tlv");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = read_regular(&fifo, 10).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        // Renamed over in a loop while read: every read is one of the two files, whole.
        let writer = {
            let dir = dir.path().to_owned();
            std::thread::spawn(move || {
                for i in 0..2000u32 {
                    let tmp = dir.join("tmp");
                    fs::write(&tmp, if i % 2 == 0 { b"aaaaa" } else { b"bbbbb" }).unwrap();
                    fs::rename(&tmp, dir.join("CTLFile.tlv")).unwrap();
                }
            })
        };
        while !writer.is_finished() {
            let got = read_regular(&file, 10).unwrap().unwrap();
            assert!(
                got == b"aaaaa" || got == b"bbbbb" || got == b"12345",
                "{got:?}"
            );
        }
        writer.join().unwrap();
    }

    #[test]
    fn a_symlink_in_place_of_the_file_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs::write(&target, b"keep me").unwrap();
        let path = dir.path().join("state.json");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        write_atomic(&path, b"{}", Access::Private).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"keep me");
        assert!(!fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        assert_eq!(mode(&path), 0o600);
    }

    /// The state directory is made private, also when it exists already.
    #[test]
    fn the_state_directory_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir(&state).unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(state.join("audit.log"), b"").unwrap();
        fs::set_permissions(state.join("audit.log"), fs::Permissions::from_mode(0o644)).unwrap();
        Store::open(&dir.path().join("tftp"), &state).unwrap();
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join("audit.log")), 0o600);
    }

    /// A node of an older version kept its CTL only in TFTP: it is taken once when the
    /// state records it as committed, and otherwise set aside, not served.
    #[test]
    fn an_older_nodes_published_ctl_is_taken_only_if_the_state_records_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tftp"), &dir.path().join("state")).unwrap();
        let file = b"a committed CTL".to_vec();
        let hash = ctl_format::hex(&ctl_provider::ctl_hash(&file));
        fs::write(store.ctl_path(), &file).unwrap();
        assert!(store.reconcile_published(Some(&hash)).unwrap().is_some());
        assert_eq!(store.current_ctl().unwrap(), Some(file.clone()));
        assert_eq!(store.reconcile_published(Some(&hash)).unwrap(), None);

        let other = tempfile::tempdir().unwrap();
        let store = Store::open(&other.path().join("tftp"), &other.path().join("state")).unwrap();
        fs::write(store.ctl_path(), &file).unwrap();
        let said = store.reconcile_published(Some("00")).unwrap().unwrap();
        assert!(said.contains("no CTL this node committed"), "{said}");
        assert_eq!(store.current_ctl().unwrap(), None);
        assert!(!store.ctl_path().exists());
    }
}
