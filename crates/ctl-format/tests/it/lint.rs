//! The lint rules of issue 12: SAST counts per list, key sizes per phone family, EC
//! records and SIGNER_VERSION, digests, the certificate count, and keys the user holds.

use ctl_format::{
    Certificate, DigestAlgorithm, Linter, ListKind, RecordSpec, Role, TrustListBuilder, Version,
    Warning, lint, parse,
};

use rsa::pkcs8::DecodePrivateKey as _;

use crate::support::{KeySigner, cert};
use crate::vectors::vector;

const T: u32 = 1_767_225_600;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn list(filename: &str, records: &[(&str, Role)]) -> TrustListBuilder {
    let mut b = TrustListBuilder::new();
    b.timestamp(T).filename(filename);
    for (name, role) in records {
        b.push(RecordSpec::new(cert(name), *role));
    }
    b
}

fn codes(w: &[Warning]) -> Vec<&'static str> {
    w.iter().map(Warning::code).collect()
}

#[test]
fn sast_limits_are_two_in_an_itl_and_four_in_a_ctl() {
    let three = [
        ("sast1", Role::SAST),
        ("sast2", Role::SAST),
        ("itlrecovery", Role::SAST),
        ("ccm", Role::CCM_TFTP),
    ];
    let signer = KeySigner::vector("sast1");
    let ctl = list("CTLFile.tlv", &three).build(&signer).unwrap();
    let doc = parse(&ctl).unwrap();
    assert_eq!(ListKind::of(&doc), Some(ListKind::Ctl));
    assert!(
        lint(&doc, u64::from(T)).is_empty(),
        "{:?}",
        lint(&doc, u64::from(T))
    );

    let itl = list("ITLSEP001122334455.tlv", &three)
        .build(&signer)
        .unwrap();
    let doc = parse(&itl).unwrap();
    assert_eq!(ListKind::of(&doc), Some(ListKind::Itl));
    let w = lint(&doc, u64::from(T));
    assert_eq!(
        w,
        [Warning::TooManySast {
            count: 3,
            limit: 2,
            list: Some(ListKind::Itl)
        }]
    );
    assert!(w[0].to_string().contains("at most 2 in an ITL"), "{}", w[0]);
    assert!(
        w[0].source().contains("usecallmanager"),
        "{}",
        w[0].source()
    );

    let mut five = list("CTLFile.tlv", &three);
    five.push(RecordSpec::new(cert("capf"), Role::SAST));
    five.push(RecordSpec::new(cert("tvs"), Role::SAST));
    let doc_bytes = five.build(&signer).unwrap();
    let doc = parse(&doc_bytes).unwrap();
    assert_eq!(codes(&lint(&doc, u64::from(T))), ["too-many-sast"]);
}

#[test]
fn key_sizes_are_judged_per_family() {
    // A 4096-bit signer: over what 7900-series phones take.
    let key = rsa::PrivateKey::from_pkcs8_pem(&String::from_utf8(data("rsa4096.key.pem")).unwrap())
        .unwrap();
    let big = KeySigner::from_parts(key, data("rsa4096.crt.der"));
    let mut b = list("CTLFile.tlv", &[("ccm", Role::CCM)]);
    b.push(RecordSpec::new(
        Certificate::from_der(&data("rsa4096.crt.der")).unwrap(),
        Role::SAST,
    ));
    let bytes = b.build(&big).unwrap();
    let w = lint(&parse(&bytes).unwrap(), u64::from(T));
    assert_eq!(w, [Warning::LargeSignerKey { bits: 4096 }]);
    assert!(w[0].phones().contains("7900"), "{}", w[0].phones());

    // A 3072-bit certificate as a record is fine; as the signer it has no modulus code
    // (the builder refuses to sign with it, so the rule is checked on its own here).
    let mut b = list("CTLFile.tlv", &[("sast1", Role::SAST), ("ccm", Role::CCM)]);
    b.push(RecordSpec::new(
        Certificate::from_der(&data("rsa3072.crt.der")).unwrap(),
        Role::APP_SERVER,
    ));
    let bytes = b.build(&KeySigner::vector("sast1")).unwrap();
    assert!(lint(&parse(&bytes).unwrap(), u64::from(T)).is_empty());
    let w = Warning::UnexpressibleSignerKey { bits: 3072 };
    assert!(w.to_string().contains("no SIGNATURE_MODULUS code"), "{w}");
}

#[test]
fn a_1024_bit_key_is_refused_in_fips_mode() {
    // As in the CUCM 10.5 dumps: a 1024-bit signer (a test key made with openssl).
    let key = rsa::PrivateKey::from_pkcs8_pem(&String::from_utf8(data("rsa1024.key.pem")).unwrap())
        .unwrap();
    let small = Certificate::from_der(&data("rsa1024.crt.der")).unwrap();
    let signer = KeySigner::from_parts(key, small.der().to_vec());
    let mut b = list("CTLFile.tlv", &[("ccm", Role::CCM)]);
    b.push(RecordSpec::new(small, Role::SAST));
    let bytes = b.build(&signer).unwrap();
    let doc = parse(&bytes).unwrap();
    assert_eq!(doc.header().signature().len(), 128);
    let w = lint(&doc, u64::from(T));
    assert_eq!(
        w,
        [
            Warning::ShortRsaKey {
                index: Some(1),
                bits: 1024
            },
            Warning::ShortRsaKey {
                index: None,
                bits: 1024
            }
        ]
    );
    assert!(w.iter().all(|x| x.phones().contains("FIPS")), "{w:?}");
    assert!(w[1].to_string().contains("2048 bits or more"), "{}", w[1]);
}

#[test]
fn ec_records_need_signer_version_1_1() {
    let ec = Certificate::from_pem(&data("ec.crt.pem")).unwrap();
    let mut b = list("ITLFile.tlv", &[("sast1", Role::SAST)]);
    b.push(RecordSpec::new(ec, Role::TFTP));
    b.signer_version(Some(Version::V1_0));
    let signer = KeySigner::vector("sast1");
    let bytes = b.build(&signer).unwrap();
    let w = lint(&parse(&bytes).unwrap(), u64::from(T));
    assert_eq!(
        w,
        [Warning::EcNeedsSignerVersion {
            index: 1,
            signer_version: Some(Version::V1_0)
        }]
    );
    assert!(
        w[0].to_string().contains("--signer-version 1.1"),
        "{}",
        w[0]
    );

    b.signer_version(Some(Version::V1_1));
    let bytes = b.build(&signer).unwrap();
    assert!(lint(&parse(&bytes).unwrap(), u64::from(T)).is_empty());
}

#[test]
fn sha512_needs_firmware_that_knows_it() {
    let bytes = vector("ctl/CTLFile-sha512.tlv");
    let w = lint(&parse(&bytes).unwrap(), u64::from(T));
    assert_eq!(
        w,
        [Warning::DigestNeedsFirmware {
            digest: DigestAlgorithm::Sha512
        }]
    );
    assert!(
        w[0].to_string().contains("SHA-1 is taken by every phone"),
        "{}",
        w[0]
    );
}

#[test]
fn more_than_39_certificates_is_over_what_cisco_documents() {
    let mut b = list("ITLFile.tlv", &[("sast1", Role::SAST)]);
    for i in 0..39 {
        b.push(RecordSpec::new(
            cert(["ccm", "tvs", "capf"][i % 3]),
            Role::TVS,
        ));
    }
    b.oversize(true);
    let bytes = b.build(&KeySigner::vector("sast1")).unwrap();
    let doc = ctl_format::parse_with(
        &bytes,
        None,
        &ctl_format::ParseOptions::default().oversize(),
    )
    .unwrap();
    let w = lint(&doc, u64::from(T));
    assert!(
        w.contains(&Warning::TooManyCertificates { count: 40 }),
        "{w:?}"
    );
    let c = w
        .iter()
        .find(|x| x.code() == "too-many-certificates")
        .unwrap();
    assert!(c.source().contains("39 certificates"), "{}", c.source());
}

/// A list someone else made: signed by their key and carrying their SAST record. Named
/// keys of the user's own show it as a lock-in; the user's own list shows nothing.
#[test]
fn a_list_signed_by_someone_else_is_a_lock_in() {
    let theirs = list(
        "ITLFile.tlv",
        &[("itlrecovery", Role::SAST), ("ccm", Role::CCM_TFTP)],
    )
    .build(&KeySigner::vector("itlrecovery"))
    .unwrap();
    let doc = parse(&theirs).unwrap();
    let mut mine = Linter::new(u64::from(T));
    mine.own_key(cert("sast1").public_key())
        .own_key(cert("sast2").public_key());
    let w = mine.run(&doc);
    assert_eq!(codes(&w), ["foreign-signer", "foreign-sast"], "{w:?}");
    assert!(
        w[0].to_string().contains("none of your keys (--my-key)"),
        "{}",
        w[0]
    );
    assert!(w[1].to_string().starts_with("record #1 (SAST)"), "{}", w[1]);
    // Without named keys nothing is known about whose keys these are.
    assert!(lint(&doc, u64::from(T)).is_empty());

    let ours = list(
        "CTLFile.tlv",
        &[
            ("sast1", Role::SAST),
            ("sast2", Role::SAST),
            ("ccm", Role::CCM_TFTP),
        ],
    )
    .build(&KeySigner::vector("sast2"))
    .unwrap();
    assert!(mine.run(&parse(&ours).unwrap()).is_empty());

    // Re-signed with the user's key, the stranger's SAST record still hands them the
    // next list.
    let mixed = list(
        "CTLFile.tlv",
        &[
            ("sast1", Role::SAST),
            ("itlrecovery", Role::SAST),
            ("ccm", Role::CCM_TFTP),
        ],
    )
    .build(&KeySigner::vector("sast1"))
    .unwrap();
    assert_eq!(codes(&mine.run(&parse(&mixed).unwrap())), ["foreign-sast"]);
}

#[test]
fn every_warning_names_its_phones_and_source() {
    let all = [
        Warning::TooManySast {
            count: 5,
            limit: 4,
            list: None,
        },
        Warning::LargeSignerKey { bits: 4096 },
        Warning::ShortRsaKey {
            index: Some(0),
            bits: 1024,
        },
        Warning::UnexpressibleSignerKey { bits: 3072 },
        Warning::DigestNeedsFirmware {
            digest: DigestAlgorithm::Sha512,
        },
        Warning::NoServerRecord,
        Warning::TooManyCertificates { count: 40 },
        Warning::ForeignSigner { subject: None },
    ];
    let mut seen = std::collections::HashSet::new();
    for w in &all {
        assert!(!w.source().is_empty() && !w.phones().is_empty(), "{w}");
        assert!(seen.insert(w.code()), "code {} twice", w.code());
        assert!(!w.to_string().contains('\n'), "{w}");
    }
}
