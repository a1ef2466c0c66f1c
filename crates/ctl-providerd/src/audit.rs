//! The audit log: one JSON line per event in `state/audit.log` (0600), synced line by
//! line, rotated by size to `audit.log.1`, `audit.log.2` ..., and read from its end.
//!
//! Everything in it may come from an unauthenticated client (a user name, an address), so
//! every text is cut to the length AUDIT sends, the file never outgrows its limit, and a
//! read costs what its answer holds, not what the log holds.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ctl_provider::message::{AuditEntry, cut_text};
use serde::{Deserialize, Serialize};

use crate::store::Access;

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

/// The bytes AUDIT answers with at most (texts and a little framing per entry), well
/// under the protocol's frame limit.
pub const MAX_ANSWER: usize = 96 * 1024;

/// The most bytes read from the end of the logs for one answer.
const MAX_READ: u64 = 4 * 1024 * 1024;

/// The audit log of one node.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    /// Held across an append and the rotation it may cause.
    lock: Mutex<()>,
}

impl AuditLog {
    /// The log `audit.log` in `state_dir`, rotated past `max_bytes`, keeping `keep` old ones.
    pub fn new(state_dir: &Path, max_bytes: u64, keep: u32) -> Self {
        Self {
            path: state_dir.join("audit.log"),
            max_bytes,
            keep: keep.max(1),
            lock: Mutex::new(()),
        }
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// Appends `line` (its texts cut to what AUDIT sends) and syncs it; rotates first when
    /// the line would take the log past its size.
    ///
    /// # Errors
    /// The log cannot be written.
    pub fn append(&self, line: &AuditLine) -> std::io::Result<()> {
        let line = AuditLine {
            time: line.time,
            user: cut_text(&line.user, AuditEntry::MAX_USER).into_owned(),
            action: cut_text(&line.action, AuditEntry::MAX_ACTION).into_owned(),
            message: cut_text(&line.message, AuditEntry::MAX_MESSAGE).into_owned(),
        };
        let mut json = serde_json::to_vec(&line).map_err(std::io::Error::other)?;
        json.push(b'\n');
        let _held = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let size = match fs::symlink_metadata(&self.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        if size > 0 && size + json.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(Access::Private.mode())
            .open(&self.path)?;
        f.write_all(&json)?;
        f.sync_data()
    }

    /// `audit.log.N` -> `.N+1` (the oldest dropped), `audit.log` -> `.1`.
    fn rotate(&self) -> std::io::Result<()> {
        for n in (1..self.keep).rev() {
            match fs::rename(self.rotated(n), self.rotated(n + 1)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        fs::rename(&self.path, self.rotated(1))
    }

    /// The newest `limit` lines, oldest first, as many as fit in [`MAX_ANSWER`]: read
    /// backwards from the end of the log (and of the rotated ones, newest first), never
    /// more than a few MiB whatever the logs hold. Lines that do not parse are skipped.
    ///
    /// # Errors
    /// A log exists but cannot be read.
    pub fn tail(&self, limit: usize) -> std::io::Result<Vec<AuditLine>> {
        let mut newest_first = Vec::new();
        let mut budget = MAX_ANSWER;
        let mut read = 0u64;
        let files =
            std::iter::once(self.path.clone()).chain((1..=self.keep).map(|n| self.rotated(n)));
        'files: for path in files {
            let mut f = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for raw in BackwardLines::new(&mut f, MAX_READ.saturating_sub(read))? {
                let raw = raw?;
                read += raw.len() as u64 + 1;
                if newest_first.len() >= limit {
                    break 'files;
                }
                let Ok(line) = serde_json::from_slice::<AuditLine>(&raw) else {
                    continue;
                };
                let cost = line.user.len() + line.action.len() + line.message.len() + 32;
                if cost > budget {
                    break 'files;
                }
                budget -= cost;
                newest_first.push(line);
            }
            if read >= MAX_READ {
                break;
            }
        }
        newest_first.reverse();
        Ok(newest_first)
    }
}

/// The lines of a file from its last to its first, reading at most `max` bytes from the end.
struct BackwardLines<'a> {
    file: &'a mut File,
    /// Where the unread part of the file ends.
    pos: u64,
    /// The lowest position still to be read.
    floor: u64,
    /// Bytes read but not yet split, from the file's `pos`.
    carry: Vec<u8>,
}

impl<'a> BackwardLines<'a> {
    fn new(file: &'a mut File, max: u64) -> std::io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Self {
            file,
            pos: len,
            floor: len.saturating_sub(max),
            carry: Vec::new(),
        })
    }

    /// Reads the next chunk backwards; false at the floor.
    fn fill(&mut self) -> std::io::Result<bool> {
        const CHUNK: u64 = 64 * 1024;
        if self.pos <= self.floor {
            return Ok(false);
        }
        let start = self.pos.saturating_sub(CHUNK).max(self.floor);
        let mut chunk = vec![0u8; usize::try_from(self.pos - start).unwrap_or(0)];
        self.file.seek(SeekFrom::Start(start))?;
        self.file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&self.carry);
        self.carry = chunk;
        self.pos = start;
        Ok(true)
    }
}

impl Iterator for BackwardLines<'_> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // Drop the newline that ends the text (or the previous line).
            if self.carry.last() == Some(&b'\n') {
                self.carry.pop();
                continue;
            }
            if let Some(i) = self.carry.iter().rposition(|&b| b == b'\n') {
                let line = self.carry.split_off(i + 1);
                self.carry.pop();
                return Some(Ok(line));
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) if self.pos == 0 && !self.carry.is_empty() => {
                    // The file's first line.
                    return Some(Ok(std::mem::take(&mut self.carry)));
                }
                // At the read limit a partial first line is not a line.
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn line(i: usize, message: &str) -> AuditLine {
        AuditLine {
            time: i as u64,
            user: format!("u{i}"),
            action: "login-failed".into(),
            message: message.into(),
        }
    }

    #[test]
    fn the_log_rotates_by_size_and_keeps_a_few() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path(), 64 * 1024, 2);
        for i in 0..2000 {
            log.append(&line(i, &"x".repeat(100))).unwrap();
        }
        let size = |p: &Path| fs::metadata(p).unwrap().len();
        assert!(size(&dir.path().join("audit.log")) <= 64 * 1024);
        assert!(size(&dir.path().join("audit.log.1")) <= 64 * 1024);
        assert!(size(&dir.path().join("audit.log.2")) <= 64 * 1024);
        assert!(!dir.path().join("audit.log.3").exists());
        // The newest lines, in order, across the rotation.
        let tail = log.tail(500).unwrap();
        let times: Vec<u64> = tail.iter().map(|l| l.time).collect();
        assert_eq!(times, (1500..2000).collect::<Vec<u64>>());
    }

    #[test]
    fn texts_are_cut_before_they_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path(), 1024 * 1024, 1);
        let mut long = line(1, &"m".repeat(100_000));
        long.user = "é".repeat(10_000);
        log.append(&long).unwrap();
        let size = fs::metadata(dir.path().join("audit.log")).unwrap().len();
        assert!(size < 5 * 1024, "{size} bytes for one line");
        let got = log.tail(1).unwrap();
        assert!(got[0].user.ends_with('…') && got[0].user.len() <= 256 + 3);
        assert!(got[0].message.len() <= 4096 + 3);
    }

    /// Issue 11, finding 2: AUDIT read the whole log per request and answered more than a
    /// frame holds. The answer is bounded, and a torn or foreign line is skipped.
    #[test]
    fn the_tail_is_bounded_and_skips_what_does_not_parse() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path(), 64 * 1024 * 1024, 1);
        for i in 0..3000 {
            log.append(&line(i, &"y".repeat(4000))).unwrap();
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("audit.log"))
            .unwrap();
        f.write_all(b"not json\n{\"time\":").unwrap();
        let tail = log.tail(10_000).unwrap();
        let bytes: usize = tail.iter().map(|l| l.message.len() + 40).sum();
        assert!(bytes <= MAX_ANSWER && tail.len() > 10, "{}", tail.len());
        assert_eq!(tail.last().unwrap().time, 2999);
        assert_eq!(log.tail(3).unwrap().len(), 3);
        assert!(
            AuditLog::new(&dir.path().join("none"), 1 << 20, 1)
                .tail(5)
                .unwrap()
                .is_empty()
        );
    }
}
