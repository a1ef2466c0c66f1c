//! Every input a fuzz target ever found a bug with (`fuzz/regressions/TARGET/`), and the
//! seeds of its corpus (`fuzz/corpus/TARGET/seed-*`), replayed through the target's
//! harness by `cargo test`: a bug fixed once stays fixed.

use std::path::{Path, PathBuf};

use ctl_format::fuzzing;

/// The regression inputs and seeds of `target`.
pub(crate) fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    let dirs = [
        fuzz.join("regressions").join(target),
        fuzz.join("corpus").join(target),
    ];
    for (n, dir) in dirs.iter().enumerate() {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // In the corpus only the seeds are kept in git; the rest is a local run's.
            if (n == 1 && !name.starts_with("seed-")) || name == "README.md" {
                continue;
            }
            out.push((entry.path(), std::fs::read(entry.path()).unwrap()));
        }
    }
    out.sort();
    assert!(
        !out.is_empty(),
        "no seeds or regression inputs for {target}"
    );
    out
}

#[test]
fn the_format_targets_inputs_pass_their_harnesses() {
    for (_, data) in inputs("format_parse") {
        fuzzing::parse_input(&data);
    }
    for (_, data) in inputs("format_sgn") {
        fuzzing::signed_round_trip(&data);
    }
    for (_, data) in inputs("format_verify") {
        fuzzing::verify_input(&data);
    }
    for (_, data) in inputs("certificate") {
        fuzzing::certificate_input(&data);
    }
    for (_, data) in inputs("format_roundtrip") {
        let mut u = arbitrary::Unstructured::new(&data);
        if let Ok(input) = <fuzzing::BuildInput as arbitrary::Arbitrary>::arbitrary(&mut u) {
            fuzzing::build_round_trip(&input);
        }
    }
}

/// The oracles are not vacuous: the seeds reach the code they guard.
#[test]
fn the_seeds_reach_what_the_oracles_check() {
    let verified = inputs("format_verify")
        .iter()
        .filter(|(_, d)| {
            ctl_format::parse(d).is_ok_and(|doc| doc.verify(&ctl_format::RsaVerifier).is_ok())
        })
        .count();
    assert!(verified >= 2, "{verified} seeds verify");
    let certs = inputs("certificate")
        .iter()
        .filter(|(_, d)| ctl_format::Certificate::from_der_or_pem(d).is_ok())
        .count();
    assert_eq!(certs, inputs("certificate").len());
}
