//! Signs a phone's configuration file as `SEP<MAC>.cnf.xml.sgn` with the TFTP server's key
//! (the CCM+TFTP record of the ITL), then checks it as a phone holding that ITL does.
//!
//! Run: `cargo run -p ctl-examples --example sign_config [-- FILE]` (default: a small
//! configuration written for the example).

use std::error::Error;
use std::path::PathBuf;

use ctl_format::{RsaVerifier, SignedFileBuilder, parse_signed, parse_trust_list, phone_accepts};
use ctl_token::SoftwareSigner;

fn main() -> Result<(), Box<dyn Error>> {
    let tmp = tempfile::tempdir()?;
    let file = match std::env::args_os().nth(1) {
        Some(f) => PathBuf::from(f),
        None => {
            let f = tmp.path().join("SEP001122334455.cnf.xml");
            std::fs::write(
                &f,
                "<device><deviceProtocol>SIP</deviceProtocol></device>\n",
            )?;
            f
        }
    };
    let payload = std::fs::read(&file)?;
    let name = file.file_name().ok_or("not a file name")?.to_string_lossy();
    // The TFTP server's identity: key and certificate in one PEM.
    let signer = SoftwareSigner::from_files(&ctl_examples::keys().join("ccm.pem"), None)?;
    let mut b = SignedFileBuilder::new(format!("{name}.sgn"));
    b.timestamp(ctl_examples::now()?);
    let signed = b.build(&payload, &signer)?;
    let out = tmp.path().join(format!("{name}.sgn"));
    std::fs::write(&out, &signed)?;

    // A phone holding the ITL (whose CCM+TFTP record is that server) takes it.
    let itl = std::fs::read(ctl_examples::keys().join("../itl/ITLFile-sha1.tlv"))?;
    let itl = parse_trust_list(&itl)?;
    let sgn = parse_signed(&signed)?;
    let acceptance = phone_accepts(Some(&itl), &sgn, &RsaVerifier)?;
    println!(
        "wrote {}: {} bytes ({} payload); a phone holding the ITL takes it: {acceptance}",
        out.display(),
        signed.len(),
        payload.len()
    );
    assert_eq!(sgn.body_unverified(), payload.as_slice());
    Ok(())
}
