//! The node application behind one `ctl-providerd`: what it tells ([`NodeInfo`],
//! [`Members`]), logins (`login`), staging and commits (`commit`), cluster state
//! (`state`), the on-commit hook (`hook`), the audit log. Handlers refuse with a
//! `Refusal`, which becomes an ERROR answer only at the [`Handler`] edge.

mod commit;
mod hook;
mod login;
mod state;
mod throttle;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ctl_format::Role;
use ctl_provider::message::{
    ErrorCode, Member, Members, NodeInfo, Password, Peer, PeerSource, Request, Response,
    RoleCertificate, UserRole,
};
use ctl_provider::net::{Handler, PeerInfo};

use crate::audit::{AuditLine, AuditLog};
use crate::config::{Config, services_bits};
use crate::error::DaemonError;
use crate::store::{Store, StoredPeers};

/// A file and its SHA-256.
type HashedFile = ([u8; 32], Bytes);

/// A request the node refuses: its code and text, sent as an ERROR at the handler's edge.
#[derive(Debug)]
pub(crate) struct Refusal {
    code: ErrorCode,
    pub(crate) message: String,
}

impl Refusal {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<Refusal> for Response {
    fn from(r: Refusal) -> Self {
        Self::Error {
            code: r.code,
            message: r.message,
        }
    }
}

struct User {
    name: String,
    role: UserRole,
    hash: String,
}

struct Staged {
    /// The file: a slice of the STAGE frame it came in, not a copy.
    bytes: Bytes,
    /// Its TIMESTAMP.
    timestamp: u32,
    base: Option<[u8; 32]>,
    session: u64,
    /// The off-cluster servers to store with it (first node).
    peers: Option<StoredPeers>,
}

#[derive(Default)]
struct Inner {
    staged: HashMap<[u8; 32], Staged>,
    failures: throttle::FailureBook,
    digest: throttle::FailureDigest,
    known: throttle::KnownSources,
}

/// The node behind one `ctl-providerd`.
pub struct Node {
    config: Config,
    store: Store,
    audit_log: AuditLog,
    info: NodeInfo,
    members: Members,
    users: Vec<User>,
    inner: Mutex<Inner>,
    /// Password checks run on a few dedicated threads: each argon2id check takes 19 MiB and
    /// a core, so a burst of logins queues here instead of exhausting memory, and the memory
    /// is reused by the same threads instead of piling up in many.
    hasher: login::Hasher,
    /// One commit at a time, across sessions; held only inside a commit, so a session
    /// that vanishes cannot keep it.
    commit: tokio::sync::Mutex<()>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read_certificate(path: &std::path::Path) -> Result<Bytes, DaemonError> {
    let text = std::fs::read(path).map_err(DaemonError::file(path))?;
    ctl_format::Certificate::from_der_or_pem(&text)
        .map(|c| Bytes::copy_from_slice(c.der()))
        .map_err(|source| DaemonError::Certificate {
            path: path.to_owned(),
            source,
        })
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node", &self.config.node)
            .finish_non_exhaustive()
    }
}

/// What the node tells in NODE_INFO: its name, addresses, services and certificates by
/// role (its CallManager certificate as CCM, CCM+TFTP or TFTP by the services it runs).
fn node_info(config: &Config, bound: SocketAddr) -> Result<NodeInfo, DaemonError> {
    let services = services_bits(&config.services, "services")?;
    let has = |s: &str| config.services.iter().any(|x| x == s);
    let cm_role = match (has("callmanager"), has("tftp")) {
        (true, true) => Role::CCM_TFTP,
        (false, true) => Role::TFTP,
        _ => Role::CCM,
    };
    let mut certificates = vec![RoleCertificate {
        role: cm_role.0,
        der: read_certificate(&config.certificates.callmanager)?,
    }];
    for (role, path) in [
        (Role::CAPF, &config.certificates.capf),
        (Role::TVS, &config.certificates.tvs),
    ] {
        if let Some(p) = path {
            certificates.push(RoleCertificate {
                role: role.0,
                der: read_certificate(p)?,
            });
        }
    }
    Ok(NodeInfo {
        name: config.node.clone(),
        addresses: if config.addresses.is_empty() {
            vec![bound.ip()]
        } else {
            config.addresses.clone()
        },
        services,
        first_node: config.first_node,
        certificates,
    })
}

/// What the first node tells in MEMBERS from its configuration: itself first, then the
/// configured members, alternate TFTP servers and firewalls.
fn configured_members(
    config: &Config,
    info: &NodeInfo,
    bound: SocketAddr,
) -> Result<Members, DaemonError> {
    let this = Member {
        name: config.node.clone(),
        host: bound.ip().to_string(),
        addresses: info.addresses.clone(),
        services: info.services,
        port: bound.port(),
    };
    let mut members = vec![this];
    for m in &config.members {
        members.push(Member {
            name: m.name.clone(),
            host: m.host.clone(),
            addresses: m.addresses.clone(),
            services: services_bits(&m.services, &format!("member {}", m.name))?,
            port: m.port,
        });
    }
    let peers = |list: &[crate::config::PeerConfig]| {
        list.iter()
            .map(|p| Peer {
                name: p.name.clone(),
                host: p.host.clone(),
                port: p.port,
                source: PeerSource::Configured,
            })
            .collect()
    };
    Ok(Members {
        members,
        alternate_tftp: peers(&config.alternate_tftp),
        firewalls: peers(&config.firewalls),
    })
}

impl Node {
    /// The node of `config`, listening on `bound` (it lists itself first among the members).
    ///
    /// # Errors
    /// Unreadable certificates or storage.
    pub fn new(config: Config, bound: SocketAddr) -> Result<Self, DaemonError> {
        let store =
            Store::open(&config.tftp_dir, &config.state_dir).map_err(DaemonError::Storage)?;
        let info = node_info(&config, bound)?;
        let members = configured_members(&config, &info, bound)?;
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
        state::repair(&store).map_err(DaemonError::Storage)?;
        let audit_log = AuditLog::new(
            &config.state_dir,
            config.limits.audit_max_bytes,
            config.limits.audit_keep,
        );
        Ok(Self {
            config,
            store,
            audit_log,
            info,
            members,
            users,
            inner: Mutex::new(Inner::default()),
            hasher: login::Hasher::start(
                std::thread::available_parallelism()
                    .map_or(2, std::num::NonZero::get)
                    .min(4),
            ),
            commit: tokio::sync::Mutex::new(()),
        })
    }

    /// The session of every staged file (for the fuzz harness's invariants).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn staged_sessions(&self) -> Vec<u64> {
        self.inner().staged.values().map(|s| s.session).collect()
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
        // Every audit line is also a log event (they are already bounded: failures come
        // aggregated); the texts are escaped by the log's formatter.
        match action {
            "lockout" | "login-failures" | "internal-error" => tracing::warn!(
                user = %line.user, action = %action, details = %line.message, "audit"
            ),
            _ => {
                tracing::info!(user = %line.user, action = %action, details = %line.message, "audit")
            }
        }
        // An audit failure must not undo the action; it is logged (no secrets in it).
        if let Err(e) = self.audit_log.append(&line) {
            tracing::error!(error = %e, "cannot write the audit log");
        }
    }
}

impl Handler for Node {
    async fn login(&self, peer: &PeerInfo, user: &str, password: &Password) -> Response {
        self.check_login(peer, user, password)
            .await
            .unwrap_or_else(Response::from)
    }

    async fn handle(
        &self,
        peer: &PeerInfo,
        user: &str,
        _role: UserRole,
        request: Request,
    ) -> Response {
        let answer = match request {
            Request::NodeInfo => Ok(Response::NodeInfo(self.info.clone())),
            Request::Members => self.members_now(),
            Request::GetCtl => self.current().map(Response::Ctl),
            Request::GetMode => self.mode(),
            Request::Stage { base, file, peers } => self.stage(peer, user, base, file, peers),
            Request::Commit { hash } => self.commit(peer, user, hash).await,
            Request::Abort { hash } => self.abort(peer, user, hash),
            Request::SetMode(mode) => self.set_mode(peer, user, mode),
            Request::PutCapf { certificate } => self.put_capf(peer, user, &certificate),
            Request::Audit { limit } => self.audit_entries(limit),
            _ => Err(Refusal::new(
                ErrorCode::UnknownMessage,
                "not served by this node",
            )),
        };
        answer.unwrap_or_else(Response::from)
    }

    async fn failed(&self, peer: &PeerInfo, user: &str, kind: u8) {
        self.audit(
            user,
            "internal-error",
            format!(
                "from {}: answering {} failed (a bug in the node); the client was answered INTERNAL",
                peer.addr.ip(),
                ctl_provider::message::kind::name(kind)
            ),
        );
    }

    async fn closed(&self, peer: &PeerInfo) {
        self.inner().staged.retain(|_, s| s.session != peer.session);
        self.write_due_failures();
    }
}
