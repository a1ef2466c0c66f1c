//! Building and signing a maximal CTL on a SoftHSM2 token against one SoftHSM2
//! signature alone, in the same run (target: ratio <= 1.2).
//!
//! Run: `cargo bench -p ctl-benches --bench token` (needs SoftHSM2: apt-get install softhsm2).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use ctl_format::{DigestAlgorithm, Signer as _};
use ctl_token::pkcs11::lab;
use ctl_token::{SignerOptions, TokenSigner};
use rsa::pkcs8::DecodePrivateKey as _;
use secrecy::SecretString;

fn main() {
    let module = ctl_test_support::module_path();
    assert!(
        module.exists(),
        "this benchmark needs SoftHSM2 at {} (apt-get install softhsm2)",
        module.display()
    );
    let keys = ctl_test_support::keys();
    let (mut token, label) = ctl_test_support::new_token("bench", "1234");
    let pin = SecretString::from("1234");
    let key = rsa::PrivateKey::from_pkcs8_pem(
        &std::fs::read_to_string(keys.join("sast1.key.pem")).unwrap(),
    )
    .unwrap();
    lab::import_rsa_key(&mut token, &pin, &key, &[1], "sast1").unwrap();
    lab::import_certificate(
        &mut token,
        &pin,
        &std::fs::read(keys.join("sast1.crt.der")).unwrap(),
        &[1],
        "sast1",
    )
    .unwrap();
    let signer = TokenSigner::open(
        &ctl_test_support::uri(&label, "1234"),
        &SignerOptions {
            prompt: false,
            ..SignerOptions::default()
        },
    )
    .unwrap();

    let builder = ctl_benches::maximal_builder();
    let bytes = builder.build(&signer).unwrap();
    println!("maximal CTL signed on SoftHSM2: {} bytes", bytes.len());
    let message = vec![0x5a_u8; bytes.len() - 259];

    let mut c = Criterion::default()
        .output_directory(&ctl_benches::criterion_dir())
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut g = c.benchmark_group("token");
    g.bench_function("one_softhsm_signature_baseline", |b| {
        b.iter(|| signer.sign(DigestAlgorithm::Sha1, black_box(&message)))
    });
    g.bench_function("build_and_sign_on_softhsm", |b| {
        b.iter(|| builder.build(&signer).map(|v| v.len()))
    });
    g.finish();
    c.final_summary();
    ctl_benches::report_ratio(
        "token.build",
        (
            "token",
            "build_and_sign_on_softhsm",
            "build + sign on SoftHSM2",
        ),
        (
            "one_softhsm_signature_baseline",
            "one SoftHSM2 signature over the same bytes",
        ),
        ctl_benches::Unit::Millis,
        ctl_benches::Target::AtMost(1.2),
    );
}
