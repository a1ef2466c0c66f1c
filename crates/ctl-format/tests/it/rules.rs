//! The phone's trust rules, lint warnings, the size limit and signature-info checks.

use ctl_format::fuzzing::{SIGNER_CERT, ZeroSigner};
use ctl_format::{
    Acceptance, BuildError, Certificate, DigestAlgorithm, Layout, MAX_LEN, PublicKey, RecordSpec,
    Refusal, Role, RsaVerifier, SignedFileBuilder, TrustListBuilder, VerifyError, Warning, lint,
    parse, parse_trust_list, phone_accepts,
};
use rsa::pkcs8::DecodePrivateKey as _;

use crate::support::{KeySigner, cert};
use crate::vectors::vector;

const T: u32 = 1_735_689_600;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn ctl_signed_by(signer: &str, records: &[(&str, Role)]) -> Vec<u8> {
    let mut b = TrustListBuilder::new();
    b.timestamp(T);
    for (name, role) in records {
        b.push(RecordSpec::new(cert(name), *role));
    }
    b.build(&KeySigner::vector(signer)).unwrap()
}

#[test]
fn a_phone_takes_a_first_list_then_only_lists_signed_by_its_sast() {
    let first = ctl_signed_by(
        "sast1",
        &[
            ("sast1", Role::SAST),
            ("sast2", Role::SAST),
            ("ccm", Role::CCM_TFTP),
        ],
    );
    let first = parse(&first).unwrap();
    assert_eq!(
        phone_accepts(None, &first, &RsaVerifier),
        Ok(Acceptance::FirstList)
    );

    // An update signed by the second token of the held list: taken.
    let update = ctl_signed_by(
        "sast2",
        &[
            ("sast2", Role::SAST),
            ("sast1", Role::SAST),
            ("tftp", Role::TFTP),
        ],
    );
    let update = parse(&update).unwrap();
    assert_eq!(
        phone_accepts(Some(&first), &update, &RsaVerifier),
        Ok(Acceptance::SignedByHeld)
    );

    // A list signed by a SAST the phone does not hold: refused, naming the serial.
    let rogue = ctl_signed_by(
        "itlrecovery",
        &[("itlrecovery", Role::SAST), ("ccm", Role::CCM_TFTP)],
    );
    let rogue = parse(&rogue).unwrap();
    let refusal = phone_accepts(Some(&first), &rogue, &RsaVerifier).unwrap_err();
    assert!(
        matches!(
            refusal,
            Refusal::NotSignedByHeld(VerifyError::NotInTrustList { .. })
        ),
        "{refusal}"
    );
    assert!(
        refusal
            .to_string()
            .contains("70caf64e090751b9df22f49f754fc5bb"),
        "{refusal}"
    );

    // A key that is in the held list, but not as SAST, cannot sign a trust list.
    let by_ccm = ctl_signed_by("ccm", &[("ccm", Role::SAST)]);
    let by_ccm = parse(&by_ccm).unwrap();
    assert!(matches!(
        phone_accepts(Some(&first), &by_ccm, &RsaVerifier),
        Err(Refusal::NotSignedByHeld(_))
    ));

    // A tampered first list is refused even with no list held.
    let tampered = vector("neg/CTLFile-sha1-tampered.tlv");
    let tampered = parse(&tampered).unwrap();
    assert_eq!(
        phone_accepts(None, &tampered, &RsaVerifier),
        Err(Refusal::Signature(VerifyError::BadSignature))
    );
}

#[test]
fn a_phone_takes_a_sgn_only_from_a_tftp_certificate_of_its_list() {
    let payload = b"<device/>";
    let mut b = SignedFileBuilder::new("SEP001122334455.cnf.xml.sgn");
    b.timestamp(T);
    let by_ccm = b.build(payload, &KeySigner::vector("ccm")).unwrap();
    let by_ccm = parse(&by_ccm).unwrap();
    let by_sast = b.build(payload, &KeySigner::vector("sast1")).unwrap();
    let by_sast = parse(&by_sast).unwrap();

    let held = ctl_signed_by("sast1", &[("sast1", Role::SAST), ("ccm", Role::CCM_TFTP)]);
    let held = parse(&held).unwrap();
    assert_eq!(
        phone_accepts(Some(&held), &by_ccm, &RsaVerifier),
        Ok(Acceptance::SignedByHeld)
    );
    // SAST certificates sign trust lists, not configuration files.
    assert!(matches!(
        phone_accepts(Some(&held), &by_sast, &RsaVerifier),
        Err(Refusal::NotSignedByHeld(_))
    ));
    assert_eq!(
        phone_accepts(None, &by_ccm, &RsaVerifier),
        Err(Refusal::NoTrustList)
    );
    // A trust list whose ccm record is only CCM (not TFTP) does not vouch for it.
    let ccm_only = ctl_signed_by("sast1", &[("sast1", Role::SAST), ("ccm", Role::CCM)]);
    let ccm_only = parse(&ccm_only).unwrap();
    assert!(phone_accepts(Some(&ccm_only), &by_ccm, &RsaVerifier).is_err());
    // A .sgn is not a trust list to hold.
    assert_eq!(
        phone_accepts(Some(&by_ccm), &by_ccm, &RsaVerifier),
        Err(Refusal::HeldNotTrustList)
    );
    let verified = by_ccm.verify_with_trust_list(&held, &RsaVerifier).unwrap();
    assert_eq!(verified.payload(), payload);
}

#[test]
fn signature_info_must_match_the_signature_and_the_key() {
    // SIGNATURE_MODULUS says 1024 bits for a 256-byte signature.
    let mut bytes = vector("ctl/CTLFile-sha1.tlv");
    assert_eq!(bytes[180], 2);
    bytes[180] = 1;
    let doc = parse(&bytes).unwrap();
    let err = doc.verify(&RsaVerifier).unwrap_err();
    assert_eq!(
        err,
        VerifyError::ModulusCode {
            code: Some(1),
            signature_len: 256
        }
    );
    assert_eq!(
        err.to_string(),
        "SIGNATURE_MODULUS 1 does not match a 256-byte signature (expected 2)"
    );
    // SIGNATURE_ALGORITHM other than RSA PKCS#1 v1.5.
    let mut bytes = vector("ctl/CTLFile-sha1.tlv");
    bytes[176] = 1;
    let doc = parse(&bytes).unwrap();
    assert_eq!(
        doc.verify(&RsaVerifier).unwrap_err(),
        VerifyError::SignatureAlgorithm { code: 1 }
    );
    // A 256-byte signature checked against a 4096-bit key.
    let sgn = vector("sgn/sha1/SEP001122334455.cnf.xml.sgn");
    let doc = parse(&sgn).unwrap();
    let big = data("rsa4096.crt.der");
    assert_eq!(
        doc.verify_with_certificate(&big, &RsaVerifier).unwrap_err(),
        VerifyError::KeySize {
            key_len: 512,
            signature_len: 256
        }
    );
    // An EC certificate cannot verify.
    let ec = Certificate::from_pem(&data("ec.crt.pem")).unwrap();
    assert_eq!(
        doc.verify_with_certificate(ec.der(), &RsaVerifier)
            .unwrap_err(),
        VerifyError::KeyNotRsa { algorithm: "EC" }
    );
    // A serial that matches no SAST record.
    let mut bytes = vector("ctl/CTLFile-sha1.tlv");
    bytes[144 + 3] ^= 0xff;
    let doc = parse(&bytes).unwrap();
    assert!(matches!(
        doc.verify(&RsaVerifier).unwrap_err(),
        VerifyError::NoSignerRecord { .. }
    ));
}

#[test]
fn the_builder_refuses_more_than_64_kib_naming_size_limit_and_largest_records() {
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    for i in 0..45 {
        let name = ["sast1", "ccm", "tvs", "itlrecovery"][i % 4];
        b.push(RecordSpec::new(
            cert(name),
            if i < 2 { Role::SAST } else { Role::CCM },
        ));
    }
    let err = b.encoded_len(SIGNER_CERT).unwrap_err();
    let BuildError::TooLarge {
        size,
        limit,
        largest,
    } = &err
    else {
        panic!("{err}")
    };
    assert!(*size > MAX_LEN);
    assert_eq!(*limit, 65_536);
    assert_eq!(largest.len(), 3);
    assert!(largest[0].2 >= largest[1].2 && largest[1].2 >= largest[2].2);
    let text = err.to_string();
    assert!(
        text.contains(&size.to_string()) && text.contains("65536"),
        "{text}"
    );
    assert!(text.contains("#4 CCM"), "{text}");
    assert!(matches!(
        b.build(&ZeroSigner),
        Err(BuildError::TooLarge { .. })
    ));
    // Exactly at the limit is fine: remove records until it fits (signed by a test
    // double, so unchecked).
    while b.encoded_len(SIGNER_CERT).is_err() {
        b.remove(b.len() - 1);
    }
    let bytes = b.unchecked(true).build(&ZeroSigner).unwrap();
    assert!(bytes.len() <= MAX_LEN);
    assert!(parse_trust_list(&bytes).is_ok());
}

#[test]
fn unsupported_signer_keys_are_refused_before_signing() {
    struct CertOnly(Vec<u8>);
    impl ctl_format::Signer for CertOnly {
        fn certificate(&self) -> &[u8] {
            &self.0
        }
        fn sign(&self, _: DigestAlgorithm, _: &[u8]) -> Result<Vec<u8>, ctl_format::SignerError> {
            Err("must not be asked".into())
        }
    }
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    b.push(RecordSpec::new(cert("sast1"), Role::SAST));
    b.push(RecordSpec::new(cert("ccm"), Role::CCM));
    let err = b.build(&CertOnly(data("rsa3072.crt.der"))).unwrap_err();
    assert!(
        matches!(err, BuildError::UnsupportedKeySize { bits: 3072 }),
        "{err}"
    );
    let ec = Certificate::from_pem(&data("ec.crt.pem")).unwrap();
    let err = b.build(&CertOnly(ec.der().to_vec())).unwrap_err();
    assert!(
        matches!(err, BuildError::SignerNotRsa { algorithm: "EC" }),
        "{err}"
    );
    let err = TrustListBuilder::new()
        .build(&KeySigner::vector("sast1"))
        .unwrap_err();
    assert!(matches!(err, BuildError::NoRecords), "{err}");
    let err = b
        .digest(DigestAlgorithm::Sha256)
        .build(&KeySigner::vector("sast1"))
        .unwrap_err();
    assert!(matches!(err, BuildError::Sha256NotAllowed), "{err}");
    // Allowed explicitly, SHA-256 builds and verifies (with the reader's option).
    let bytes = b
        .allow_sha256(true)
        .build(&KeySigner::vector("sast1"))
        .unwrap();
    assert!(parse(&bytes).is_err());
    let opts = ctl_format::ParseOptions::default().with_sha256();
    let doc = ctl_format::parse_with(&bytes, None, &opts).unwrap();
    assert_eq!(doc.header().digest(), DigestAlgorithm::Sha256);
    doc.verify_with_certificate(cert("sast1").der(), &RsaVerifier)
        .unwrap();
}

#[test]
fn ec_certificates_become_records_with_their_point() {
    let ec = Certificate::from_pem(&data("ec.crt.pem")).unwrap();
    let PublicKey::Ec { point, curve } = ec.public_key() else {
        panic!()
    };
    assert_eq!((point.len(), point[0], curve.as_str()), (65, 4, "P-256"));
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    b.layout(Layout::Certutils)
        .signer_version(Some(ctl_format::Version::V1_1));
    b.push(RecordSpec::new(cert("sast1"), Role::SAST))
        .push(RecordSpec::new(ec.clone(), Role::TFTP));
    let bytes = b.build(&KeySigner::vector("sast1")).unwrap();
    let doc = parse(&bytes).unwrap();
    doc.verify(&RsaVerifier).unwrap();
    assert_eq!(doc.records()[1].public_key(), Some(&point[..]));
    assert_eq!(doc.records()[1].signature(), Some(ec.signature()));
}

/// Issue 12: a list written with timestamp 0 (1970) when none was set is older than any
/// a node holds; the pure crate has no clock, so the time is required.
#[test]
fn the_builder_needs_a_timestamp() {
    let mut b = TrustListBuilder::new();
    b.push(RecordSpec::new(cert("sast1"), Role::SAST));
    let err = b.build(&KeySigner::vector("sast1")).unwrap_err();
    assert!(matches!(err, BuildError::NoTimestamp), "{err}");
    assert!(
        err.to_string().contains("give the builder the time"),
        "{err}"
    );
    assert!(matches!(
        b.encoded_len(SIGNER_CERT),
        Err(BuildError::NoTimestamp)
    ));
    let err = SignedFileBuilder::new("x.cnf.xml.sgn")
        .build(b"x", &KeySigner::vector("ccm"))
        .unwrap_err();
    assert!(matches!(err, BuildError::NoTimestamp), "{err}");
    b.timestamp(T);
    assert!(b.build(&KeySigner::vector("sast1")).is_ok());
}

#[test]
fn lint_flags_what_older_phones_trip_on() {
    let four = ctl_signed_by(
        "sast1",
        &[
            ("sast1", Role::SAST),
            ("sast2", Role::SAST),
            ("itlrecovery", Role::SAST),
            ("sast2", Role::SAST),
        ],
    );
    let doc = parse(&four).unwrap();
    let w = lint(&doc, u64::from(T));
    // Four SAST records are what a CUCM 12 token CTL carries.
    assert!(
        !w.iter().any(|x| matches!(x, Warning::TooManySast { .. })),
        "{w:?}"
    );
    assert!(
        w.contains(&Warning::DuplicateRecord {
            first: 1,
            second: 3
        }),
        "{w:?}"
    );
    assert!(w.contains(&Warning::NoServerRecord), "{w:?}");
    assert!(
        !w.iter().any(|x| matches!(
            x,
            Warning::NearSizeLimit { .. } | Warning::LargeSignerKey { .. }
        )),
        "{w:?}"
    );

    // The vector certificates expire on 2045-01-01.
    let ctl = vector("ctl/CTLFile-sha1.tlv");
    let doc = parse(&ctl).unwrap();
    assert!(lint(&doc, u64::from(T)).is_empty());
    let expiry = 2_366_841_600;
    let soon = lint(&doc, expiry - 10 * 86_400);
    assert_eq!(soon.len(), 5, "{soon:?}");
    assert!(matches!(
        soon[0],
        Warning::ExpiresSoon {
            index: 0,
            role: Role::SAST,
            not_after: 2_366_841_600
        }
    ));
    assert!(soon[0].to_string().contains("2045-01-01"), "{}", soon[0]);
    let late = lint(&doc, expiry + 1);
    assert!(
        late.iter().all(|w| matches!(w, Warning::Expired { .. })),
        "{late:?}"
    );

    // A 4096-bit signer.
    let key = rsa::PrivateKey::from_pkcs8_pem(&String::from_utf8(data("rsa4096.key.pem")).unwrap())
        .unwrap();
    let big = KeySigner::from_parts(key, data("rsa4096.crt.der"));
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    b.push(RecordSpec::new(
        Certificate::from_der(&data("rsa4096.crt.der")).unwrap(),
        Role::SAST,
    ));
    b.push(RecordSpec::new(cert("ccm"), Role::CCM));
    let bytes = b.build(&big).unwrap();
    let doc = parse(&bytes).unwrap();
    doc.verify(&RsaVerifier).unwrap();
    assert_eq!(doc.header().modulus_code(), Some(3));
    assert_eq!(
        lint(&doc, u64::from(T)),
        [Warning::LargeSignerKey { bits: 4096 }]
    );

    // Above 60 KiB (signed by a test double, so unchecked).
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    b.unchecked(true);
    for i in 0..40 {
        b.push(RecordSpec::new(
            cert(["ccm", "tvs", "capf"][i % 3]),
            Role::CCM,
        ));
        if b.encoded_len(SIGNER_CERT).map_or(true, |n| n > MAX_LEN) {
            b.remove(b.len() - 1);
            break;
        }
    }
    let bytes = b.build(&ZeroSigner).unwrap();
    let doc = parse(&bytes).unwrap();
    let near = lint(&doc, u64::from(T));
    let near = near
        .iter()
        .find(|w| matches!(w, Warning::NearSizeLimit { size } if *size == bytes.len()))
        .unwrap();
    assert!(
        near.to_string().contains("close to the 65536 bytes"),
        "{near}"
    );

    // Over 64 KiB (as certutils writes them): built and read only when asked, and said so.
    b.oversize(true);
    for i in 0..3 {
        b.push(RecordSpec::new(cert(["ccm", "tvs", "capf"][i]), Role::CCM));
    }
    let bytes = b.build(&ZeroSigner).unwrap();
    assert!(bytes.len() > MAX_LEN);
    assert!(parse(&bytes).is_err());
    let doc = ctl_format::parse_with(
        &bytes,
        None,
        &ctl_format::ParseOptions::default().oversize(),
    )
    .unwrap();
    let over = lint(&doc, u64::from(T));
    let over = over
        .iter()
        .find(|w| matches!(w, Warning::NearSizeLimit { .. }))
        .unwrap();
    assert!(
        over.to_string().contains("every phone refuses it"),
        "{over}"
    );
}

/// Issue 12: records without certificates (a non-secure list) all compare equal, and
/// were flagged as repeats of each other.
#[test]
fn records_without_certificates_are_not_repeats() {
    // As a non-secure cluster's CTL holds them: server records with no certificate.
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    b.push(RecordSpec::new(cert("sast1"), Role::SAST));
    b.push(RecordSpec::new(cert("sast2"), Role::SAST));
    for name in ["ccm", "tftp", "tvs"] {
        b.push(RecordSpec::new(cert(name), Role::CCM).without_certificate());
    }
    let bytes = b.build(&KeySigner::vector("sast1")).unwrap();
    let doc = parse(&bytes).unwrap();
    assert!(
        !lint(&doc, u64::from(T))
            .iter()
            .any(|w| matches!(w, Warning::DuplicateRecord { .. })),
        "{:?}",
        lint(&doc, u64::from(T))
    );
}

/// Issue 12: the builder wrote lists that its own `verify` and every phone reject: a
/// signer that is no SAST record of the list (the natural ITL attempt, signing with the
/// CCM+TFTP record's key, is the same mistake), and a signature the signer got wrong.
#[test]
fn the_builder_refuses_a_signer_outside_the_list_and_a_signature_that_does_not_verify() {
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    b.push(RecordSpec::new(cert("sast2"), Role::SAST));
    b.push(RecordSpec::new(cert("ccm"), Role::CCM_TFTP));
    let err = b.build(&KeySigner::vector("sast1")).unwrap_err();
    assert!(
        matches!(
            &err,
            BuildError::SignerNotInList {
                other_role: None,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("not a SAST record"), "{err}");
    let err = b.build(&KeySigner::vector("ccm")).unwrap_err();
    assert!(
        matches!(
            &err,
            BuildError::SignerNotInList {
                other_role: Some(Role::CCM_TFTP),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("it is there as CCM+TFTP"), "{err}");
    // The same certificate as a SAST record: accepted, and it verifies.
    b.push(RecordSpec::new(cert("sast1"), Role::SAST));
    let bytes = b.build(&KeySigner::vector("sast1")).unwrap();
    parse_trust_list(&bytes)
        .unwrap()
        .verify(&RsaVerifier)
        .unwrap();
    // A signer whose key is not its certificate's: refused, nothing written.
    let sast2_key =
        rsa::PrivateKey::from_pkcs8_pem(&String::from_utf8(vector("keys/sast2.key.pem")).unwrap())
            .unwrap();
    let wrong = KeySigner::from_parts(sast2_key, cert("sast1").der().to_vec());
    let err = b.build(&wrong).unwrap_err();
    assert!(
        matches!(err, BuildError::SignatureDoesNotVerify(_)),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("do the key and the certificate belong together")
    );
    let err = SignedFileBuilder::new("SEP001122334455.cnf.xml.sgn")
        .timestamp(T)
        .build(b"<device/>", &wrong)
        .unwrap_err();
    assert!(
        matches!(err, BuildError::SignatureDoesNotVerify(_)),
        "{err}"
    );
    // The explicit opt-out, for negative test files.
    let bytes = b.unchecked(true).build(&wrong).unwrap();
    assert!(
        parse_trust_list(&bytes)
            .unwrap()
            .verify(&RsaVerifier)
            .is_err()
    );
}
