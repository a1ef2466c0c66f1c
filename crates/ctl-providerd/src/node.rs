//! The node application: logins with back-off and lockout, reads, staging, commits under
//! a lock with a lease, the on-commit hook, the audit log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::Argon2;
use ctl_format::RsaVerifier;
use ctl_provider::message::{
    AuditEntry, ErrorCode, HookOutcome, Member, Members, NodeInfo, OffCluster, Password, Peer,
    PeerSource, Request, Response, RoleCertificate, SecurityMode, UserRole,
};
use ctl_provider::net::{Handler, PeerInfo};
use sha2::Digest as _;

use crate::config::{Config, services_bits};
use crate::store::{AuditLine, PeerRecord, PendingPeers, State, Store, StoredPeers};

/// A file and its SHA-256.
type HashedFile = ([u8; 32], Vec<u8>);

struct User {
    name: String,
    role: UserRole,
    hash: String,
}

struct Staged {
    bytes: Vec<u8>,
    base: Option<[u8; 32]>,
    session: u64,
    /// The off-cluster servers to store with it (first node).
    peers: Option<StoredPeers>,
}

#[derive(Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    staged: HashMap<[u8; 32], Staged>,
    failures: HashMap<String, Failures>,
}

/// The node behind one `ctl-providerd`.
pub struct Node {
    config: Config,
    store: Store,
    info: NodeInfo,
    members: Members,
    users: Vec<User>,
    inner: Mutex<Inner>,
    /// Password checks run on a few dedicated threads: each argon2id check takes 19 MiB and
    /// a core, so a burst of logins queues here instead of exhausting memory, and the memory
    /// is reused by the same threads instead of piling up in many.
    hasher: Hasher,
    /// One commit at a time, across sessions; held only inside a commit, so a session
    /// that vanishes cannot keep it.
    commit: tokio::sync::Mutex<()>,
}

type HashJob = (Password, String, tokio::sync::oneshot::Sender<bool>);

/// A few threads that check passwords against argon2 PHC strings.
struct Hasher {
    jobs: std::sync::mpsc::SyncSender<HashJob>,
}

impl Hasher {
    fn start(threads: usize) -> Self {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<HashJob>(1024);
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for _ in 0..threads.max(1) {
            let rx = std::sync::Arc::clone(&rx);
            std::thread::spawn(move || {
                // Each thread keeps its argon2 memory for the next check: allocating 19 MiB
                // per login would fragment the heap and grow the process with every login.
                let mut blocks: Vec<argon2::Block> = Vec::new();
                loop {
                    let job = rx
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .recv();
                    let Ok((password, hash, reply)) = job else {
                        return;
                    };
                    let _ = reply.send(verify_with(
                        &mut blocks,
                        password.expose().as_bytes(),
                        &hash,
                    ));
                }
            });
        }
        Self { jobs }
    }

    /// Whether `password` matches `hash` (false when the queue is full).
    async fn verify(&self, password: Password, hash: String) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.jobs.try_send((password, hash, tx)).is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }
}

/// Checks a password against an argon2 PHC string, computing into `blocks` (grown as needed).
fn verify_with(blocks: &mut Vec<argon2::Block>, password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        argon2::Params::try_from(&parsed),
        argon2::Algorithm::try_from(parsed.algorithm.as_str()),
    ) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let needed = params.block_count();
    if blocks.len() < needed {
        blocks.resize(needed, argon2::Block::default());
    }
    let expected = expected.as_bytes();
    let mut out = vec![0u8; expected.len()];
    let Some(memory) = blocks.get_mut(..needed) else {
        return false;
    };
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt.as_ref(), &mut out, memory)
        .is_err()
    {
        return false;
    }
    // Constant time: every byte is compared whatever the first difference.
    out.iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hash(bytes: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(bytes).into()
}

fn hex(bytes: &[u8]) -> String {
    ctl_format::hex(bytes)
}

fn read_pem_certificate(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    ctl_format::Certificate::from_der_or_pem(&text)
        .map(|c| c.der().to_vec())
        .map_err(|e| format!("{}: {e}", path.display()))
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node", &self.config.node)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// The node of `config`, listening on `bound` (it lists itself first among the members).
    ///
    /// # Errors
    /// Unreadable certificates or storage.
    pub fn new(config: Config, bound: SocketAddr) -> Result<Self, String> {
        let store = Store::open(&config.tftp_dir, &config.state_dir)
            .map_err(|e| format!("storage: {e}"))?;
        let services = services_bits(&config.services)?;
        let has = |s: &str| config.services.iter().any(|x| x == s);
        let cm_role = match (has("callmanager"), has("tftp")) {
            (true, true) => 2,
            (false, true) => 3,
            _ => 1,
        };
        let mut certificates = vec![RoleCertificate {
            role: cm_role,
            der: read_pem_certificate(&config.certificates.callmanager)?,
        }];
        if let Some(p) = &config.certificates.capf {
            certificates.push(RoleCertificate {
                role: 4,
                der: read_pem_certificate(p)?,
            });
        }
        if let Some(p) = &config.certificates.tvs {
            certificates.push(RoleCertificate {
                role: 21,
                der: read_pem_certificate(p)?,
            });
        }
        let addresses = if config.addresses.is_empty() {
            vec![bound.ip()]
        } else {
            config.addresses.clone()
        };
        let info = NodeInfo {
            name: config.node.clone(),
            addresses,
            services,
            first_node: config.first_node,
            certificates,
        };
        let this = Member {
            name: config.node.clone(),
            host: bound.ip().to_string(),
            addresses: info.addresses.clone(),
            services,
            port: bound.port(),
        };
        let members = Members {
            members: std::iter::once(Ok(this))
                .chain(config.members.iter().map(|m| {
                    Ok(Member {
                        name: m.name.clone(),
                        host: m.host.clone(),
                        addresses: m.addresses.clone(),
                        services: services_bits(&m.services)?,
                        port: m.port,
                    })
                }))
                .collect::<Result<_, String>>()?,
            alternate_tftp: config
                .alternate_tftp
                .iter()
                .map(|p| Peer {
                    name: p.name.clone(),
                    host: p.host.clone(),
                    port: p.port,
                    source: PeerSource::Configured,
                })
                .collect(),
            firewalls: config
                .firewalls
                .iter()
                .map(|p| Peer {
                    name: p.name.clone(),
                    host: p.host.clone(),
                    port: p.port,
                    source: PeerSource::Configured,
                })
                .collect(),
        };
        let users = config
            .users
            .iter()
            .map(|u| User {
                name: u.name.clone(),
                role: if u.role == "read-only" {
                    UserRole::ReadOnly
                } else {
                    UserRole::SuperUser
                },
                hash: u.password_hash.clone(),
            })
            .collect();
        // The state must agree with the file on disk (a crash between the two writes of a commit).
        let mut state = store.state().map_err(|e| format!("state: {e}"))?;
        let on_disk = store
            .current_ctl()
            .map_err(|e| format!("storage: {e}"))?
            .map(|b| hex(&hash(&b)));
        let mut repaired = state.current_hash != on_disk;
        if let Some(pending) = state.pending_peers.take() {
            // A commit stopped between its writes: the list goes with the file on disk.
            if Some(&pending.hash) == on_disk.as_ref() {
                state.peers = pending.peers;
            }
            repaired = true;
        }
        if repaired {
            state.current_hash = on_disk;
            store
                .update_state(|s| {
                    *s = state;
                    Ok(())
                })
                .map_err(|e| format!("state: {e}"))?;
        }
        Ok(Self {
            config,
            store,
            info,
            members,
            users,
            inner: Mutex::new(Inner::default()),
            hasher: Hasher::start(
                std::thread::available_parallelism()
                    .map_or(2, std::num::NonZero::get)
                    .min(4),
            ),
            commit: tokio::sync::Mutex::new(()),
        })
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn audit(&self, user: &str, action: &str, message: String) {
        let line = AuditLine {
            time: unix_now(),
            user: user.to_owned(),
            action: action.to_owned(),
            message,
        };
        // An audit failure must not undo the action; it is reported on stderr (no secrets in it).
        if let Err(e) = self.store.audit(&line) {
            eprintln!("ctl-providerd: audit log: {e}");
        }
    }

    /// The current CTL and its hash, or the STORAGE error to answer.
    fn current(&self) -> Result<Option<HashedFile>, Response> {
        match self.store.current_ctl() {
            Ok(c) => Ok(c.map(|b| (hash(&b), b))),
            Err(e) => Err(Response::error(
                ErrorCode::Storage,
                format!("reading CTLFile.tlv: {e}"),
            )),
        }
    }

    /// When the node requires it, the client's certificate must be a SAST of `trust`
    /// (the current CTL, or the staged file when there is none).
    fn check_client_certificate(&self, peer: &PeerInfo, trust: &[u8]) -> Result<(), Response> {
        if !self.config.require_sast_client_certificate {
            return Ok(());
        }
        let Some(cert) = &peer.client_certificate else {
            return Err(Response::error(
                ErrorCode::Forbidden,
                "this node requires a TLS client certificate that is a SAST of its current CTL",
            ));
        };
        let doc = ctl_format::parse_trust_list(trust).map_err(|e| {
            Response::error(ErrorCode::InvalidFile, format!("not a valid CTL: {e}"))
        })?;
        let is_sast = doc.records().iter().any(|r| {
            r.role() == Some(ctl_format::Role::SAST) && r.certificate() == Some(cert.as_slice())
        });
        if is_sast {
            Ok(())
        } else {
            Err(Response::error(
                ErrorCode::Forbidden,
                format!(
                    "the client certificate (sha256 {}) is not a SAST of the current CTL",
                    hex(&hash(cert))
                ),
            ))
        }
    }

    fn stage(
        &self,
        peer: &PeerInfo,
        user: &str,
        base: Option<[u8; 32]>,
        file: Vec<u8>,
        peers: Option<OffCluster>,
    ) -> Response {
        let peers = match peers.map(|p| self.peers_to_store(p)).transpose() {
            Ok(p) => p,
            Err(r) => return r,
        };
        {
            let inner = self.inner();
            let mut preparing: Vec<u64> = inner.staged.values().map(|s| s.session).collect();
            preparing.sort_unstable();
            preparing.dedup();
            if !preparing.contains(&peer.session)
                && preparing.len() >= self.config.limits.max_preparing
            {
                return Response::error(
                    ErrorCode::Busy,
                    format!("{} sessions are already preparing changes", preparing.len()),
                );
            }
        }
        let current = match self.current() {
            Ok(c) => c,
            Err(r) => return r,
        };
        if base != current.as_ref().map(|c| c.0) {
            return Response::error(
                ErrorCode::Conflict,
                format!(
                    "the base {} is not the current CTL {}; fetch it and prepare the change again",
                    base.map_or_else(|| "(none)".to_owned(), |b| hex(&b)),
                    current
                        .as_ref()
                        .map_or_else(|| "(none)".to_owned(), |c| hex(&c.0))
                ),
            );
        }
        let doc = match ctl_format::parse_trust_list(&file) {
            Ok(d) => d,
            Err(e) => {
                return Response::error(ErrorCode::InvalidFile, format!("not a valid CTL: {e}"));
            }
        };
        if let Err(r) =
            self.check_client_certificate(peer, current.as_ref().map_or(&file, |c| &c.1))
        {
            return r;
        }
        let verdict = match &current {
            Some((_, bytes)) => match ctl_format::parse_trust_list(bytes) {
                Ok(held) => doc.verify_with_trust_list(&held, &RsaVerifier).map(|_| ()),
                Err(e) => {
                    return Response::error(
                        ErrorCode::Internal,
                        format!("the current CTL does not parse: {e}"),
                    );
                }
            },
            None => doc.verify(&RsaVerifier).map(|_| ()),
        };
        if let Err(e) = verdict {
            self.audit(user, "stage-refused", e.to_string());
            return Response::error(
                ErrorCode::SignatureRefused,
                format!("not signed by a SAST of the current CTL: {e}"),
            );
        }
        let h = hash(&file);
        self.inner().staged.insert(
            h,
            Staged {
                bytes: file,
                base,
                session: peer.session,
                peers,
            },
        );
        self.audit(user, "stage", hex(&h));
        Response::Staged(h)
    }

    async fn commit(&self, peer: &PeerInfo, user: &str, h: [u8; 32]) -> Response {
        if self.config.require_sast_client_certificate {
            let trust = match self.current() {
                Ok(Some((_, bytes))) => bytes,
                Ok(None) => match self.inner().staged.get(&h) {
                    Some(s) => s.bytes.clone(),
                    None => {
                        return Response::error(
                            ErrorCode::UnknownHash,
                            format!("no staged CTL {}", hex(&h)),
                        );
                    }
                },
                Err(r) => return r,
            };
            if let Err(r) = self.check_client_certificate(peer, &trust) {
                return r;
            }
        }
        // One commit at a time: wait for the lock up to its lease, then give up as BUSY.
        let lease = Duration::from_secs(self.config.limits.lock_lease_secs);
        let Ok(_lock) = tokio::time::timeout(lease, self.commit.lock()).await else {
            return Response::error(
                ErrorCode::Busy,
                format!(
                    "another commit held the lock for over {} s",
                    lease.as_secs()
                ),
            );
        };
        self.commit_locked(user, h).await
    }

    async fn commit_locked(&self, user: &str, h: [u8; 32]) -> Response {
        let current = match self.current() {
            Ok(c) => c,
            Err(r) => return r,
        };
        if current.as_ref().is_some_and(|c| c.0 == h) {
            // Already current: a retry after a lost answer converges.
            self.inner().staged.remove(&h);
            return Response::Committed {
                hash: h,
                hook: None,
            };
        }
        let Some(staged) = self.inner().staged.remove(&h) else {
            return Response::error(ErrorCode::UnknownHash, format!("no staged CTL {}", hex(&h)));
        };
        if staged.base != current.as_ref().map(|c| c.0) {
            return Response::error(
                ErrorCode::Conflict,
                "the CTL changed since this one was staged; stage it again",
            );
        }
        if let Some(peers) = &staged.peers {
            // The list first, marked with the file it goes with; current once the file is.
            let pending = self.store.update_state(|s| {
                s.pending_peers = Some(PendingPeers {
                    hash: hex(&h),
                    peers: peers.clone(),
                });
                Ok(())
            });
            if let Err(e) = pending {
                self.audit(user, "commit-failed", e.to_string());
                return Response::error(
                    ErrorCode::Storage,
                    format!("writing the off-cluster servers: {e}; the previous file is unchanged"),
                );
            }
        }
        if let Err(e) = self.store.install_ctl(&staged.bytes) {
            self.audit(user, "commit-failed", e.to_string());
            return Response::error(
                ErrorCode::Storage,
                format!("writing CTLFile.tlv: {e}; the previous file is unchanged"),
            );
        }
        let state_result = self.store.update_state(|s| {
            s.current_hash = Some(hex(&h));
            if let Some(pending) = s.pending_peers.take() {
                s.peers = pending.peers;
            }
            Ok(())
        });
        if let Err(e) = state_result {
            eprintln!("ctl-providerd: state: {e}");
        }
        self.audit(user, "commit", hex(&h));
        let hook = self.run_hook(&h).await;
        if let Some(o) = &hook {
            self.audit(
                user,
                "hook",
                format!("exit {}: {}", o.exit_status, o.message),
            );
        }
        Response::Committed { hash: h, hook }
    }

    /// Checks the PEERS of a STAGE: first node only, every name given once and not a
    /// member's, and not one the configuration already lists.
    fn peers_to_store(&self, peers: OffCluster) -> Result<StoredPeers, Response> {
        if !self.config.first_node {
            return Err(Response::error(
                ErrorCode::NotFirstNode,
                "only the first node stores the off-cluster servers (PEERS)",
            ));
        }
        let mut seen: Vec<&str> = Vec::new();
        let all = peers.alternate_tftp.iter().chain(&peers.firewalls);
        for p in all {
            let refuse = |why: String| {
                Err(Response::error(
                    ErrorCode::InvalidFile,
                    format!("PEERS: {why}"),
                ))
            };
            if p.name.is_empty() || p.host.is_empty() || p.port == 0 {
                return refuse(format!(
                    "{:?} at {:?} port {} needs a name, a host and a port",
                    p.name, p.host, p.port
                ));
            }
            if seen.contains(&p.name.as_str()) {
                return refuse(format!("{} is named twice", p.name));
            }
            if self.members.members.iter().any(|m| m.name == p.name) {
                return refuse(format!(
                    "{} is a cluster member, not an off-cluster server",
                    p.name
                ));
            }
            seen.push(&p.name);
        }
        let keep = |list: Vec<Peer>| {
            list.into_iter()
                .filter(|p| !self.configured_peer(&p.name))
                .map(|p| PeerRecord {
                    name: p.name,
                    host: p.host,
                    port: p.port,
                })
                .collect()
        };
        Ok(StoredPeers {
            alternate_tftp: keep(peers.alternate_tftp),
            firewalls: keep(peers.firewalls),
        })
    }

    /// Whether the configuration names an off-cluster server `name`.
    fn configured_peer(&self, name: &str) -> bool {
        self.members
            .alternate_tftp
            .iter()
            .chain(&self.members.firewalls)
            .any(|c| c.name == name)
    }

    /// MEMBERS: the configured members and peers, then the peers stored with the current CTL
    /// (the file on disk decides which list that is, also in the middle of a commit).
    fn members_now(&self) -> Response {
        let mut out = self.members.clone();
        let current = match self.current() {
            Ok(c) => c.map(|(h, _)| hex(&h)),
            Err(r) => return r,
        };
        let state = match self.store.state() {
            Ok(s) => s,
            Err(e) => return Response::error(ErrorCode::Storage, format!("state: {e}")),
        };
        let stored = state.peers_for(current.as_deref());
        for (list, records) in [
            (&mut out.alternate_tftp, &stored.alternate_tftp),
            (&mut out.firewalls, &stored.firewalls),
        ] {
            for r in records {
                if !self.configured_peer(&r.name) {
                    list.push(Peer {
                        name: r.name.clone(),
                        host: r.host.clone(),
                        port: r.port,
                        source: PeerSource::Stored,
                    });
                }
            }
        }
        Response::Members(out)
    }

    async fn run_hook(&self, h: &[u8; 32]) -> Option<HookOutcome> {
        let (program, args) = self.config.hook.on_commit.split_first()?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env("CTL_NODE", &self.config.node)
            .env("CTL_HASH", hex(h))
            .env("CTL_FILE", self.store.ctl_path())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let timeout = Duration::from_secs(self.config.hook.timeout_secs);
        let outcome = match cmd.output_timeout(timeout).await {
            Ok(Ok(out)) => {
                let mut text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                if !err.is_empty() {
                    text = if text.is_empty() {
                        err
                    } else {
                        format!("{text}; {err}")
                    };
                }
                text.truncate(1000);
                HookOutcome {
                    exit_status: out.status.code().unwrap_or(-1),
                    message: text,
                }
            }
            Ok(Err(e)) => HookOutcome {
                exit_status: -1,
                message: format!("could not run {program}: {e}"),
            },
            Err(()) => HookOutcome {
                exit_status: -1,
                message: format!("killed after {} s", timeout.as_secs()),
            },
        };
        Some(outcome)
    }

    fn set_mode(&self, user: &str, mode: SecurityMode) -> Response {
        if !self.config.first_node {
            return Response::error(
                ErrorCode::NotFirstNode,
                "the security mode is set on the first node",
            );
        }
        let code = match mode {
            SecurityMode::Mixed => 1,
            _ => 0,
        };
        let result = self.store.update_state(|s| {
            s.mode = code;
            Ok(())
        });
        match result {
            Ok(()) => {
                self.audit(
                    user,
                    "set-mode",
                    if code == 1 {
                        "mixed".into()
                    } else {
                        "non-secure".into()
                    },
                );
                Response::ModeSet(mode)
            }
            Err(e) => Response::error(ErrorCode::Storage, format!("saving the mode: {e}")),
        }
    }

    fn mode(&self) -> Response {
        match self.store.state() {
            Ok(State { mode: 1, .. }) => Response::Mode(SecurityMode::Mixed),
            Ok(_) => Response::Mode(SecurityMode::NonSecure),
            Err(e) => Response::error(ErrorCode::Storage, format!("reading the state: {e}")),
        }
    }

    fn put_capf(&self, user: &str, der: &[u8]) -> Response {
        if self.config.first_node {
            return Response::error(
                ErrorCode::Forbidden,
                "the first node runs CAPF itself; the CAPF certificate goes to subsequent nodes",
            );
        }
        let cert = match ctl_format::Certificate::from_der(der) {
            Ok(c) => c,
            Err(e) => {
                return Response::error(ErrorCode::InvalidFile, format!("CAPF certificate: {e}"));
            }
        };
        let pem = pem_encode(cert.der());
        match self.store.install_capf(cert.der(), &pem) {
            Ok(()) => {
                self.audit(
                    user,
                    "put-capf",
                    cert.subject_text(ctl_format::NameStyle::Reversed),
                );
                Response::CapfStored
            }
            Err(e) => Response::error(ErrorCode::Storage, format!("writing capf.cer: {e}")),
        }
    }
}

fn pem_encode(der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

trait OutputTimeout {
    async fn output_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<std::io::Result<std::process::Output>, ()>;
}

impl OutputTimeout for tokio::process::Command {
    async fn output_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<std::io::Result<std::process::Output>, ()> {
        tokio::time::timeout(timeout, self.output())
            .await
            .map_err(|_| ())
    }
}

impl Handler for Node {
    async fn login(&self, peer: &PeerInfo, user: &str, password: &Password) -> Response {
        let key = format!("{user}@{}", peer.addr.ip());
        let limits = &self.config.limits;
        {
            let inner = self.inner();
            if let Some(f) = inner.failures.get(&key)
                && f.locked_until.is_some_and(|t| t > Instant::now())
            {
                return Response::error(
                    ErrorCode::LockedOut,
                    "too many failed logins; try again later",
                );
            }
        }
        let found = self.users.iter().find(|u| u.name == user);
        // Unknown users cost the same as wrong passwords.
        let hash = found.map_or_else(
            || {
                self.users
                    .first()
                    .map(|u| u.hash.clone())
                    .unwrap_or_default()
            },
            |u| u.hash.clone(),
        );
        let ok = self.hasher.verify(password.clone(), hash).await && found.is_some();
        if let (true, Some(u)) = (ok, found) {
            self.inner().failures.remove(&key);
            self.audit(user, "login", format!("from {}", peer.addr.ip()));
            return Response::LoginOk(u.role);
        }
        let (count, locked) = {
            let mut inner = self.inner();
            let f = inner.failures.entry(key).or_default();
            f.count = f.count.saturating_add(1);
            if f.count >= limits.lockout_after {
                f.locked_until = Some(Instant::now() + Duration::from_secs(limits.lockout_secs));
            }
            (f.count, f.locked_until.is_some())
        };
        self.audit(
            user,
            "login-failed",
            format!("from {} (failure {count})", peer.addr.ip()),
        );
        if locked {
            return Response::error(
                ErrorCode::LockedOut,
                "too many failed logins; try again later",
            );
        }
        // Back off: 1, 2, 4 ... times the base delay, at most 30 s.
        let factor = 1u64 << count.saturating_sub(1).min(5);
        tokio::time::sleep(
            Duration::from_millis(limits.login_backoff_ms.saturating_mul(factor))
                .min(Duration::from_secs(30)),
        )
        .await;
        Response::error(ErrorCode::LoginRefused, "wrong user or password")
    }

    async fn handle(
        &self,
        peer: &PeerInfo,
        user: &str,
        _role: UserRole,
        request: Request,
    ) -> Response {
        match request {
            Request::NodeInfo => Response::NodeInfo(self.info.clone()),
            Request::Members if self.config.first_node => self.members_now(),
            Request::Members => Response::error(
                ErrorCode::NotFirstNode,
                "ask the first node for the members",
            ),
            Request::GetCtl => match self.current() {
                Ok(c) => Response::Ctl(c),
                Err(r) => r,
            },
            Request::GetMode => self.mode(),
            Request::Stage { base, file, peers } => self.stage(peer, user, base, file, peers),
            Request::Commit { hash } => self.commit(peer, user, hash).await,
            Request::Abort { hash } => match self.inner().staged.remove(&hash) {
                Some(_) => Response::Aborted(hash),
                None => Response::error(
                    ErrorCode::UnknownHash,
                    format!("no staged CTL {}", ctl_format::hex(&hash)),
                ),
            },
            Request::SetMode(mode) => self.set_mode(user, mode),
            Request::PutCapf { certificate } => self.put_capf(user, &certificate),
            Request::Audit { limit } => match self.store.audit_tail(limit as usize) {
                Ok(lines) => Response::Audit(
                    lines
                        .into_iter()
                        .map(|l| AuditEntry {
                            time: l.time,
                            user: l.user,
                            action: l.action,
                            message: l.message,
                        })
                        .collect(),
                ),
                Err(e) => {
                    Response::error(ErrorCode::Storage, format!("reading the audit log: {e}"))
                }
            },
            _ => Response::error(ErrorCode::UnknownMessage, "not served by this node"),
        }
    }

    async fn closed(&self, peer: &PeerInfo) {
        let mut inner = self.inner();
        inner.staged.retain(|_, s| s.session != peer.session);
    }
}
