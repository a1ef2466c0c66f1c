//! A CTL from PEM files: two security tokens (the first signs, with its key and
//! certificate in separate files, as openssl writes them) and a CallManager + TFTP server
//! with its host name; written to `CTLFile.tlv`, then read back and verified.
//!
//! Run: `cargo run -p ctl-examples --example build_and_sign [-- OUT_DIR]` (the repository's
//! test keys stand in for yours; without OUT_DIR the file goes to a temporary directory).

use std::error::Error;
use std::path::PathBuf;

use ctl_examples::{certificate, keys, now};
use ctl_format::{RecordSpec, Role, RsaVerifier, TrustListBuilder, parse_trust_list};
use ctl_token::SoftwareSigner;

fn main() -> Result<(), Box<dyn Error>> {
    let keys = keys();
    // The signer: a PEM private key and its certificate (PEM or DER).
    let signer = SoftwareSigner::from_files(
        &keys.join("sast1.key.pem"),
        Some(&keys.join("sast1.crt.pem")),
    )?;

    let mut b = TrustListBuilder::new();
    // The pure crate reads no clock: the time is yours to give.
    b.timestamp(now()?).filename("CTLFile.tlv");
    b.push(RecordSpec::new(certificate("sast1")?, Role::SAST));
    b.push(RecordSpec::new(certificate("sast2")?, Role::SAST));
    b.push(RecordSpec::new(certificate("ccm")?, Role::CCM_TFTP).dns_name("cucm-pub.example.com"));
    // Refused here, not by the phones: a signer that is no SAST record, a key that does
    // not match its certificate, a list over 64 KiB.
    let bytes = b.build(&signer)?;

    let tmp = tempfile::tempdir()?;
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| tmp.path().to_owned(), PathBuf::from);
    let out = dir.join("CTLFile.tlv");
    std::fs::write(&out, &bytes)?;

    let written = std::fs::read(&out)?;
    let doc = parse_trust_list(&written)?;
    let verified = doc.verify(&RsaVerifier)?;
    let signer_cert = ctl_format::Certificate::from_der(verified.signer_certificate())?;
    println!(
        "wrote {}: {} bytes, {} records, signed by {}",
        out.display(),
        bytes.len(),
        doc.records().len(),
        signer_cert.subject_text(ctl_format::NameStyle::Reversed)
    );
    for w in ctl_format::lint(&doc, u64::from(now()?)) {
        println!("  warning: {w}");
    }
    Ok(())
}
