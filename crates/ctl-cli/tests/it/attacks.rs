//! Issue 10's attacks through the `ctl` binary: providers in this process, one of which
//! lies (ctl-test-support's rogue node).

use std::process::{Command, Output};

use ctl_format::Role;
use ctl_test_support::rogue::{reported, start_rogue};
use ctl_test_support::{local, node_setup};

use crate::support::{connect_args, password_file, stderr};

fn key(name: &str) -> String {
    ctl_test_support::keys()
        .join(format!("{name}.pem"))
        .display()
        .to_string()
}

fn ctl(dir: &std::path::Path, port: u16, args: &[&str]) -> Output {
    let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    all.extend(connect_args(&format!("127.0.0.1:{port}"), dir));
    all.push("--yes".into());
    Command::new(env!("CARGO_BIN_EXE_ctl"))
        .args(&all)
        .output()
        .unwrap()
}

/// Findings 1 and 3: a rogue subsequent node's key offered as a SAST, and a rogue first
/// node's forged current CTL, are refused by the binary before the token signs.
#[test]
fn lying_nodes_get_nothing_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let (sub, sub_lies) = start_rogue(&node_setup(
        &tmp.path().join("sub"),
        "cucm-sub",
        0,
        &["callmanager", "provider"],
    ));
    let mut first = node_setup(
        &tmp.path().join("pub"),
        "cucm-pub",
        0,
        &["callmanager", "tftp", "capf", "provider"],
    );
    first.first_node(true).member(local("cucm-sub", sub.port));
    let (first, first_lies) = start_rogue(&first);
    password_file(&tmp.path().join("pub"));
    let ctl_of = |n: &str| std::fs::read(tmp.path().join(n).join("tftp/CTLFile.tlv")).ok();
    let mixed = [
        "cluster",
        "set-mode",
        "mixed",
        "--token",
        &key("sast1"),
        "--token",
        &key("sast2"),
    ];

    sub_lies.lock().unwrap().extra_certificates = vec![reported("tvs", Role::SAST)];
    let o = ctl(tmp.path(), first.port, &mixed);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cucm-sub reports a certificate as SAST"),
        "{}",
        stderr(&o)
    );
    assert_eq!((ctl_of("pub"), ctl_of("sub")), (None, None));

    sub_lies.lock().unwrap().extra_certificates.clear();
    let o = ctl(tmp.path(), first.port, &mixed);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let committed = ctl_of("pub").unwrap();

    // The first node now hands out a forged current CTL: a client holding the committed
    // one (kept beside its known-providers file) refuses it.
    let forged = {
        let mut b = ctl_format::TrustListBuilder::new();
        b.timestamp(u32::MAX - 100);
        for (name, role) in [
            ("tvs", Role::SAST),
            ("sast1", Role::SAST),
            ("ccm", Role::CCM),
        ] {
            b.push(ctl_format::RecordSpec::new(
                ctl_test_support::certificate(name),
                role,
            ));
        }
        let attacker =
            ctl_token::SoftwareSigner::from_files(std::path::Path::new(&key("tvs")), None).unwrap();
        b.build(&attacker).unwrap()
    };
    first_lies.lock().unwrap().current_ctl = Some(forged);
    let o = ctl(
        tmp.path(),
        first.port,
        &["cluster", "update", "--token", &key("sast1")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not trusted"), "{}", stderr(&o));
    assert_eq!(ctl_of("pub").unwrap(), committed);
    assert_eq!(ctl_of("sub").unwrap(), committed);
}
