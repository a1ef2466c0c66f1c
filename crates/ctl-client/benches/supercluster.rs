//! First-time mixed mode on a supercluster against the same on one node, measured in one run.
//!
//! The supercluster of the Cisco guide: 1 first node, 16 CallManager nodes, 2 TFTP nodes and
//! 9 media-resource nodes, 28 CTL providers in this process on loopback, each answering every
//! request after an injected 20 ms delay (a WAN-ish round trip). The client contacts the
//! nodes concurrently, so the run should cost a few round trips, not 28 times one.
//! Target: supercluster time <= 3 x one-node time.
//!
//! Run: `cargo bench -p ctl-client --bench supercluster`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::path::Path;

mod support;

use support::{DELAY, init, mixed_mode, serve, supercluster_members};

/// Starts a cluster with these subsequent nodes on `rt`; returns the first node's address.
fn cluster(root: &Path, others: &[(String, &str)], rt: &tokio::runtime::Handle) -> SocketAddr {
    let mut members = Vec::new();
    for (name, services) in others {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = init(&root.join(name), name, port, services, false, Vec::new());
        serve(config, listener, rt);
        members.push(format!("{name}=127.0.0.1:{port}"));
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = init(
        &root.join("pub"),
        "pub",
        addr.port(),
        "callmanager,tftp,capf,provider",
        true,
        members,
    );
    serve(config, listener, rt);
    addr
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let others = supercluster_members();
    // The providers run on a runtime of their own; the client on another.
    let providers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "starting 1 + 28 providers in-process (each answers after {} ms) ...",
        DELAY.as_millis()
    );
    let single = cluster(&tmp.path().join("single"), &[], providers.handle());
    let superc = cluster(&tmp.path().join("super"), &others, providers.handle());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (one, n1, _) = rt.block_on(mixed_mode(single));
    let (many, n28, size) = rt.block_on(mixed_mode(superc));
    let ratio = many.as_secs_f64() / one.as_secs_f64();
    println!(
        "first-time mixed mode, one node ({n1} target): {:.0} ms",
        one.as_secs_f64() * 1e3
    );
    println!(
        "first-time mixed mode, supercluster ({n28} targets, CTL {size} bytes): {:.0} ms",
        many.as_secs_f64() * 1e3
    );
    println!(
        "RATIO supercluster / one node = {ratio:.2} (target <= 3.00: {}; a sequential client would be about 28)",
        if ratio <= 3.0 {
            "within target"
        } else {
            "OVER TARGET"
        }
    );
}
