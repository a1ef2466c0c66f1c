//! A fleet: first-time mixed mode on 50 superclusters at once from one client process,
//! against the same on one supercluster, measured in one run.
//!
//! Each supercluster is the Cisco guide's (1 first node, 16 CallManager, 2 TFTP, 9 media:
//! 28 providers), every provider answering after an injected 20 ms delay; 51 clusters,
//! 1,428 providers, all in this process on loopback, on one runtime of two threads, and the
//! clients on another. To fit 1,428 providers on one machine they share one set of node
//! certificates (generated once, for the first supercluster) and check passwords against
//! argon2id hashes of 64 KiB instead of the 19 MiB a real node uses (a node keeps that
//! memory per checking thread). Its targets are the allocation counts below.
//!
//! It also counts, during the fleet run, the allocations of more than 32 KiB (a CTL is
//! 44 KiB here: each such allocation is about one copy of the file), on the client's
//! threads and on the nodes' threads apart, per target (target: at most one each). A node
//! reads a STAGE into one buffer of its size and keeps the file as a slice of it, and the
//! client sends every target the same buffer; what the client still allocates is the
//! workflow's, once per cluster (the CTL built for the preview and for signing, signed,
//! held), not the protocol's (issue 16's zero-copy frames). The counting
//! allocator adds a small header to every allocation, so the peak RSS is a little above
//! an uncounted run's.
//!
//! Run: `cargo bench -p ctl-benches --bench fleet` (`FLEET=N` for another number of clusters).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use tracking_allocator::{
    AllocationGroupId, AllocationGroupToken, AllocationRegistry, AllocationTracker, Allocator,
};

use ctl_benches::Target;
use ctl_benches::cluster::{DELAY, light_hash, mixed_mode, start, template};
use ctl_test_support::report;

#[global_allocator]
static GLOBAL: Allocator<std::alloc::System> = Allocator::system();

/// Allocations above this size are counted: a copy of a file, not a small buffer.
const LARGE: usize = 32 * 1024;

/// The allocation groups of each side's threads (one group per thread), and their counts.
struct Side {
    groups: [AtomicUsize; 1024],
    large: AtomicU64,
}

impl Side {
    const fn new() -> Self {
        Self {
            groups: [const { AtomicUsize::new(0) }; 1024],
            large: AtomicU64::new(0),
        }
    }

    fn owns(&self, id: usize) -> bool {
        self.groups.iter().any(|g| g.load(Ordering::Relaxed) == id)
    }

    /// Puts the calling thread in a new allocation group of this side, for good.
    fn enter(&'static self) {
        let token: &'static mut AllocationGroupToken =
            Box::leak(Box::new(AllocationGroupToken::register().unwrap()));
        let id = token.id().as_usize().get();
        let placed = self.groups.iter().any(|g| {
            g.compare_exchange(0, id, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        });
        assert!(placed, "more threads than the bench counts allocations for");
        // The guard would leave the group when dropped: this thread stays in it.
        std::mem::forget(token.enter());
    }
}

static CLIENT: Side = Side::new();
static NODES: Side = Side::new();

struct LargeAllocations;

impl AllocationTracker for LargeAllocations {
    fn allocated(&self, _addr: usize, size: usize, _wrapped: usize, group: AllocationGroupId) {
        if size <= LARGE {
            return;
        }
        let id = group.as_usize().get();
        for side in [&CLIENT, &NODES] {
            if side.owns(id) {
                side.large.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn deallocated(
        &self,
        _: usize,
        _: usize,
        _: usize,
        _: AllocationGroupId,
        _: AllocationGroupId,
    ) {
    }
}

/// A memory figure of this process from /proc/self/status (Linux), in KiB: `VmRSS` (now)
/// or `VmHWM` (the peak).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let n: usize = std::env::var("FLEET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let tmp = tempfile::tempdir().unwrap();
    AllocationRegistry::set_global_tracker(LargeAllocations).unwrap();
    let providers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(|| NODES.enter())
        .enable_all()
        .build()
        .unwrap();
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(|| CLIENT.enter())
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
    assert_eq!(targets, 28, "every target of one supercluster committed");
    report::figure(
        "fleet.ctl_bytes",
        "the CTL, bytes",
        size as f64,
        0,
        "",
        None,
    );
    report::figure(
        "fleet.one",
        "first-time mixed mode, one supercluster alone (28 targets)",
        one.as_secs_f64() * 1e3,
        0,
        "ms",
        None,
    );
    // The fleet run is what is counted; the main thread drives the client's runtime. Its
    // memory too: from what the process holds now, with the peak reset to it (start-up's
    // 28 real argon2 hashes of 19 MiB are sometimes kept by the allocator and sometimes
    // returned, which moves the whole process's peak by about 370 MiB from run to run).
    let start_peak = status_kib("VmHWM:");
    let before_fleet = status_kib("VmRSS:");
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    CLIENT.enter();
    AllocationRegistry::enable_tracking();
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
    AllocationRegistry::disable_tracking();
    let committed: usize = runs.iter().map(|r| r.1).sum();
    let slowest = runs.iter().map(|r| r.0).max().unwrap_or_default();
    report::figure(
        "fleet.clusters",
        "superclusters at once (FLEET)",
        n as f64,
        0,
        "",
        None,
    );
    report::figure(
        "fleet.all",
        "first-time mixed mode, all of them at once",
        fleet.as_secs_f64() * 1e3,
        0,
        "ms",
        None,
    );
    report::figure(
        "fleet.per_cluster",
        "the same, per supercluster",
        fleet.as_secs_f64() * 1e3 / n as f64,
        0,
        "ms",
        None,
    );
    report::figure(
        "fleet.slowest",
        "the slowest supercluster of the fleet run",
        slowest.as_secs_f64() * 1e3,
        0,
        "ms",
        None,
    );
    // Sequential would be about n.
    report::ratio(
        "fleet.ratio",
        "all at once / one alone (sequential: about FLEET)",
        fleet.as_secs_f64() / one.as_secs_f64(),
        None,
    );
    let fleet_peak = status_kib("VmHWM:");
    if let Some(peak) = start_peak.max(fleet_peak) {
        report::figure(
            "fleet.process_peak",
            "the whole process's peak RSS",
            (peak / 1024) as f64,
            0,
            "MiB",
            None,
        );
    }
    // Without /proc (or /proc/self/clear_refs) these lines are missing, which
    // scripts/bench reports.
    if let (true, Some(b), Some(p)) = (reset, before_fleet, fleet_peak) {
        report::figure(
            "fleet.run_peak",
            "the fleet run's own peak RSS, over what the process held when it started",
            (p.saturating_sub(b) / 1024) as f64,
            0,
            "MiB",
            None,
        );
    }
    let per_target = |side: &Side| side.large.load(Ordering::Relaxed) as f64 / committed as f64;
    report::figure(
        "fleet.client_large",
        "allocations over 32 KiB per target, the client's threads",
        per_target(&CLIENT),
        2,
        "",
        Some(Target::AtMost(1.0)),
    );
    report::figure(
        "fleet.nodes_large",
        "allocations over 32 KiB per target, the nodes' threads",
        per_target(&NODES),
        2,
        "",
        Some(Target::AtMost(1.0)),
    );
    assert_eq!(committed, n * 28, "every target of every cluster committed");
}
