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
//! Run: `cargo bench -p ctl-client --bench fleet` (`FLEET=N` for another number of clusters).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use ctl_providerd::config::{Config, MemberConfig};

mod support;

use support::{DELAY, init, mixed_mode, serve, supercluster_members};

/// An argon2id hash of `bench` with 64 KiB of memory.
fn light_hash() -> String {
    use argon2::PasswordHasher as _;
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(b"bench")
        .unwrap()
        .to_string()
}

/// The node configurations of one supercluster, made once: the first node's, then the others'.
fn template(root: &Path) -> (Config, Vec<Config>) {
    let others = supercluster_members()
        .iter()
        .map(|(name, services)| init(&root.join(name), name, 0, services, false, Vec::new()))
        .collect();
    let first = init(
        &root.join("pub"),
        "pub",
        0,
        "callmanager,tftp,capf,provider",
        true,
        Vec::new(),
    );
    (first, others)
}

/// Starts supercluster `k` from the template, with directories of its own under `root`.
fn start(
    root: &Path,
    k: usize,
    (first, others): &(Config, Vec<Config>),
    hash: &str,
    rt: &tokio::runtime::Handle,
) -> SocketAddr {
    let own = |template: &Config| {
        let mut c = template.clone();
        let dir = root.join(format!("c{k}")).join(&c.node);
        c.tftp_dir = dir.join("tftp");
        c.state_dir = dir.join("state");
        for u in &mut c.users {
            u.password_hash = hash.to_owned();
        }
        c
    };
    let mut members = Vec::new();
    for t in others {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = own(t);
        members.push(MemberConfig {
            name: config.node.clone(),
            host: "127.0.0.1".into(),
            port: listener.local_addr().unwrap().port(),
            services: config.services.clone(),
            addresses: Vec::new(),
        });
        serve(config, listener, rt);
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = own(first);
    config.members = members;
    serve(config, listener, rt);
    addr
}

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
        .map(|k| start(tmp.path(), k, &template, &hash, providers.handle()))
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
