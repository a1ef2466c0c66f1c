//! Checking a file's signature: against its own SAST record, a certificate, or a held
//! trust list with the phone's rule. Shared by `inspect` and `verify`.

use std::path::Path;

use ctl_format::{Certificate, Document, FileKind, Refusal, RsaVerifier, phone_accepts};

use crate::failure::{Failure, Outcome};
use crate::files::{ReadOptions, display, parse, read_certificate, read_document};
use crate::render::role_name;

/// The verifier every command uses.
pub(crate) const VERIFIER: RsaVerifier = RsaVerifier;

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
    // The record that signed: a SAST record of this certificate (phones look for the
    // signer among those), else the first record of it.
    let of_cert = |r: &&ctl_format::Record<'_>| r.certificate() == Some(cert);
    let records = doc.records();
    let index = records
        .iter()
        .position(|r| of_cert(&r) && r.role() == Some(ctl_format::Role::SAST))
        .or_else(|| records.iter().position(|r| of_cert(&r)));
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
    let bytes = read_document(file, read)?;
    let doc = parse(file, &bytes, read)?;
    let cert = cert.map(read_certificate).transpose()?;
    // The held list is what a phone holds: never over the phones' limit.
    let held_read = ReadOptions {
        oversize: false,
        ..read
    };
    let trust_bytes = trust.map(|t| read_document(t, held_read)).transpose()?;
    let held = match (trust, &trust_bytes) {
        (Some(path), Some(b)) => Some(load_trust(path, b, held_read)?),
        _ => None,
    };
    let check = check_signature(&doc, cert.as_ref().map(Certificate::der), held.as_ref());
    then(&doc, check)
}
