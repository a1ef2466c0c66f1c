//! A fleet: first-time mixed mode on 50 superclusters at once from one client process,
//! against the same on one supercluster, measured in one run.
//!
//! Each supercluster is the Cisco guide's (1 first node, 16 CallManager, 2 TFTP, 9 media:
//! 28 providers), every provider answering after an injected 20 ms delay; 51 clusters,
//! 1,428 providers, all in this process on loopback, on one runtime of two threads, and the
//! clients on another. To fit 1,428 providers on one machine they share one set of node
//! certificates (generated once, for the first supercluster) and check passwords against
//! argon2id hashes of 64 KiB instead of the 19 MiB a real node uses (a node keeps that
//! memory per checking thread). There is no target: the figures go in the README.
//!
//! Run: `cargo bench -p ctl-benches --bench fleet` (`FLEET=N` for another number of clusters).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::time::Instant;

use ctl_benches::cluster::{DELAY, light_hash, mixed_mode, start, template};

/// The peak resident memory of this process, from /proc (Linux).
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() {
    let n: usize = std::env::var("FLEET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let tmp = tempfile::tempdir().unwrap();
    let providers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    let template = template(&tmp.path().join("template"));
    let hash = light_hash();
    let addrs: Vec<SocketAddr> = (0..=n)
        .map(|k| start(tmp.path(), k, &template, Some(&hash), providers.handle()))
        .collect();
    println!(
        "started {} superclusters, {} providers in-process (each answers after {} ms), in {:.1} s",
        n + 1,
        (n + 1) * 28,
        DELAY.as_millis(),
        t.elapsed().as_secs_f64()
    );

    let (one, targets, size) = clients.block_on(mixed_mode(addrs[0]));
    println!(
        "first-time mixed mode, one supercluster ({targets} targets, CTL {size} bytes): {:.0} ms",
        one.as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let runs = clients.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for a in &addrs[1..] {
            set.spawn(mixed_mode(*a));
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            out.push(r.unwrap());
        }
        out
    });
    let fleet = t.elapsed();
    let committed: usize = runs.iter().map(|r| r.1).sum();
    let slowest = runs.iter().map(|r| r.0).max().unwrap_or_default();
    println!(
        "first-time mixed mode, {n} superclusters at once ({committed} targets committed): {:.0} ms (slowest cluster {:.0} ms)",
        fleet.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3
    );
    println!(
        "RATIO fleet / one supercluster = {:.2} (sequential would be about {n}); {:.0} ms per cluster; peak RSS {} MiB",
        fleet.as_secs_f64() / one.as_secs_f64(),
        fleet.as_secs_f64() * 1e3 / n as f64,
        peak_rss_mib().map_or_else(|| "?".to_owned(), |m| m.to_string())
    );
    assert_eq!(committed, n * 28, "every target of every cluster committed");
}
