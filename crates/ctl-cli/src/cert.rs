//! Certificates: `ctl cert export` (one record of a trust list, as PEM), `ctl certhash`
//! (the hashes phones' configuration files name certificates by), and writing PEM for
//! `ctl token export`.

use std::path::{Path, PathBuf};

use base64ct::Encoding as _;
use ctl_format::{DigestAlgorithm, FileKind, NameStyle, hex, pem_encode};
use serde::Serialize;

use crate::failure::{Failure, Outcome};
use crate::files::{ReadOptions, display, parse, read_document, write_atomic};
use crate::render::role_name;
use crate::signing;

/// `ctl cert ...`.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum CertCommand {
    /// Write the certificate of one record of a trust list as PEM.
    Export(ExportArgs),
}

/// Arguments of `ctl cert export`.
#[derive(clap::Args, Debug)]
pub(crate) struct ExportArgs {
    /// The trust list (CTL or ITL).
    file: PathBuf,
    /// The record, numbered from 1 as `ctl inspect` shows them.
    #[arg(long, value_name = "N")]
    record: usize,
    /// Where to write the PEM (default: stdout).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    read: ReadOptions,
}

pub(crate) fn run(c: &CertCommand) -> Outcome {
    match c {
        CertCommand::Export(a) => export(a),
    }
}

fn export(a: &ExportArgs) -> Outcome {
    let bytes = read_document(&a.file, a.read)?;
    let doc = parse(&a.file, &bytes, a.read)?;
    if doc.kind() != FileKind::TrustList {
        return Err(Failure::usage(format!(
            "{}: a .sgn has no records; cert export reads trust lists",
            display(&a.file)
        )));
    }
    let records = doc.records();
    let record = a
        .record
        .checked_sub(1)
        .and_then(|i| records.get(i))
        .ok_or_else(|| {
            Failure::usage(format!(
                "{}: --record {}: the list has records 1 to {}",
                display(&a.file),
                a.record,
                records.len()
            ))
        })?;
    let der = record.certificate().ok_or_else(|| {
        Failure::usage(format!(
            "{}: record #{} ({}) carries no certificate",
            display(&a.file),
            a.record,
            role_name(record.role())
        ))
    })?;
    let what = format!(
        "the certificate of record #{} ({})",
        a.record,
        role_name(record.role())
    );
    write_pem(a.out.as_deref(), der, &what)
}

/// Writes `der` as PEM to `out` (atomically, saying what it wrote on stderr) or stdout.
pub(crate) fn write_pem(out: Option<&Path>, der: &[u8], what: &str) -> Outcome {
    let pem = pem_encode("CERTIFICATE", der);
    match out {
        Some(out) => {
            write_atomic(out, pem.as_bytes())?;
            errln!("wrote {}: {what}", display(out));
        }
        None => out!("{pem}"),
    }
    Ok(())
}

/// Arguments of `ctl certhash`.
#[derive(clap::Args, Debug)]
pub(crate) struct CertHashArgs {
    /// A certificate (PEM or DER), or a pkcs11: URI (the certificate on a token).
    cert: String,
    /// Only this digest: sha1 or sha512 (default: both).
    #[arg(long)]
    digest: Option<DigestAlgorithm>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct HashJson {
    digest: &'static str,
    hex: String,
    base64: String,
}

#[derive(Serialize)]
struct CertHashJson {
    subject: String,
    hashes: Vec<HashJson>,
}

/// The hashes of a certificate's DER bytes, in hex and base64 (configuration files and
/// CERTIFICATE_HASH records use one or the other).
pub(crate) fn certhash(a: &CertHashArgs) -> Outcome {
    let cert = signing::certificate(&a.cert)?;
    let digests = match a.digest {
        Some(d) => vec![d],
        None => vec![DigestAlgorithm::Sha1, DigestAlgorithm::Sha512],
    };
    let hashes: Vec<HashJson> = digests
        .into_iter()
        .map(|d| {
            let h = d.digest(&[cert.der()]);
            HashJson {
                digest: d.name(),
                hex: hex(&h),
                base64: base64ct::Base64::encode_string(&h),
            }
        })
        .collect();
    let subject = cert.subject_text(NameStyle::Reversed);
    if a.json {
        let j = CertHashJson { subject, hashes };
        outln!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        return Ok(());
    }
    outln!("{subject}");
    for h in &hashes {
        let label = match h.digest {
            "sha1" => "SHA-1",
            "sha256" => "SHA-256",
            _ => "SHA-512",
        };
        outln!("{label:<8} hex     {}", h.hex);
        outln!("{label:<8} base64  {}", h.base64);
    }
    Ok(())
}
