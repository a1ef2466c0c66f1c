//! End to end with nothing simulated: separate `ctl-providerd` processes for a three-node
//! cluster (and a firewall), SAST keys generated on SoftHSM2 tokens, the `ctl` binary, and a
//! Debian TFTP server (`in.tftpd` of tftpd-hpa) serving a node's TFTP directory to a real TFTP
//! client that downloads `CTLFile.tlv` as a phone does.
//!
//! `ctl-providerd` is found next to `ctl` in the target directory; `cargo test --workspace` (and
//! `scripts/test`) builds it. tftpd-hpa and tftp-hpa are installed by `scripts/test`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{Lab, stderr, stdout};
use ctl_format::{Role, RsaVerifier, parse_trust_list, phone_accepts};
use ctl_test_support::daemon::{self, Daemon};

/// A port for a `ctl-providerd` process that is restarted on the same port in the test
/// (bound here, then released for the process to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `ctl-providerd` binary of this build.
fn providerd() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_ctl")).with_file_name("ctl-providerd");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p ctl-providerd`; `cargo test --workspace` does)",
        bin.display()
    );
    bin
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ctl-providerd init` for a node listening on `port`.
fn init_node(dir: &Path, port: u16, args: &[&str]) {
    daemon::init(&providerd(), dir, &format!("127.0.0.1:{port}"), args);
}

/// `ctl-providerd run`, once it says it listens.
fn run_node(dir: &Path) -> Daemon {
    daemon::run(&providerd(), dir)
}

/// Whether this process runs as root (the owner of its own /proc entry).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// tftpd-hpa serving `dir` on a loopback UDP port.
fn tftpd(dir: &Path) -> (Process, u16) {
    let port = free_udp_port();
    // In /usr/sbin, which is not on every user's PATH.
    let server = ["/usr/sbin/in.tftpd", "in.tftpd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("in.tftpd");
    let mut cmd = Command::new(server);
    cmd.args(["--listen", "--foreground", "--address"])
        .arg(format!("127.0.0.1:{port}"));
    // As root it chroots into the directory and runs as root there; otherwise it serves
    // absolute paths as the current user.
    if running_as_root() {
        cmd.args(["--secure", "--user", "root"]).arg(dir);
    } else {
        cmd.arg(dir);
    }
    let child = cmd
        .stdin(Stdio::null())
        .spawn()
        .expect("in.tftpd (tftpd-hpa) is required: apt-get install tftpd-hpa tftp-hpa");
    (Process(child), port)
}

/// A phone's download: the TFTP client of tftp-hpa fetching `name` in binary mode.
fn tftp_get(port: u16, dir: &Path, name: &str, out: &Path) -> Vec<u8> {
    let remote = if running_as_root() {
        name.to_owned()
    } else {
        dir.join(name).display().to_string()
    };
    let _ = std::fs::remove_file(out);
    // The server may still be binding: a few tries.
    for _ in 0..50 {
        let o = Command::new("tftp")
            .args(["-m", "binary", "127.0.0.1", &port.to_string(), "-c", "get"])
            .arg(&remote)
            .arg(out)
            .stdin(Stdio::null())
            .output()
            .expect("tftp (tftp-hpa) is required: apt-get install tftp-hpa");
        if let Ok(bytes) = std::fs::read(out)
            && !bytes.is_empty()
            && o.status.success()
        {
            return bytes;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no TFTP download of {name} from 127.0.0.1:{port}");
}

/// The cluster: a first node (CallManager, TFTP, CAPF), a subsequent CallManager node, a TFTP
/// node, and a firewall's provider that is not a member; each a `ctl-providerd` process.
struct Cluster {
    lab: Lab,
    dir: tempfile::TempDir,
    publisher: String,
    nodes: Vec<(&'static str, Daemon)>,
    firewall: String,
    /// Provider ports of pub, sub, tftp and asa.
    ports: Vec<u16>,
}

impl Cluster {
    fn start() -> Self {
        let lab = Lab::new();
        lab.init_generated("SAST1", "1234");
        lab.init_generated("SAST2", "5678");
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
        let sub = format!("sub1=127.0.0.1:{}", ports[1]);
        let tftp = format!("tftp1=127.0.0.1:{}", ports[2]);
        let specs: [(&str, Vec<&str>); 4] = [
            (
                "pub",
                vec![
                    "--node",
                    "cucm-pub",
                    "--first-node",
                    "--services",
                    "callmanager,tftp,capf,provider",
                    "--member",
                    &sub,
                    "--member",
                    &tftp,
                ],
            ),
            (
                "sub",
                vec!["--node", "sub1", "--services", "callmanager,provider"],
            ),
            (
                "tftp",
                vec!["--node", "tftp1", "--services", "tftp,provider"],
            ),
            ("asa", vec!["--node", "asa1", "--services", "provider"]),
        ];
        let mut nodes = Vec::new();
        for ((name, args), port) in specs.iter().zip(&ports) {
            init_node(&dir.path().join(name), *port, args);
            nodes.push((*name, run_node(&dir.path().join(name))));
        }
        Self {
            lab,
            publisher: format!("127.0.0.1:{}", ports[0]),
            firewall: format!("asa1=127.0.0.1:{}", ports[3]),
            dir,
            nodes,
            ports,
        }
    }

    fn node_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ctl_file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.node_dir(name).join("tftp/CTLFile.tlv")).unwrap()
    }

    fn process(&self, name: &str) -> &Daemon {
        &self.nodes.iter().find(|(n, _)| *n == name).unwrap().1
    }

    fn token(&self, label: &str) -> String {
        self.lab.uri(label, &format!("{label}.pin"))
    }

    /// `ctl cluster ...` with the connection flags.
    fn ctl(&self, args: &[&str]) -> Output {
        let connect = crate::support::connect_args(&self.publisher, self.dir.path());
        let mut all: Vec<&str> = args.to_vec();
        all.extend(connect.iter().map(String::as_str));
        all.extend(["--timeout", "3"]);
        self.lab.ctl(&all)
    }

    /// Takes `name` out of the first node's member list and restarts the first node.
    fn remove_member(&mut self, name: &str) {
        let path = self.node_dir("pub").join("provider.toml");
        let config = std::fs::read_to_string(&path).unwrap();
        let block = format!("[[member]]\nname = \"{name}\"\n");
        let kept: Vec<&str> = config
            .split("\n\n")
            .filter(|b| !b.starts_with(&block))
            .collect();
        assert_eq!(kept.len() + 1, config.split("\n\n").count(), "{config}");
        std::fs::write(&path, kept.join("\n\n")).unwrap();
        let i = self.nodes.iter().position(|(n, _)| *n == "pub").unwrap();
        drop(self.nodes.remove(i));
        self.nodes
            .insert(i, ("pub", run_node(&self.node_dir("pub"))));
    }

    /// Every member holds the same CTL, and `ctl verify` accepts it; returns it.
    fn assert_converged(&self, members: &[&str]) -> Vec<u8> {
        let first = self.ctl_file(members[0]);
        for m in members {
            assert_eq!(
                sha256(&self.ctl_file(m)),
                sha256(&first),
                "{m} diverges from {}",
                members[0]
            );
            let path = self.node_dir(m).join("tftp/CTLFile.tlv");
            let o = self.lab.ctl(&["verify", path.to_str().unwrap()]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{m}: {}{}",
                stdout(&o),
                stderr(&o)
            );
        }
        first
    }
}

/// Files are compared by digest, so a failure prints two lines, not two CTLs.
fn sha256(bytes: &[u8]) -> String {
    ctl_format::hex(&ctl_provider::ctl_hash(bytes))
}

fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn statuses(j: &serde_json::Value) -> Vec<(String, String)> {
    j["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const MEMBERS: [&str; 3] = ["pub", "sub", "tftp"];

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn the_cisco_workflows_on_separate_daemons_softhsm_tokens_and_a_real_tftp_server() {
    let mut c = Cluster::start();

    // Mixed mode, first time: both tokens, signed on the last one.
    let o = c.ctl(&[
        "cluster",
        "set-mode",
        "mixed",
        "--token",
        &c.token("SAST1"),
        "--token",
        &c.token("SAST2"),
        "--yes",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = json(&o);
    assert_eq!(j["ok"], true, "{j}");
    assert!(statuses(&j).iter().all(|(_, s)| s == "committed"), "{j}");
    assert_eq!(statuses(&j).len(), 3, "{j}");
    let first = c.assert_converged(&MEMBERS);
    let doc = parse_trust_list(&first).unwrap();
    let roles: Vec<Option<Role>> = doc.records().iter().map(|r| r.role()).collect();
    assert_eq!(roles.iter().filter(|r| **r == Some(Role::SAST)).count(), 2);
    for role in [Role::CCM_TFTP, Role::CCM, Role::TFTP, Role::CAPF] {
        assert!(roles.contains(&Some(role)), "{role:?} missing: {roles:?}");
    }
    assert!(!stdout(&o).contains("1234") && !stderr(&o).contains("5678"));
    // The subsequent nodes got the CAPF certificate.
    for m in ["sub", "tftp"] {
        assert!(c.node_dir(m).join("tftp/capf.cer").exists(), "{m}");
    }

    // A phone downloads the CTL from the TFTP node over TFTP and trusts it.
    let phone = c.dir.path().join("phone.tlv");
    let (_tftpd, tftp_port) = tftpd(&c.node_dir("tftp/tftp"));
    let got = tftp_get(tftp_port, &c.node_dir("tftp/tftp"), "CTLFile.tlv", &phone);
    assert_eq!(sha256(&got), sha256(&first), "TFTP served other bytes");
    let held = parse_trust_list(&got).unwrap();
    phone_accepts(None, &held, &RsaVerifier).unwrap();

    // Up to date.
    let o = c.ctl(&["cluster", "status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("up to date"), "{}", text(&o));

    // Update: a firewall joins, signed on the second token; the phone takes it.
    let o = c.ctl(&[
        "cluster",
        "add-firewall",
        &c.firewall,
        "--token",
        &c.token("SAST2"),
        "--yes",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = json(&o);
    assert_eq!(statuses(&j).len(), 4, "{j}");
    assert!(statuses(&j).iter().all(|(_, s)| s == "committed"), "{j}");
    let updated = c.assert_converged(&["pub", "sub", "tftp", "asa"]);
    assert_ne!(sha256(&updated), sha256(&first));
    let got = tftp_get(tftp_port, &c.node_dir("tftp/tftp"), "CTLFile.tlv", &phone);
    assert_eq!(sha256(&got), sha256(&updated));
    phone_accepts(Some(&held), &parse_trust_list(&got).unwrap(), &RsaVerifier).unwrap();
    assert_eq!(
        sha256(&std::fs::read(c.node_dir("tftp/tftp/CTLFile_old.tlv")).unwrap()),
        sha256(&first),
        "the previous CTL is kept as CTLFile_old.tlv"
    );
    // The first node stored the firewall with that CTL: the cluster is up to date.
    let o = c.ctl(&["cluster", "status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("up to date"), "{}", text(&o));

    // Delete-entry refusals, each naming its rule; nothing changes.
    let serial_of = |role: Role| {
        let doc = parse_trust_list(&updated).unwrap();
        let r = doc
            .records()
            .iter()
            .find(|r| r.role() == Some(role))
            .copied()
            .unwrap();
        ctl_format::hex(r.serial().unwrap())
    };
    for (serial, rule) in [
        (serial_of(Role::SAST), "two must remain"),
        (serial_of(Role::CCM), "cannot be deleted by hand"),
    ] {
        let o = c.ctl(&[
            "cluster",
            "remove-entry",
            "--serial",
            &serial,
            "--token",
            &c.token("SAST1"),
            "--yes",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(rule), "{rule}: {}", text(&o));
    }
    assert_eq!(sha256(&c.ctl_file("pub")), sha256(&updated));

    // Non-secure mode: the CTL stays, server records without certificates.
    let o = c.ctl(&[
        "cluster",
        "set-mode",
        "non-secure",
        "--token",
        &c.token("SAST1"),
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The firewall the first node stored gets the file too.
    let plain = c.assert_converged(&["pub", "sub", "tftp", "asa"]);
    let doc = parse_trust_list(&plain).unwrap();
    assert_eq!(
        doc.records().len(),
        7,
        "2 SAST, CCM+TFTP, CAPF, CCM, TFTP, firewall"
    );
    assert!(
        doc.records()
            .iter()
            .all(|r| (r.role() == Some(Role::SAST)) == r.certificate().is_some())
    );
    let got = tftp_get(tftp_port, &c.node_dir("tftp/tftp"), "CTLFile.tlv", &phone);
    assert_eq!(sha256(&got), sha256(&plain));

    // Back to mixed mode with a token of the CTL: the server certificates come back.
    let o = c.ctl(&[
        "cluster",
        "set-mode",
        "mixed",
        "--token",
        &c.token("SAST1"),
        "--token",
        &c.token("SAST2"),
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mixed = c.assert_converged(&["pub", "sub", "tftp", "asa"]);
    let doc = parse_trust_list(&mixed).unwrap();
    assert!(doc.records().iter().all(|r| r.certificate().is_some()));
    assert!(
        text(&o).contains("security mode set to mixed"),
        "{}",
        text(&o)
    );

    // The firewall removed: its record goes, it is no longer sent the file.
    let o = c.ctl(&[
        "cluster",
        "update",
        "--remove-peer",
        "asa1",
        "--token",
        &c.token("SAST1"),
        "--yes",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(statuses(&json(&o)).len(), 3, "{}", text(&o));
    let without = c.assert_converged(&MEMBERS);
    let doc = parse_trust_list(&without).unwrap();
    assert!(
        doc.records()
            .iter()
            .all(|r| r.dns_name().as_deref() != Some("asa1"))
    );
    assert_eq!(sha256(&c.ctl_file("asa")), sha256(&mixed));

    // A node removed from the cluster (the first node's configuration edited, the node
    // restarted): status says so and fails; an update leaves its record out.
    c.remove_member("tftp1");
    let o = c.ctl(&["cluster", "status"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("gone from the cluster") && text(&o).contains("tftp1"),
        "{}",
        text(&o)
    );
    let o = c.ctl(&["cluster", "update", "--token", &c.token("SAST2"), "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("left out of the new CTL: tftp1"),
        "{}",
        text(&o)
    );
    let smaller = c.assert_converged(&["pub", "sub"]);
    let doc = parse_trust_list(&smaller).unwrap();
    assert!(doc.records().iter().all(|r| r.role() != Some(Role::TFTP)));
    let o = c.ctl(&["cluster", "status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

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
    let sub_ctl = nodes.node_dir("sub").join("tftp/CTLFile.tlv");
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
    assert_eq!(sha256(&nodes.ctl_file("sub")), sha256(&foreign));
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
        ctl_certificates: Vec::new(),
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
    let signer = ctl_token::SoftwareSigner::from_files(Path::new(&sast1), None).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(client.update(Arc::new(signer), &ctl_client::Changes::default()));
    assert_eq!(staged.load(Ordering::SeqCst), MEMBERS.len());
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
    match status_of("sub1") {
        ctl_client::TargetStatus::Failed(reason) => {
            assert!(reason.to_string().contains("commit"), "{reason}");
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
    let (p1, p2) = (free_port(), free_port());
    let sub = format!("sub1=127.0.0.1:{p2}");
    let specs: [(&str, u16, Vec<&str>); 2] = [
        (
            "pub",
            p1,
            vec![
                "--node",
                "cucm-pub",
                "--first-node",
                "--services",
                "callmanager,tftp,capf,provider",
                "--member",
                &sub,
            ],
        ),
        (
            "sub",
            p2,
            vec!["--node", "sub1", "--services", "callmanager,provider"],
        ),
    ];
    let mut nodes = Vec::new();
    for (name, port, args) in &specs {
        let node = dir.path().join(name);
        let mut args = args.clone();
        args.push("--require-sast-client-certificate");
        init_node(&node, *port, &args);
        nodes.push(run_node(&node));
    }
    let connect = crate::support::connect_args(&format!("127.0.0.1:{p1}"), dir.path());
    let ctl = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(connect.iter().map(String::as_str));
        all.extend(["--yes", "--json"]);
        lab.ctl(&all)
    };
    let (t1, t2) = (lab.uri("SAST1", "SAST1.pin"), lab.uri("SAST2", "SAST2.pin"));
    let ctl_of = |name: &str| std::fs::read(dir.path().join(name).join("tftp/CTLFile.tlv")).ok();

    // Without a TLS identity: every node refuses the stage, nothing is written.
    let o = ctl(&[
        "cluster", "set-mode", "mixed", "--token", &t1, "--token", &t2,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("client certificate"), "{}", text(&o));
    assert!(ctl_of("pub").is_none() && ctl_of("sub").is_none());

    // With the signing token as TLS identity: done.
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
    let o = ctl(&["cluster", "update", "--token", &t1]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(ctl_of("pub").unwrap(), first);
    let o = ctl(&["cluster", "update", "--token", &t1, "--tls-with-token"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let updated = ctl_of("pub").unwrap();
    assert_ne!(updated, first);
    assert_eq!(ctl_of("sub").unwrap(), updated);
    assert!(!text(&o).contains("1234") && !text(&o).contains("5678"));
    drop(nodes);
}
