//! Faults during distribution: a stopped node, a node down, a node that refuses the stage,
//! a node killed between stage and commit; no node diverges and a re-run converges.

use super::*;

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn faults_during_distribution_leave_no_node_diverged_and_a_rerun_converges() {
    let c = Cluster::start();
    // Software keys here (the tokens are the first test's business): the faults are the nodes'.
    let (sast1, sast2) = (
        crate::support::v("keys/sast1.pem"),
        crate::support::v("keys/sast2.pem"),
    );
    let o = c.ctl(&[
        "cluster", "set-mode", "mixed", "--token", &sast1, "--token", &sast2, "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = c.assert_converged(&MEMBERS);
    let update = |c: &Cluster| c.ctl(&["cluster", "update", "--token", &sast1, "--yes", "--json"]);

    // A node stopped (SIGSTOP: it accepts connections and never answers): the client gives
    // up on it after --timeout, names it, and sends nothing anywhere.
    c.process("sub").signal("-STOP");
    let o = update(&c);
    c.process("sub").signal("-CONT");
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("sub1"), "{}", text(&o));
    assert!(
        text(&o).to_lowercase().contains("timed out"),
        "{}",
        text(&o)
    );
    assert_eq!(sha256(&c.assert_converged(&MEMBERS)), sha256(&before));

    // A node down: named, and nothing sent.
    let mut nodes = c;
    let (_, sub) = nodes.nodes.remove(1);
    drop(sub);
    let o = update(&nodes);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("sub1"), "{}", text(&o));
    assert_eq!(sha256(&nodes.assert_converged(&MEMBERS)), sha256(&before));

    // Back up: a re-run converges.
    nodes
        .nodes
        .insert(1, ("sub", run_node(&nodes.node_dir("sub"))));
    let o = update(&nodes);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let after = nodes.assert_converged(&MEMBERS);
    assert_ne!(sha256(&after), sha256(&before));

    // A node that refuses the stage (it holds a CTL of other tokens, as after a reinstall
    // from another cluster's backup): every staged copy is aborted, nobody changes, the
    // report names the refusal; once its file is put back, a re-run converges.
    let foreign = {
        let signer = ctl_token::SoftwareSigner::from_files(
            Path::new(&crate::support::v("keys/itlrecovery.pem")),
            None,
        )
        .unwrap();
        let cert =
            ctl_format::Certificate::from_der(ctl_format::Signer::certificate(&signer)).unwrap();
        let mut b = ctl_format::TrustListBuilder::new();
        b.timestamp(1_800_000_000)
            .push(ctl_format::RecordSpec::new(cert, Role::SAST));
        b.build(&signer).unwrap()
    };
    // The node's own copy, in its state directory (the TFTP one only publishes it).
    let sub_ctl = nodes.node_dir("sub").join("state/CTLFile.tlv");
    std::fs::write(&sub_ctl, &foreign).unwrap();
    let o = update(&nodes);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let j = json(&o);
    let st = statuses(&j);
    assert!(
        st.iter().all(|(n, s)| if n == "sub1" {
            s == "failed"
        } else {
            s == "aborted"
        }),
        "{j}"
    );
    assert!(text(&o).contains("stage refused"), "{}", text(&o));
    assert_eq!(sha256(&nodes.ctl_file("pub")), sha256(&after));
    assert_eq!(sha256(&nodes.ctl_file("tftp")), sha256(&after));
    assert_eq!(sha256(&std::fs::read(&sub_ctl).unwrap()), sha256(&foreign));
    std::fs::write(&sub_ctl, &after).unwrap();

    // A node killed (SIGKILL) after every target staged and before the commits: the others
    // commit, the report names the dead node and its commit failure, and a re-run converges.
    let sub_pid = nodes.process("sub").child.id();
    let sub_port = nodes.ports[1];
    let staged = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&staged);
    let (host, port) = nodes.publisher.rsplit_once(':').unwrap();
    let client = ctl_client::Client::builder(
        host,
        port.parse().unwrap(),
        "admin",
        ctl_client::Password::new("s3cret"),
    )
    .trust(ctl_client::TrustPolicy {
        known: ctl_client::known::load(&nodes.dir.path().join("known")).unwrap(),
        fingerprints: Vec::new(),
        ctl_identities: Vec::new(),
        trust_on_first_use: false,
    })
    .timeout(Duration::from_secs(3))
    .on_event(move |event| {
        if matches!(event, ctl_client::Event::Staged { .. })
            && seen.fetch_add(1, Ordering::SeqCst) + 1 == MEMBERS.len()
        {
            let killed = Command::new("kill")
                .args(["-KILL", &sub_pid.to_string()])
                .status()
                .unwrap();
            assert!(killed.success());
            // Gone once its port refuses connections.
            while std::net::TcpStream::connect(("127.0.0.1", sub_port)).is_ok() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    })
    .build();
    // With a change (an update that changes nothing sends nothing): a third token.
    let signer = ctl_token::SoftwareSigner::from_files(Path::new(&sast1), None).unwrap();
    let changes = ctl_client::Changes {
        add_tokens: vec![
            ctl_format::Certificate::from_pem(
                &std::fs::read(crate::support::v("keys/itlrecovery.crt.pem")).unwrap(),
            )
            .unwrap(),
        ],
        ..ctl_client::Changes::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(client.update(Arc::new(signer), &changes));
    let staged_on = staged.load(Ordering::SeqCst);
    assert_eq!(
        staged_on,
        MEMBERS.len(),
        "{:?}",
        result.as_ref().map(|o| (o.unchanged, o.notes.clone()))
    );
    let report = match result {
        Ok(outcome) => outcome.distribution,
        Err(ctl_client::Error::Distribution(report)) => *report,
        Err(e) => panic!("unexpected: {e}"),
    };
    let status_of = |name: &str| {
        report
            .targets
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .status
            .clone()
    };
    assert!(status_of("cucm-pub").is_committed());
    assert!(status_of("tftp1").is_committed());
    // Issue 12: killed before its COMMIT was answered, it was reported failed; whether
    // it committed is unknown to the client, and the report says what tells.
    match status_of("sub1") {
        ctl_client::TargetStatus::Unknown(reason) => {
            let text = reason.to_string();
            assert!(text.contains("no answer to COMMIT"), "{text}");
            assert!(text.contains("ctl cluster status"), "{text}");
            // Issue 12: rustls' own words named its docs URL here.
            assert!(
                !text.contains("http") && !text.contains("close_notify"),
                "{text}"
            );
        }
        other => panic!("sub1: {other:?}"),
    }
    // sub1 still holds the previous file, whole (its write is atomic).
    assert_eq!(sha256(&nodes.ctl_file("sub")), sha256(&after));
    let (_, dead) = nodes.nodes.remove(1);
    drop(dead);
    nodes
        .nodes
        .insert(1, ("sub", run_node(&nodes.node_dir("sub"))));
    let o = update(&nodes);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    nodes.assert_converged(&MEMBERS);
}
