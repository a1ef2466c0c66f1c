//! The node's request handling under a fuzzer's script: four sessions of a super-user
//! (each presenting another client certificate) stage, commit and abort files from a pool
//! of signed CTLs (good updates, a stranger's list, a hand-over, rollbacks, one-token
//! lists, a new token signing its own introduction, each also with one byte flipped) or raw
//! bytes; set the mode, store CAPF certificates, read the audit log; sessions close, the
//! node restarts, and someone with write access to the TFTP directory plants files,
//! symlinks and directories there. After every step the node's files are checked.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ctl_format::{Role, RsaVerifier};
use ctl_provider::ctl_hash;
use ctl_provider::frame::FrameReader;
use ctl_provider::message::{
    ErrorCode, OffCluster, Peer, PeerSource, Request, Response, SecurityMode, UserRole,
};
use ctl_provider::net::{Handler, PeerInfo};

use crate::config::{Certificates, Config, Hook, Limits, UserConfig};
use crate::node::Node;
use crate::store::Store;

use super::pool::{Fixture, SESSIONS, fixture, vector};

use super::assert_one_line;

/// What a script did, for tests that a seed reaches where it should.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Steps run.
    pub steps: usize,
    /// STAGE answered STAGED.
    pub staged: usize,
    /// COMMIT changed the node's CTL.
    pub commits: usize,
    /// Requests answered with an error.
    pub refusals: usize,
    /// Restarts of the node over its directories.
    pub restarts: usize,
}

/// The fuzzer's bytes, read one at a time; zeros once they run out.
struct Script<'a> {
    data: &'a [u8],
}

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

/// A run's directories, removed when it ends.
struct Dirs {
    run: PathBuf,
    tftp: PathBuf,
    state: PathBuf,
    /// A file outside the node's directories that planted symlinks point at.
    outside: PathBuf,
    /// The node's CallManager certificate.
    callmanager: PathBuf,
}

const OUTSIDE: &[u8] = b"not the node's";

impl Dirs {
    fn new(root: &Path) -> Self {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let run = root.join(format!(
            "ctl-fuzz-node-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run).expect("a run directory");
        let outside = run.join("outside");
        std::fs::write(&outside, OUTSIDE).expect("the outside file");
        let callmanager = run.join("callmanager.pem");
        std::fs::write(&callmanager, vector!("ccm.crt.pem")).expect("the node's certificate");
        Self {
            tftp: run.join("tftp"),
            state: run.join("state"),
            outside,
            callmanager,
            run,
        }
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

fn config(dirs: &Dirs, flags: u8) -> Config {
    Config {
        node: "fuzz-node".to_owned(),
        listen: SocketAddr::from(([127, 0, 0, 1], 2444)),
        first_node: flags & 1 != 0,
        services: vec!["callmanager".into(), "tftp".into(), "provider".into()],
        addresses: Vec::new(),
        tftp_dir: dirs.tftp.clone(),
        state_dir: dirs.state.clone(),
        tls_certificate: dirs.callmanager.clone(),
        tls_key: dirs.callmanager.clone(),
        certificates: Certificates {
            callmanager: dirs.callmanager.clone(),
            capf: None,
            tvs: None,
        },
        members: Vec::new(),
        alternate_tftp: Vec::new(),
        firewalls: Vec::new(),
        users: vec![UserConfig {
            name: "admin".into(),
            role: "super-user".into(),
            password_hash: "$argon2id$unused".into(),
        }],
        limits: Limits {
            max_preparing: usize::from(flags >> 2 & 3) + 1,
            ..Limits::default()
        },
        hook: Hook::default(),
        require_sast_client_certificate: flags & 2 != 0,
    }
}

struct Run {
    fx: &'static Fixture,
    dirs: Dirs,
    config: Config,
    node: Node,
    store: Store,
    sessions: [PeerInfo; SESSIONS],
    next_session: u64,
    closed: HashSet<u64>,
    /// The last file each session slot had staged.
    last_staged: [Option<[u8; 32]>; SESSIONS],
    /// Every hash the node answered STAGED for.
    staged_ok: HashSet<[u8; 32]>,
    /// The node's CTL as of the last step.
    current: Option<Vec<u8>>,
    /// The published copy was tampered with since the node last wrote it.
    tampered: bool,
    summary: Summary,
}

/// Runs the script in `data` against a node in fresh directories.
///
/// # Panics
/// When the node breaks one of its rules: its own CTL changes without a COMMIT answer
/// for it; a CTL it installs does not parse, has fewer than two tokens, does not verify,
/// is not signed by a token of the one before or is not newer than it; what it publishes
/// differs from its own copy (unless someone wrote there since); `state.json` does not
/// parse or disagrees with the file; a closed session still holds a staged file, or more
/// sessions prepare than the limit allows; a temporary file is left behind; a file
/// outside its directories is written through a planted symlink; an answer is INTERNAL
/// or an error on more than one line.
pub fn node_script(data: &[u8]) -> Summary {
    let fx = fixture();
    let mut script = Script { data };
    let flags = script.byte();
    let dirs = Dirs::new(&fx.root);
    let config = config(&dirs, flags);
    let node = Node::new(config.clone(), config.listen).expect("a node in fresh directories");
    let store = Store::open(&dirs.tftp, &dirs.state).expect("the node's store");
    let sessions = std::array::from_fn(|i| session_peer(fx, i, i as u64 + 1));
    let mut run = Run {
        fx,
        dirs,
        config,
        node,
        store,
        sessions,
        next_session: SESSIONS as u64 + 1,
        closed: HashSet::new(),
        last_staged: [None; SESSIONS],
        staged_ok: HashSet::new(),
        current: None,
        tampered: false,
        summary: Summary::default(),
    };
    while !script.data.is_empty() && run.summary.steps < 64 {
        run.step(&mut script);
        run.summary.steps += 1;
    }
    run.summary
}

fn session_peer(fx: &Fixture, slot: usize, session: u64) -> PeerInfo {
    const ADDRESSES: [[u8; 4]; SESSIONS] = [
        [127, 0, 0, 1],
        [127, 0, 0, 2],
        [10, 0, 0, 9],
        [192, 0, 2, 1],
    ];
    PeerInfo {
        addr: SocketAddr::from((ADDRESSES[slot], 40_000)),
        session,
        client_certificate: fx.clients[slot].clone(),
    }
}

impl Run {
    fn current_hash(&self) -> Option<[u8; 32]> {
        self.current.as_deref().map(ctl_hash)
    }

    fn pool_file(&self, s: &mut Script<'_>) -> Vec<u8> {
        let sel = s.byte();
        let n = self.fx.files.len();
        let i = usize::from(sel & 0x7f) % (n + 1);
        if i == n {
            let len = usize::from(s.byte()) * 8;
            return s.take(len).to_vec();
        }
        let mut file = self.fx.files[i].clone();
        if sel & 0x80 != 0 {
            let at = usize::from(s.u16()) % file.len();
            file[at] ^= s.byte() | 1;
        }
        file
    }

    fn hash(&self, s: &mut Script<'_>, slot: usize) -> [u8; 32] {
        let sel = s.byte();
        let none = [0; 32];
        match sel % 4 {
            0 => self.last_staged[slot].unwrap_or(none),
            1 => self.fx.hashes[usize::from(sel / 4) % self.fx.hashes.len()],
            2 => self.current_hash().unwrap_or(none),
            _ => {
                let mut h = none;
                let raw = s.take(32);
                h[..raw.len()].copy_from_slice(raw);
                h
            }
        }
    }

    fn peers(s: &mut Script<'_>) -> Option<OffCluster> {
        let sel = s.byte();
        if !sel.is_multiple_of(4) {
            return None;
        }
        const NAMES: [&str; 5] = ["tftp-alt", "fw1", "fuzz-node", "", "fw1"];
        let one = |s: &mut Script<'_>| {
            let b = s.byte();
            Peer {
                name: NAMES[usize::from(b) % NAMES.len()].to_owned(),
                host: if b & 0x80 != 0 { "" } else { "127.0.0.1" }.to_owned(),
                port: u16::from(s.byte()),
                source: PeerSource::Configured,
            }
        };
        let alternate_tftp = (0..(sel >> 2) % 3).map(|_| one(s)).collect();
        let firewalls = (0..(sel >> 4) % 3).map(|_| one(s)).collect();
        Some(OffCluster {
            alternate_tftp,
            firewalls,
        })
    }

    fn ask(&mut self, slot: usize, request: Request) -> Response {
        let peer = &self.sessions[slot];
        block_on(
            self.node
                .handle(peer, "admin", UserRole::SuperUser, request),
        )
    }

    fn step(&mut self, s: &mut Script<'_>) {
        let op = s.byte();
        let slot = usize::from(op >> 4) % SESSIONS;
        let answer = match op & 0x0f {
            0..=2 => {
                let file = self.pool_file(s);
                let base = match s.byte() % 3 {
                    0 => self.current_hash(),
                    1 => None,
                    n => Some(self.fx.hashes[usize::from(n) % self.fx.hashes.len()]),
                };
                let peers = Self::peers(s);
                let answer = self.ask(
                    slot,
                    Request::Stage {
                        base,
                        file: file.into(),
                        peers,
                    },
                );
                if let Response::Staged(h) = answer {
                    self.last_staged[slot] = Some(h);
                    self.staged_ok.insert(h);
                    self.summary.staged += 1;
                }
                Some(answer)
            }
            3 | 4 => {
                let hash = self.hash(s, slot);
                Some(self.ask(slot, Request::Commit { hash }))
            }
            5 => {
                let hash = self.hash(s, slot);
                Some(self.ask(slot, Request::Abort { hash }))
            }
            6 => {
                let mode = if s.byte() & 1 == 0 {
                    SecurityMode::NonSecure
                } else {
                    SecurityMode::Mixed
                };
                Some(self.ask(slot, Request::SetMode(mode)))
            }
            7 => {
                let certificate = if s.byte() & 1 == 0 {
                    self.fx.capf.clone()
                } else {
                    let len = usize::from(s.byte()) * 4;
                    s.take(len).to_vec()
                };
                Some(self.ask(
                    slot,
                    Request::PutCapf {
                        certificate: certificate.into(),
                    },
                ))
            }
            8 => {
                let request = match s.byte() % 5 {
                    0 => Request::GetCtl,
                    1 => Request::GetMode,
                    2 => Request::Members,
                    3 => Request::NodeInfo,
                    _ => Request::Audit {
                        limit: u32::from(s.byte()),
                    },
                };
                Some(self.ask(slot, request))
            }
            9 => {
                self.close(slot);
                None
            }
            10 => {
                self.restart();
                None
            }
            11 => {
                self.tamper(s);
                None
            }
            _ => {
                // Any message the protocol can carry, decoded from the script.
                let len = usize::from(s.byte()) * 2;
                let mut reader = FrameReader::new();
                reader.push(s.take(len));
                match reader.next_frame() {
                    Ok(Some(frame)) => Request::from_frame(&frame).ok().map(|r| self.ask(slot, r)),
                    _ => None,
                }
            }
        };
        if let Some(answer) = &answer {
            self.check_answer(answer);
        }
        self.check_files(answer.as_ref());
    }

    fn close(&mut self, slot: usize) {
        let peer = self.sessions[slot].clone();
        block_on(self.node.closed(&peer));
        self.closed.insert(peer.session);
        self.sessions[slot] = session_peer(self.fx, slot, self.next_session);
        self.next_session += 1;
        self.last_staged[slot] = None;
    }

    /// The node stops and starts again over the same directories (the repair at start-up
    /// runs); a node that cannot start says why on one line, and starts once the planted
    /// file is gone.
    fn restart(&mut self) {
        for slot in 0..SESSIONS {
            self.close(slot);
        }
        let node = match Node::new(self.config.clone(), self.config.listen) {
            Ok(node) => node,
            Err(e) => {
                assert_one_line("a node start", &e.to_string());
                for name in ["CTLFile.tlv", "CTLFile_old.tlv", "capf.cer", "capf.pem"] {
                    remove_planted(&self.dirs.tftp.join(name));
                }
                Node::new(self.config.clone(), self.config.listen)
                    .unwrap_or_else(|e| panic!("the node does not start once cleaned: {e}"))
            }
        };
        self.node = node;
        self.tampered = false;
        self.summary.restarts += 1;
    }

    /// Someone who can write the TFTP directory plants something there.
    fn tamper(&mut self, s: &mut Script<'_>) {
        let sel = s.byte();
        let name = ["CTLFile.tlv", "CTLFile_old.tlv", "capf.cer"][usize::from(sel) % 3];
        let path = self.dirs.tftp.join(name);
        let _ = std::fs::create_dir_all(&self.dirs.tftp);
        remove_planted(&path);
        let planted = match (sel >> 2) % 4 {
            0 => {
                let len = usize::from(s.byte()) * 4;
                std::fs::write(&path, s.take(len))
            }
            1 => std::os::unix::fs::symlink(&self.dirs.outside, &path),
            2 => std::fs::create_dir(&path),
            _ => std::fs::write(
                &path,
                &self.fx.files[usize::from(s.byte()) % self.fx.files.len()],
            ),
        };
        if planted.is_ok() && name == "CTLFile.tlv" {
            self.tampered = true;
        }
    }

    fn check_answer(&mut self, answer: &Response) {
        if let Response::Error { code, message } = answer {
            self.summary.refusals += 1;
            assert!(
                *code != ErrorCode::Internal,
                "the node answered INTERNAL: {message}"
            );
            assert_one_line("an answer", message);
        }
    }

    fn check_files(&mut self, answer: Option<&Response>) {
        let own = read(&self.dirs.state.join("CTLFile.tlv"));
        if own != self.current {
            let file = own
                .as_deref()
                .unwrap_or_else(|| panic!("the node's CTL was removed"));
            let h = ctl_hash(file);
            assert!(
                matches!(answer, Some(Response::Committed { hash, .. }) if *hash == h),
                "the node's CTL changed without a COMMIT answer for it"
            );
            assert!(
                self.staged_ok.contains(&h),
                "a CTL never staged was installed"
            );
            let doc = ctl_format::parse_trust_list(file)
                .unwrap_or_else(|e| panic!("an installed CTL does not parse: {e}"));
            let tokens = doc
                .records()
                .iter()
                .filter(|r| r.role() == Some(Role::SAST) && r.certificate().is_some())
                .count();
            assert!(tokens >= 2, "an installed CTL has {tokens} tokens");
            doc.verify(&RsaVerifier)
                .unwrap_or_else(|e| panic!("an installed CTL does not verify: {e}"));
            if let Some(previous) = &self.current {
                let held = ctl_format::parse_trust_list(previous).expect("the previous CTL");
                doc.verify_with_trust_list(&held, &RsaVerifier)
                    .unwrap_or_else(|e| {
                        panic!("an installed CTL is not signed by a token of the one before: {e}")
                    });
                assert!(
                    doc.header().timestamp() > held.header().timestamp(),
                    "an installed CTL is not newer than the one before"
                );
            }
            self.current = own.clone();
            self.tampered = false;
            self.summary.commits += 1;
        }
        if !self.tampered {
            let published = read(&self.dirs.tftp.join("CTLFile.tlv"));
            assert!(published == own, "the published CTL is not the node's own");
        }
        let state = self
            .store
            .state()
            .unwrap_or_else(|e| panic!("state.json does not parse: {e}"));
        assert_eq!(
            state.current_hash,
            own.as_deref().map(|f| ctl_format::hex(&ctl_hash(f))),
            "state.json does not name the node's CTL"
        );
        let staged = self.node.staged_sessions();
        let mut preparing = staged.clone();
        preparing.sort_unstable();
        preparing.dedup();
        assert!(
            preparing.len() <= self.config.limits.max_preparing,
            "{} sessions prepare, over the limit",
            preparing.len()
        );
        assert!(
            !staged.iter().any(|s| self.closed.contains(s)),
            "a closed session still holds a staged file"
        );
        for dir in [&self.dirs.tftp, &self.dirs.state] {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = entry.file_name();
                assert!(
                    !name.to_string_lossy().ends_with(".tmp"),
                    "a temporary file was left behind: {}",
                    name.to_string_lossy()
                );
            }
        }
        assert_eq!(
            std::fs::read(&self.dirs.outside).ok().as_deref(),
            Some(OUTSIDE),
            "a file outside the node's directories was written"
        );
    }
}

/// Runs `future` on this thread's runtime (one per fuzzing thread, made once: a runtime
/// per input would cost more than most inputs).
fn block_on<F: Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
    }
    RUNTIME.with(|r| r.block_on(future))
}

/// The node's file at `path` as a reader sees it: bytes of a regular file, else nothing.
fn read(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    std::fs::read(path).ok()
}

fn remove_planted(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}
