//! Issue 10's node-side findings through the `ctl` binary against `ctl-providerd` processes:
//! two operators racing (finding 4), and a change with the password alone (finding 6).

use std::io::{Read, Write};
use std::sync::Mutex;

use super::*;

/// Shell quoting for `script -c`: every argument in single quotes.
fn quoted(args: &[String]) -> String {
    args.iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ctl` on a terminal (util-linux `script` gives it a pseudo-terminal), so it asks before
/// the token signs; what it prints is collected as it comes.
struct OnTerminal {
    child: Child,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl OnTerminal {
    fn start(c: &Cluster, args: &[&str]) -> Self {
        let mut all: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_ctl").to_owned())
            .chain(args.iter().map(|a| (*a).to_owned()))
            .collect();
        all.extend(crate::support::connect_args(&c.publisher, c.dir.path()));
        all.extend(["--timeout".into(), "30".into()]);
        let mut child = Command::new("script")
            .args(["--quiet", "--return", "--command"])
            .arg(quoted(&all))
            .arg("/dev/null")
            .env("SOFTHSM2_CONF", c.lab.path("softhsm2.conf"))
            .env("CTL_PKCS11_MODULE", crate::support::module())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script (util-linux, package bsdutils) is required");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().unwrap();
        let keep = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                keep.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self { child, seen }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Waits until it printed `what`, or failed.
    fn wait_for(&mut self, what: &str) {
        for _ in 0..600 {
            if self.text().contains(what) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("ctl ended ({status}) before {what:?}: {}", self.text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no {what:?} after 60 s: {}", self.text());
    }

    fn answer(&mut self, line: &str) -> (Option<i32>, String) {
        let mut stdin = self.child.stdin.take().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        let status = self.child.wait().unwrap();
        drop(stdin);
        // The reader thread has what the terminal showed once the process is gone.
        std::thread::sleep(Duration::from_millis(200));
        (status.code(), self.text())
    }
}

/// How many SAST records a CTL has.
fn tokens_in(ctl: &[u8]) -> usize {
    parse_trust_list(ctl)
        .unwrap()
        .records()
        .iter()
        .filter(|r| r.role() == Some(Role::SAST))
        .count()
}

/// Finding 4, the lost update: operator A builds an update (a firewall) and is asked to
/// confirm; meanwhile operator B adds a token and commits it on every node. A then says yes:
/// the nodes refuse A's file, built from the CTL B replaced, so B's token is not silently
/// dropped, and A is told.
#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn a_change_committed_while_an_operator_confirms_is_not_undone() {
    let c = Cluster::start();
    c.lab.init_generated("SAST3", "2468");
    let (t1, t2, t3) = (c.token("SAST1"), c.token("SAST2"), c.token("SAST3"));
    let o = c.ctl(&[
        "cluster", "set-mode", "mixed", "--token", &t1, "--token", &t2, "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = c.assert_converged(&MEMBERS);

    let mut a = OnTerminal::start(
        &c,
        &["cluster", "add-firewall", &c.firewall, "--token", &t1],
    );
    a.wait_for("Sign and send?");
    assert!(a.text().contains("asa1"), "{}", a.text());

    let o = c.ctl(&[
        "cluster",
        "update",
        "--token",
        &t2,
        "--add-token",
        &t3,
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let with_b = c.assert_converged(&MEMBERS);
    assert_ne!(sha256(&with_b), sha256(&first));

    let (code, shown) = a.answer("y");
    assert_eq!(code, Some(1), "{shown}");
    // The client sees that the nodes hold another file than the one it built from (the
    // node's own rule would refuse the older file too, as ROLLBACK).
    assert!(
        shown.contains("not the one this change was built from")
            && shown.contains("another change was committed meanwhile"),
        "{shown}"
    );
    // Every node still holds B's file, with its three tokens; the firewall got nothing.
    assert_eq!(sha256(&c.assert_converged(&MEMBERS)), sha256(&with_b));
    assert_eq!(tokens_in(&with_b), 3);
    assert!(!c.node_dir("asa").join("tftp/CTLFile.tlv").exists());

    // A's next run builds on B's file and keeps B's token.
    let o = c.ctl(&[
        "cluster",
        "add-firewall",
        &c.firewall,
        "--token",
        &t1,
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let both = c.assert_converged(&["pub", "sub", "tftp", "asa"]);
    assert_eq!(tokens_in(&both), 3);
}
