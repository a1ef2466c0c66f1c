//! `ctl cert export`: the certificate of one record of a trust list, as PEM.

use std::path::PathBuf;

use ctl_format::{FileKind, pem_encode};

use crate::failure::{Failure, Outcome};
use crate::files::{ReadOptions, display, parse, read_document, write_atomic};
use crate::render::role_name;

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
    let pem = pem_encode("CERTIFICATE", der);
    match &a.out {
        Some(out) => {
            write_atomic(out, pem.as_bytes())?;
            errln!(
                "wrote {}: the certificate of record #{} ({})",
                display(out),
                a.record,
                role_name(record.role())
            );
        }
        None => out!("{pem}"),
    }
    Ok(())
}
