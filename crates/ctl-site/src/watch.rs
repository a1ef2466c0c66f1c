//! `--watch`: provision again whenever a file to sign changes, appears or goes.

use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;

use crate::error::ProvisionError;
use crate::manifest::Manifest;
use crate::provision::{Options, Report, provision};

/// What identifies a version of a source: name, inode, size, modification time.
type Snapshot = Vec<(String, u64, u64, i64, i64)>;

fn snapshot(manifest: &Manifest) -> Snapshot {
    let Ok(entries) = std::fs::read_dir(&manifest.configs) else {
        return Vec::new();
    };
    let mut out: Snapshot = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            if !manifest.sign.iter().any(|p| p.matches(&name)) {
                return None;
            }
            let m = e.metadata().ok()?;
            Some((name, m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
        })
        .collect();
    out.sort_unstable();
    out
}

/// Provisions now, then again each time the files to sign change (checked every
/// `interval`), handing each run's result to `each` until it says to stop.
///
/// A failed run (a source that is a link, a signer that cannot open) is handed over
/// too and the watch goes on: the next change runs again.
pub fn watch(
    manifest: &Manifest,
    options: &Options,
    interval: Duration,
    now: impl Fn() -> u32,
    mut each: impl FnMut(Result<Report, ProvisionError>) -> ControlFlow<()>,
) {
    let mut seen = snapshot(manifest);
    let mut options = options.clone();
    loop {
        options.now = now();
        if each(provision(manifest, &options)).is_break() {
            return;
        }
        loop {
            std::thread::sleep(interval);
            let current = snapshot(manifest);
            if current != seen {
                seen = current;
                break;
            }
        }
    }
}
