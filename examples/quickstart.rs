//! Quickstart: build a CTL from freshly generated certificates, sign it with a
//! software key, verify it, print it, and show what a phone accepts and refuses.
//!
//! Run: `cargo run --release -p ctl-examples --example quickstart`
//!
//! Everything happens in memory with throw-away keys: no network, no files.

use std::error::Error;
use std::time::{SystemTime, UNIX_EPOCH};

use ctl_format::{
    Certificate, DigestAlgorithm, Layout, RecordSpec, Role, RsaVerifier, TrustListBuilder,
    format_utc, hex, lint, parse_trust_list, phone_accepts,
};
use ctl_token::SoftwareSigner;
use rsa::pkcs8::EncodePrivateKey as _;

/// A throw-away RSA-2048 key and a self-signed certificate for `cn`.
fn identity(cn: &str, org_unit: &str) -> Result<(rsa::PrivateKey, Certificate), Box<dyn Error>> {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)?;
    let pkcs8 = key.to_pkcs8_der()?;
    let key_pair = rcgen::KeyPair::try_from(pkcs8.as_bytes())?;
    let mut params = rcgen::CertificateParams::new(vec![cn.to_owned()])?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CountryName, "NZ");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Example");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, org_unit);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key_pair)?;
    Ok((key, Certificate::from_der(cert.der())?))
}

fn main() -> Result<(), Box<dyn Error>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    println!("Generating two security tokens (SAST) and three server identities (RSA-2048)...");
    let (sast1_key, sast1) = identity("SAST-1", "Security")?;
    let (_, sast2) = identity("SAST-2", "Security")?;
    let (_, cucm) = identity("cucm-pub.example.com", "VoIP")?;
    let (_, capf) = identity("CAPF-cucm-pub", "VoIP")?;
    let (_, tftp) = identity("tftp.example.com", "VoIP")?;

    let ip = "192.0.2.10".parse()?;
    let mut builder = TrustListBuilder::new();
    builder
        .layout(Layout::Cucm)
        .digest(DigestAlgorithm::Sha1)
        .filename("CTLFile.tlv")
        .timestamp(u32::try_from(now)?);
    builder
        .push(RecordSpec::new(sast1.clone(), Role::SAST))
        .push(RecordSpec::new(sast2, Role::SAST))
        .push(
            RecordSpec::new(cucm, Role::CCM_TFTP)
                .dns_name("cucm-pub")
                .ip_address(ip),
        )
        .push(
            RecordSpec::new(capf, Role::CAPF)
                .dns_name("cucm-pub")
                .ip_address(ip),
        )
        .push(
            RecordSpec::new(tftp, Role::TFTP)
                .dns_name("tftp")
                .ip_address("192.0.2.11".parse()?),
        );

    let signer = SoftwareSigner::new(sast1_key, &sast1, "SAST-1 (generated)")?;
    let predicted = builder.encoded_len(sast1.der())?;
    let bytes = builder.build(&signer)?;
    assert_eq!(predicted, bytes.len());

    let ctl = parse_trust_list(&bytes)?;
    let verified = ctl.verify(&RsaVerifier)?;
    let h = ctl.header();
    println!(
        "\nCTLFile.tlv: {} bytes (predicted {predicted}), {} records",
        bytes.len(),
        ctl.records().len()
    );
    println!("  signed by   {}", h.signer_name().unwrap_or_default());
    println!("  serial      {}", hex(h.serial()));
    println!(
        "  digest      {}, {}-byte signature",
        h.digest(),
        h.signature().len()
    );
    println!(
        "  timestamp   {} UTC",
        format_utc(u64::from(h.timestamp().unwrap_or(0)))
    );
    println!(
        "  signature   valid ({} bytes of certificate verified it)",
        verified.signer_certificate().len()
    );
    println!(
        "\n  #  role       dns name   ip address    serial                            subject"
    );
    for (i, r) in ctl.records().iter().enumerate() {
        println!(
            "  {}  {:<10} {:<10} {:<13} {:<33} {}",
            i + 1,
            r.role().map(|x| x.to_string()).unwrap_or_default(),
            r.dns_name().unwrap_or_default(),
            r.ip_address().map(|a| a.to_string()).unwrap_or_default(),
            hex(r.serial().unwrap_or_default()),
            r.subject_name().unwrap_or_default(),
        );
    }
    let warnings = lint(&ctl, now);
    println!(
        "\nLint: {}",
        if warnings.is_empty() {
            "no warnings".to_owned()
        } else {
            format!("{warnings:?}")
        }
    );

    // What a phone does with it.
    println!(
        "\nA new phone (no trust list yet): {:?}",
        phone_accepts(None, &ctl, &RsaVerifier)?
    );

    // A list signed by a key the phone does not know is refused.
    let (rogue_key, rogue) = identity("Rogue", "Attacker")?;
    let mut forged = TrustListBuilder::new();
    forged
        .timestamp(u32::try_from(now)?)
        .push(RecordSpec::new(rogue.clone(), Role::SAST));
    let forged = forged.build(&SoftwareSigner::new(rogue_key, &rogue, "rogue")?)?;
    let forged = parse_trust_list(&forged)?;
    match phone_accepts(Some(&ctl), &forged, &RsaVerifier) {
        Ok(a) => return Err(format!("a phone accepted a forged CTL: {a:?}").into()),
        Err(refusal) => println!("A phone holding this CTL, offered a forged one: {refusal}"),
    }
    Ok(())
}
