//! ctl-format against its baselines, measured in the same run:
//!
//! * parsing a maximal CTL against copying its bytes once (target: ratio <= 1.0), with
//!   the default options and with every option on (strict, SHA-256, oversize);
//! * parsing and verifying it against hashing it plus one RSA verification with the
//!   signer's key as the file carries it (PKCS#1 bytes, decoded in each iteration of the
//!   baseline too: no verification can skip that) (target: <= 1.2);
//! * building and signing it against one signature alone (target: <= 1.2).
//!
//! Run: `cargo bench -p ctl-benches --bench format`. Its figures and ratios are printed at
//! the end (`FIGURE` and `RATIO` lines, which `scripts/bench` reads).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use ctl_format::{
    DigestAlgorithm, FileKind, ParseOptions, RsaVerifier, Signer as _, parse_trust_list, parse_with,
};
use rsa::pkcs1::DecodeRsaPublicKey as _;

fn main() {
    let mut c = Criterion::default()
        .output_directory(&ctl_benches::criterion_dir())
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();

    let builder = ctl_benches::maximal_builder();
    let signer = ctl_benches::signer();
    let bytes = builder.build(&signer).unwrap();
    let records = parse_trust_list(&bytes).unwrap().records().len();
    let report = ctl_test_support::report::figure;
    report(
        "format.bytes",
        "the maximal CTL, bytes",
        bytes.len() as f64,
        0,
        "",
        None,
    );
    report(
        "format.records",
        "its records (2048-bit certificates)",
        records as f64,
        0,
        "",
        None,
    );

    let mut g = c.benchmark_group("parse");
    g.bench_function("copy_baseline", |b| {
        b.iter(|| black_box(black_box(&bytes[..]).to_vec()))
    });
    g.bench_function("parse", |b| {
        b.iter(|| parse_trust_list(black_box(&bytes)).map(|d| d.records().len()))
    });
    let every_option = ParseOptions::default().strict().with_sha256().oversize();
    g.bench_function("parse_every_option", |b| {
        b.iter(|| {
            parse_with(black_box(&bytes), Some(FileKind::TrustList), &every_option)
                .map(|d| d.records().len())
        })
    });
    g.finish();

    let doc = parse_trust_list(&bytes).unwrap();
    let (_, signer_record) = doc.signer_record().unwrap();
    let cert = ctl_format::Certificate::from_der(signer_record.certificate().unwrap()).unwrap();
    let pkcs1 = cert.public_key().record_bytes().to_vec();
    let signature = doc.header().signature().to_vec();
    let mut g = c.benchmark_group("verify");
    g.bench_function("hash_and_rsa_baseline", |b| {
        b.iter(|| {
            let hash = DigestAlgorithm::Sha1.digest(&doc.signed_parts());
            let key = rsa::PublicKey::from_pkcs1_der(black_box(&pkcs1)).unwrap();
            key.pkcs1v15_verify_prehash::<sha1::Sha1>(&hash, &signature)
                .is_ok()
        })
    });
    g.bench_function("parse_and_verify", |b| {
        b.iter(|| {
            parse_trust_list(black_box(&bytes))
                .unwrap()
                .verify(&RsaVerifier)
                .is_ok()
        })
    });
    g.finish();

    let message = vec![0x5a_u8; bytes.len() - 259];
    let mut g = c.benchmark_group("build");
    g.sample_size(20);
    g.bench_function("one_signature_baseline", |b| {
        b.iter(|| signer.sign(DigestAlgorithm::Sha1, black_box(&message)))
    });
    g.bench_function("build_and_sign", |b| {
        b.iter(|| builder.build(&signer).map(|v| v.len()))
    });
    g.finish();

    c.final_summary();
    use ctl_benches::{Target, Unit, report_ratio};
    report_ratio(
        "format.parse",
        ("parse", "parse", "parse"),
        ("copy_baseline", "copying the bytes once"),
        Unit::Micros,
        Target::AtMost(1.0),
    );
    report_ratio(
        "format.parse_every_option",
        ("parse", "parse_every_option", "parse, every option on"),
        ("copy_baseline", "copying the bytes once"),
        Unit::Micros,
        Target::AtMost(1.0),
    );
    report_ratio(
        "format.verify",
        ("verify", "parse_and_verify", "parse + verify"),
        (
            "hash_and_rsa_baseline",
            "SHA-1 of the file + decoding the RSA key + one RSA verification",
        ),
        Unit::Micros,
        Target::AtMost(1.2),
    );
    report_ratio(
        "format.build",
        ("build", "build_and_sign", "build + sign"),
        (
            "one_signature_baseline",
            "one RSA-2048 signature over the same bytes",
        ),
        Unit::Millis,
        Target::AtMost(1.2),
    );
}
