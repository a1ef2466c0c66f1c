//! Per-device lists: `ITLSEP<MAC>.tlv` and `CTLSEP<MAC>.tlv`, the site's list under each
//! phone's name (their FILENAME stays the site-wide name, as Cisco's TFTP serves them).

use std::path::Path;

use crate::error::ProvisionError;
use crate::fsutil::{self, Found};
use crate::lists::List;
use crate::manifest::Manifest;
use crate::provision::{Action, Built, Options, Outcome, SERVED_MODE, changed};

/// Every per-device file name, with its list.
pub(crate) fn names(manifest: &Manifest, built: &[Built]) -> Vec<(String, List)> {
    let mut out = Vec::with_capacity(manifest.devices.len() * built.len());
    for mac in &manifest.devices {
        for site in built {
            out.push((format!("{}{mac}.tlv", site.list.device_prefix()), site.list));
        }
    }
    out
}

/// One per-device list: unchanged when it is the site list's own file (a hard link to
/// it) or a copy of its bytes; else staged as a hard link to the site list (a copy where
/// the filesystem has no hard links).
pub(crate) fn list(
    out: &Path,
    name: &str,
    list: List,
    built: &[Built],
    options: &Options,
) -> Result<Outcome, ProvisionError> {
    let Some(site) = built.iter().find(|b| b.list == list) else {
        return Ok(Outcome::same());
    };
    let path = out.join(name);
    if site.id.is_some() && fsutil::file_id(&path) == site.id {
        return Ok(Outcome::same());
    }
    let bytes = site.bytes.as_deref();
    let action = match (
        fsutil::read_regular(&path, ctl_format::MAX_LEN as u64)?,
        bytes,
    ) {
        (Found::File(held), Some(b)) if held == b => return Ok(Outcome::same()),
        (Found::Absent, _) => Action::Created,
        (Found::Other(_), _) => Action::Replaced,
        (Found::File(_), _) => Action::Updated,
    };
    if options.check {
        return Ok(changed(name, action, None));
    }
    let staged = match (&site.link_from, bytes) {
        (Some(from), Some(b)) => match fsutil::stage_link(from, &path) {
            Ok(s) => s,
            Err(_) => fsutil::stage(&path, b, SERVED_MODE)?,
        },
        (None, Some(b)) => fsutil::stage(&path, b, SERVED_MODE)?,
        (_, None) => return Ok(changed(name, action, None)),
    };
    Ok(changed(name, action, Some(staged)))
}
