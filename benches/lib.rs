//! Fixtures shared by the benchmarks: the test-vector identities and a maximal CTL, and
//! in [`cluster`] the in-process clusters of the supercluster and fleet benches.

pub mod cluster;

use ctl_format::{Certificate, MAX_LEN, RecordSpec, Role, TrustListBuilder};
use ctl_test_support::report;
pub use ctl_test_support::report::Target;
use ctl_token::SoftwareSigner;

fn read(name: &str) -> Vec<u8> {
    let path = ctl_test_support::fixture(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `sast1` test identity as a software signer.
///
/// # Panics
/// When the test vectors are missing.
pub fn signer() -> SoftwareSigner {
    let key = read("sast1.key.pem");
    SoftwareSigner::from_pem_key(&key, &read("sast1.crt.der"), "sast1")
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The 2048-bit certificates of the test vectors.
///
/// # Panics
/// When the test vectors are missing.
pub fn certificates() -> Vec<Certificate> {
    [
        "sast1",
        "sast2",
        "ccm",
        "tftp",
        "capf",
        "tvs",
        "itlrecovery",
    ]
    .iter()
    .map(|n| {
        Certificate::from_der(&read(&format!("{n}.crt.der"))).unwrap_or_else(|e| panic!("{n}: {e}"))
    })
    .collect()
}

/// A builder holding as many 2048-bit records as fit in 64 KiB (two SAST, then servers).
///
/// # Panics
/// When the test vectors are missing.
pub fn maximal_builder() -> TrustListBuilder {
    let certs = certificates();
    let signer_cert = certs.first().map(|c| c.der().to_vec()).unwrap_or_default();
    let roles = [Role::CCM_TFTP, Role::CCM, Role::TFTP, Role::CAPF, Role::TVS];
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    for (i, cert) in certs.iter().cycle().enumerate() {
        let role = if i < 2 {
            Role::SAST
        } else {
            roles[i % roles.len()]
        };
        let dns = format!("node-{i:02}");
        b.push(
            RecordSpec::new(cert.clone(), role)
                .dns_name(dns)
                .ip_address([192, 0, 2, 10].into()),
        );
        if b.encoded_len(&signer_cert).map_or(true, |n| n > MAX_LEN) {
            b.remove(b.len() - 1);
            break;
        }
    }
    b
}

/// Where criterion writes its estimates (`target/criterion`, or under `CARGO_TARGET_DIR`).
pub fn criterion_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
            std::path::PathBuf::from,
        )
        .join("criterion")
}

/// Mean time in nanoseconds of `group/function`, from criterion's estimates of this run.
fn mean_ns(group: &str, function: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("mean")?.get("point_estimate")?.as_f64()
}

/// How [`report_ratio`] shows a criterion function's mean time.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Unit {
    /// Microseconds, one decimal (two below 10 µs).
    Micros,
    /// Milliseconds, two decimals.
    Millis,
}

/// Prints the mean times of `group/subject` and `group/baseline` from this run's
/// criterion estimates as `FIGURE KEY.subject` and `FIGURE KEY.baseline`, then their
/// ratio against `target` as `RATIO KEY` ([`ctl_test_support::report`]).
///
/// # Panics
/// When criterion wrote no estimates for them (a filtered run, or `--test`): a bench that
/// cannot report its figures fails rather than print none.
pub fn report_ratio(
    key: &str,
    (group, subject, subject_label): (&str, &str, &str),
    (baseline, baseline_label): (&str, &str),
    unit: Unit,
    target: Target,
) {
    let mean = |function: &str| {
        mean_ns(group, function).unwrap_or_else(|| {
            panic!("no criterion estimates for {group}/{function}: run the whole bench")
        })
    };
    let (s, b) = (mean(subject), mean(baseline));
    let show = |label: &str, suffix: &str, ns: f64| {
        let key = format!("{key}.{suffix}");
        match unit {
            Unit::Micros => {
                let d = if b < 10_000.0 { 2 } else { 1 };
                report::figure(&key, label, ns / 1e3, d, "µs", None)
            }
            Unit::Millis => report::figure(&key, label, ns / 1e6, 2, "ms", None),
        }
    };
    show(subject_label, "subject", s);
    show(baseline_label, "baseline", b);
    report::ratio(
        key,
        &format!("{subject_label} / {baseline_label}"),
        s / b,
        Some(target),
    );
}
