//! Moving phones off a trust list the site did not sign: bridge lists signed by the old
//! SAST key that introduce the site's own, then the site's final lists.
//!
//! A phone takes a new list only when a SAST of a list it holds signed it. A phone that
//! holds a stranger's (or a lost cluster's) list therefore takes the site's lists only
//! through a bridge: lists with the site's records and SAST keys, signed by the old key
//! (which must still be at hand). Once every phone has booted on the bridge, the final
//! lists, signed by the site's key, replace it. Without the old key there is no bridge:
//! every such phone needs its trust list erased by hand.

use ctl_format::lint::{Linter, ListKind, Warning};
use ctl_format::{Certificate, NameStyle, Role, Signer as _, parse_trust_list};

use crate::error::ProvisionError;
use crate::keys::{Key, SharedSigner};
use crate::lists::List;
use crate::manifest::Manifest;
use crate::phone::rules::{Family, Held, Kind};
use crate::provision::{Options, Report, provision};

/// Why a migration cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// The held file is not a trust list.
    #[error("{file}: not a trust list: {reason}")]
    NotATrustList {
        /// The file named.
        file: String,
        /// Why.
        reason: String,
    },
    /// The old key is none of the held list's SAST keys: phones would refuse its bridge.
    #[error(
        "{file}: the old key ({subject}) is not a SAST of this list: phones holding it would refuse a bridge it signs"
    )]
    NotASast {
        /// The file named.
        file: String,
        /// The old key's certificate subject.
        subject: String,
    },
    /// The held list is of a kind the manifest does not make.
    #[error("{file}: a {kind} but the manifest makes none: add \"{kind_lower}\" to `lists`", kind_lower = kind.to_ascii_lowercase())]
    KindNotMade {
        /// The file named.
        file: String,
        /// `CTL` or `ITL`.
        kind: &'static str,
    },
    /// A phone holding the old list would refuse a bridge list (a bug if it happens).
    #[error("{file}: a phone holding the old list would refuse it: {reason}")]
    BridgeRefused {
        /// The bridge file.
        file: String,
        /// The phone's reason.
        reason: String,
    },
    /// Provisioning the bridge failed.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
}

/// A bridge written, and the plan to finish the move.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Migration {
    /// What the bridge run wrote.
    pub report: Report,
    /// The old key's certificate subject.
    pub old: String,
    /// What to do next, in order.
    pub plan: Vec<String>,
}

fn kind_of(file: &str, held: &[u8]) -> Result<(List, Kind), MigrateError> {
    let doc = parse_trust_list(held).map_err(|e| MigrateError::NotATrustList {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(match ListKind::of(&doc) {
        Some(ListKind::Ctl) => (List::Ctl, Kind::Ctl),
        _ => (List::Itl, Kind::Itl),
    })
}

/// The certificates of the SAST records of a held list (where a bare old key finds its
/// certificate).
///
/// # Errors
/// A file that is not a trust list.
pub fn sast_certificates(file: &str, held: &[u8]) -> Result<Vec<Certificate>, MigrateError> {
    let doc = parse_trust_list(held).map_err(|e| MigrateError::NotATrustList {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(doc
        .records()
        .iter()
        .filter(|r| r.role() == Some(Role::SAST))
        .filter_map(|r| Certificate::from_der(r.certificate()?).ok())
        .collect())
}

/// Writes the bridge into `manifest.out`: the site's lists (and per-device copies and
/// signed configs) with the lists signed by `old`, a SAST key of `held`; checks that a
/// phone holding `held` takes them.
///
/// # Errors
/// A held file that is not a trust list, an old key that is not one of its SAST keys, a
/// kind of list the manifest does not make, or the provisioning run's errors.
pub fn bridge(
    manifest: &Manifest,
    file: &str,
    held: &[u8],
    old: SharedSigner,
    options: &Options,
) -> Result<Migration, MigrateError> {
    let (list, kind) = kind_of(file, held)?;
    let old_cert = Certificate::from_der(old.certificate()).map_err(|e| {
        MigrateError::Provision(ProvisionError::Certificate {
            what: "old key".into(),
            path: file.into(),
            reason: e.to_string(),
        })
    })?;
    let subject = old_cert.subject_text(NameStyle::Reversed);
    if !sast_certificates(file, held)?
        .iter()
        .any(|c| c.der() == old_cert.der())
    {
        return Err(MigrateError::NotASast {
            file: file.to_owned(),
            subject,
        });
    }
    let made = match list {
        List::Itl => manifest.itl,
        List::Ctl => manifest.ctl,
    };
    if !made {
        return Err(MigrateError::KindNotMade {
            file: file.to_owned(),
            kind: match list {
                List::Itl => "ITL",
                List::Ctl => "CTL",
            },
        });
    }
    let mut bridged = options.clone();
    bridged.bridge = Some(old);
    let report = provision(manifest, &bridged)?;
    if !options.check {
        let phone = match kind {
            Kind::Ctl => Held {
                ctl: Some(held.to_vec()),
                itl: None,
            },
            _ => Held {
                ctl: None,
                itl: Some(held.to_vec()),
            },
        };
        for (wanted, list, kind) in [
            (manifest.ctl, List::Ctl, Kind::Ctl),
            (manifest.itl, List::Itl, Kind::Itl),
        ] {
            if !wanted {
                continue;
            }
            let path = manifest.out.join(list.file_name());
            // The list the run just put in place, never read through a link.
            let crate::fsutil::Found::File(bytes) =
                crate::fsutil::read_regular(&path, ctl_format::MAX_LEN as u64)?
            else {
                return Err(MigrateError::BridgeRefused {
                    file: list.file_name().to_owned(),
                    reason: "not a regular file after the run wrote it".into(),
                });
            };
            phone
                .judge_list(Family::Enterprise, kind, &bytes)
                .map_err(|r| MigrateError::BridgeRefused {
                    file: list.file_name().to_owned(),
                    reason: r.to_string(),
                })?;
        }
    }
    let sast = Key::certificate(
        "sast[0]",
        manifest.sast.first().ok_or_else(|| {
            MigrateError::Provision(ProvisionError::Source {
                path: "sast".into(),
                reason: "no SAST signer".into(),
            })
        })?,
    )?;
    let new = sast.cert.subject_text(NameStyle::Reversed);
    let out = manifest.out.display();
    let plan = vec![
        format!(
            "serve {out} as it is now: its lists are signed by the old key ({subject}) and carry the site's SAST keys"
        ),
        format!(
            "restart every phone that holds {file}: at its next boot it takes the bridge (a phone holding the old list takes a list the old key signed)"
        ),
        "wait until every such phone has booted once (its TFTP requests for CTLSEP/ITLSEP<MAC>.tlv, or `ctl phone boot` with a copy of its list, tell)".into(),
        format!(
            "then run `ctl provision --manifest {}`: the final lists, signed by {new}, replace the bridge, and phones holding the bridge take them",
            manifest.path.display()
        ),
        "the old key then signs nothing the phones hold: retire it".into(),
    ];
    Ok(Migration {
        report,
        old: subject,
        plan,
    })
}

/// What a held list means for the site when its key is not at hand: the lint warnings
/// that name its foreign signer and SAST keys (the site's SAST keys being the user's).
///
/// # Errors
/// A file that is not a trust list; the site's certificates cannot be read.
pub fn lock_in(
    manifest: &Manifest,
    file: &str,
    held: &[u8],
    now: u64,
) -> Result<Vec<Warning>, MigrateError> {
    let doc = parse_trust_list(held).map_err(|e| MigrateError::NotATrustList {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    let mut linter = Linter::new(now);
    for (i, s) in manifest.sast.iter().enumerate() {
        let key = Key::certificate(&format!("sast[{i}]"), s)?;
        linter.own_key(key.cert.public_key());
    }
    Ok(linter
        .run(&doc)
        .into_iter()
        .filter(|w| {
            matches!(
                w,
                Warning::ForeignSigner { .. } | Warning::ForeignSast { .. }
            )
        })
        .collect())
}
