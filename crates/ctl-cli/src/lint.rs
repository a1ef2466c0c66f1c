//! `ctl lint`: what phones will not take in trust lists and `.sgn` files, rule by rule,
//! each with the phones it concerns and its source; with `--my-key`, every key of a list
//! that is none of the user's (a list made by someone else locks their phones in).

use std::path::{Path, PathBuf};

use ctl_format::{Certificate, Document, FileKind, Linter, PublicKey};
use serde::Serialize;

use crate::check::{Check, check_signature};
use crate::failure::{Failure, Outcome};
use crate::files::{ReadOptions, display, parse, read_capped, read_document};
use crate::render::now;
use crate::signing;

/// Arguments of `ctl lint`.
#[derive(clap::Args, Debug)]
pub(crate) struct LintArgs {
    /// The CTL, ITL or .sgn files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// A key you hold: its certificate (PEM or DER), its private key (PEM), or a
    /// `pkcs11:` URI of its token. Repeat for each; a trust list signed by another key,
    /// or with a SAST record of another key, is flagged.
    #[arg(long = "my-key", value_name = "CERT|KEY|URI")]
    my_keys: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadOptions,
}

#[derive(Serialize)]
struct FindingJson {
    code: &'static str,
    message: String,
    phones: &'static str,
    source: &'static str,
}

#[derive(Serialize)]
struct FileJson {
    file: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    warnings: Vec<FindingJson>,
}

#[derive(Serialize)]
struct LintJson {
    ok: bool,
    files: Vec<FileJson>,
}

/// The public key an argument of `--my-key` names.
fn my_key(arg: &str) -> Result<PublicKey, Failure> {
    if signing::is_uri(arg) {
        return Ok(signing::certificate(arg)?.public_key().clone());
    }
    let path = Path::new(arg);
    let bytes = read_capped(path, 1024 * 1024)?;
    let labels = ctl_format::pem_labels(&bytes);
    if ctl_token::SoftwareSigner::has_private_key(&bytes)
        && !labels.iter().any(|l| l == "CERTIFICATE")
    {
        return Ok(ctl_token::SoftwareSigner::public_key_of_pem(
            &bytes,
            &display(path),
        )?);
    }
    Certificate::from_der_or_pem(&bytes)
        .map(|c| c.public_key().clone())
        .map_err(|e| Failure::usage(format!("--my-key {}: {e}", display(path))))
}

fn findings(linter: &Linter, doc: &Document<'_>) -> Vec<FindingJson> {
    let mut out: Vec<FindingJson> = linter
        .run(doc)
        .iter()
        .map(|w| FindingJson {
            code: w.code(),
            message: w.to_string(),
            phones: w.phones(),
            source: w.source(),
        })
        .collect();
    // A trust list phones cannot verify is the first thing they refuse.
    if doc.kind() == FileKind::TrustList
        && let Check::Invalid(reason) = check_signature(doc, None, None)
    {
        out.insert(
            0,
            FindingJson {
                code: "signature",
                message: format!("signature does not verify: {reason}"),
                phones: "all phones",
                source: "the trust list format: signed by its own SAST record",
            },
        );
    }
    out
}

fn lint_file(linter: &Linter, path: &Path, read: ReadOptions) -> Result<Vec<FindingJson>, Failure> {
    let bytes = read_document(path, read)?;
    let doc = parse(path, &bytes, read)?;
    Ok(findings(linter, &doc))
}

pub(crate) fn run(args: &LintArgs) -> Outcome {
    let mut linter = Linter::new(now());
    for arg in &args.my_keys {
        linter.own_key(&my_key(arg)?);
    }
    // A list over the phones' limit is linted as such, not refused.
    let read = ReadOptions {
        oversize: true,
        ..args.read
    };
    let mut report = LintJson {
        ok: true,
        files: Vec::new(),
    };
    let mut unreadable = false;
    for path in &args.files {
        let (warnings, error) = match lint_file(&linter, path, read) {
            Ok(w) => (w, None),
            Err(f) => {
                unreadable = true;
                (Vec::new(), Some(f.message))
            }
        };
        let ok = error.is_none() && warnings.is_empty();
        report.ok &= ok;
        report.files.push(FileJson {
            file: display(path),
            ok,
            error,
            warnings,
        });
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        for f in &report.files {
            if let Some(e) = &f.error {
                errln!("ctl: {e}");
            } else if f.warnings.is_empty() {
                outln!("{}: no warnings", f.file);
            }
            for w in &f.warnings {
                outln!("{}: {}: {}", f.file, w.code, w.message);
                outln!("    affects {}; source: {}", w.phones, w.source);
            }
        }
    }
    match (unreadable, report.ok) {
        (true, _) => Err(Failure::quiet(2)),
        (false, false) => Err(Failure::quiet(1)),
        (false, true) => Ok(()),
    }
}
