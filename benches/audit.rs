//! `ctl audit` of a tree of 10,000 per-device lists against one `ctl inspect` process per
//! file, as a shell loop over certutils-style tools does, measured in one run.
//!
//! The tree: a site provisioned for 10,000 phones (`PHONES=N`), an `ITLSEP<MAC>.tlv` each.
//! The loop's cost per file is measured over the first 2,000 files (`LOOP=N`) and scaled
//! to the whole tree (it is one process start and one parse per file, linear in files).
//! Target: `ctl audit` at least 20 x faster.
//!
//! Needs the release `ctl` binary beside the bench: `cargo build --release -p ctl-cli`
//! first (`scripts/bench` does).
//!
//! Run: `cargo bench -p ctl-benches --bench audit`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::process::{Command, Stdio};
use std::time::Instant;

use ctl_site::{Manifest, Options, provision};
use ctl_test_support::report::{self, Target};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let phones = env("PHONES", 10_000);
    let sample = env("LOOP", 2_000).min(phones).max(1);
    let exe = std::env::current_exe().unwrap();
    let ctl = exe.parent().and_then(|d| d.parent()).unwrap().join("ctl");
    assert!(
        ctl.exists(),
        "{} is missing: run `cargo build --release -p ctl-cli` first",
        ctl.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::new();
    for i in 0..phones {
        csv.push_str(&format!("00BB{i:08X}\n"));
    }
    fs::write(tmp.path().join("phones.csv"), csv).unwrap();
    let keys = ctl_test_support::keys();
    fs::write(
        tmp.path().join("trust.toml"),
        format!(
            "out = \"tftp\"\nsast = [\"{k}/sast1.pem\", \"{k}/sast2.pem\"]\ntftp = \"{k}/tftp.pem\"\n\
             devices_csv = \"phones.csv\"\n",
            k = keys.display()
        ),
    )
    .unwrap();
    let manifest = Manifest::load(&tmp.path().join("trust.toml")).unwrap();
    provision(&manifest, &Options::new(1_767_225_600)).unwrap();
    let tree = tmp.path().join("tftp");

    let start = Instant::now();
    let out = Command::new(&ctl)
        .arg("audit")
        .arg(&tree)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    let one = start.elapsed();
    // Exit 1: the tree names phones (their lists) but holds no configuration for them.
    assert!(
        matches!(out.code(), Some(0 | 1)),
        "ctl audit of the provisioned tree: {out}"
    );

    let mut files: Vec<_> = fs::read_dir(&tree)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("ITLSEP"))
        .collect();
    files.sort_unstable();
    let list: Vec<String> = files
        .iter()
        .take(sample)
        .map(|n| tree.join(n).display().to_string())
        .collect();
    let script = "for f in \"$@\"; do \"$CTL\" inspect \"$f\" > /dev/null || exit 1; done";
    let start = Instant::now();
    let status = Command::new("sh")
        .args(["-c", script, "sh"])
        .args(&list)
        .env("CTL", &ctl)
        .status()
        .unwrap();
    let looped = start.elapsed();
    assert!(status.success(), "the inspect loop");
    let per_file = looped.as_secs_f64() / sample as f64;
    let loop_all = per_file * files.len() as f64;
    report::figure(
        "audit.files",
        "files in the tree",
        (files.len() + 2) as f64,
        0,
        "",
        None,
    );
    report::figure(
        "audit.one",
        "one `ctl audit` of the tree",
        one.as_secs_f64() * 1e3,
        0,
        "ms",
        None,
    );
    report::figure(
        "audit.per_file",
        "one `ctl inspect` process per file, each",
        per_file * 1e3,
        1,
        "ms",
        None,
    );
    report::figure(
        "audit.loop",
        "one `ctl inspect` per file, scaled to the tree",
        loop_all,
        1,
        "s",
        None,
    );
    report::ratio(
        "audit.ratio",
        "the inspect loop / ctl audit",
        loop_all / one.as_secs_f64(),
        Some(Target::AtLeast(20.0)),
    );
}
