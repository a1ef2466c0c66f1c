//! End to end with nothing simulated: separate `ctl-providerd` processes for a three-node
//! cluster (and a firewall), SAST keys generated on SoftHSM2 tokens, the `ctl` binary, and a
//! Debian TFTP server (`in.tftpd` of tftpd-hpa) serving a node's TFTP directory to a real TFTP
//! client that downloads `CTLFile.tlv` as a phone does.
//!
//! `ctl-providerd` is found next to `ctl` in the target directory; `cargo test --workspace` (and
//! `scripts/test`) builds it. tftpd-hpa and tftp-hpa are installed by `scripts/test`.

mod attacks;
mod faults;
mod mtls;
mod workflows;

pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::process::{Child, Command, Output, Stdio};
pub(crate) use std::sync::Arc;
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
pub(crate) use std::time::Duration;

pub(crate) use crate::support::{Lab, stderr, stdout};
pub(crate) use ctl_format::{Role, RsaVerifier, parse_trust_list, phone_accepts};
pub(crate) use ctl_test_support::daemon::{self, Daemon};

/// The `ctl-providerd` binary of this build.
pub(crate) fn providerd() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_ctl")).with_file_name("ctl-providerd");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p ctl-providerd`; `cargo test --workspace` does)",
        bin.display()
    );
    bin
}

/// `ctl-providerd init` for a node listening on `port`.
pub(crate) fn init_node(dir: &Path, port: u16, args: &[&str]) {
    daemon::init(&providerd(), dir, &format!("127.0.0.1:{port}"), args);
}

/// `ctl-providerd run`, once it says it listens.
pub(crate) fn run_node(dir: &Path) -> Daemon {
    daemon::run(&providerd(), dir)
}

pub(crate) use ctl_test_support::tftpd::running_as_root;

/// tftpd-hpa serving `dir` on a loopback UDP port.
pub(crate) fn tftpd(dir: &Path) -> (ctl_test_support::tftpd::Tftpd, u16) {
    let server = ctl_test_support::tftpd::start(dir);
    let port = server.port();
    (server, port)
}

/// A phone's download: the TFTP client of tftp-hpa fetching `name` in binary mode.
pub(crate) fn tftp_get(port: u16, dir: &Path, name: &str, out: &Path) -> Vec<u8> {
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

/// `ctl-providerd init` flags of the first node (CallManager, TFTP, CAPF), members aside.
pub(crate) const FIRST_NODE: [&str; 5] = [
    "--node",
    "cucm-pub",
    "--first-node",
    "--services",
    "callmanager,tftp,capf,provider",
];

/// The cluster: a first node (CallManager, TFTP, CAPF), a subsequent CallManager node, a TFTP
/// node, and a firewall's provider that is not a member; each a `ctl-providerd` process.
pub(crate) struct Cluster {
    lab: Lab,
    dir: tempfile::TempDir,
    publisher: String,
    nodes: Vec<(&'static str, Daemon)>,
    firewall: String,
    /// Provider ports of pub, sub, tftp and asa.
    ports: Vec<u16>,
}

impl Cluster {
    pub(crate) fn start() -> Self {
        let lab = Lab::new();
        lab.init_generated("SAST1", "1234");
        lab.init_generated("SAST2", "5678");
        let dir = tempfile::tempdir().unwrap();
        // The others first, on any free port; the first node then lists them where they are.
        let others: [(&str, Vec<&str>); 3] = [
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
        for (name, args) in &others {
            init_node(&dir.path().join(name), 0, args);
            nodes.push((*name, run_node(&dir.path().join(name))));
        }
        let port_of = |i: usize| nodes[i].1.addr.port();
        let (sub, tftp) = (
            format!("sub1=127.0.0.1:{}", port_of(0)),
            format!("tftp1=127.0.0.1:{}", port_of(1)),
        );
        let mut first = FIRST_NODE.to_vec();
        first.extend(["--member", &sub, "--member", &tftp]);
        init_node(&dir.path().join("pub"), 0, &first);
        nodes.insert(0, ("pub", run_node(&dir.path().join("pub"))));
        let ports: Vec<u16> = nodes.iter().map(|(_, d)| d.addr.port()).collect();
        Self {
            lab,
            publisher: format!("127.0.0.1:{}", ports[0]),
            firewall: format!("asa1=127.0.0.1:{}", ports[3]),
            dir,
            nodes,
            ports,
        }
    }

    pub(crate) fn node_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn ctl_file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.node_dir(name).join("tftp/CTLFile.tlv")).unwrap()
    }

    pub(crate) fn process(&self, name: &str) -> &Daemon {
        &self.nodes.iter().find(|(n, _)| *n == name).unwrap().1
    }

    pub(crate) fn token(&self, label: &str) -> String {
        self.lab.uri(label, &format!("{label}.pin"))
    }

    /// `ctl cluster ...` with the connection flags.
    pub(crate) fn ctl(&self, args: &[&str]) -> Output {
        let connect = crate::support::connect_args(&self.publisher, self.dir.path());
        let mut all: Vec<&str> = args.to_vec();
        all.extend(connect.iter().map(String::as_str));
        all.extend(["--timeout", "3"]);
        self.lab.ctl(&all)
    }

    /// Takes `name` out of the first node's member list and restarts the first node.
    pub(crate) fn remove_member(&mut self, name: &str) {
        daemon::remove_member(&self.node_dir("pub"), name);
        let i = self.nodes.iter().position(|(n, _)| *n == "pub").unwrap();
        drop(self.nodes.remove(i));
        self.nodes
            .insert(i, ("pub", run_node(&self.node_dir("pub"))));
    }

    /// Every member holds the same CTL, and `ctl verify` accepts it; returns it.
    pub(crate) fn assert_converged(&self, members: &[&str]) -> Vec<u8> {
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
pub(crate) fn sha256(bytes: &[u8]) -> String {
    ctl_format::hex(&ctl_provider::ctl_hash(bytes))
}

pub(crate) fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

pub(crate) fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

pub(crate) fn statuses(j: &serde_json::Value) -> Vec<(String, String)> {
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

pub(crate) const MEMBERS: [&str; 3] = ["pub", "sub", "tftp"];
