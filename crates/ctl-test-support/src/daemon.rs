//! `ctl-providerd` as separate processes: initialize a node, run it, stop it.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `ctl-providerd`, killed (SIGKILL) when dropped, however the test ends.
#[derive(Debug)]
pub struct Daemon {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its directory (provider.toml, tftp/, state/).
    pub dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Sends `signal` (`-STOP`, `-CONT`, `-KILL`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill(1) runs")
            .success();
        assert!(ok, "kill {signal} failed");
    }
}

/// `ctl-providerd init` of a node in `dir` listening on `listen` (user `admin`, password
/// `s3cret` in `dir/password`), with `args` (`--node NAME`, services, members, ...).
pub fn init(bin: &Path, dir: &Path, listen: &str, args: &[&str]) {
    init_with(Command::new(bin), dir, listen, args);
}

/// `bin` run with the file mode creation mask `umask` (octal, as sh's `umask` takes it):
/// a daemon started by a careless unit or shell.
pub fn under_umask(bin: &Path, umask: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\"")])
        .arg(bin);
    cmd
}

/// [`init`] with the command `cmd` (the binary, perhaps wrapped: [`under_umask`]).
pub fn init_with(mut cmd: Command, dir: &Path, listen: &str, args: &[&str]) {
    std::fs::create_dir_all(dir).expect("node directory");
    std::fs::write(dir.join("password"), "s3cret\n").expect("password file");
    let o = cmd
        .args(["init", "--dir"])
        .arg(dir)
        .args(["--listen", listen, "--user", "admin", "--password-file"])
        .arg(dir.join("password"))
        .args(args)
        .output()
        .expect("ctl-providerd init runs");
    assert!(
        o.status.success(),
        "ctl-providerd init: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `ctl-providerd run` of the node in `dir`, once it says where it listens. A node
/// initialized on port 0 keeps the port it got: it is written into its `provider.toml`
/// (one key, through a TOML parser), so a restart listens there again.
pub fn run(bin: &Path, dir: &Path) -> Daemon {
    run_with(Command::new(bin), dir)
}

/// [`run`] with the command `cmd` (the binary, perhaps wrapped: [`under_umask`]).
pub fn run_with(cmd: Command, dir: &Path) -> Daemon {
    // Only warnings and errors on the test's stderr (RUST_LOG set by the caller wins).
    launch(cmd, dir, &[], Stdio::inherit(), "warn")
}

/// [`run`] with `args` after `run --config ...` (`--log-format json`), its stderr (the
/// log) written to the file `log`.
pub fn run_logged(bin: &Path, dir: &Path, args: &[&str], log: &Path) -> Daemon {
    let file = std::fs::File::create(log).expect("log file");
    launch(Command::new(bin), dir, args, Stdio::from(file), "info")
}

fn launch(mut cmd: Command, dir: &Path, args: &[&str], stderr: Stdio, level: &str) -> Daemon {
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", level);
    }
    let mut child = cmd
        .arg("run")
        .arg("--config")
        .arg(dir.join("provider.toml"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("ctl-providerd run starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ctl-providerd says where it listens");
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("ctl-providerd said {line:?}"));
    keep_port(&dir.join("provider.toml"), addr);
    Daemon {
        child,
        addr,
        dir: dir.to_owned(),
    }
}

/// Takes the member `name` out of the first node's configuration in `dir` (as an
/// administrator would when a node leaves the cluster).
pub fn remove_member(dir: &Path, name: &str) {
    let path = dir.join("provider.toml");
    let text = std::fs::read_to_string(&path).expect("provider.toml");
    let mut config: toml::Table = text.parse().expect("provider.toml is TOML");
    let members = config
        .get_mut("member")
        .and_then(toml::Value::as_array_mut)
        .expect("a first node with members");
    let before = members.len();
    members.retain(|m| m.get("name").and_then(toml::Value::as_str) != Some(name));
    assert_eq!(members.len() + 1, before, "{name} is one member of {text}");
    std::fs::write(&path, toml::to_string(&config).expect("TOML")).expect("provider.toml");
}

/// Sets `listen` to `addr` in the configuration at `path` when it names port 0.
fn keep_port(path: &Path, addr: SocketAddr) {
    let text = std::fs::read_to_string(path).expect("provider.toml");
    let mut config: toml::Table = text.parse().expect("provider.toml is TOML");
    let any_port = config
        .get("listen")
        .and_then(toml::Value::as_str)
        .and_then(|l| l.parse::<SocketAddr>().ok())
        .is_some_and(|l| l.port() == 0);
    if any_port {
        config.insert("listen".to_owned(), toml::Value::String(addr.to_string()));
        std::fs::write(path, toml::to_string(&config).expect("TOML")).expect("provider.toml");
    }
}

/// The peak resident set (`VmHWM`) of process `pid`, KiB; 0 when it cannot be read.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
