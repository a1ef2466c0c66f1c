//! `ctl verify`: the signature, and the phone's trust rule.

use std::path::{Path, PathBuf};

use ctl_format::{Certificate, Document, FileKind, Refusal, hex, phone_accepts};
use serde::Serialize;

use crate::files::{parse, read_certificate, read_document};
use crate::inspect::{SignerJson, VERIFIER, role_name, signer_json};
use crate::{Failure, Outcome, ReadOptions, display};

/// Arguments of `ctl verify`.
#[derive(clap::Args, Debug)]
pub(crate) struct VerifyArgs {
    /// The CTL, ITL or .sgn file.
    file: PathBuf,
    /// Verify with this certificate (PEM or DER) instead of the file's own SAST record.
    #[arg(long, value_name = "PEM")]
    cert: Option<PathBuf>,
    /// The trust list a phone holds: the file must be signed by one of its SAST
    /// certificates (a trust list) or TFTP / CCM+TFTP certificates (a .sgn).
    #[arg(long, value_name = "HELD.tlv")]
    trust: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadOptions,
}

/// The verdict on a signature.
pub(crate) enum Check {
    /// Valid; who signed it.
    Valid(String),
    /// Invalid or refused; why.
    Invalid(String),
    /// Not checked (a .sgn with nothing to check it against); why.
    Unchecked(String),
}

pub(crate) fn load_trust<'a>(
    path: &Path,
    bytes: &'a [u8],
    read: ReadOptions,
) -> Result<Document<'a>, Failure> {
    let doc = parse(path, bytes, read)?;
    if doc.kind() != FileKind::TrustList {
        return Err(Failure::usage(format!(
            "{}: expected a trust list (.tlv), found a .sgn",
            display(path)
        )));
    }
    Ok(doc)
}

fn describe_signer(doc: &Document<'_>, cert: &[u8]) -> String {
    let subject = Certificate::from_der(cert)
        .map(|c| c.subject_text(ctl_format::NameStyle::Reversed))
        .unwrap_or_else(|_| "unreadable certificate".to_owned());
    let index = doc
        .records()
        .iter()
        .rposition(|r| r.certificate() == Some(cert));
    match index {
        Some(i) => format!(
            "signed by record #{} ({}) {subject}",
            i + 1,
            role_name(doc.records()[i].role())
        ),
        None => format!("signed by {subject}"),
    }
}

/// Checks `doc`: against `trust` with the phone's rule when given, else against `cert`,
/// else (trust lists) against its own SAST record.
pub(crate) fn check_signature(
    doc: &Document<'_>,
    cert: Option<&[u8]>,
    trust: Option<&Document<'_>>,
) -> Check {
    if let Some(held) = trust {
        return match phone_accepts(Some(held), doc, &VERIFIER) {
            Ok(_) => {
                let by = doc
                    .verify_with_trust_list(held, &VERIFIER)
                    .map(|v| describe_signer(held, v.signer_certificate()))
                    .unwrap_or_default();
                Check::Valid(format!("{by} of the held trust list"))
            }
            Err(Refusal::NotSignedByHeld(e)) => {
                Check::Invalid(format!("refused by the trust rule: {e}"))
            }
            Err(e) => Check::Invalid(e.to_string()),
        };
    }
    let result = match (cert, doc.kind()) {
        (Some(c), _) => doc
            .verify_with_certificate(c, &VERIFIER)
            .map(|v| v.signer_certificate()),
        (None, FileKind::TrustList) => doc.verify(&VERIFIER).map(|v| v.signer_certificate()),
        (None, _) => {
            return Check::Unchecked(
                "a .sgn is checked against --cert or --trust; neither was given".to_owned(),
            );
        }
    };
    match result {
        Ok(signer) => Check::Valid(describe_signer(doc, signer)),
        Err(e) => Check::Invalid(e.to_string()),
    }
}

/// Reads and parses `file`, the `cert` and the held `trust` list, checks the signature,
/// and hands the document and the verdict to `then`.
pub(crate) fn with_checked(
    file: &Path,
    cert: Option<&Path>,
    trust: Option<&Path>,
    read: ReadOptions,
    then: impl FnOnce(&Document<'_>, Check) -> Outcome,
) -> Outcome {
    let bytes = read_document(file)?;
    let doc = parse(file, &bytes, read)?;
    let cert = cert.map(read_certificate).transpose()?;
    let trust_bytes = trust.map(read_document).transpose()?;
    let held = match (trust, &trust_bytes) {
        (Some(path), Some(b)) => Some(load_trust(path, b, read)?),
        _ => None,
    };
    let check = check_signature(&doc, cert.as_ref().map(Certificate::der), held.as_ref());
    then(&doc, check)
}

#[derive(Serialize)]
struct VerifyJson {
    file: String,
    format: &'static str,
    valid: bool,
    signer: SignerJson,
    signed_by: Option<String>,
    trust: Option<String>,
    reason: Option<String>,
}

pub(crate) fn run(args: &VerifyArgs) -> Outcome {
    if args.cert.is_some() && args.trust.is_some() {
        return Err(Failure::usage("give --cert or --trust, not both"));
    }
    with_checked(
        &args.file,
        args.cert.as_deref(),
        args.trust.as_deref(),
        args.read,
        |doc, check| report(args, doc, check),
    )
}

fn report(args: &VerifyArgs, doc: &Document<'_>, check: Check) -> Outcome {
    let file = display(&args.file);
    if let Check::Unchecked(reason) = &check {
        return Err(Failure::usage(format!("{file}: {reason}")));
    }
    let (valid, signed_by, reason) = match check {
        Check::Valid(by) => (true, Some(by), None),
        Check::Invalid(why) | Check::Unchecked(why) => (false, None, Some(why)),
    };
    if args.json {
        let out = VerifyJson {
            file,
            format: doc.kind().name(),
            valid,
            signer: signer_json(doc),
            signed_by,
            trust: args.trust.as_deref().map(display),
            reason,
        };
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else if valid {
        println!("{file}: valid: {}", signed_by.unwrap_or_default());
    } else {
        let reason = reason.unwrap_or_default();
        let serial = hex(doc.header().serial());
        if reason.contains(&serial) {
            println!("{file}: invalid: {reason}");
        } else {
            println!("{file}: invalid: {reason} (signer serial {serial})");
        }
    }
    if valid {
        Ok(())
    } else {
        Err(Failure::quiet(1))
    }
}
