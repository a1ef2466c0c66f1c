//! `ctl inspect`: what a file holds, for people and for scripts.

use std::path::PathBuf;

use ctl_format::{Document, FileKind, format_utc, hex, lint};
use serde::Serialize;

use crate::check::{Check, with_checked};
use crate::failure::{Failure, Outcome};
use crate::files::ReadOptions;
use crate::render::{RecordJson, SignerJson, now, record_json, signer_json};

/// Arguments of `ctl inspect`.
#[derive(clap::Args, Debug)]
pub(crate) struct InspectArgs {
    /// The CTL, ITL or .sgn file.
    file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Check a .sgn (or a trust list) against this certificate (PEM or DER).
    #[arg(long, value_name = "PEM")]
    cert: Option<PathBuf>,
    /// Check the signature against this trust list, as a phone holding it would.
    #[arg(long, value_name = "TLV")]
    trust: Option<PathBuf>,
    #[command(flatten)]
    read: ReadOptions,
}

#[derive(Serialize)]
struct InspectJson {
    format: &'static str,
    version: String,
    header_length: usize,
    signer_version: Option<String>,
    signer: SignerJson,
    digest: &'static str,
    signature_length: usize,
    filename: Option<String>,
    timestamp: Option<u32>,
    records: Vec<RecordJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_length: Option<usize>,
    signature_valid: bool,
    warnings: Vec<String>,
}

pub(crate) fn run(args: &InspectArgs) -> Outcome {
    // A list over the phones' limit is shown (and linted as such), not refused.
    let read = ReadOptions {
        oversize: true,
        ..args.read
    };
    with_checked(
        &args.file,
        args.cert.as_deref(),
        args.trust.as_deref(),
        read,
        |doc, check| {
            report(args, doc, &check);
            // The report is printed either way; an invalid signature is a failure.
            match check {
                Check::Invalid(_) => Err(Failure::quiet(1)),
                _ => Ok(()),
            }
        },
    )
}

fn report(args: &InspectArgs, doc: &Document<'_>, check: &Check) {
    let mut warnings: Vec<String> = lint(doc, now()).iter().map(ToString::to_string).collect();
    if let Check::Invalid(reason) | Check::Unchecked(reason) = check {
        warnings.push(format!("signature not verified: {reason}"));
    }
    if args.json {
        let h = doc.header();
        let out = InspectJson {
            format: doc.kind().name(),
            version: h.version().to_string(),
            header_length: h.length(),
            signer_version: h.signer_version().map(|v| v.to_string()),
            signer: signer_json(doc),
            digest: h.digest().name(),
            signature_length: h.signature().len(),
            filename: h.filename().map(|s| s.into_owned()),
            timestamp: h.timestamp(),
            records: doc.records().iter().map(record_json).collect(),
            payload_length: (doc.kind() == FileKind::Signed).then(|| doc.body_unverified().len()),
            signature_valid: matches!(check, Check::Valid(_)),
            warnings,
        };
        outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        out!("{}", human(doc, check, &warnings));
    }
}

fn human(doc: &Document<'_>, check: &Check, warnings: &[String]) -> String {
    use std::fmt::Write as _;
    let h = doc.header();
    let mut s = String::new();
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        let _ = writeln!(s, "{:<18}{v}", format!("{k}:"));
    };
    let kind = match doc.kind() {
        FileKind::TrustList => "trust list (.tlv)",
        _ => "signed file (.sgn)",
    };
    line("Format", &kind);
    line("Version", &h.version());
    line(
        "Header Length",
        &format!("{} bytes ({} padding)", h.length(), h.padding()),
    );
    if let Some(v) = h.signer_version() {
        line("Signer Version", &v);
    }
    line("Signer Name", &h.signer_name().unwrap_or_default());
    line("Issuer Name", &h.issuer_name().unwrap_or_default());
    line("Serial Number", &hex(h.serial()));
    line("Digest", &h.digest());
    line("Signature", &format!("{} bytes", h.signature().len()));
    line("Filename", &h.filename().unwrap_or_default());
    match h.timestamp() {
        Some(t) => line(
            "Timestamp",
            &format!("{} UTC ({t})", format_utc(u64::from(t))),
        ),
        None => line("Timestamp", &"(absent)"),
    }
    if doc.kind() == FileKind::Signed {
        line("Payload", &format!("{} bytes", doc.body_unverified().len()));
    }
    for (i, r) in doc.records().iter().enumerate() {
        let j = record_json(r);
        let _ = writeln!(s, "\nRecord #{} at byte {}", i + 1, r.offset());
        let mut line = |k: &str, v: &dyn std::fmt::Display| {
            let _ = writeln!(s, "  {:<18}{v}", format!("{k}:"));
        };
        line("Length", &format!("{} bytes", j.length));
        line(
            "Role",
            &r.role()
                .map_or_else(|| "(absent)".to_owned(), |x| format!("{x} ({})", x.0)),
        );
        if let Some(d) = &j.dns_name {
            line("DNS Name", d);
        }
        if let Some(ip) = &j.ip_address {
            line("IP Address", ip);
        }
        line("Subject", &j.subject.unwrap_or_default());
        line("Issuer", &j.issuer.unwrap_or_default());
        line("Serial", &j.serial.unwrap_or_default());
        if let Some(n) = j.public_key_length {
            line(
                "Public Key",
                &format!(
                    "{n} bytes ({})",
                    j.key_algorithm.unwrap_or("unreadable certificate")
                ),
            );
        }
        match j.signature_length {
            Some(n) => line("Cert Signature", &format!("{n} bytes")),
            None => line("Cert Signature", &"(absent)"),
        }
        if let (Some(n), Some(sha1)) = (j.certificate_length, &j.certificate_sha1) {
            line("Certificate", &format!("{n} bytes, SHA-1 {sha1}"));
        }
        if let Some(t) = j.not_after {
            line("Not After", &format!("{} UTC", format_utc(t)));
        }
        if r.opaque_elements() > 0 {
            line("Unknown Elements", &r.opaque_elements());
        }
    }
    let _ = writeln!(s);
    match check {
        Check::Valid(by) => {
            let _ = writeln!(s, "Valid signature ({by})");
        }
        Check::Invalid(_) => {
            let _ = writeln!(s, "Invalid signature");
        }
        Check::Unchecked(_) => {
            let _ = writeln!(s, "Signature not checked");
        }
    }
    for w in warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}
