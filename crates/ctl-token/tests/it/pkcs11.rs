//! PKCS#11 signing on a real SoftHSM2 module: a fresh token directory for this test
//! process, a uniquely labelled token per test.

use std::sync::Arc;

use ctl_format::{
    Certificate, DigestAlgorithm, Layout, RecordSpec, RsaVerifier, Signer, TrustListBuilder, parse,
};
use ctl_test_support::{module, new_token, uri};
use ctl_token::pkcs11::lab;
use ctl_token::{Error, SignerOptions, SoftwareSigner, TokenSigner};
use rsa::pkcs8::DecodePrivateKey as _;
use secrecy::SecretString;

/// Reads a shared test file by name.
fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(ctl_test_support::fixture(name)).unwrap()
}

fn pin(p: &str) -> SecretString {
    SecretString::from(p)
}

/// A token holding the `name` vector key and its certificate under id 01.
fn token_with_vector_key(name: &str, user_pin: &str) -> String {
    let (mut token, label) = new_token(name, user_pin);
    let key_pem = String::from_utf8(fixture(&format!("{name}.key.pem"))).unwrap();
    let key = rsa::PrivateKey::from_pkcs8_pem(&key_pem).unwrap();
    let cert = Certificate::from_pem(&fixture(&format!("{name}.crt.pem"))).unwrap();
    lab::import_rsa_key(&mut token, &pin(user_pin), &key, &[1], name).unwrap();
    lab::import_certificate(&mut token, &pin(user_pin), cert.der(), &[1], name).unwrap();
    label
}

fn software(name: &str) -> SoftwareSigner {
    let p = ctl_test_support::fixture(&format!("{name}.pem"));
    SoftwareSigner::from_files(&p, None).unwrap()
}

fn no_prompt() -> SignerOptions {
    SignerOptions {
        prompt: false,
        ..SignerOptions::default()
    }
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn token_signatures_equal_software_signatures_byte_for_byte() {
    let label = token_with_vector_key("sast1", "1234");
    let soft = software("sast1");
    for raw in [false, true] {
        let options = SignerOptions {
            force_raw_rsa: raw,
            ..no_prompt()
        };
        let signer = TokenSigner::open(&uri(&label, "1234"), &options).unwrap();
        assert_eq!(signer.certificate(), soft.certificate());
        for digest in [
            DigestAlgorithm::Sha1,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha512,
        ] {
            let msg = b"the bytes of a CTL file";
            assert_eq!(
                signer.sign(digest, msg).unwrap(),
                soft.sign(digest, msg).unwrap(),
                "{digest} raw={raw}"
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn tls_handshake_signatures_on_the_token_verify_with_its_certificate() {
    use sha2::Digest as _;
    let label = token_with_vector_key("sast2", "1234");
    let signer = TokenSigner::open(&uri(&label, "1234"), &no_prompt()).unwrap();
    let soft = software("sast2");
    let message = b"TLS 1.3, client CertificateVerify\0 and the transcript hash";
    // PKCS #1 v1.5 is deterministic: the same bytes as the software key.
    assert_eq!(
        signer
            .sign_tls(ctl_token::TlsScheme::RsaPkcs1Sha256, message)
            .unwrap(),
        soft.sign(DigestAlgorithm::Sha256, message).unwrap()
    );
    // PSS is salted: two signatures differ, and both verify against the public key.
    let public = soft.into_key().to_public_key();
    let hashed = sha2::Sha256::digest(message);
    let a = signer
        .sign_tls(ctl_token::TlsScheme::RsaPssSha256, message)
        .unwrap();
    let b = signer
        .sign_tls(ctl_token::TlsScheme::RsaPssSha256, message)
        .unwrap();
    assert_ne!(a, b);
    for sig in [&a, &b] {
        public
            .verify(rsa::Pss::<sha2::Sha256>::new(), &hashed, sig)
            .unwrap();
    }
    let mut bad = a.clone();
    bad[10] ^= 1;
    assert!(
        public
            .verify(rsa::Pss::<sha2::Sha256>::new(), &hashed, &bad)
            .is_err()
    );
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn a_ctl_signed_on_the_token_rebuilds_the_vector() {
    let label = token_with_vector_key("sast1", "1234");
    let signer = TokenSigner::open(&uri(&label, "1234"), &no_prompt()).unwrap();
    let vector = fixture("CTLFile-sha1.tlv");
    let doc = parse(&vector).unwrap();
    let mut b = TrustListBuilder::new();
    b.layout(Layout::Certutils)
        .filename("CTLFile.tlv")
        .timestamp(1_735_689_600);
    for r in doc.records() {
        b.push(RecordSpec::new(
            Certificate::from_der(r.certificate().unwrap()).unwrap(),
            r.role().unwrap(),
        ));
    }
    let built = b.build(&signer).unwrap();
    assert_eq!(built, vector);
    parse(&built).unwrap().verify(&RsaVerifier).unwrap();
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn a_wrong_pin_is_refused_and_the_right_one_still_works() {
    let label = token_with_vector_key("sast1", "1234");
    let err = TokenSigner::open(&uri(&label, "9999"), &no_prompt()).unwrap_err();
    assert!(
        matches!(err, Error::PinIncorrect { .. } | Error::PinCountLow { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("wrong PIN") && text.contains(&label),
        "{text}"
    );
    assert!(
        !text.contains("9999") && !format!("{err:?}").contains("9999"),
        "{text}"
    );
    TokenSigner::open(&uri(&label, "1234"), &no_prompt()).unwrap();
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn a_factory_pin_is_refused_until_changed() {
    let label = token_with_vector_key("sast1", "Cisco123");
    let err = TokenSigner::open(&uri(&label, "Cisco123"), &no_prompt()).unwrap_err();
    assert!(matches!(err, Error::FactoryPin { .. }), "{err}");
    // A lab may override.
    let lab_options = SignerOptions {
        allow_factory_pin: true,
        ..no_prompt()
    };
    TokenSigner::open(&uri(&label, "Cisco123"), &lab_options).unwrap();
    // A configured list of factory PINs.
    let custom = SignerOptions {
        factory_pins: vec!["0000".into()],
        ..no_prompt()
    };
    TokenSigner::open(&uri(&label, "Cisco123"), &custom).unwrap();
    ctl_token::pkcs11::pin::change_pin(&uri(&label, "Cisco123"), None, &pin("n3w-PIN-4711"))
        .unwrap();
    assert!(TokenSigner::open(&uri(&label, "Cisco123"), &no_prompt()).is_err());
    let signer = TokenSigner::open(&uri(&label, "n3w-PIN-4711"), &no_prompt()).unwrap();
    assert_eq!(signer.sign(DigestAlgorithm::Sha1, b"x").unwrap().len(), 256);
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn a_key_without_certificate_and_a_certificate_without_key() {
    let (mut token, label) = new_token("halves", "1234");
    let key =
        rsa::PrivateKey::from_pkcs8_pem(&String::from_utf8(fixture("sast1.key.pem")).unwrap())
            .unwrap();
    lab::import_rsa_key(&mut token, &pin("1234"), &key, &[7], "lonely-key").unwrap();
    lab::import_certificate(
        &mut token,
        &pin("1234"),
        &fixture("ccm.crt.der"),
        &[8],
        "lonely-cert",
    )
    .unwrap();
    let mut u = uri(&label, "1234");
    u.object = Some("lonely-key".into());
    let err = TokenSigner::open(&u, &no_prompt()).unwrap_err();
    assert!(matches!(err, Error::CertificateNotFound { .. }), "{err}");
    assert!(err.to_string().contains("lonely-key"), "{err}");
    u.object = Some("lonely-cert".into());
    let err = TokenSigner::open(&u, &no_prompt()).unwrap_err();
    assert!(matches!(err, Error::KeyNotFound { .. }), "{err}");
    assert!(err.to_string().contains("has no private key"), "{err}");
    // Both present and no object named: two candidates, one of which cannot sign.
    u.object = None;
    let err = TokenSigner::open(&u, &no_prompt()).unwrap_err();
    assert!(matches!(err, Error::CertificateNotFound { .. }), "{err}");
    u.object = Some("nothing-here".into());
    let err = TokenSigner::open(&u, &no_prompt()).unwrap_err();
    assert!(
        err.to_string().contains("lonely-key"),
        "lists what is there: {err}"
    );
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn an_ec_key_is_refused_for_signing() {
    let (mut token, label) = new_token("ec", "1234");
    lab::generate_ec_p256_key(&mut token, &pin("1234"), &[3], "ec-key").unwrap();
    lab::import_certificate(
        &mut token,
        &pin("1234"),
        Certificate::from_pem(&fixture("ec.crt.pem")).unwrap().der(),
        &[3],
        "ec-key",
    )
    .unwrap();
    let err = TokenSigner::open(&uri(&label, "1234"), &no_prompt()).unwrap_err();
    assert!(matches!(err, Error::TokenKeyNotRsa { .. }), "{err}");
    assert!(err.to_string().contains("only be signed with RSA"), "{err}");
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn two_tokens_matching_one_uri_are_refused_with_both_named() {
    let label = ctl_test_support::unique_label("twin");
    let m = module();
    let a = lab::init_token(&m, &label, &pin(ctl_test_support::SO_PIN), &pin("1234"));
    // Refused by init_token (issue 12); two factory tokens can still share a label.
    assert!(matches!(
        lab::init_token(&m, &label, &pin(ctl_test_support::SO_PIN), &pin("1234")),
        Err(Error::LabelInUse { .. })
    ));
    let b = lab::init_twin_token(&m, &label, &pin(ctl_test_support::SO_PIN), &pin("1234"));
    let (a, b) = (a.unwrap(), b.unwrap());
    let err = TokenSigner::open(&uri(&label, "1234"), &no_prompt()).unwrap_err();
    let Error::AmbiguousToken { tokens, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(tokens.len(), 2, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&a.summary().serial) && text.contains(&b.summary().serial),
        "{text}"
    );
    // Naming the serial picks one.
    let mut one = uri(&label, "1234");
    one.serial = Some(a.summary().serial.clone());
    assert!(matches!(
        TokenSigner::open(&one, &no_prompt()),
        Err(Error::KeyNotFound { .. })
    ));
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn a_token_that_goes_away_between_selection_and_signing() {
    let label = token_with_vector_key("sast1", "1234");
    let signer = TokenSigner::open(&uri(&label, "1234"), &no_prompt()).unwrap();
    signer.sign(DigestAlgorithm::Sha1, b"before").unwrap();
    // Pull the token out: its files go away, as when a USB token is unplugged.
    let removed = ctl_test_support::remove_token_files(&signer.token().serial);
    assert!(removed, "token files found");
    let err = signer
        .sign_with_token(DigestAlgorithm::Sha1, b"after")
        .unwrap_err();
    assert!(matches!(err, Error::TokenRemoved { .. }), "{err}");
    assert!(err.to_string().contains("removed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
async fn parallel_signatures_from_tokio() {
    let label = token_with_vector_key("sast1", "1234");
    let signer = Arc::new(TokenSigner::open(&uri(&label, "1234"), &no_prompt()).unwrap());
    let soft = software("sast1");
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let s = Arc::clone(&signer);
        tasks.push(tokio::spawn(async move {
            let msg = vec![i; 1000 + usize::from(i)];
            (msg.clone(), s.sign_async(DigestAlgorithm::Sha1, msg).await)
        }));
    }
    for t in tasks {
        let (msg, sig) = t.await.unwrap();
        assert_eq!(
            sig.unwrap(),
            soft.sign(DigestAlgorithm::Sha1, &msg).unwrap()
        );
    }
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn a_key_generated_on_the_token_signs_with_its_self_signed_certificate() {
    let (mut token, label) = new_token("gen", "1234");
    let der = lab::generate_rsa_key(
        &mut token,
        &pin("1234"),
        2048,
        "SAST-generated",
        &[9],
        "generated",
    )
    .unwrap();
    let cert = Certificate::from_der(&der).unwrap();
    assert!(
        cert.subject_text(ctl_format::NameStyle::Reversed)
            .contains("CN=SAST-generated")
    );
    let signer = TokenSigner::open(&uri(&label, "1234"), &no_prompt()).unwrap();
    assert_eq!(signer.certificate(), der.as_slice());
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    b.push(RecordSpec::new(cert, ctl_format::Role::SAST));
    b.push(RecordSpec::new(
        Certificate::from_der(&fixture("ccm.crt.der")).unwrap(),
        ctl_format::Role::CCM_TFTP,
    ));
    let bytes = b.build(&signer).unwrap();
    parse(&bytes).unwrap().verify(&RsaVerifier).unwrap();
}

#[test]
fn options_and_signers_never_show_pins() {
    let options = SignerOptions {
        pin: Some(pin("s3cret-PIN")),
        ..SignerOptions::default()
    };
    let text = format!("{options:?}");
    assert!(
        !text.contains("s3cret") && !text.contains("Cisco123"),
        "{text}"
    );
    assert!(text.contains("<redacted>"), "{text}");
}

/// Issue 12: a library opened tokens with a terminal prompt by default. It never talks to
/// the terminal unless its caller asks (`ctl` does).
#[test]
fn signer_options_do_not_prompt_unless_asked() {
    assert!(!SignerOptions::default().prompt);
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn a_module_registered_with_p11_kit_is_found_by_its_name() {
    let label = token_with_vector_key("sast2", "1234");
    let mut u = uri(&label, "1234");
    u.module_path = None;
    u.module_name = Some("softhsm2".into());
    // Debian's softhsm2-common registers the module with p11-kit.
    let registered = std::fs::read_to_string("/usr/share/p11-kit/modules/softhsm2.module").unwrap();
    let library = registered
        .lines()
        .find_map(|l| l.strip_prefix("module:"))
        .unwrap()
        .trim();
    let modules = ctl_token::pkcs11::module::Module::for_uri(&u).unwrap();
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0].path(), std::path::Path::new(library));
    let signer = TokenSigner::open(&u, &no_prompt()).unwrap();
    let msg = b"signed through the module p11-kit names";
    assert_eq!(
        signer.sign(DigestAlgorithm::Sha1, msg).unwrap(),
        software("sast2").sign(DigestAlgorithm::Sha1, msg).unwrap()
    );
    // A name nothing registers says where it looked.
    u.module_name = Some("no-such-module".into());
    let err = ctl_token::pkcs11::module::Module::for_uri(&u).unwrap_err();
    assert!(
        err.to_string().contains("no no-such-module.module in")
            && err.to_string().contains("/usr/share/p11-kit/modules"),
        "{err}"
    );
}
