//! The software signer against the shared vector keys.

use std::path::PathBuf;

use ctl_format::{
    Certificate, DigestAlgorithm, Layout, RecordSpec, Role, RsaVerifier, SignedFileBuilder, Signer,
    TrustListBuilder, parse,
};
use ctl_token::{Error, SoftwareSigner};

fn data(name: &str) -> PathBuf {
    ctl_test_support::fixture(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap()
}

#[test]
fn key_and_certificate_in_one_pem_sign_the_vector_byte_for_byte() {
    let signer = SoftwareSigner::from_files(&data("sast1.pem"), None).unwrap();
    let vector = read("CTLFile-sha1.tlv");
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
    assert_eq!(b.build(&signer).unwrap(), vector);
}

#[test]
fn pkcs8_and_pkcs1_keys_give_the_same_signature() {
    let p8 =
        SoftwareSigner::from_files(&data("sast1.key.pem"), Some(&data("sast1.crt.pem"))).unwrap();
    let p1 =
        SoftwareSigner::from_files(&data("sast1.pkcs1.pem"), Some(&data("sast1.crt.der"))).unwrap();
    for digest in [
        DigestAlgorithm::Sha1,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha512,
    ] {
        let a = p8.sign(digest, b"message").unwrap();
        assert_eq!(a.len(), 256);
        assert_eq!(a, p1.sign(digest, b"message").unwrap());
    }
}

#[test]
fn signs_a_sgn_that_verifies() {
    let signer = SoftwareSigner::from_files(&data("ccm.pem"), None).unwrap();
    let mut b = SignedFileBuilder::new("SEP001122334455.cnf.xml.sgn");
    b.layout(Layout::Certutils).timestamp(1_735_689_600);
    let bytes = b.build(&read("SEP001122334455.cnf.xml"), &signer).unwrap();
    assert_eq!(bytes, read("SEP001122334455.cnf.xml.sgn"));
    let doc = parse(&bytes).unwrap();
    doc.verify_with_certificate(signer.certificate(), &RsaVerifier)
        .unwrap();
}

#[test]
fn refusals_name_the_file_and_the_problem() {
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        (
            "sast1.key.pem",
            Some("sast2.crt.pem"),
            "does not match the certificate",
        ),
        ("sast1.encrypted.pem", Some("sast1.crt.pem"), "encrypted"),
        ("ec.key.pem", Some("ec.crt.pem"), "the key is EC"),
        ("ec.p8.pem", Some("ec.crt.pem"), "the key is EC"),
        ("sast1.crt.pem", Some("sast1.crt.pem"), "no private key"),
        ("sast1.key.pem", None, "no certificate"),
        ("missing.pem", None, "missing.pem"),
    ];
    for (key, cert, expected) in cases {
        // A file that is not there is named in the error as given.
        let key_path = if key == "missing.pem" {
            std::env::temp_dir().join(key)
        } else {
            data(key)
        };
        let err = SoftwareSigner::from_files(&key_path, cert.map(data).as_deref()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(expected), "{key}: {text}");
        assert!(
            text.contains(key) || matches!(err, Error::Mismatch { .. }),
            "{key}: {text}"
        );
    }
}

#[test]
fn an_rsa_key_with_an_ec_certificate_is_refused() {
    let err =
        SoftwareSigner::from_files(&data("sast1.key.pem"), Some(&data("ec.crt.pem"))).unwrap_err();
    assert!(
        matches!(
            err,
            Error::KeyNotRsa {
                algorithm: "EC",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn debug_output_never_shows_the_key() {
    let signer = SoftwareSigner::from_files(&data("sast1.pem"), None).unwrap();
    let debug = format!("{signer:?}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(debug.contains("CN=SAST-1"), "{debug}");
    let pem = String::from_utf8(read("sast1.key.pem")).unwrap();
    let body_line = pem.lines().nth(1).unwrap();
    assert!(!debug.contains(body_line));
    assert!(debug.len() < 200, "{debug}");
}

#[test]
fn oversized_files_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'A'; 2 * 1024 * 1024]).unwrap();
    let err = SoftwareSigner::from_files(&big, None).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

#[test]
fn the_builder_refuses_an_ec_signer_clearly() {
    struct EcSigner(Vec<u8>);
    impl Signer for EcSigner {
        fn certificate(&self) -> &[u8] {
            &self.0
        }
        fn sign(&self, _: DigestAlgorithm, _: &[u8]) -> Result<Vec<u8>, ctl_format::SignerError> {
            unreachable!("never asked to sign")
        }
    }
    let ec = Certificate::from_pem(&read("ec.crt.pem")).unwrap();
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    b.push(RecordSpec::new(ec.clone(), Role::TFTP));
    let err = b.build(&EcSigner(ec.der().to_vec())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the signer key is EC: CTL, ITL and .sgn files can only be signed with RSA"
    );
}
