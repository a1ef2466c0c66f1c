//! Reads a CTL, ITL or `.sgn` and says what it holds and whether phones take it: its
//! header and records, its signature, the phone's rule (optionally against the list a
//! phone holds), and the lint warnings.
//!
//! Run: `cargo run -p ctl-examples --example inspect_and_verify [-- FILE [HELD.tlv]]`
//! (default: the repository's certutils CTL vector).

use std::error::Error;
use std::path::PathBuf;

use ctl_format::{FileKind, RsaVerifier, format_utc, hex, parse, parse_trust_list, phone_accepts};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let file = args
        .next()
        .unwrap_or_else(|| ctl_examples::keys().join("../ctl/CTLFile-sha1.tlv"));
    let held = args.next().map(std::fs::read).transpose()?;
    let bytes = std::fs::read(&file)?;
    // Never panics, on any input: a malformed file is an error naming what and where.
    let doc = parse(&bytes)?;
    let h = doc.header();
    println!("{}: {}", file.display(), doc.kind().name());
    println!(
        "  signer {} (serial {}), {}, {} UTC",
        h.signer_name().unwrap_or_default(),
        hex(h.serial()),
        h.digest(),
        format_utc(u64::from(h.timestamp().unwrap_or(0)))
    );
    for (i, r) in doc.records().iter().enumerate() {
        println!(
            "  record #{} {} {}",
            i + 1,
            r.role().map(|x| x.to_string()).unwrap_or_default(),
            r.subject_name().unwrap_or_default()
        );
    }
    if doc.kind() == FileKind::TrustList {
        match doc.verify(&RsaVerifier) {
            Ok(_) => println!("  signature: valid (by its own SAST record)"),
            Err(e) => println!("  signature: INVALID: {e}"),
        }
    }
    let held = held.as_deref().map(parse_trust_list).transpose()?;
    match phone_accepts(held.as_ref(), &doc, &RsaVerifier) {
        Ok(a) => println!("  a phone takes it: {a}"),
        Err(refusal) => println!("  a phone refuses it: {refusal}"),
    }
    for w in ctl_format::lint(&doc, u64::from(ctl_examples::now()?)) {
        println!("  warning [{}]: {w}", w.code());
    }
    Ok(())
}
