//! `ctl extract`: the payload of a `.sgn`, written out; with `--cert` or `--trust`, only
//! when its signature is valid.

use std::path::{Path, PathBuf};

use ctl_format::FileKind;

use crate::check::{Check, with_checked};
use crate::failure::{Failure, Outcome};
use crate::files::{ReadOptions, display, write_atomic};

/// Arguments of `ctl extract`.
#[derive(clap::Args, Debug)]
pub(crate) struct ExtractArgs {
    /// The signed file (`.sgn`).
    file: PathBuf,
    /// Where to write the payload (default: FILE without `.sgn`).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write it only if it is signed by this certificate (PEM or DER).
    #[arg(long, value_name = "PEM", conflicts_with = "trust")]
    cert: Option<PathBuf>,
    /// Write it only if a phone holding this trust list would take it.
    #[arg(long, value_name = "TLV")]
    trust: Option<PathBuf>,
    #[command(flatten)]
    read: ReadOptions,
}

/// FILE without its `.sgn` (or `.sha512`) extension; refused when it has neither.
fn default_out(file: &Path) -> Result<PathBuf, Failure> {
    match file.extension().and_then(|e| e.to_str()) {
        Some("sgn" | "sha512") => Ok(file.with_extension("")),
        _ => Err(Failure::usage(format!(
            "{}: not named .sgn; say where the payload goes with --out",
            display(file)
        ))),
    }
}

pub(crate) fn run(args: &ExtractArgs) -> Outcome {
    let out = match &args.out {
        Some(o) => o.clone(),
        None => default_out(&args.file)?,
    };
    if out == args.file {
        return Err(Failure::usage(format!(
            "{}: --out is the signed file itself",
            display(&out)
        )));
    }
    let checked = args.cert.is_some() || args.trust.is_some();
    with_checked(
        &args.file,
        args.cert.as_deref(),
        args.trust.as_deref(),
        args.read,
        |doc, check| {
            if doc.kind() != FileKind::Signed {
                return Err(Failure::usage(format!(
                    "{}: a trust list has no payload; extract reads .sgn files",
                    display(&args.file)
                )));
            }
            match check {
                Check::Invalid(reason) => {
                    return Err(Failure::failed(format!(
                        "{}: not extracted: {reason}",
                        display(&args.file)
                    )));
                }
                Check::Valid(by) => errln!("{}: {by}", display(&args.file)),
                Check::Unchecked(_) if !checked => errln!(
                    "warning: {}: signature not checked (give --cert or --trust to extract only a file signed as it should be)",
                    display(&args.file)
                ),
                Check::Unchecked(_) => {}
            }
            let payload = doc.body_unverified();
            write_atomic(&out, payload)?;
            outln!("wrote {}: {} bytes", display(&out), payload.len());
            Ok(())
        },
    )
}
