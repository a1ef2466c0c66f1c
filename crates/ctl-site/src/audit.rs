//! `audit`: every trust list and signed file of a TFTP tree, and for each phone the tree
//! serves (by MAC), what a phone booting from it with an empty flash would trust and
//! whether it would take its configuration. One pass, one process.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ctl_format::{Certificate, FileKind, NameStyle, ParseOptions, Role, parse_with};
use sha1::Digest as _;

use crate::error::ProvisionError;
use crate::fsutil::{self, Found};
use crate::manifest::Mac;
use crate::phone::rules::{Family, Held, Kind, PhoneRefusal};

/// A tree holds at most this many entries (a TFTP root of 10,000 phones has ~40,000).
const MAX_ENTRIES: usize = 1_000_000;

/// Directories deeper than this are not walked.
const MAX_DEPTH: usize = 8;

/// Signed files read for the audit are at most this large.
const MAX_FILE: u64 = crate::provision::MAX_CONFIG + 64 * 1024;

/// One trust list or signed file of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileFacts {
    /// Its path under the tree.
    pub name: String,
    /// Its size.
    pub size: usize,
    /// MD5, as phones show it (hex).
    pub md5: String,
    /// SHA-1 (hex).
    pub sha1: String,
    /// A trust list or a signed file; `None`: it does not parse.
    pub kind: Option<FileKind>,
    /// The signer's subject, from the header.
    pub signer: Option<String>,
    /// The header's timestamp.
    pub timestamp: Option<u32>,
    /// Why it does not parse.
    pub error: Option<String>,
}

/// What a phone of one MAC would end up with, booting from the tree with an empty flash.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PhoneFacts {
    /// The phone; `None`: a phone the tree has no per-device file for.
    pub mac: Option<Mac>,
    /// The CTL it would install (a file name), if any.
    pub ctl: Option<String>,
    /// The ITL it would install, if any.
    pub itl: Option<String>,
    /// The subjects of the SAST certificates it would then trust to sign its next lists.
    pub sast: Vec<String>,
    /// The subjects of the certificates it would take signed configurations from.
    pub tftp: Vec<String>,
    /// Its configuration file, if the tree has one.
    pub config: Option<String>,
    /// Whether it would take its configuration.
    pub config_accepted: bool,
    /// Why not, or what it refused on the way.
    pub notes: Vec<String>,
}

/// A file's (device, inode).
type Inode = (u64, u64);

/// The audit of a tree.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Audit {
    /// Every `.tlv` and `.sgn`, by path.
    pub files: Vec<FileFacts>,
    /// Every phone the tree names, by MAC, then the phone it does not name.
    pub phones: Vec<PhoneFacts>,
}

/// The names that matter to a phone in one directory.
#[derive(Default)]
struct Dir {
    files: HashMap<String, PathBuf>,
    macs: BTreeMap<Mac, ()>,
}

fn mac_of(name: &str) -> Option<Mac> {
    let rest = name
        .strip_prefix("CTLSEP")
        .or_else(|| name.strip_prefix("ITLSEP"))
        .and_then(|r| r.strip_suffix(".tlv"))
        .or_else(|| {
            name.strip_prefix("SEP").and_then(|r| {
                r.strip_suffix(".cnf.xml.sgn")
                    .or_else(|| r.strip_suffix(".cnf.xml"))
            })
        })?;
    (rest.len() == 12).then(|| rest.parse().ok()).flatten()
}

fn hex(bytes: &[u8]) -> String {
    ctl_format::hex(bytes)
}

/// Audits the tree at `root` (symbolic links are not followed, only listed as skipped).
///
/// # Errors
/// An unreadable directory, or a tree past a million entries.
pub fn audit(root: &Path) -> Result<Audit, ProvisionError> {
    let mut audit = Audit::default();
    let mut dirs: Vec<(PathBuf, usize)> = vec![(root.to_owned(), 0)];
    let mut seen = 0usize;
    // The bytes of the files the phones' boots read, by path.
    let mut contents: HashMap<PathBuf, Arc<Vec<u8>>> = HashMap::new();
    // Hard links (per-device lists are links to their site list): read and hashed once.
    let mut linked: HashMap<Inode, (Arc<Vec<u8>>, FileFacts)> = HashMap::new();
    let mut by_dir: Vec<(PathBuf, Dir)> = Vec::new();
    while let Some((dir, depth)) = dirs.pop() {
        let io = |source| ProvisionError::Io {
            path: dir.clone(),
            source,
        };
        let mut here = Dir::default();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .map_err(io)?
            .filter_map(|e| e.ok())
            .collect();
        names.sort_by_key(std::fs::DirEntry::file_name);
        for entry in names {
            seen += 1;
            if seen > MAX_ENTRIES {
                return Err(ProvisionError::Source {
                    path: root.to_owned(),
                    reason: format!("more than {MAX_ENTRIES} entries: not a TFTP tree"),
                });
            }
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && depth < MAX_DEPTH {
                dirs.push((path, depth + 1));
                continue;
            }
            let wanted = name.ends_with(".tlv")
                || name.ends_with(".sgn")
                || (name.starts_with("SEP") && name.ends_with(".cnf.xml"));
            if !wanted || !kind.is_file() || name.starts_with('.') {
                continue;
            }
            if let Some(mac) = mac_of(&name) {
                here.macs.insert(mac, ());
            }
            here.files.insert(name.clone(), path.clone());
            // An unsigned configuration only needs to exist.
            if name.ends_with(".cnf.xml") {
                continue;
            }
            let shown = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            // Kept for the boots: the lists and the phones' signed configurations only
            // (ring tones and images of many megabytes are hashed and let go).
            let kept = name.ends_with(".tlv") || name.ends_with(".cnf.xml.sgn");
            let inode = entry
                .metadata()
                .ok()
                .filter(|m| kept && m.nlink() > 1)
                .map(|m| (m.dev(), m.ino()));
            let (bytes, file) = match inode.and_then(|i| linked.get(&i)) {
                Some((bytes, file)) => (
                    Arc::clone(bytes),
                    FileFacts {
                        name: shown,
                        ..file.clone()
                    },
                ),
                None => {
                    let Found::File(bytes) = fsutil::read_regular(&path, MAX_FILE)? else {
                        here.files.remove(&name);
                        continue;
                    };
                    let bytes = Arc::new(bytes);
                    let file = facts(shown, &bytes);
                    if let Some(i) = inode {
                        linked.insert(i, (Arc::clone(&bytes), file.clone()));
                    }
                    (bytes, file)
                }
            };
            audit.files.push(file);
            if kept {
                contents.insert(path, bytes);
            }
        }
        by_dir.push((dir, here));
    }
    audit.files.sort_by(|a, b| a.name.cmp(&b.name));
    let mut memo = Memo::default();
    by_dir.sort_by(|a, b| a.0.cmp(&b.0));
    for (dir, here) in &by_dir {
        let served = here
            .files
            .keys()
            .any(|n| n.ends_with(".tlv") || n.ends_with(".sgn"));
        if !served {
            continue;
        }
        let prefix = dir
            .strip_prefix(root)
            .ok()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| format!("{}/", p.display()))
            .unwrap_or_default();
        for mac in here.macs.keys() {
            audit
                .phones
                .push(boot(Some(*mac), here, &contents, &prefix, &mut memo));
        }
        audit
            .phones
            .push(boot(None, here, &contents, &prefix, &mut memo));
    }
    Ok(audit)
}

fn facts(name: String, bytes: &[u8]) -> FileFacts {
    let md5 = hex(&md5::Md5::digest(bytes));
    let sha1 = hex(&sha1::Sha1::digest(bytes));
    let kind = if name.ends_with(".sgn") {
        FileKind::Signed
    } else {
        FileKind::TrustList
    };
    let (kind, signer, timestamp, error) =
        match parse_with(bytes, Some(kind), &ParseOptions::default()) {
            Ok(doc) => (
                Some(doc.kind()),
                signer_subject(&doc),
                doc.header().timestamp(),
                None,
            ),
            Err(e) => (None, None, None, Some(e.to_string())),
        };
    FileFacts {
        name,
        size: bytes.len(),
        md5,
        sha1,
        kind,
        signer,
        timestamp,
        error,
    }
}

fn signer_subject(doc: &ctl_format::Document<'_>) -> Option<String> {
    if doc.kind() == FileKind::TrustList
        && let Ok((_, r)) = doc.signer_record()
        && let Some(cert) = r.certificate().and_then(|c| Certificate::from_der(c).ok())
    {
        return Some(cert.subject_text(NameStyle::Reversed));
    }
    doc.header().signer_name().map(|n| n.into_owned())
}

/// A list judgement's inputs: a CTL (else an ITL), and the SHA-256 of the held CTL, of
/// the held ITL and of the candidate (a collision-resistant hash: a file crafted to share
/// another's key must not inherit its verdict).
type Judged = (bool, [u8; 32], [u8; 32], [u8; 32]);

/// Judgements already made, by the SHA-1 of what the phone holds and of the candidate:
/// 10,000 phones served the same lists cost one check each, not 10,000.
#[derive(Default)]
struct Memo {
    lists: HashMap<Judged, Result<(), PhoneRefusal>>,
}

fn digest(b: Option<&[u8]>) -> [u8; 32] {
    b.map_or([0; 32], |b| sha2::Sha256::digest(b).into())
}

fn boot(
    mac: Option<Mac>,
    dir: &Dir,
    contents: &HashMap<PathBuf, Arc<Vec<u8>>>,
    prefix: &str,
    memo: &mut Memo,
) -> PhoneFacts {
    let get = |name: &str| {
        dir.files
            .get(name)
            .and_then(|p| contents.get(p))
            .map(|b| (name.to_owned(), b))
    };
    let mut held = Held::default();
    let mut out = PhoneFacts {
        mac,
        ctl: None,
        itl: None,
        sast: Vec::new(),
        tftp: Vec::new(),
        config: None,
        config_accepted: false,
        notes: Vec::new(),
    };
    for kind in [Kind::Ctl, Kind::Itl] {
        let (own, shared) = match kind {
            Kind::Ctl => ("CTLSEP", "CTLFile.tlv"),
            _ => ("ITLSEP", "ITLFile.tlv"),
        };
        let own = mac.map(|m| format!("{own}{m}.tlv"));
        let Some((name, bytes)) = own.as_deref().and_then(get).or_else(|| get(shared)) else {
            continue;
        };
        let key = (
            kind == Kind::Ctl,
            digest(held.ctl.as_deref()),
            digest(held.itl.as_deref()),
            digest(Some(bytes)),
        );
        let verdict = memo
            .lists
            .entry(key)
            .or_insert_with(|| held.judge_list(Family::Enterprise, kind, bytes).map(|_| ()))
            .clone();
        match verdict {
            Ok(()) => match kind {
                Kind::Ctl => {
                    held.ctl = Some(bytes.to_vec());
                    out.ctl = Some(format!("{prefix}{name}"));
                }
                _ => {
                    held.itl = Some(bytes.to_vec());
                    out.itl = Some(format!("{prefix}{name}"));
                }
            },
            Err(why) => out.notes.push(format!("{prefix}{name}: {why}")),
        }
    }
    for list in [held.ctl.as_deref(), held.itl.as_deref()]
        .into_iter()
        .flatten()
    {
        let Ok(doc) = ctl_format::parse_trust_list(list) else {
            continue;
        };
        for r in doc.records() {
            let Some(cert) = r.certificate().and_then(|c| Certificate::from_der(c).ok()) else {
                continue;
            };
            let subject = cert.subject_text(NameStyle::Reversed);
            let into = match r.role() {
                Some(Role::SAST) => &mut out.sast,
                Some(role) if role.signs_configs() => &mut out.tftp,
                _ => continue,
            };
            if !into.contains(&subject) {
                into.push(subject);
            }
        }
    }
    let Some(mac) = mac else {
        return out;
    };
    let plain = format!("SEP{mac}.cnf.xml");
    if held.wants_signed_config() {
        let name = format!("{plain}.sgn");
        match get(&name) {
            Some((_, sgn)) => {
                out.config = Some(format!("{prefix}{name}"));
                match held.judge_config(Family::Enterprise, sgn) {
                    Ok(()) => out.config_accepted = true,
                    Err(r) => out.notes.push(format!("{prefix}{name}: {r}")),
                }
            }
            None => out.notes.push(format!(
                "{prefix}{name}: absent, and the lists name a TFTP signer: the phone takes no unsigned configuration"
            )),
        }
    } else if dir.files.contains_key(&plain) {
        out.config = Some(format!("{prefix}{plain}"));
        out.config_accepted = true;
    } else {
        out.notes.push(format!("{prefix}{plain}: absent"));
    }
    out
}
