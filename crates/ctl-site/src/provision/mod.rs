//! One provisioning run: what the manifest says the directory must hold, compared with
//! what it holds, signed where it differs, and written all at once.

use std::path::PathBuf;
use std::sync::OnceLock;

use ctl_format::{Certificate, FileKind, Signer, TrustListBuilder};
use ctl_token::SignerOptions;

use crate::error::ProvisionError;
use crate::fsutil::{self, Found, Staged};
use crate::keys::{Key, SharedSigner, read_certificate};
use crate::lists::{self, Certs, List};
use crate::manifest::{Manifest, Server};
use crate::{devices, work};

mod configs;
mod existing;
mod stale;

use configs::{phone_takes, signed_config, sources};
use existing::{Existing, Lazy};
use stale::stale;

/// `.sgn` payloads (images, ring tones) can be larger than trust lists; none is larger.
pub const MAX_CONFIG: u64 = 64 * 1024 * 1024;

/// A `.sgn` is its payload and a header of at most this many bytes.
pub(crate) const MAX_HEADER: u64 = 64 * 1024;

/// Files phones read: readable by the TFTP server's user.
pub(crate) const SERVED_MODE: u32 = 0o644;

/// How a run goes.
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// The time new files carry (Unix seconds); a file that changes always moves
    /// forward past the one it replaces.
    pub now: u32,
    /// Write nothing: only say what differs.
    pub check: bool,
    /// How token signers are opened (PIN from the URI, or a prompt).
    pub signer: SignerOptions,
    /// Signing threads; 0: one per core.
    pub threads: usize,
    /// Sign the lists with this old SAST key instead, and carry its certificate as a
    /// SAST record beside the site's: the bridge lists of [`crate::migrate`].
    pub bridge: Option<SharedSigner>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("now", &self.now)
            .field("check", &self.check)
            .field("threads", &self.threads)
            .field("bridge", &self.bridge.is_some())
            .finish_non_exhaustive()
    }
}

impl Options {
    /// A run that writes, at time `now`, on every core.
    pub fn new(now: u32) -> Self {
        Self {
            now,
            check: false,
            signer: SignerOptions::default(),
            threads: 0,
            bridge: None,
        }
    }
}

/// What a run did (or, checking, would do) to one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// A new file.
    Created,
    /// A file whose content, or signature, was not what the manifest makes.
    Updated,
    /// Something that was not a regular file (a link, ...) replaced by one.
    Replaced,
    /// A file of the site's own that the manifest no longer names.
    Removed,
}

impl Action {
    /// `created`, `updated`, `replaced`, `removed`.
    pub const fn word(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Replaced => "replaced",
            Self::Removed => "removed",
        }
    }
}

/// One file a run changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// Its name in the output directory.
    pub name: String,
    /// What happened to it.
    pub action: Action,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// The files changed (checking: that would change), lists first.
    pub changes: Vec<Change>,
    /// How many files were already what the manifest makes.
    pub unchanged: usize,
    /// Warnings that do not stop the run (lint rules that only inform, foreign files
    /// left alone, a list whose replacement phones holding it will refuse).
    pub notes: Vec<String>,
}

impl Report {
    /// Whether the directory was (checking: is) what the manifest says.
    pub fn is_clean(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The outcome of one file of the run.
pub(crate) struct Outcome {
    change: Option<Change>,
    staged: Option<Staged>,
}

impl Outcome {
    pub(crate) const fn same() -> Self {
        Self {
            change: None,
            staged: None,
        }
    }
}

/// Provisions `manifest.out` as `manifest` says (checks it with `options.check`).
///
/// Every list and `.sgn` is built and checked before the first is written; then all are
/// put in place at once, lists first.
///
/// # Errors
/// A key, certificate or source that cannot be read, a list phones would refuse, a
/// signer failure, or I/O errors: nothing in the directory changed then.
pub fn provision(manifest: &Manifest, options: &Options) -> Result<Report, ProvisionError> {
    let threads = match options.threads {
        0 => work::default_threads(),
        n => n,
    };
    let sast: Vec<Key> = manifest
        .sast
        .iter()
        .enumerate()
        .map(|(i, s)| Key::certificate(&format!("sast[{i}]"), s))
        .collect::<Result<_, _>>()?;
    let tftp = Key::certificate("tftp", &manifest.tftp)?;
    let certs = Certs {
        sast: sast.iter().map(|k| k.cert.clone()).collect(),
        tftp: tftp.cert.clone(),
        servers: manifest
            .servers
            .iter()
            .enumerate()
            .map(|(i, s)| server_certificate(i, s))
            .collect::<Result<_, _>>()?,
        bridge: options
            .bridge
            .as_ref()
            .map(|s| {
                Certificate::from_der(s.certificate()).map_err(|e| ProvisionError::Certificate {
                    what: "old key".into(),
                    path: PathBuf::from("bridge"),
                    reason: e.to_string(),
                })
            })
            .transpose()?,
    };
    let out = &manifest.out;
    if !options.check {
        std::fs::create_dir_all(out).map_err(|source| ProvisionError::Io {
            path: out.clone(),
            source,
        })?;
    }
    let mut report = Report::default();
    let mut staged = Vec::new();
    let result = (|| {
        let list_signer = match &options.bridge {
            Some(old) => Lazy::ready(old.clone(), &options.signer),
            None => Lazy::new(sast.first().ok_or_else(no_sast)?, &options.signer),
        };
        let mut built = Vec::new();
        for list in [List::Itl, List::Ctl] {
            let wanted = match list {
                List::Itl => manifest.itl,
                List::Ctl => manifest.ctl,
            };
            if !wanted {
                continue;
            }
            let (outcome, site) =
                site_list(manifest, &certs, list, &list_signer, options, &mut report)
                    .map_err(|e| list_signer.failure().unwrap_or(e))?;
            record(&mut report, &mut staged, outcome);
            built.push(site);
        }
        let devices = devices::names(manifest, &built);
        for outcome in work::parallel(threads, &devices, |(name, list)| {
            devices::list(out, name, *list, &built, options)
        })? {
            record(&mut report, &mut staged, outcome);
        }
        let config_signer = Lazy::new(&tftp, &options.signer);
        let sources = sources(manifest)?;
        if !sources.is_empty() {
            report
                .notes
                .extend(lists::check_config_signer(manifest, &tftp.cert)?);
        }
        let probe = OnceLock::new();
        let signed = work::parallel(threads, &sources, |name| {
            signed_config(manifest, name, &tftp.cert, &config_signer, options, &probe)
        });
        let signed = signed.map_err(|e| config_signer.failure().unwrap_or(e))?;
        for outcome in signed {
            record(&mut report, &mut staged, outcome);
        }
        if let Some((name, sgn)) = probe.get() {
            phone_takes(name, sgn, &built)?;
        }
        let removals = stale(manifest, &certs, &devices, &sources, &staged, &mut report)?;
        Ok::<_, ProvisionError>(removals)
    })();
    let removals = match result {
        Ok(r) => r,
        Err(e) => {
            fsutil::discard(&staged);
            return Err(e);
        }
    };
    if !options.check && !report.changes.is_empty() {
        fsutil::commit(out, &staged, &removals)?;
    }
    Ok(report)
}

fn no_sast() -> ProvisionError {
    ProvisionError::Source {
        path: PathBuf::from("sast"),
        reason: "no SAST signer".into(),
    }
}

fn record(report: &mut Report, staged: &mut Vec<Staged>, outcome: Outcome) {
    match outcome.change {
        Some(c) => report.changes.push(c),
        None => report.unchanged += 1,
    }
    staged.extend(outcome.staged);
}

fn server_certificate(index: usize, server: &Server) -> Result<Certificate, ProvisionError> {
    let what = format!("server[{index}]");
    let text = server.cert.to_string_lossy();
    if text.starts_with("pkcs11:") {
        let uri = text
            .parse()
            .map_err(|e: ctl_token::UriError| ProvisionError::Source {
                path: ctl_token::redact_uri_text(&text).into(),
                reason: format!("{what}: {e}"),
            })?;
        let key = crate::manifest::KeySource::Token(Box::new(uri));
        return Ok(Key::certificate(&what, &key)?.cert);
    }
    read_certificate(&what, &server.cert)
}

/// `ITLFile.tlv` or `CTLFile.tlv`: kept when it is what the manifest makes, else signed
/// anew; linted as the phones would judge it either way.
fn site_list(
    manifest: &Manifest,
    certs: &Certs,
    list: List,
    signer: &Lazy<'_>,
    options: &Options,
    report: &mut Report,
) -> Result<(Outcome, Built), ProvisionError> {
    let name = list.file_name();
    let path = manifest.out.join(name);
    let builder = lists::builder(manifest, certs, list);
    let found = fsutil::read_regular(&path, ctl_format::MAX_LEN as u64)?;
    let held = match &found {
        Found::File(b) => Some(b.clone()),
        _ => None,
    };
    let build_at = |ts: u32, s: &dyn Signer| {
        let mut b: TrustListBuilder = builder.clone();
        b.timestamp(ts).build(s)
    };
    let signer_cert = certs.list_signer().ok_or_else(no_sast)?;
    let existing = Existing::of(found, FileKind::TrustList, signer_cert, build_at);
    if let (Some(held), false) = (&held, matches!(existing, Existing::Same)) {
        foreign_note(name, held, certs, report);
    }
    let now = u64::from(options.now);
    let mut link_from = None;
    let (outcome, bytes) = match existing {
        Existing::Same => {
            link_from = Some(path.clone());
            (Outcome::same(), held)
        }
        other if options.check => {
            let (action, _) = other.action(options.now);
            (changed(name, action, None), None)
        }
        other => {
            let (action, ts) = other.action(options.now);
            let bytes =
                build_at(ts, signer.get()?.as_ref()).map_err(|source| ProvisionError::Build {
                    file: name.to_owned(),
                    source,
                })?;
            let staged = fsutil::stage(&path, &bytes, SERVED_MODE)?;
            link_from = Some(staged.tmp().to_owned());
            (changed(name, action, Some(staged)), Some(bytes))
        }
    };
    if let Some(b) = &bytes {
        let doc = ctl_format::parse_trust_list(b).map_err(|e| ProvisionError::Source {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        report
            .notes
            .extend(lists::check(manifest, certs, name, &doc, now)?);
    }
    let id = match (&outcome.change, &link_from) {
        (None, Some(p)) => fsutil::file_id(p),
        _ => None,
    };
    Ok((
        outcome,
        Built {
            list,
            bytes,
            link_from,
            id,
        },
    ))
}

/// A site list of the run: its bytes (unless checking found it changed), the file the
/// per-device lists link to (the one in place, or the staged one), and the identity of
/// the one in place when it stays.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) list: List,
    pub(crate) bytes: Option<Vec<u8>>,
    pub(crate) link_from: Option<PathBuf>,
    pub(crate) id: Option<(u64, u64)>,
}

pub(crate) fn changed(name: &str, action: Action, staged: Option<Staged>) -> Outcome {
    Outcome {
        change: Some(Change {
            name: name.to_owned(),
            action,
        }),
        staged,
    }
}

/// A list being replaced that none of the site's SAST keys signed: the phones that
/// installed it will refuse the site's lists.
fn foreign_note(name: &str, held: &[u8], certs: &Certs, report: &mut Report) {
    let Ok(doc) = ctl_format::parse_trust_list(held) else {
        return;
    };
    let ours = certs.sast.iter().chain(&certs.bridge).any(|c| {
        doc.verify_with_certificate(c.der(), &ctl_format::RsaVerifier)
            .is_ok()
    });
    if !ours {
        report.notes.push(format!(
            "{name}: the list it replaces was not signed by a SAST key of this site: phones \
             that installed it refuse the new lists until their trust list is erased, or \
             until `ctl migrate` bridges them with the old key"
        ));
    }
}
