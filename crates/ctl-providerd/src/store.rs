//! The node's files: written atomically, so a crash leaves the old file or the new one.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Writes `bytes` to `path` atomically.
///
/// # Errors
/// Any write, sync or rename failure.
///
/// A temporary file in the same directory, fsync, rename,
/// fsync of the directory. On any failure the old file is untouched and the temporary removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A name no other writer of this process uses at the same time: two writers of one
    // file must never share (and truncate) each other's temporary file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        // create_new: never reuse (or follow a symlink planted at) an existing name.
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
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

/// One audit log line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditLine {
    /// Unix seconds.
    pub time: u64,
    /// Who.
    pub user: String,
    /// What.
    pub action: String,
    /// Details.
    pub message: String,
}

impl Store {
    /// Opens (creating) the TFTP and state directories.
    ///
    /// # Errors
    /// They cannot be created.
    pub fn open(tftp_dir: &Path, state_dir: &Path) -> std::io::Result<Self> {
        fs::create_dir_all(tftp_dir)?;
        fs::create_dir_all(state_dir)?;
        Ok(Self {
            tftp_dir: tftp_dir.to_owned(),
            state_dir: state_dir.to_owned(),
            state_lock: Mutex::new(()),
        })
    }

    /// The path of CTLFile.tlv.
    pub fn ctl_path(&self) -> PathBuf {
        self.tftp_dir.join("CTLFile.tlv")
    }

    /// The current CTL, if there is one.
    ///
    /// # Errors
    /// It exists but cannot be read.
    pub fn current_ctl(&self) -> std::io::Result<Option<Vec<u8>>> {
        match fs::read(self.ctl_path()) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Makes `bytes` the current CTL, keeping the previous one as CTLFile_old.tlv.
    ///
    /// # Errors
    /// A write failed; the current file is then unchanged.
    pub fn install_ctl(&self, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(old) = self.current_ctl()? {
            write_atomic(&self.tftp_dir.join("CTLFile_old.tlv"), &old)?;
        }
        write_atomic(&self.ctl_path(), bytes)
    }

    /// Stores the CAPF certificate as capf.cer (DER) and capf.pem.
    ///
    /// # Errors
    /// A write failed.
    pub fn install_capf(&self, der: &[u8], pem: &str) -> std::io::Result<()> {
        write_atomic(&self.tftp_dir.join("capf.cer"), der)?;
        write_atomic(&self.tftp_dir.join("capf.pem"), pem.as_bytes())
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
        write_atomic(&self.state_dir.join("state.json"), &json)?;
        Ok(out)
    }

    /// Appends one line to audit.log and syncs it.
    ///
    /// # Errors
    /// The log cannot be written.
    pub fn audit(&self, line: &AuditLine) -> std::io::Result<()> {
        let mut json = serde_json::to_vec(line).map_err(std::io::Error::other)?;
        json.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.state_dir.join("audit.log"))?;
        f.write_all(&json)?;
        f.sync_data()
    }

    /// The newest `limit` audit lines, oldest first (a torn last line is skipped).
    ///
    /// # Errors
    /// The log exists but cannot be read.
    pub fn audit_tail(&self, limit: usize) -> std::io::Result<Vec<AuditLine>> {
        let text = match fs::read_to_string(self.state_dir.join("audit.log")) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let lines: Vec<AuditLine> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let skip = lines.len().saturating_sub(limit);
        Ok(lines.into_iter().skip(skip).collect())
    }
}
