//! One provisioning run: what the manifest says the directory must hold, compared with
//! what it holds, signed where it differs, and written all at once.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use ctl_format::{
    BuildError, Certificate, FileKind, ParseOptions, SignedFileBuilder, Signer, SignerError,
    TrustListBuilder,
};
use ctl_token::SignerOptions;

use crate::error::ProvisionError;
use crate::fsutil::{self, Found, Staged};
use crate::keys::{Key, SharedSigner, read_certificate};
use crate::lists::{self, Certs, List};
use crate::manifest::{Manifest, Server};
use crate::{devices, work};

/// `.sgn` payloads (images, ring tones) can be larger than trust lists; none is larger.
pub const MAX_CONFIG: u64 = 64 * 1024 * 1024;

/// A `.sgn` is its payload and a header of at most this many bytes.
const MAX_HEADER: u64 = 64 * 1024;

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

/// A signer that "signs" with a signature already made: rebuilding a file at its own
/// timestamp with it gives the file back, byte for byte, exactly when its content is
/// what the manifest makes and the signature is the key's over it (the builder checks).
struct Replay<'a> {
    cert: &'a [u8],
    signature: &'a [u8],
}

impl Signer for Replay<'_> {
    fn certificate(&self) -> &[u8] {
        self.cert
    }

    fn sign(&self, _: ctl_format::DigestAlgorithm, _: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(self.signature.to_vec())
    }
}

/// What a name in the output directory holds, against what the manifest makes.
enum Existing {
    /// The file the manifest makes.
    Same,
    /// Another file (its timestamp, when it has one, for the next to move past).
    Differs(Option<u32>),
    /// Nothing.
    Absent,
    /// Not a regular file.
    NotAFile,
}

impl Existing {
    /// Compares `found` with what `build` makes at the found file's timestamp.
    fn of(
        found: Found,
        kind: FileKind,
        cert: &Certificate,
        build: impl FnOnce(u32, &dyn Signer) -> Result<Vec<u8>, BuildError>,
    ) -> Self {
        let bytes = match found {
            Found::Absent => return Self::Absent,
            Found::Other(_) => return Self::NotAFile,
            Found::File(b) => b,
        };
        let Ok(doc) = ctl_format::parse_with(&bytes, Some(kind), &ParseOptions::default()) else {
            return Self::Differs(None);
        };
        let Some(ts) = doc.header().timestamp() else {
            return Self::Differs(None);
        };
        let replay = Replay {
            cert: cert.der(),
            signature: doc.header().signature(),
        };
        match build(ts, &replay) {
            Ok(rebuilt) if rebuilt == bytes => Self::Same,
            _ => Self::Differs(Some(ts)),
        }
    }

    /// The action that replaces it, and the timestamp the new file carries.
    fn action(&self, now: u32) -> (Action, u32) {
        match self {
            Self::Same => (Action::Updated, now),
            Self::Absent => (Action::Created, now),
            Self::NotAFile | Self::Differs(None) => (Action::Replaced, now),
            Self::Differs(Some(old)) => (Action::Updated, now.max(old.saturating_add(1))),
        }
    }
}

/// A signer opened the first time a file needs it (a token asks for its PIN only then).
struct Lazy<'k> {
    key: Option<&'k Key>,
    options: &'k SignerOptions,
    cell: OnceLock<Option<SharedSigner>>,
    error: Mutex<Option<ProvisionError>>,
}

impl<'k> Lazy<'k> {
    fn new(key: &'k Key, options: &'k SignerOptions) -> Self {
        Self {
            key: Some(key),
            options,
            cell: OnceLock::new(),
            error: Mutex::new(None),
        }
    }

    /// A signer already open.
    fn ready(signer: SharedSigner, options: &'k SignerOptions) -> Self {
        Self {
            key: None,
            options,
            cell: OnceLock::from(Some(signer)),
            error: Mutex::new(None),
        }
    }

    fn get(&self) -> Result<&SharedSigner, ProvisionError> {
        let opened = self
            .cell
            .get_or_init(|| match self.key.map(|k| k.open(self.options)) {
                Some(Ok(s)) => Some(s),
                Some(Err(e)) => {
                    *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    None
                }
                None => None,
            });
        opened.as_ref().ok_or_else(|| {
            self.error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or_else(|| ProvisionError::Source {
                    path: self
                        .key
                        .map_or_else(|| "signer".into(), |k| k.source.to_string().into()),
                    reason: "the signer could not be opened".into(),
                })
        })
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
                site_list(manifest, &certs, list, &list_signer, options, &mut report)?;
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
        let probe = OnceLock::new();
        for outcome in work::parallel(threads, &sources, |name| {
            signed_config(manifest, name, &tftp.cert, &config_signer, options, &probe)
        })? {
            record(&mut report, &mut staged, outcome);
        }
        if let Some((name, sgn)) = probe.get() {
            phone_takes(name, sgn, &built)?;
        }
        let removals = stale(manifest, &certs, &devices, &sources, &mut report)?;
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

/// The names of the files to sign: regular files of `configs` matching a pattern.
fn sources(manifest: &Manifest) -> Result<Vec<String>, ProvisionError> {
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
fn signed_config(
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
fn phone_takes(name: &str, sgn: &[u8], built: &[Built]) -> Result<(), ProvisionError> {
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

/// The site's own files the manifest no longer names: per-device lists of phones no
/// longer listed, `.sgn` files of removed sources. A file of that kind that the site's
/// keys did not sign is left alone, with a note.
fn stale(
    manifest: &Manifest,
    certs: &Certs,
    devices: &[(String, List)],
    sources: &[String],
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
    let mut removals = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ProvisionError::Io {
            path: out.clone(),
            source,
        })?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
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
