use ctl_format::{FileKind, parse};

pub(crate) fn vector(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/vectors/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub(crate) const ALL: &[&str] = &[
    "ctl/CTLFile-sha1.tlv",
    "ctl/CTLFile-sha512.tlv",
    "itl/ITLFile-sha1.tlv",
    "neg/CTLFile-sha1-tampered.tlv",
    "synthetic/CTLFile-cisco-layout.tlv",
    "sgn/sha1/SEP001122334455.cnf.xml.sgn",
];

#[test]
fn every_vector_round_trips() {
    for path in ALL {
        let bytes = vector(path);
        let doc = parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(doc.encoded_len(), bytes.len(), "{path}");
        assert_eq!(doc.to_vec(), bytes, "{path}");
        let expected = if path.ends_with(".sgn") {
            FileKind::Signed
        } else {
            FileKind::TrustList
        };
        assert_eq!(doc.kind(), expected, "{path}");
    }
}

#[test]
fn every_vector_verifies_except_the_tampered_one() {
    use ctl_format::{RsaVerifier, VerifyError};
    for path in ALL.iter().filter(|p| p.ends_with(".tlv")) {
        let bytes = vector(path);
        let doc = parse(&bytes).unwrap();
        let result = doc.verify(&RsaVerifier);
        if path.starts_with("neg/") {
            assert_eq!(result.unwrap_err(), VerifyError::BadSignature, "{path}");
        } else {
            result.unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }
    let sgn = vector("sgn/sha1/SEP001122334455.cnf.xml.sgn");
    let doc = parse(&sgn).unwrap();
    assert_eq!(
        doc.verify(&RsaVerifier).unwrap_err(),
        VerifyError::NeedsCertificate
    );
    let ccm = vector("keys/ccm.crt.der");
    let verified = doc.verify_with_certificate(&ccm, &RsaVerifier).unwrap();
    assert_eq!(
        verified.payload(),
        vector("sgn/sha1/SEP001122334455.cnf.xml")
    );
    let ctl = vector("ctl/CTLFile-sha1.tlv");
    let ctl = parse(&ctl).unwrap();
    doc.verify_with_trust_list(&ctl, &RsaVerifier).unwrap();
    let wrong = vector("keys/tftp.crt.der");
    assert_eq!(
        doc.verify_with_certificate(&wrong, &RsaVerifier)
            .unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn debug_output_shows_structure_not_bytes() {
    let bytes = vector("ctl/CTLFile-sha1.tlv");
    let doc = parse(&bytes).unwrap();
    let text = format!("{doc:?}");
    assert!(text.len() < 2000, "{text}");
    assert!(text.contains("8a1b2c3d4e5f60718293a4b5c6d7e8f9"), "{text}");
    assert!(text.contains("CN=tftp.example.com"), "{text}");
}
