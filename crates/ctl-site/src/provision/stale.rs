//! Files of the site's own that the manifest no longer names.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use ctl_format::{Certificate, FileKind, ParseOptions};

use super::{Action, Change, MAX_CONFIG, MAX_HEADER, Report};
use crate::error::ProvisionError;
use crate::fsutil::{self, Found, Staged};
use crate::lists::{Certs, List};
use crate::manifest::Manifest;

/// The site's own files the manifest no longer names: per-device lists of phones no
/// longer listed, `.sgn` files of removed sources. A file of that kind that the site's
/// keys did not sign is left alone, with a note.
pub(super) fn stale(
    manifest: &Manifest,
    certs: &Certs,
    devices: &[(String, List)],
    sources: &[String],
    staged: &[Staged],
    report: &mut Report,
) -> Result<Vec<PathBuf>, ProvisionError> {
    let out = &manifest.out;
    let entries = match std::fs::read_dir(out) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ProvisionError::Io {
                path: out.clone(),
                source,
            });
        }
    };
    let wanted_devices: BTreeSet<&str> = devices.iter().map(|(n, _)| n.as_str()).collect();
    let wanted_sources: BTreeSet<&str> = sources.iter().map(String::as_str).collect();
    // This run's own temporaries, which the directory holds as well: one look each (a
    // scan of the list per entry made a first run of 10,000 phones, 30,000 temporaries,
    // quadratic: 7.5 s of signatures took 30 s).
    let ours: HashSet<&Path> = staged.iter().map(Staged::tmp).collect();
    let mut removals = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ProvisionError::Io {
            path: out.clone(),
            source,
        })?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // A temporary of a run that crashed, for a name no run writes now: not a file of
        // the site, removed without a word.
        if name.starts_with('.') && name.ends_with(".provision.tmp") {
            let path = out.join(&name);
            if !ours.contains(path.as_path()) {
                removals.push(path);
            }
            continue;
        }
        let (kind, keys): (FileKind, Vec<&Certificate>) = if is_device_list(&name) {
            if wanted_devices.contains(name.as_str()) {
                continue;
            }
            (FileKind::TrustList, certs.sast.iter().collect())
        } else if let Some(src) = name.strip_suffix(".sgn") {
            if wanted_sources.contains(src) || !manifest.sign.iter().any(|p| p.matches(src)) {
                continue;
            }
            (FileKind::Signed, vec![&certs.tftp])
        } else {
            continue;
        };
        let path = out.join(&name);
        let Found::File(bytes) = fsutil::read_regular(&path, MAX_CONFIG + MAX_HEADER)? else {
            continue;
        };
        let ours =
            ctl_format::parse_with(&bytes, Some(kind), &ParseOptions::default()).is_ok_and(|doc| {
                keys.iter().any(|c| {
                    doc.verify_with_certificate(c.der(), &ctl_format::RsaVerifier)
                        .is_ok()
                })
            });
        if ours {
            report.changes.push(Change {
                name,
                action: Action::Removed,
            });
            removals.push(path);
        } else {
            report.notes.push(format!(
                "{name}: not named by the manifest and not signed by this site's keys: left alone"
            ));
        }
    }
    Ok(removals)
}

/// `CTLSEP<MAC>.tlv` or `ITLSEP<MAC>.tlv`.
fn is_device_list(name: &str) -> bool {
    let Some(mac) = name
        .strip_prefix("CTLSEP")
        .or_else(|| name.strip_prefix("ITLSEP"))
        .and_then(|r| r.strip_suffix(".tlv"))
    else {
        return false;
    };
    mac.len() == 12 && mac.bytes().all(|b| b.is_ascii_hexdigit())
}
