//! `ctl verify`: the signature, and the phone's trust rule.

use std::path::PathBuf;

use ctl_format::{Document, hex};
use serde::Serialize;

use crate::check::{Check, with_checked};
use crate::failure::{Failure, Outcome};
use crate::files::{ReadOptions, display};
use crate::render::{SignerJson, signer_json};

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

/// The candidate's TIMESTAMP against the held list's: phones check no order, so a valid
/// signature does not make a file newer.
fn older_than_held(args: &VerifyArgs, doc: &Document<'_>) -> Option<String> {
    let held = std::fs::read(args.trust.as_deref()?).ok()?;
    let held = ctl_format::parse_trust_list(&held).ok()?;
    let (then, now) = (held.header().timestamp()?, doc.header().timestamp()?);
    (doc.kind() == ctl_format::FileKind::TrustList && now <= then).then(|| {
        format!(
            "it is not newer than the held list (timestamp {now}, held {then}): phones check no order and would take it back; ctl-providerd nodes refuse it"
        )
    })
}

fn report(args: &VerifyArgs, doc: &Document<'_>, check: Check) -> Outcome {
    let file = display(&args.file);
    if let Check::Unchecked(reason) = &check {
        return Err(Failure::usage(format!("{file}: {reason}")));
    }
    if let Some(w) = older_than_held(args, doc) {
        errln!("warning: {file}: {w}");
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
        outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else if valid {
        outln!("{file}: valid: {}", signed_by.unwrap_or_default());
    } else {
        let reason = reason.unwrap_or_default();
        let serial = hex(doc.header().serial());
        if reason.contains(&serial) {
            outln!("{file}: invalid: {reason}");
        } else {
            outln!("{file}: invalid: {reason} (signer serial {serial})");
        }
    }
    if valid {
        Ok(())
    } else {
        Err(Failure::quiet(1))
    }
}
