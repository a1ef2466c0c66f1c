//! Load: 1,000 concurrent sessions fetching the CTL from one `ctl-providerd` on loopback.
//!
//! The sessions are opened first (TLS, HELLO and a login each; logins are paced by the
//! daemon's password-hashing limit, reported as setup time), then all 1,000 send GET_CTL at
//! once for a maximal 64 KiB CTL. Reported: successes, p50/p99 latency of the fetch, and
//! the daemon's peak RSS. Targets: all succeed, p99 under 250 ms, RSS under 100 MiB.
//!
//! Run: `cargo bench -p ctl-providerd --bench load` (SESSIONS=N to change the count).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctl_format::{Certificate, RecordSpec, Role as CtlRole, TrustListBuilder};
use ctl_provider::message::{Password, Request, Response};
use ctl_provider::net::{Session, client_tls};
use ctl_provider::trust::{Fingerprints, fingerprint};
use ctl_test_support::daemon::peak_rss_kib;
use ctl_test_support::report::{self, Target};

const BIN: &str = env!("CARGO_BIN_EXE_ctl-providerd");

fn maximal_ctl(keys: &Path) -> Vec<u8> {
    let names = [
        "sast1",
        "sast2",
        "ccm",
        "tftp",
        "capf",
        "tvs",
        "itlrecovery",
    ];
    let certs: Vec<Certificate> = names
        .iter()
        .map(|n| {
            Certificate::from_der(&std::fs::read(keys.join(format!("{n}.crt.der"))).unwrap())
                .unwrap()
        })
        .collect();
    let signer = ctl_token::SoftwareSigner::from_files(&keys.join("sast1.pem"), None).unwrap();
    let mut b = TrustListBuilder::new();
    b.timestamp(1_735_689_600);
    for (i, c) in certs.iter().cycle().enumerate() {
        b.push(RecordSpec::new(
            c.clone(),
            if i < 2 {
                CtlRole::SAST
            } else {
                CtlRole::CCM_TFTP
            },
        ));
        if b.encoded_len(certs[0].der()).is_err() {
            b.remove(b.len() - 1);
            break;
        }
    }
    b.build(&signer).unwrap()
}

fn main() {
    let sessions: usize = std::env::var("SESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let keys = ctl_test_support::keys();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("password"), "s3cret\n").unwrap();
    let o = Command::new(BIN)
        .args([
            "init",
            "--dir",
            tmp.path().to_str().unwrap(),
            "--node",
            "load",
            "--listen",
            "127.0.0.1:0",
            "--user",
            "admin",
        ])
        .args([
            "--password-file",
            tmp.path().join("password").to_str().unwrap(),
            // The load is read-only sessions; the one admin session stages with a password.
            "--password-only",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let cfg = tmp.path().join("provider.toml");
    // Every session comes from 127.0.0.1: lift the per-source limits that would turn
    // this load away as a flood (the hostile bench measures those).
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(
            "max_sessions = 64",
            &format!("max_sessions = {}", sessions + 16),
        )
        .replace("max_unauthenticated = 32", "max_unauthenticated = 128")
        .replace(
            "max_unauthenticated_per_source = 4",
            "max_unauthenticated_per_source = 128",
        )
        .replace(
            "new_sessions_per_source = 10",
            "new_sessions_per_source = 100000",
        );
    std::fs::write(&cfg, text).unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line.trim().rsplit(' ').next().unwrap().parse().unwrap();
    let cert = Certificate::from_pem(&std::fs::read(tmp.path().join("callmanager.pem")).unwrap())
        .unwrap()
        .der()
        .to_vec();
    let tls = client_tls(Arc::new(Fingerprints(vec![fingerprint(&cert)]))).unwrap();
    let ctl = maximal_ctl(&keys);

    let pid = child.id();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let mut admin = Session::connect(addr, "localhost", Arc::clone(&tls), Duration::from_secs(30)).await.unwrap();
        admin.login("admin", &Password::new("s3cret")).await.unwrap();
        let Response::Staged(h) = admin.call(&Request::Stage { base: None, file: ctl.clone().into(), peers: None }).await.unwrap() else { panic!() };
        admin.call(&Request::Commit { hash: h }).await.unwrap();

        let setup = Instant::now();
        let connect = Arc::new(tokio::sync::Semaphore::new(64));
        let mut opening = tokio::task::JoinSet::new();
        for _ in 0..sessions {
            let (tls, connect) = (Arc::clone(&tls), Arc::clone(&connect));
            opening.spawn(async move {
                let _p = connect.acquire().await.unwrap();
                let mut c = Session::connect(addr, "localhost", tls, Duration::from_secs(120)).await?;
                c.login("admin", &Password::new("s3cret")).await?;
                Ok::<Session, ctl_provider::net::NetError>(c)
            });
        }
        let mut clients = Vec::new();
        let mut setup_failures = 0;
        while let Some(r) = opening.join_next().await {
            match r {
                Ok(Ok(c)) => clients.push(c),
                _ => setup_failures += 1,
            }
        }
        let setup_time = setup.elapsed();
        let start = Arc::new(tokio::sync::Barrier::new(clients.len()));
        let mut fetching = tokio::task::JoinSet::new();
        for mut c in clients {
            let start = Arc::clone(&start);
            let expected = ctl.len();
            fetching.spawn(async move {
                start.wait().await;
                let t = Instant::now();
                let ok = matches!(c.call(&Request::GetCtl).await, Ok(Response::Ctl(Some((_, f)))) if f.len() == expected);
                (ok, t.elapsed())
            });
        }
        let mut latencies = Vec::new();
        let mut ok = 0;
        while let Some(r) = fetching.join_next().await {
            let (success, d) = r.unwrap();
            ok += usize::from(success);
            latencies.push(d);
        }
        latencies.sort();
        let pct = |permille: usize| latencies.get((latencies.len() * permille).div_ceil(1000).saturating_sub(1)).copied().unwrap_or_default();
        let rss = peak_rss_kib(pid);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        report::figure("load.sessions", "sessions", sessions as f64, 0, "", None);
        report::figure("load.setup", "opening them all (TLS, HELLO, login)", setup_time.as_secs_f64(), 1, "s", None);
        report::figure("load.setup_failures", "sessions that failed to open", setup_failures as f64, 0, "", Some(Target::AtMost(0.0)));
        report::figure("load.ctl_bytes", "the CTL each fetches, bytes", ctl.len() as f64, 0, "", None);
        report::figure("load.fetched", "GET_CTL, all at once: fetches that succeeded", ok as f64 * 100.0 / sessions as f64, 1, "%", Some(Target::AtLeast(100.0)));
        report::figure("load.p50", "GET_CTL latency, p50", ms(pct(500)), 1, "ms", None);
        report::figure("load.p99", "GET_CTL latency, p99", ms(pct(990)), 1, "ms", Some(Target::Below(250.0)));
        report::figure("load.max", "GET_CTL latency, max", ms(pct(1000)), 1, "ms", None);
        report::figure("load.rss", "the daemon's peak RSS", rss as f64 / 1024.0, 1, "MiB", Some(Target::Below(100.0)));
    });
    let _ = child.kill();
    let _ = child.wait();
}
