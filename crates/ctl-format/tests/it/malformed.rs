//! Malformed inputs: each gives an error naming what and where; none panics.

use ctl_format::{
    ErrorKind, FileKind, MAX_LEN, ParseOptions, RsaVerifier, Tag, VerifyError, What, parse,
    parse_signed, parse_trust_list, parse_with,
};
use hex_literal::hex;

use crate::vectors::{ALL, vector};

/// A minimal valid `.sgn` header (24 bytes) followed by `payload`.
fn sgn(payload: &[u8]) -> Vec<u8> {
    let mut v =
        hex!("01 0002 0100  02 0002 0018  05 0001 01  08 0001 01  0c 0001 aa  0d 0d").to_vec();
    v.extend_from_slice(payload);
    v
}

#[test]
fn the_minimal_header_parses() {
    let bytes = sgn(b"x");
    let doc = parse_signed(&bytes).unwrap();
    assert_eq!(doc.header().length(), 24);
    assert_eq!(doc.header().padding(), 2);
    assert_eq!(doc.body_unverified(), b"x");
    assert_eq!(doc.to_vec(), bytes);
}

fn expect(bytes: &[u8], kind: Option<FileKind>, expected: ErrorKind, offset: Option<usize>) {
    let err = parse_with(bytes, kind, &ParseOptions::default()).unwrap_err();
    assert_eq!(err.kind(), expected, "{err}");
    assert_eq!(err.offset(), offset, "{err}");
    // Every message names what was expected and what was found.
    let text = err.to_string();
    assert!(text.contains("expected"), "{text}");
}

#[test]
fn a_table_of_malformed_headers() {
    use ctl_format::tag::header as h;
    let s = Some(FileKind::Signed);
    let cases: Vec<(&str, Vec<u8>, ErrorKind, Option<usize>)> = vec![
        ("empty", vec![], ErrorKind::Truncated { what: What::Value(h::VERSION), needed: 5, available: 0 }, Some(0)),
        (
            "wrong first tag",
            hex!("02 0002 0100").to_vec(),
            ErrorKind::UnexpectedTag { expected: h::VERSION, found: 2 },
            Some(0),
        ),
        (
            "wrong second tag",
            hex!("01 0002 0100 05 0001 01").to_vec(),
            ErrorKind::UnexpectedTag { expected: h::HEADER_LENGTH, found: 5 },
            Some(5),
        ),
        (
            "version of 3 bytes",
            hex!("01 0003 010000 02 0002 0018").to_vec(),
            ErrorKind::BadLength { tag: h::VERSION, expected: 2, found: 3 },
            Some(0),
        ),
        ("version 2.0", {
            let mut v = sgn(b"");
            v[3] = 2;
            v
        }, ErrorKind::UnsupportedVersion { major: 2, minor: 0 }, Some(0)),
        ("header length not a multiple of 4", {
            let mut v = sgn(b"xxxx");
            v[9] = 0x19;
            v
        }, ErrorKind::HeaderLengthNotAligned { header_length: 0x19 }, Some(5)),
        ("header length past the end", {
            let mut v = sgn(b"");
            v[9] = 0x1c;
            v
        }, ErrorKind::HeaderLengthPastEnd { header_length: 0x1c, file_len: 24 }, Some(5)),
        ("header length too small", {
            let mut v = sgn(b"");
            v[9] = 8;
            v
        }, ErrorKind::HeaderLengthTooSmall { header_length: 8 }, Some(5)),
        (
            "element overshoots the header",
            hex!("01 0002 0100  02 0002 0010  05 0009 01 0000  0000 0000 0000 0000").to_vec(),
            ErrorKind::Overshoot { tag: h::SERIAL_NUMBER, end: 22, limit: 16 },
            Some(10),
        ),
        (
            "zero-length serial",
            hex!("01 0002 0100  02 0002 0018  05 0000  08 0001 01  0c 0002 aaaa  0d 0d 0d 0d").to_vec(),
            ErrorKind::EmptyValue { tag: h::SERIAL_NUMBER },
            Some(10),
        ),
        (
            "zero-length signature",
            hex!("01 0002 0100  02 0002 0018  05 0001 01  08 0001 01  0c 0000  0d 0d 0d").to_vec(),
            ErrorKind::EmptyValue { tag: h::SIGNATURE },
            Some(18),
        ),
        (
            "zero-length filename",
            hex!("01 0002 0100  02 0002 001c  05 0001 01  08 0001 01  0c 0001 aa  0e 0000 0d 0d 0d").to_vec(),
            ErrorKind::EmptyValue { tag: h::FILENAME },
            Some(22),
        ),
        (
            "filename without NUL",
            hex!("01 0002 0100  02 0002 001c  05 0001 01  08 0001 01  0c 0001 aa  0e 0001 41 0d 0d").to_vec(),
            ErrorKind::MissingNul { tag: h::FILENAME, found: 0x41 },
            Some(22),
        ),
        (
            "digest code 4",
            hex!("01 0002 0100  02 0002 0018  05 0001 01  08 0001 04  0c 0001 aa  0d 0d").to_vec(),
            ErrorKind::UnsupportedDigest { code: 4 },
            Some(14),
        ),
        (
            "sha-256 without the option",
            hex!("01 0002 0100  02 0002 0018  05 0001 01  08 0001 02  0c 0001 aa  0d 0d").to_vec(),
            ErrorKind::UnsupportedDigest { code: 2 },
            Some(14),
        ),
        (
            "missing signature",
            hex!("01 0002 0100  02 0002 0014  05 0001 01  08 0001 01  0d 0d").to_vec(),
            ErrorKind::MissingElement { tag: h::SIGNATURE },
            Some(0),
        ),
        (
            "two signatures",
            hex!("01 0002 0100  02 0002 001c  05 0001 01  08 0001 01  0c 0001 aa  0c 0001 bb 0d 0d").to_vec(),
            ErrorKind::DuplicateTag { tag: h::SIGNATURE, first: 18 },
            Some(22),
        ),
        (
            "container overshoots the header",
            hex!("01 0002 0100  02 0002 0010  07 0010 0d 0d 0d  0000000000 0000000000 0000000000 0000000000").to_vec(),
            ErrorKind::Overshoot { tag: h::SIGNATURE_INFO, end: 29, limit: 16 },
            Some(10),
        ),
        (
            "container overshoots the file",
            hex!("01 0002 0100  02 0002 0010  07 0010 0d 0d 0d").to_vec(),
            ErrorKind::Truncated { what: What::Value(h::SIGNATURE_INFO), needed: 16, available: 3 },
            Some(10),
        ),
        (
            "padding inside a container",
            hex!("01 0002 0100  02 0002 0010  07 0002 0d 0d 0d").to_vec(),
            ErrorKind::PaddingInContainer,
            Some(13),
        ),
        (
            "containers nested too deep",
            hex!("01 0002 0100  02 0002 0018  03 000b 07 0008 09 0005 03 0002 0000 0d").to_vec(),
            ErrorKind::NestingTooDeep { tag: h::SIGNER_INFO },
            Some(19),
        ),
        (
            "timestamp of 2 bytes",
            hex!("01 0002 0100  02 0002 001c  05 0001 01  08 0001 01  0c 0001 aa  0f 0002 0000 0d").to_vec(),
            ErrorKind::BadLength { tag: h::TIMESTAMP, expected: 4, found: 2 },
            Some(22),
        ),
    ];
    for (name, bytes, kind, offset) in cases {
        let _ = name;
        let result = std::panic::catch_unwind(|| expect(&bytes, s, kind, offset));
        assert!(result.is_ok(), "case {name:?}");
    }
}

#[test]
fn sha256_parses_behind_its_option() {
    let bytes = hex!("01 0002 0100  02 0002 0018  05 0001 01  08 0001 02  0c 0001 aa  0d 0d");
    let doc = parse_with(
        &bytes,
        Some(FileKind::Signed),
        &ParseOptions::default().with_sha256(),
    )
    .unwrap();
    assert_eq!(doc.header().digest(), ctl_format::DigestAlgorithm::Sha256);
}

/// The sha1 CTL with its first record replaced by `record`.
fn ctl_with_first_record(record: &[u8]) -> Vec<u8> {
    let mut v = vector("ctl/CTLFile-sha1.tlv");
    v.truncate(464);
    v.extend_from_slice(record);
    v
}

#[test]
fn a_table_of_malformed_records() {
    use ctl_format::tag::record as r;
    let t = Some(FileKind::TrustList);
    let cases: Vec<(&str, Vec<u8>, ErrorKind, Option<usize>)> = vec![
        (
            "no records",
            ctl_with_first_record(&[]),
            ErrorKind::NoRecords,
            Some(464),
        ),
        (
            "record not starting with RECORD_LENGTH",
            ctl_with_first_record(&hex!("03 0002 4100")),
            ErrorKind::UnexpectedTag {
                expected: r::RECORD_LENGTH,
                found: 3,
            },
            Some(464),
        ),
        (
            "record length below 5",
            ctl_with_first_record(&hex!("01 0002 0004")),
            ErrorKind::RecordLengthTooSmall { found: 4 },
            Some(464),
        ),
        (
            "record length past the file",
            ctl_with_first_record(&hex!("01 0002 0010 04 0002 0000")),
            ErrorKind::Truncated {
                what: What::Record,
                needed: 16,
                available: 10,
            },
            Some(464),
        ),
        (
            "field overshoots its record",
            ctl_with_first_record(&hex!("01 0002 0009 04 0002 0000 00")),
            ErrorKind::Overshoot {
                tag: r::ROLE,
                end: 474,
                limit: 473,
            },
            Some(469),
        ),
        (
            "field overshoots the file",
            ctl_with_first_record(&hex!("01 0002 000a 09 0010 0000")),
            ErrorKind::Truncated {
                what: What::Value(r::CERTIFICATE),
                needed: 16,
                available: 2,
            },
            Some(472),
        ),
        (
            "role of 1 byte",
            ctl_with_first_record(&hex!("01 0002 0009 04 0001 00")),
            ErrorKind::BadLength {
                tag: r::ROLE,
                expected: 2,
                found: 1,
            },
            Some(469),
        ),
        (
            "IP address of 5 bytes",
            ctl_with_first_record(&hex!("01 0002 000d 0a 0005 0000000000")),
            ErrorKind::BadLength {
                tag: r::IP_ADDRESS,
                expected: 4,
                found: 5,
            },
            Some(469),
        ),
        (
            "zero-length certificate",
            ctl_with_first_record(&hex!("01 0002 0008 09 0000")),
            ErrorKind::EmptyValue {
                tag: r::CERTIFICATE,
            },
            Some(469),
        ),
        (
            "two roles",
            ctl_with_first_record(&hex!("01 0002 000f 04 0002 0000 04 0002 0001")),
            ErrorKind::DuplicateTag {
                tag: r::ROLE,
                first: 469,
            },
            Some(474),
        ),
        (
            "subject without NUL",
            ctl_with_first_record(&hex!("01 0002 0009 03 0001 41")),
            ErrorKind::MissingNul {
                tag: r::SUBJECT_NAME,
                found: 0x41,
            },
            Some(469),
        ),
    ];
    for (name, bytes, kind, offset) in cases {
        let result = std::panic::catch_unwind(|| expect(&bytes, t, kind, offset));
        assert!(result.is_ok(), "case {name:?}");
    }
}

#[test]
fn unknown_tags_are_kept_and_re_encoded() {
    let v = ctl_with_first_record(&hex!("01 0002 0012 04 0002 0000 63 0005 0102030405"));
    let doc = parse_trust_list(&v).unwrap();
    let rec = &doc.records()[0];
    assert_eq!(rec.opaque_elements(), 1);
    let opaque = rec.elements().find(|e| e.tag == Tag::record(99)).unwrap();
    assert_eq!(opaque.value, [1, 2, 3, 4, 5]);
    assert_eq!(opaque.offset, 474);
    assert_eq!(doc.to_vec(), v);
    // The signature no longer covers this file, and verification says so.
    assert!(doc.verify(&RsaVerifier).is_err());
}

#[test]
fn a_trust_list_over_64_kib_is_refused_before_parsing() {
    let mut big = vector("ctl/CTLFile-sha1.tlv");
    big.resize(MAX_LEN + 1, 0);
    let err = parse_trust_list(&big).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::TooLarge {
            len: 65_537,
            limit: 65_536
        }
    );
    assert_eq!(err.offset(), None);
    assert_eq!(
        err.to_string(),
        "file too large: expected at most 65536 bytes, found 65537"
    );
    assert!(parse(&big).is_err());
    // Garbage over the limit is refused the same way, unread.
    assert_eq!(
        parse_trust_list(&vec![0xff; MAX_LEN + 1])
            .unwrap_err()
            .kind(),
        ErrorKind::TooLarge {
            len: 65_537,
            limit: 65_536
        }
    );
}

#[test]
fn every_truncation_of_every_vector_is_refused() {
    for path in ALL {
        let bytes = vector(path);
        let full = parse(&bytes).unwrap();
        let boundaries: Vec<usize> = full.records().iter().map(|r| r.offset()).collect();
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            if len % 61 == 0 {
                ctl_format::fuzzing::parse_input(cut);
            }
            match parse_with(cut, Some(full.kind()), &ParseOptions::default()) {
                Err(e) => assert!(e.offset().is_some_and(|o| o <= len), "{path}[..{len}]: {e}"),
                Ok(doc) => {
                    // Only cuts between records (trust lists) or in a payload (.sgn) parse;
                    // their signatures then fail.
                    match doc.kind() {
                        FileKind::TrustList => {
                            assert!(boundaries.contains(&len), "{path}[..{len}] parsed");
                            assert!(
                                doc.verify(&RsaVerifier).is_err(),
                                "{path}[..{len}] verified"
                            );
                        }
                        _ => {
                            assert!(len >= doc.header().length(), "{path}[..{len}] parsed");
                            let ccm = vector("keys/ccm.crt.der");
                            assert_eq!(
                                doc.verify_with_certificate(&ccm, &RsaVerifier).unwrap_err(),
                                VerifyError::BadSignature
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn deep_garbage_never_panics() {
    // A deterministic generator (xorshift) so failures reproduce.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: Vec<Vec<u8>> = ALL.iter().map(|p| vector(p)).collect();
    for round in 0..1000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        let flips = 1 + (next() % 8) as usize;
        for _ in 0..flips {
            let at = (next() as usize) % bytes.len();
            bytes[at] = next() as u8;
        }
        ctl_format::fuzzing::parse_input(&bytes);
    }
    for len in [0usize, 1, 3, 10, 100, 4096] {
        let garbage: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        ctl_format::fuzzing::parse_input(&garbage);
        assert!(parse_trust_list(&garbage).is_err());
    }
}

#[test]
fn strict_mode_refuses_what_lenient_mode_keeps() {
    let strict = ParseOptions::default().strict();
    let unknown = ctl_with_first_record(&hex!("01 0002 0012 04 0002 0000 63 0005 0102030405"));
    assert!(parse_trust_list(&unknown).is_ok());
    let err = parse_with(&unknown, Some(FileKind::TrustList), &strict).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::UnknownTag {
            tag: Tag::record(99)
        }
    );
    assert_eq!(err.offset(), Some(474));
    // An unknown header element, then padding in the middle of the header.
    let header =
        hex!("01 0002 0100  02 0002 001c  05 0001 01  08 0001 01  0c 0001 aa  63 0001 00 0d 0d");
    assert!(parse_signed(&header).is_ok());
    let err = parse_with(&header, Some(FileKind::Signed), &strict).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::UnknownTag {
            tag: Tag::header(99)
        }
    );
    let mid = hex!("01 0002 0100  02 0002 0018  05 0001 01  0d  08 0001 01  0c 0001 aa  0d");
    assert!(parse_signed(&mid).is_ok());
    let err = parse_with(&mid, Some(FileKind::Signed), &strict).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (ErrorKind::PaddingNotAtEnd, Some(14))
    );
    // Every vector is strict-clean.
    for path in ALL {
        let bytes = vector(path);
        parse_with(&bytes, None, &strict).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}
