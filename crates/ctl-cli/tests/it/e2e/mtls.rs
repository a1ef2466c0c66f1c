//! Nodes that require a SAST client certificate, and the token as the TLS identity.

use super::*;

/// Nodes that stage and commit only for a SAST client certificate: the `ctl` binary
/// authenticates its TLS sessions with the signing SoftHSM2 token (`--tls-with-token`;
/// the token signs the TLS 1.3 handshakes, RSASSA-PSS), and without it nothing changes.
#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn nodes_that_require_a_sast_client_certificate_take_the_token_as_tls_identity() {
    let lab = Lab::new();
    lab.init_generated("SAST1", "1234");
    lab.init_generated("SAST2", "5678");
    let dir = tempfile::tempdir().unwrap();
    let init = |name: &str, args: &[&str]| {
        let node = dir.path().join(name);
        let mut args = args.to_vec();
        args.push("--require-sast-client-certificate");
        init_node(&node, 0, &args);
        run_node(&node)
    };
    let sub = init(
        "sub",
        &["--node", "sub1", "--services", "callmanager,provider"],
    );
    let member = format!("sub1=127.0.0.1:{}", sub.addr.port());
    let mut first = FIRST_NODE.to_vec();
    first.extend(["--member", &member]);
    let first = init("pub", &first);
    let p1 = first.addr.port();
    let nodes = [first, sub];
    let connect = crate::support::connect_args(&format!("127.0.0.1:{p1}"), dir.path());
    let ctl = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(connect.iter().map(String::as_str));
        all.extend(["--yes", "--json"]);
        lab.ctl(&all)
    };
    let (t1, t2) = (lab.uri("SAST1", "SAST1.pin"), lab.uri("SAST2", "SAST2.pin"));
    let ctl_of = |name: &str| std::fs::read(dir.path().join(name).join("tftp/CTLFile.tlv")).ok();

    // Without a TLS identity (the password alone): every node refuses the stage, nothing
    // is written.
    let o = ctl(&[
        "cluster",
        "set-mode",
        "mixed",
        "--token",
        &t1,
        "--token",
        &t2,
        "--password-only",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("client certificate"), "{}", text(&o));
    assert!(ctl_of("pub").is_none() && ctl_of("sub").is_none());

    // With the signing token as TLS identity (the default; the flag says it again): done.
    let o = ctl(&[
        "cluster",
        "set-mode",
        "mixed",
        "--token",
        &t1,
        "--token",
        &t2,
        "--tls-with-token",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = ctl_of("pub").unwrap();
    assert_eq!(ctl_of("sub").unwrap(), first);

    // An update signed and authenticated by the first token; refused without the identity.
    let o = ctl(&["cluster", "update", "--token", &t1, "--password-only"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(ctl_of("pub").unwrap(), first);
    let o = ctl(&["cluster", "update", "--token", &t1, "--tls-with-token"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let updated = ctl_of("pub").unwrap();
    assert_ne!(updated, first);
    assert_eq!(ctl_of("sub").unwrap(), updated);
    assert!(!text(&o).contains("1234") && !text(&o).contains("5678"));

    // Non-secure mode with the password alone (issue 10, finding 6): the nodes refuse the
    // change, their CTL stays.
    let o = ctl(&[
        "cluster",
        "set-mode",
        "non-secure",
        "--token",
        &t1,
        "--password-only",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("client certificate"), "{}", text(&o));
    assert_eq!(ctl_of("pub").unwrap(), updated);
    assert_eq!(ctl_of("sub").unwrap(), updated);
    drop(nodes);
}
