//! `ctl diff`: what changed between two files.

use std::path::PathBuf;

use ctl_format::{Document, Record, hex};
use serde::Serialize;

use crate::failure::{Failure, Outcome};
use crate::files::ReadOptions;
use crate::files::{parse, read_document};
use crate::render::{record_json, role_name};

/// Arguments of `ctl diff`.
#[derive(clap::Args, Debug)]
pub(crate) struct DiffArgs {
    /// The older file.
    a: PathBuf,
    /// The newer file.
    b: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadOptions,
}

#[derive(Serialize, PartialEq, Eq)]
struct Change {
    field: &'static str,
    a: Option<String>,
    b: Option<String>,
}

#[derive(Serialize)]
struct RecordRef {
    index: usize,
    role: &'static str,
    subject: Option<String>,
    serial: Option<String>,
    certificate_sha1: Option<String>,
}

#[derive(Serialize)]
struct Changed {
    a_index: usize,
    b_index: usize,
    changes: Vec<Change>,
}

#[derive(Serialize)]
struct DiffJson {
    equal: bool,
    header: Vec<Change>,
    added: Vec<RecordRef>,
    removed: Vec<RecordRef>,
    changed: Vec<Changed>,
}

fn change(field: &'static str, a: Option<String>, b: Option<String>) -> Option<Change> {
    (a != b).then_some(Change { field, a, b })
}

fn header_changes(a: &Document<'_>, b: &Document<'_>) -> Vec<Change> {
    let (ha, hb) = (a.header(), b.header());
    let text = |s: Option<std::borrow::Cow<'_, str>>| s.map(|s| s.into_owned());
    [
        change(
            "format",
            Some(a.kind().name().to_owned()),
            Some(b.kind().name().to_owned()),
        ),
        change(
            "version",
            Some(ha.version().to_string()),
            Some(hb.version().to_string()),
        ),
        change(
            "signer_version",
            ha.signer_version().map(|v| v.to_string()),
            hb.signer_version().map(|v| v.to_string()),
        ),
        change(
            "signer_name",
            text(ha.signer_name()),
            text(hb.signer_name()),
        ),
        change(
            "signer_issuer",
            text(ha.issuer_name()),
            text(hb.issuer_name()),
        ),
        change(
            "signer_serial",
            Some(hex(ha.serial())),
            Some(hex(hb.serial())),
        ),
        change(
            "digest",
            Some(ha.digest().name().to_owned()),
            Some(hb.digest().name().to_owned()),
        ),
        change("filename", text(ha.filename()), text(hb.filename())),
        change(
            "timestamp",
            ha.timestamp().map(|t| t.to_string()),
            hb.timestamp().map(|t| t.to_string()),
        ),
        change(
            "header_length",
            Some(ha.length().to_string()),
            Some(hb.length().to_string()),
        ),
        change(
            "signature",
            Some(hex(ha.signature())),
            Some(hex(hb.signature())),
        ),
        change(
            "payload_sha1",
            Some(hex(
                &ctl_format::DigestAlgorithm::Sha1.digest(&[a.body_unverified()])
            ))
            .filter(|_| a.kind() == ctl_format::FileKind::Signed),
            Some(hex(
                &ctl_format::DigestAlgorithm::Sha1.digest(&[b.body_unverified()])
            ))
            .filter(|_| b.kind() == ctl_format::FileKind::Signed),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn record_ref(index: usize, r: &Record<'_>) -> RecordRef {
    let j = serde_json::to_value(record_json(r)).unwrap_or_default();
    let get = |k: &str| j.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    RecordRef {
        index: index + 1,
        role: role_name(r.role()),
        subject: get("subject"),
        serial: get("serial"),
        certificate_sha1: get("certificate_sha1"),
    }
}

fn record_changes(a: &Record<'_>, b: &Record<'_>) -> Vec<Change> {
    let ja = serde_json::to_value(record_json(a)).unwrap_or_default();
    let jb = serde_json::to_value(record_json(b)).unwrap_or_default();
    let fields: [&'static str; 11] = [
        "role",
        "subject",
        "issuer",
        "serial",
        "dns_name",
        "ip_address",
        "certificate_sha1",
        "public_key_length",
        "signature_length",
        "not_after",
        "length",
    ];
    let mut out: Vec<Change> = fields
        .iter()
        .filter_map(|f| {
            let show = |v: &serde_json::Value| match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            change(f, ja.get(*f).and_then(show), jb.get(*f).and_then(show))
        })
        .collect();
    if out.is_empty() && a.as_bytes() != b.as_bytes() {
        out.push(Change {
            field: "elements",
            a: Some(hex(
                &ctl_format::DigestAlgorithm::Sha1.digest(&[a.as_bytes()])
            )),
            b: Some(hex(
                &ctl_format::DigestAlgorithm::Sha1.digest(&[b.as_bytes()])
            )),
        });
    }
    out
}

/// A rule that says two records are the same entry.
type Rule = fn(&Record<'_>, &Record<'_>) -> bool;

/// Matched (a, b) index pairs, then the unmatched indices of `a` and of `b`.
type Pairing = (Vec<(usize, usize)>, Vec<usize>, Vec<usize>);

/// Pairs records of `a` and `b`: identical bytes first, then the same certificate,
/// then the same role and subject. Returns (pairs, unmatched a, unmatched b).
fn pair(a: &[Record<'_>], b: &[Record<'_>]) -> Pairing {
    let mut free_a: Vec<usize> = (0..a.len()).collect();
    let mut free_b: Vec<usize> = (0..b.len()).collect();
    let mut pairs = Vec::new();
    let rules: [Rule; 4] = [
        |x, y| x.as_bytes() == y.as_bytes(),
        |x, y| {
            x.certificate().is_some() && x.certificate() == y.certificate() && x.role() == y.role()
        },
        |x, y| x.certificate().is_some() && x.certificate() == y.certificate(),
        |x, y| x.role() == y.role() && x.subject_name() == y.subject_name(),
    ];
    for rule in rules {
        let mut i = 0;
        while i < free_a.len() {
            let ia = free_a[i];
            if let Some(pos) = free_b.iter().position(|&ib| rule(&a[ia], &b[ib])) {
                pairs.push((ia, free_b.remove(pos)));
                free_a.remove(i);
            } else {
                i += 1;
            }
        }
    }
    pairs.sort_unstable();
    (pairs, free_a, free_b)
}

pub(crate) fn run(args: &DiffArgs) -> Outcome {
    let bytes_a = read_document(&args.a, args.read)?;
    let bytes_b = read_document(&args.b, args.read)?;
    let a = parse(&args.a, &bytes_a, args.read)?;
    let b = parse(&args.b, &bytes_b, args.read)?;
    let header = header_changes(&a, &b);
    let (pairs, removed, added) = pair(a.records(), b.records());
    let changed: Vec<Changed> = pairs
        .iter()
        .map(|&(ia, ib)| Changed {
            a_index: ia + 1,
            b_index: ib + 1,
            changes: record_changes(&a.records()[ia], &b.records()[ib]),
        })
        .filter(|c| !c.changes.is_empty())
        .collect();
    let moved = pairs.iter().any(|&(ia, ib)| ia != ib);
    let added: Vec<RecordRef> = added
        .iter()
        .map(|&i| record_ref(i, &b.records()[i]))
        .collect();
    let removed: Vec<RecordRef> = removed
        .iter()
        .map(|&i| record_ref(i, &a.records()[i]))
        .collect();
    let equal = bytes_a == bytes_b;
    if args.json {
        let out = DiffJson {
            equal,
            header,
            added,
            removed,
            changed,
        };
        outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print_human(equal, &header, &added, &removed, &changed, moved);
    }
    if equal {
        Ok(())
    } else {
        Err(Failure::quiet(1))
    }
}

fn print_human(
    equal: bool,
    header: &[Change],
    added: &[RecordRef],
    removed: &[RecordRef],
    changed: &[Changed],
    moved: bool,
) {
    if equal {
        outln!("identical");
        return;
    }
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".to_owned());
    for c in header {
        if c.field == "signature" {
            outln!("header: signature changed");
        } else {
            outln!("header: {}: {} -> {}", c.field, show(&c.a), show(&c.b));
        }
    }
    for r in removed {
        outln!(
            "- record #{} {} {} serial {}",
            r.index,
            r.role,
            show(&r.subject),
            show(&r.serial)
        );
    }
    for r in added {
        outln!(
            "+ record #{} {} {} serial {}",
            r.index,
            r.role,
            show(&r.subject),
            show(&r.serial)
        );
    }
    for c in changed {
        for ch in &c.changes {
            outln!(
                "~ record #{} -> #{}: {}: {} -> {}",
                c.a_index,
                c.b_index,
                ch.field,
                show(&ch.a),
                show(&ch.b)
            );
        }
    }
    if moved && header.is_empty() && added.is_empty() && removed.is_empty() && changed.is_empty() {
        outln!("records reordered");
    }
}
