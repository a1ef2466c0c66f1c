//! The files to sign: found in `configs`, signed as `NAME.sgn`, and checked as a phone
//! holding the new lists checks them.

use std::sync::OnceLock;

use ctl_format::{Certificate, FileKind, SignedFileBuilder, Signer};

use super::existing::{Existing, Lazy};
use super::{Built, MAX_CONFIG, MAX_HEADER, Options, Outcome, SERVED_MODE, changed};
use crate::error::ProvisionError;
use crate::fsutil::{self, Found};
use crate::manifest::Manifest;

/// The names of the files to sign: regular files of `configs` matching a pattern.
pub(super) fn sources(manifest: &Manifest) -> Result<Vec<String>, ProvisionError> {
    if manifest.sign.is_empty() {
        return Ok(Vec::new());
    }
    let dir = &manifest.configs;
    let io = |source| ProvisionError::Io {
        path: dir.clone(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !manifest.sign.iter().any(|p| p.matches(&name)) {
            continue;
        }
        let kind = entry.file_type().map_err(io)?;
        if !kind.is_file() {
            return Err(ProvisionError::Source {
                path: dir.join(&name),
                reason: format!(
                    "matches {} but is {}; only regular files are signed (a link could \
                     make the run sign and serve any file it can read)",
                    pattern_of(manifest, &name),
                    if kind.is_symlink() {
                        "a symbolic link"
                    } else {
                        "not a regular file"
                    }
                ),
            });
        }
        names.push(name);
    }
    names.sort_unstable();
    Ok(names)
}

fn pattern_of(manifest: &Manifest, name: &str) -> String {
    manifest
        .sign
        .iter()
        .find(|p| p.matches(name))
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// `NAME.sgn` of a source: kept when it is the source signed by the TFTP key, else
/// signed anew.
pub(super) fn signed_config(
    manifest: &Manifest,
    name: &str,
    cert: &Certificate,
    signer: &Lazy<'_>,
    options: &Options,
    probe: &OnceLock<(String, Vec<u8>)>,
) -> Result<Outcome, ProvisionError> {
    let source = manifest.configs.join(name);
    let payload = match fsutil::read_regular(&source, MAX_CONFIG)? {
        Found::File(b) => b,
        // Changed between the listing and now: the next run sees what it became.
        Found::Absent => return Ok(Outcome::same()),
        Found::Other(what) => {
            return Err(ProvisionError::Source {
                path: source,
                reason: format!("is {what}; only regular files are signed"),
            });
        }
    };
    let out_name = format!("{name}.sgn");
    let path = manifest.out.join(&out_name);
    let build_at = |ts: u32, s: &dyn Signer| {
        SignedFileBuilder::new(out_name.clone())
            .layout(manifest.layout)
            .digest(manifest.digest)
            .timestamp(ts)
            .build(&payload, s)
    };
    let found = fsutil::read_regular(&path, MAX_CONFIG + MAX_HEADER)?;
    let existing = Existing::of(found, FileKind::Signed, cert, build_at);
    if matches!(existing, Existing::Same) {
        return Ok(Outcome::same());
    }
    let (action, ts) = existing.action(options.now);
    if options.check {
        return Ok(changed(&out_name, action, None));
    }
    let bytes = build_at(ts, signer.get()?.as_ref()).map_err(|source| ProvisionError::Build {
        file: out_name.clone(),
        source,
    })?;
    let staged = fsutil::stage(&path, &bytes, SERVED_MODE)?;
    let _ = probe.set((out_name.clone(), bytes));
    Ok(changed(&out_name, action, Some(staged)))
}

/// A phone holding each of the site's lists takes a `.sgn` the run signed (the builder
/// checked its signature; this checks the lists give its signer a config-signing role).
pub(super) fn phone_takes(name: &str, sgn: &[u8], built: &[Built]) -> Result<(), ProvisionError> {
    let refuses = |reason| ProvisionError::PhoneRefuses {
        file: name.to_owned(),
        reason,
    };
    let doc = ctl_format::parse_signed(sgn).map_err(|e| ProvisionError::Source {
        path: name.into(),
        reason: e.to_string(),
    })?;
    for site in built {
        let Some(list) = &site.bytes else { continue };
        let Ok(held) = ctl_format::parse_trust_list(list) else {
            continue;
        };
        ctl_format::phone_accepts(Some(&held), &doc, &ctl_format::RsaVerifier).map_err(refuses)?;
    }
    Ok(())
}
