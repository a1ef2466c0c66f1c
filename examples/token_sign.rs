//! A CTL signed on a PKCS#11 token: a SoftHSM2 token is created (in a token directory of
//! its own), the signing key is imported onto it, and the key signs there, named by a
//! `pkcs11:` URI as you would name a USB token's. Where SoftHSM2 is not installed it says
//! so and stops (`CTL_REQUIRE_TOKENS=1`, as in CI, makes that a failure).
//!
//! Run: `cargo run -p ctl-examples --example token_sign [-- MODULE]` (`apt install softhsm2`).

use std::error::Error;
use std::path::Path;

use ctl_examples::{certificate, keys, now};
use ctl_format::{RecordSpec, Role, RsaVerifier, TrustListBuilder, parse_trust_list};
use ctl_token::pkcs11::{Module, lab};
use ctl_token::{Pkcs11Uri, SignerOptions, SoftwareSigner, TokenSigner};

fn main() -> Result<(), Box<dyn Error>> {
    let module = std::env::args()
        .nth(1)
        .unwrap_or_else(|| ctl_examples::SOFTHSM.to_owned());
    if !Path::new(&module).exists() {
        let message =
            format!("token_sign: skipped: no PKCS#11 module at {module} (apt install softhsm2)");
        if std::env::var_os("CTL_REQUIRE_TOKENS").is_some() {
            return Err(message.into());
        }
        println!("{message}");
        return Ok(());
    }
    let Some(dir) = ctl_examples::token_dir() else {
        return ctl_examples::rerun_with_token_directory();
    };

    // A lab token with the SAST-1 key on it (a real one comes from its vendor's tool).
    let pin_file = dir.join("token.pin");
    std::fs::write(&pin_file, "example-pin\n")?;
    let pin = ctl_token::pkcs11::pin::read_pin_file(&pin_file)?;
    let module = Module::load(Path::new(&module))?;
    let mut token = lab::init_token(
        &module,
        "SAST-1",
        &secrecy::SecretString::from("example-so-pin"),
        &pin,
    )?;
    let software = SoftwareSigner::from_files(&keys().join("sast1.pem"), None)?;
    let cert = certificate("sast1")?;
    lab::import_rsa_key(&mut token, &pin, &software.into_key(), &[1], "signer")?;
    lab::import_certificate(&mut token, &pin, cert.der(), &[1], "signer")?;

    // What you would write for a USB token: the token, the object, where the PIN is.
    let uri: Pkcs11Uri = format!(
        "pkcs11:token=SAST-1;object=signer?module-path={}&pin-source=file:{}",
        module.path().display(),
        pin_file.display()
    )
    .parse()?;
    let signer = TokenSigner::open(&uri, &SignerOptions::default())?;

    let mut b = TrustListBuilder::new();
    b.timestamp(now()?);
    b.push(RecordSpec::new(cert, Role::SAST));
    b.push(RecordSpec::new(certificate("sast2")?, Role::SAST));
    b.push(RecordSpec::new(certificate("ccm")?, Role::CCM_TFTP).dns_name("cucm-pub.example.com"));
    let bytes = b.build(&signer)?;
    parse_trust_list(&bytes)?.verify(&RsaVerifier)?;
    println!(
        "signed on the token {uri}: a CTL of {} bytes that verifies",
        bytes.len()
    );
    Ok(())
}
