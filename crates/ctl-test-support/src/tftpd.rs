//! The real TFTP server phones download from in the tests: `in.tftpd` of tftpd-hpa,
//! serving a directory on a loopback UDP port.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `in.tftpd`, killed when dropped.
#[derive(Debug)]
pub struct Tftpd {
    child: Child,
    addr: SocketAddr,
    /// The rewrite rules of a server not running as root (kept until it stops).
    _map: Option<tempfile::NamedTempFile>,
}

impl Tftpd {
    /// Where it listens.
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub const fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Tftpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this process runs as root (the owner of its own /proc entry).
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// A UDP port free a moment ago (in.tftpd takes its port as an argument).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free loopback UDP port")
}

/// Starts in.tftpd serving `dir` at `127.0.0.1:PORT`, once it answers. Phones ask for
/// bare names (`ITLFile.tlv`): as root the server chroots into `dir`; otherwise a rewrite
/// rule maps bare names into `dir` (absolute paths are served as they are).
///
/// # Panics
/// When tftpd-hpa is not installed or does not answer (`scripts/test` installs it).
pub fn start(dir: &Path) -> Tftpd {
    let port = free_udp_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    // In /usr/sbin, which is not on every user's PATH.
    let server = ["/usr/sbin/in.tftpd", "in.tftpd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("in.tftpd");
    let mut cmd = Command::new(server);
    cmd.args(["--listen", "--foreground", "--address"])
        .arg(addr.to_string());
    let mut map = None;
    if running_as_root() {
        cmd.args(["--secure", "--user", "root"]).arg(dir);
    } else {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), format!("r ^([^/]) {}/\\1\n", dir.display()))
            .expect("the rewrite rules");
        cmd.arg("--map-file").arg(file.path()).arg(dir);
        map = Some(file);
    }
    let child = cmd
        .stdin(Stdio::null())
        .spawn()
        .expect("in.tftpd (tftpd-hpa) is required: apt-get install tftpd-hpa tftp-hpa");
    let server = Tftpd {
        child,
        addr,
        _map: map,
    };
    wait_ready(addr);
    server
}

/// Asks for a file that is not there until the server answers (it may still be binding).
fn wait_ready(addr: SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 600];
    for _ in 0..100 {
        let _ = socket.send_to(b"\x00\x01ctl-test-readiness-probe\0octet\0", addr);
        if socket.recv_from(&mut buf).is_ok() {
            return;
        }
    }
    panic!("in.tftpd at {addr} does not answer");
}
