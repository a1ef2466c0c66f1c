//! First-time mixed mode on a supercluster against the same on one node, measured in one run.
//!
//! The supercluster of the Cisco guide: 1 first node, 16 CallManager nodes, 2 TFTP nodes and
//! 9 media-resource nodes, 28 CTL providers in this process on loopback, each answering every
//! request after an injected 20 ms delay (a WAN-ish round trip). The client contacts the
//! nodes concurrently, so the run should cost a few round trips, not 28 times one.
//! Target: supercluster time <= 3 x one-node time.
//!
//! The target is measured with nodes whose password hashes take 64 KiB: a real node's
//! argon2id check (19 MiB, tens of milliseconds of a core) runs on that node's own machine,
//! but 28 in-process nodes would queue 28 of them on this machine's few cores, which
//! measures the machine rather than the client. The same comparison with the real hashes
//! is printed after it, with the cost of one check, for information.
//!
//! Run: `cargo bench -p ctl-benches --bench supercluster`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use ctl_benches::Target;
use ctl_benches::cluster::{DELAY, light_hash, mixed_mode, start, template};
use ctl_test_support::report;

/// Runs first-time mixed mode on a one-node cluster and on a supercluster (clusters
/// `k`, `k + 1` of the template); prints both as `FIGURE KEY.one_node` and
/// `KEY.supercluster` (with the CTL's size) and returns the ratio.
fn compare(
    root: &std::path::Path,
    (k, key, hashes): (usize, &str, &str),
    template: &(
        ctl_providerd::config::Config,
        Vec<ctl_providerd::config::Config>,
    ),
    hash: Option<&str>,
    providers: &tokio::runtime::Handle,
) -> f64 {
    let one_node = (template.0.clone(), Vec::new());
    let single = start(root, k, &one_node, hash, providers);
    let superc = start(root, k + 1, template, hash, providers);
    let clients = tokio::runtime::Runtime::new().unwrap();
    let (one, n1, _) = clients.block_on(mixed_mode(single));
    let (many, n28, size) = clients.block_on(mixed_mode(superc));
    assert_eq!((n1, n28), (1, 28), "every target committed");
    let label = |what: &str| format!("{what}, {hashes}");
    report::figure(
        &format!("{key}.one_node"),
        &label("one node (1 target)"),
        ms(one),
        0,
        "ms",
        None,
    );
    report::figure(
        &format!("{key}.supercluster"),
        &label("supercluster (28 targets)"),
        ms(many),
        0,
        "ms",
        None,
    );
    report::figure(
        &format!("{key}.ctl_bytes"),
        "the supercluster's CTL, bytes",
        size as f64,
        0,
        "",
        None,
    );
    many.as_secs_f64() / one.as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What one password check of a real node costs here (argon2id, 19 MiB, 2 passes).
fn password_check() -> Duration {
    use argon2::{PasswordHasher as _, PasswordVerifier as _};
    let a = argon2::Argon2::default();
    let hash = a.hash_password(b"bench").unwrap().to_string();
    let parsed = argon2::PasswordHash::new(&hash).unwrap();
    let t = Instant::now();
    a.verify_password(b"bench", &parsed).unwrap();
    t.elapsed()
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    // The providers run on a runtime of their own; each client on another.
    let providers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "1 + 28 providers in-process, each answering after {} ms ...",
        DELAY.as_millis()
    );
    let template = template(&tmp.path().join("template"));

    // The client's own cost: nodes whose password check is cheap, as it is on a node's
    // own machine relative to the round trip.
    let light = compare(
        tmp.path(),
        (0, "supercluster.light", "64 KiB password hashes"),
        &template,
        Some(&light_hash()),
        providers.handle(),
    );
    // A sequential client would be about 28.
    report::ratio(
        "supercluster.light",
        "supercluster / one node, 64 KiB password hashes",
        light,
        Some(Target::AtMost(3.0)),
    );

    // The same with the nodes' real password hashes: 28 checks then share this machine's
    // cores, where a real supercluster runs each on its own node.
    let check = password_check();
    report::figure(
        "supercluster.password_check",
        "one real argon2id password check (19 MiB), of one core",
        ms(check),
        1,
        "ms",
        None,
    );
    let real = compare(
        tmp.path(),
        (
            2,
            "supercluster.real",
            "real argon2id hashes on shared cores",
        ),
        &template,
        None,
        providers.handle(),
    );
    report::ratio(
        "supercluster.real",
        "supercluster / one node, real argon2id hashes on shared cores (information)",
        real,
        None,
    );
}
