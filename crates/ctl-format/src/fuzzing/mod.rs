//! Harnesses for the fuzz targets in `fuzz/` (kept here so the targets stay two lines).
//!
//! Not a stable API. Compiled only with the `fuzzing` feature (the fuzz targets and this
//! crate's own tests turn it on; the library users get has no such module).
//!
//! The `panic!` and `assert*!` calls here are the fuzzer's oracles, not input handling:
//! each states an invariant of the library (what the builder writes parses back, the
//! predicted size equals the built size, a round trip is the identity) and fires only if
//! that invariant is broken by a bug, never because an input is malformed: malformed
//! inputs take the `Err` arms, which return quietly.
#![allow(clippy::arithmetic_side_effects)] // test harness: small counters only

mod mutate;

pub use mutate::mutate_tlv;

use arbitrary::{Arbitrary, Unstructured};

use crate::{
    Certificate, DigestAlgorithm, Document, FileKind, Layout, ParseOptions, RecordSpec, Role,
    SignedFileBuilder, Signer, SignerError, TrustListBuilder, Verifier, VerifyError, Version, lint,
    parse_with, phone_accepts,
};

/// Accepts every signature, so the code after the signature check is reached.
#[derive(Clone, Copy, Debug)]
pub struct AcceptAll;

impl Verifier for AcceptAll {
    fn verify(
        &self,
        certificate: &[u8],
        _: DigestAlgorithm,
        _: [&[u8]; 2],
        _: &[u8],
    ) -> Result<(), VerifyError> {
        // Still decode the certificate, as the real verifier would.
        let _ = Certificate::from_der(certificate);
        Ok(())
    }
}

/// Accepts every signature without decoding the certificate: for [`parse_input`], where
/// `lint` decodes each certificate once and the `format_verify` and `certificate` targets
/// fuzz the real verifier and decoder.
#[derive(Clone, Copy, Debug)]
pub struct AcceptAllQuick;

impl Verifier for AcceptAllQuick {
    fn verify(
        &self,
        _: &[u8],
        _: DigestAlgorithm,
        _: [&[u8]; 2],
        _: &[u8],
    ) -> Result<(), VerifyError> {
        Ok(())
    }
}

/// Signs with zeros of the right length: enough for the builder, fast for a fuzzer.
#[derive(Clone, Copy, Debug)]
pub struct ZeroSigner;

/// A 2048-bit RSA certificate (the `sast1` test vector).
pub const SIGNER_CERT: &[u8] = include_bytes!("../../tests/vectors/keys/sast1.crt.der");

const CERTS: [&[u8]; 4] = [
    SIGNER_CERT,
    include_bytes!("../../tests/vectors/keys/ccm.crt.der"),
    include_bytes!("../../tests/vectors/keys/tftp.crt.der"),
    include_bytes!("../../tests/vectors/keys/capf.crt.der"),
];

impl Signer for ZeroSigner {
    fn certificate(&self) -> &[u8] {
        SIGNER_CERT
    }

    fn sign(&self, _: DigestAlgorithm, _: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(vec![0; 256])
    }
}

/// Parses `data` once the way a caller that knows nothing does (the kind from the bytes),
/// then only the ways that can give another document: the other kind forced, and SHA-256
/// allowed when the default refused. Each document is re-encoded, verified with
/// [`AcceptAll`], judged by the phone rules and linted. As thorough as
/// [`parse_input_every_way`] for a fraction of its work per input.
///
/// The bytes are also taken as one record's elements, which the parser's fast pass and
/// its checked walk must judge alike.
///
/// # Panics
/// When a parsed file does not re-encode to its own bytes, or the two record paths
/// disagree: a bug the fuzzer should report.
pub fn parse_input(data: &[u8]) {
    crate::parse::record_paths_agree(data);
    let default = ParseOptions::default();
    match parse_with(data, None, &default) {
        Ok(doc) => {
            exercise(&doc, &AcceptAllQuick);
            let other = match doc.kind() {
                FileKind::TrustList => FileKind::Signed,
                _ => FileKind::TrustList,
            };
            if let Ok(d) = parse_with(data, Some(other), &default) {
                exercise(&d, &AcceptAllQuick);
            }
            // Strict mode refuses more, never reads differently.
            if let Ok(d) = parse_with(data, Some(doc.kind()), &default.strict()) {
                assert_eq!(d.records().len(), doc.records().len());
                assert_eq!(d.header().length(), doc.header().length());
            }
        }
        Err(_) => {
            for kind in [FileKind::TrustList, FileKind::Signed] {
                if let Ok(d) = parse_with(data, Some(kind), &default) {
                    exercise(&d, &AcceptAllQuick);
                }
            }
            if let Ok(d) = parse_with(data, None, &default.with_sha256()) {
                exercise(&d, &AcceptAllQuick);
            }
        }
    }
}

/// Parses `data` every way (three kinds, with and without SHA-256), re-encodes, verifies
/// with [`AcceptAll`], applies the phone rules and lints: the first harness, kept as the
/// baseline `scripts/fuzz-compare` measures [`parse_input`] against.
///
/// # Panics
/// When a parsed file does not re-encode to its own bytes: a bug the fuzzer should report.
pub fn parse_input_every_way(data: &[u8]) {
    for kind in [None, Some(FileKind::TrustList), Some(FileKind::Signed)] {
        for options in [
            ParseOptions::default(),
            ParseOptions::default().with_sha256(),
        ] {
            let Ok(doc) = parse_with(data, kind, &options) else {
                continue;
            };
            exercise_thoroughly(&doc);
        }
    }
}

fn exercise(doc: &Document<'_>, verifier: &dyn Verifier) {
    assert!(doc.as_bytes().len() <= crate::MAX_LEN || doc.kind() == FileKind::Signed);
    assert_eq!(
        doc.to_vec(),
        doc.as_bytes(),
        "re-encoding changed the bytes"
    );
    assert_eq!(doc.encoded_len(), doc.as_bytes().len());
    let _ = doc.verify(verifier);
    let _ = doc.verify_with_trust_list(doc, verifier);
    let _ = phone_accepts(None, doc, verifier);
    let _ = phone_accepts(Some(doc), doc, verifier);
    let _ = lint(doc, 1_735_689_600);
    for r in doc.records() {
        let _ = r.subject_name();
        let _ = r.dns_name();
        let _ = r.ip_address();
    }
    // One certificate's names rendered (the name code, at the cost of one decode).
    if let Some(Ok(cert)) = doc
        .records()
        .iter()
        .find_map(|r| r.certificate())
        .map(Certificate::from_der)
    {
        let _ = cert.subject_text(crate::NameStyle::Reversed);
        let _ = cert.issuer_text(crate::NameStyle::DerOrder(','));
    }
}

/// [`exercise`], and each certificate decoded and its subject rendered once more (the
/// first harness did; the `certificate` target covers it now).
fn exercise_thoroughly(doc: &Document<'_>) {
    exercise(doc, &AcceptAll);
    for r in doc.records() {
        if let Some(Ok(cert)) = r.certificate().map(Certificate::from_der) {
            let _ = cert.subject_text(crate::NameStyle::Reversed);
        }
    }
}

/// A trust list to build, chosen by the fuzzer.
#[derive(Debug, Arbitrary)]
pub struct BuildInput {
    layout: u8,
    digest: u8,
    signer_version: Option<(u8, u8)>,
    filename: String,
    timestamp: u32,
    records: Vec<RecordInput>,
}

/// One record to build.
#[derive(Debug, Arbitrary)]
pub struct RecordInput {
    cert: u8,
    role: u16,
    dns_name: Option<String>,
    ip: Option<core::net::IpAddr>,
    no_signature: bool,
    hash: bool,
}

/// Builds the input, checks the predicted size, parses it back and compares every field.
///
/// # Panics
/// When the built file does not parse back to what was asked for.
pub fn build_round_trip(input: &BuildInput) {
    let layout = match input.layout % 3 {
        0 => Layout::Cucm,
        1 => Layout::Certutils,
        _ => Layout::CertutilsLegacy,
    };
    let digest = if input.digest.is_multiple_of(2) {
        DigestAlgorithm::Sha1
    } else {
        DigestAlgorithm::Sha512
    };
    let mut b = TrustListBuilder::new();
    // A zero signature: the fuzzer measures the codec, not RSA.
    b.unchecked(true)
        .layout(layout)
        .digest(digest)
        .filename(input.filename.clone())
        .timestamp(input.timestamp);
    if let Some((major, minor)) = input.signer_version {
        b.signer_version(Some(Version { major, minor }));
    }
    let mut specs = Vec::new();
    for r in input.records.iter().take(48) {
        let der = CERTS
            .get(usize::from(r.cert) % CERTS.len())
            .copied()
            .unwrap_or(SIGNER_CERT);
        let Ok(cert) = Certificate::from_der(der) else {
            return;
        };
        let mut spec = RecordSpec::new(cert, Role(r.role));
        if layout == Layout::Cucm {
            if let Some(d) = &r.dns_name {
                spec = spec.dns_name(d.clone());
            }
            if let Some(ip) = r.ip {
                spec = spec.ip_address(ip);
            }
            if r.hash {
                spec = spec.certificate_hash(digest);
            }
        }
        if r.no_signature {
            spec = spec.without_certificate_signature();
        }
        specs.push((r, spec.clone()));
        b.push(spec);
    }
    let predicted = b.encoded_len(SIGNER_CERT);
    let built = b.build(&ZeroSigner);
    let (predicted, bytes) = match (predicted, built) {
        (Ok(p), Ok(bytes)) => (p, bytes),
        (Err(_), Err(_)) => return,
        // A panic here is the fuzzer's finding: the two must agree on every input.
        (p, b) => panic!(
            "encoded_len and build disagree: {p:?} vs {:?}",
            b.map(|v| v.len())
        ),
    };
    assert_eq!(predicted, bytes.len());
    let doc = match parse_with(&bytes, Some(FileKind::TrustList), &ParseOptions::default()) {
        Ok(doc) => doc,
        // A panic here is the fuzzer's finding: whatever the builder writes must parse.
        Err(e) => panic!("built file does not parse: {e}"),
    };
    assert_eq!(doc.to_vec(), bytes);
    assert_eq!(doc.records().len(), specs.len());
    assert_eq!(doc.header().timestamp(), Some(input.timestamp));
    assert_eq!(doc.header().digest(), digest);
    for (record, (r, spec)) in doc.records().iter().zip(&specs) {
        assert_eq!(record.role(), Some(spec.role()));
        assert_eq!(record.certificate(), Some(spec.certificate().der()));
        assert_eq!(record.signature().is_none(), r.no_signature);
        if layout == Layout::Cucm {
            assert_eq!(
                record.dns_name_bytes(),
                Some(r.dns_name.as_deref().unwrap_or("").as_bytes())
            );
        }
    }
}

/// Builds a `.sgn` around `payload` and parses it back; then parses `payload` itself as a `.sgn`.
///
/// # Panics
/// When the payload does not come back unchanged.
pub fn signed_round_trip(payload: &[u8]) {
    let mut u = Unstructured::new(payload);
    let layout = if u.arbitrary::<bool>().unwrap_or(false) {
        Layout::Certutils
    } else {
        Layout::Cucm
    };
    let mut b = SignedFileBuilder::new("SEP001122334455.cnf.xml.sgn");
    b.timestamp(1_735_689_600);
    b.unchecked(true).layout(layout);
    if let Ok(bytes) = b.build(payload, &ZeroSigner) {
        match parse_with(&bytes, Some(FileKind::Signed), &ParseOptions::default()) {
            Ok(doc) => {
                assert_eq!(doc.body_unverified(), payload);
                assert_eq!(doc.to_vec(), bytes);
            }
            // A panic here is the fuzzer's finding: whatever the builder writes must parse.
            Err(e) => panic!("built .sgn does not parse: {e}"),
        }
    }
    if let Ok(doc) = parse_with(payload, Some(FileKind::Signed), &ParseOptions::default()) {
        exercise_thoroughly(&doc);
    }
}

/// Parses `data` as a trust list and verifies it with the real [`RsaVerifier`](crate::RsaVerifier)
/// against every certificate it carries (the public-key decoding a node runs on the
/// certificates of a STAGE); checks the oracles that tie verification to the rest.
///
/// # Panics
/// When a file that verifies stops verifying after a round trip, or the phone rule takes
/// a file whose signature does not verify.
pub fn verify_input(data: &[u8]) {
    let verifier = crate::RsaVerifier;
    let Ok(doc) = parse_with(data, Some(FileKind::TrustList), &ParseOptions::default()) else {
        return;
    };
    for record in doc.records() {
        if let Some(der) = record.certificate() {
            let _ = doc.verify_with_certificate(der, &verifier);
        }
    }
    let verified = doc.verify(&verifier).is_ok();
    if phone_accepts(None, &doc, &verifier).is_ok() {
        assert!(
            verified,
            "the phone rule took a list whose signature does not verify"
        );
    }
    if phone_accepts(Some(&doc), &doc, &verifier).is_ok() {
        assert!(
            doc.verify_with_trust_list(&doc, &verifier).is_ok(),
            "the phone rule took a list no SAST of the held list signed"
        );
    }
    if verified {
        let again = doc.to_vec();
        match parse_with(&again, Some(FileKind::TrustList), &ParseOptions::default()) {
            Ok(d) => assert!(
                d.verify(&verifier).is_ok(),
                "a round trip broke the signature"
            ),
            // A panic here is the fuzzer's finding: a re-encoded file must parse.
            Err(e) => panic!("a re-encoded list does not parse: {e}"),
        }
    }
}

/// Any bytes as a certificate, PEM or DER (what `--cert`, `--my-key`, a node's
/// certificates and every record carry): decoded, named, re-encoded.
///
/// # Panics
/// When a decoded certificate's own DER does not decode to the same facts, or its PEM
/// does not come back to the same DER.
pub fn certificate_input(data: &[u8]) {
    let _ = crate::pem_labels(data);
    let _ = crate::pem_decode_all(data, "CERTIFICATE");
    for parsed in [
        Certificate::from_der(data),
        Certificate::from_pem(data),
        Certificate::from_der_or_pem(data),
    ] {
        let Ok(cert) = parsed else { continue };
        let again = match Certificate::from_der(cert.der()) {
            Ok(c) => c,
            // A panic here is the fuzzer's finding: a certificate's DER must decode again.
            Err(e) => panic!("a decoded certificate's DER does not decode: {e}"),
        };
        assert_eq!(again.serial(), cert.serial());
        assert_eq!(again.public_key(), cert.public_key());
        assert_eq!(again.not_after(), cert.not_after());
        let pem = crate::pem_encode("CERTIFICATE", cert.der());
        match Certificate::from_pem(pem.as_bytes()) {
            Ok(c) => assert_eq!(c.der(), cert.der()),
            // A panic here is the fuzzer's finding: our own PEM of a certificate decodes.
            Err(e) => panic!("a certificate's PEM does not decode: {e}"),
        }
        for style in [crate::NameStyle::Reversed, crate::NameStyle::DerOrder(',')] {
            let _ = cert.subject_text(style);
            let _ = cert.issuer_text(style);
        }
        let _ = RecordSpec::new(cert, Role::SAST);
    }
}
