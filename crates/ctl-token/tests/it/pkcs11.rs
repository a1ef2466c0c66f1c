//! PKCS#11 signing on the real module under test (`CTL_TEST_PKCS11`: SoftHSM2 or
//! tpm2-pkcs11 on a software TPM): a token store of this test process, a uniquely
//! labelled token per test.

use std::sync::Arc;

use ctl_format::{
    Certificate, DigestAlgorithm, Layout, RecordSpec, RsaVerifier, Signer, TrustListBuilder, parse,
};
use ctl_test_support::{module, new_token, token_with_vector_key, uri};
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
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
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
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
)]
fn tls_handshake_signatures_on_the_token_verify_with_its_certificate() {
    use sha2::Digest as _;
    let label = token_with_vector_key("sast2", "1234");
    let soft = software("sast2");
    let public = software("sast2").into_key().to_public_key();
    let message = b"TLS 1.3, client CertificateVerify\0 and the transcript hash";
    let hashed = sha2::Sha256::digest(message);
    // raw: PSS encoded here and signed with CKM_RSA_X_509, as on tokens without a PSS
    // mechanism.
    for raw in [false, true] {
        let options = SignerOptions {
            force_raw_rsa: raw,
            ..no_prompt()
        };
        let signer = TokenSigner::open(&uri(&label, "1234"), &options).unwrap();
        assert!(
            signer
                .tls_schemes()
                .contains(&ctl_token::TlsScheme::RsaPssSha256),
            "raw={raw}: {:?}",
            signer.mechanisms()
        );
        // PKCS #1 v1.5 is deterministic: the same bytes as the software key.
        assert_eq!(
            signer
                .sign_tls(ctl_token::TlsScheme::RsaPkcs1Sha256, message)
                .unwrap(),
            soft.sign(DigestAlgorithm::Sha256, message).unwrap()
        );
        // PSS is salted: two signatures differ, and both verify against the public key.
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
                .unwrap_or_else(|e| panic!("raw={raw}: {e}"));
        }
        let mut bad = a.clone();
        bad[10] ^= 1;
        assert!(
            public
                .verify(rsa::Pss::<sha2::Sha256>::new(), &hashed, &bad)
                .is_err()
        );
    }
}

#[test]
#[cfg_attr(
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
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
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
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
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
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
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
)]
fn a_key_without_certificate_and_a_certificate_without_key() {
    let (token, label) = new_token("halves", "1234");
    let mut token = ctl_test_support::import_vector_key(token, "1234", "sast1", &[7], "lonely-key");
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
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
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
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
)]
#[cfg_attr(
    pkcs11_backend = "tpm2",
    ignore = "tpm2-pkcs11 keeps token labels unique: no twins (see tpm2_refuses_a_second_token_of_a_label)"
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
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
)]
#[cfg_attr(
    pkcs11_backend = "tpm2",
    ignore = "a TPM cannot be pulled out; the test removes a SoftHSM2 token's files"
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
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
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
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
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
    ignore = "names Debian's softhsm2.module: runs when the suite runs on SoftHSM2"
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

/// A token may list a hashed mechanism and still refuse it for a key (tpm2-pkcs11 does for
/// imported keys; here the key's CKA_ALLOWED_MECHANISMS says so): the signer falls back to
/// CKM_RSA_PKCS over a DigestInfo, and the signature is the same.
#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "sets CKA_ALLOWED_MECHANISMS, which SoftHSM2 enforces: runs when the suite runs on SoftHSM2"
)]
fn a_hashed_mechanism_the_token_refuses_for_the_key_falls_back_to_a_digest_info() {
    use cryptoki::mechanism::MechanismType;
    let (mut token, label) = new_token("restricted", "1234");
    let key =
        rsa::PrivateKey::from_pkcs8_pem(&String::from_utf8(fixture("sast1.key.pem")).unwrap())
            .unwrap();
    lab::import_rsa_key_allowing(
        &mut token,
        &pin("1234"),
        &key,
        &[1],
        "sast1",
        &[MechanismType::RSA_PKCS],
    )
    .unwrap();
    let cert = Certificate::from_pem(&fixture("sast1.crt.pem")).unwrap();
    lab::import_certificate(&mut token, &pin("1234"), cert.der(), &[1], "sast1").unwrap();
    let signer = TokenSigner::open(&uri(&label, "1234"), &no_prompt()).unwrap();
    let soft = software("sast1");
    for digest in [DigestAlgorithm::Sha1, DigestAlgorithm::Sha256] {
        for _ in 0..2 {
            assert_eq!(
                signer.sign(digest, b"refused, then routed").unwrap(),
                soft.sign(digest, b"refused, then routed").unwrap(),
                "{digest}"
            );
        }
    }
    let left = signer.mechanisms();
    assert!(
        !left
            .iter()
            .any(|m| m == "CKM_SHA1_RSA_PKCS" || m == "CKM_SHA256_RSA_PKCS"),
        "refused mechanisms are not tried again: {left:?}"
    );
}

/// What tpm2-pkcs11 does differently, pinned so that a change of the module shows.
#[test]
#[cfg_attr(
    not(all(pkcs11, pkcs11_backend = "tpm2")),
    ignore = "tpm2-pkcs11 only: CTL_TEST_PKCS11=tpm2 (scripts/test runs it)"
)]
fn tpm2_refuses_a_second_token_of_a_label_and_reports_no_serial() {
    let label = ctl_test_support::unique_label("twin");
    let m = module();
    let a = lab::init_token(&m, &label, &pin(ctl_test_support::SO_PIN), &pin("1234")).unwrap();
    // Its store keeps labels unique: a second token of the label cannot be made at all.
    let err =
        lab::init_twin_token(&m, &label, &pin(ctl_test_support::SO_PIN), &pin("1234")).unwrap_err();
    assert!(err.to_string().contains("InitToken"), "{err}");
    // And the failed C_InitToken used up the free slot until the module starts again.
    let err = lab::init_token(
        &m,
        "after-the-failure",
        &pin(ctl_test_support::SO_PIN),
        &pin("1234"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no free slot"), "{err}");
    m.rescan().unwrap();
    // Every token reports the same serial: tokens are told apart by label.
    let (b, _) = new_token("other", "1234");
    assert_eq!(a.summary().serial, b.summary().serial);
    assert!(
        a.summary().serial.bytes().all(|c| c == b'0'),
        "{}",
        a.summary().serial
    );
    let signer_uri = uri(&token_with_vector_key("sast1", "1234"), "1234");
    let signer = TokenSigner::open(&signer_uri, &no_prompt()).unwrap();
    // A key imported with tpm2_ptool refuses CKM_SHA1_RSA_PKCS though the token lists it.
    let vector = signer.sign(DigestAlgorithm::Sha1, b"x").unwrap();
    assert_eq!(
        vector,
        software("sast1").sign(DigestAlgorithm::Sha1, b"x").unwrap()
    );
    assert!(
        !signer.mechanisms().iter().any(|m| m == "CKM_SHA1_RSA_PKCS"),
        "{:?}",
        signer.mechanisms()
    );
}
