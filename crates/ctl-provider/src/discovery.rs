//! Cluster discovery: from the first node's member list to a view of every node, each
//! contacted concurrently, with a status per node; and the trust placed in provider
//! certificates (known-providers file, explicit fingerprints, the current CTL, trust on first use).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::message::{NodeInfo, Password, PeerSource, Request, Response};
use crate::net::{
    CertPolicy, Client, ClientIdentity, NetError, client_tls_for, fingerprint, fingerprint_text,
};

/// Known providers: `host port sha256` lines (`#` comments), like SSH's known_hosts.
#[derive(Debug, Default, Clone)]
pub struct KnownProviders {
    path: Option<PathBuf>,
    entries: HashMap<(String, u16), [u8; 32]>,
}

fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl KnownProviders {
    /// Reads the file (a missing file is an empty list).
    ///
    /// # Errors
    /// An unreadable file, or a line that is not `host port fingerprint` (named by number).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut entries = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || {
                format!(
                    "{} line {}: expected HOST PORT SHA256",
                    path.display(),
                    n + 1
                )
            };
            let mut parts = line.split_whitespace();
            let (Some(host), Some(port), Some(fp), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            let port = port.parse().map_err(|_| bad())?;
            entries.insert(
                (host.to_owned(), port),
                parse_fingerprint(fp).ok_or_else(bad)?,
            );
        }
        Ok(Self {
            path: Some(path.to_owned()),
            entries,
        })
    }

    /// The pinned fingerprint of `host:port`.
    pub fn get(&self, host: &str, port: u16) -> Option<&[u8; 32]> {
        self.entries.get(&(host.to_owned(), port))
    }

    /// Pins `host:port` to a fingerprint.
    pub fn insert(&mut self, host: &str, port: u16, fp: [u8; 32]) {
        self.entries.insert((host.to_owned(), port), fp);
    }

    /// Writes the file back (sorted), atomically.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .map(|((h, p), fp)| format!("{h} {p} {}", fingerprint_text(fp)))
            .collect();
        lines.sort();
        let text = format!(
            "# ctl known providers: host port sha256-of-certificate\n{}\n",
            lines.join("\n")
        );
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// How provider certificates are trusted.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Pinned providers (consulted first; a changed certificate is refused).
    pub known: KnownProviders,
    /// Fingerprints trusted wherever they appear.
    pub fingerprints: Vec<[u8; 32]>,
    /// Certificates of the current CTL (trusted once there is a CTL).
    pub ctl_certificates: Vec<Vec<u8>>,
    /// Trust an unknown provider the first time, and pin it.
    pub trust_on_first_use: bool,
}

/// The policy for one endpoint; remembers what trust on first use pinned.
#[derive(Debug)]
struct EndpointPolicy {
    shared: Arc<Mutex<TrustPolicy>>,
    host: String,
    port: u16,
}

impl CertPolicy for EndpointPolicy {
    fn check(&self, _server: &str, cert_der: &[u8]) -> Result<(), String> {
        let fp = fingerprint(cert_der);
        let mut p = self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = format!("{}:{}", self.host, self.port);
        if let Some(known) = p.known.get(&self.host, self.port) {
            return if *known == fp {
                Ok(())
            } else {
                Err(format!(
                    "the certificate of {at} changed: known {}, presented {}; if the change is expected, remove the line from the known-providers file",
                    fingerprint_text(known),
                    fingerprint_text(&fp)
                ))
            };
        }
        if p.fingerprints.contains(&fp) || p.ctl_certificates.iter().any(|c| fingerprint(c) == fp) {
            p.known.insert(&self.host, self.port, fp);
            return Ok(());
        }
        if p.trust_on_first_use {
            p.known.insert(&self.host, self.port, fp);
            return Ok(());
        }
        Err(format!(
            "{at} presented an unknown certificate {}; trust it with --trust-on-first-use or an explicit fingerprint",
            fingerprint_text(&fp)
        ))
    }
}

/// The certificate policy for one provider endpoint under a shared trust policy: what
/// trust on first use pins is recorded in the shared policy.
pub fn policy_for(shared: &Arc<Mutex<TrustPolicy>>, host: &str, port: u16) -> Arc<dyn CertPolicy> {
    Arc::new(EndpointPolicy {
        shared: Arc::clone(shared),
        host: host.to_owned(),
        port,
    })
}

/// What became of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeStatus {
    /// Contacted, logged in, facts collected.
    Ok,
    /// Its host name does not resolve from this client.
    Unresolvable(String),
    /// No TLS session could be made (refused, timed out).
    Unreachable(String),
    /// Its certificate is not the one trusted (both fingerprints are in the text).
    IdentityMismatch(String),
    /// The login was refused.
    LoginRefused(String),
    /// No protocol version in common, or another protocol failure.
    ProtocolMismatch(String),
}

impl NodeStatus {
    /// `ok`, `unresolvable`, `unreachable`, `identity-mismatch`, `login-refused`, `protocol-mismatch`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unresolvable(_) => "unresolvable",
            Self::Unreachable(_) => "unreachable",
            Self::IdentityMismatch(_) => "identity-mismatch",
            Self::LoginRefused(_) => "login-refused",
            Self::ProtocolMismatch(_) => "protocol-mismatch",
        }
    }

    /// The detail, if any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Self::Ok => None,
            Self::Unresolvable(s)
            | Self::Unreachable(s)
            | Self::IdentityMismatch(s)
            | Self::LoginRefused(s)
            | Self::ProtocolMismatch(s) => Some(s),
        }
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail() {
            Some(d) => write!(f, "{}: {d}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

/// What kind of target a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetKind {
    /// A cluster node.
    Node,
    /// An off-cluster alternate TFTP server.
    AlternateTftp,
    /// A firewall.
    Firewall,
}

/// One node of the cluster view.
#[derive(Clone, Debug)]
pub struct NodeView {
    /// Name (from the member list).
    pub name: String,
    /// Host name.
    pub host: String,
    /// Provider port.
    pub port: u16,
    /// What it is.
    pub kind: TargetKind,
    /// For an off-cluster server the first node listed: where it knows it from.
    pub source: Option<PeerSource>,
    /// Services (from the member list; from NODE_INFO when contacted).
    pub services: u16,
    /// The addresses its host name resolved to, here.
    pub resolved: Vec<IpAddr>,
    /// NODE_INFO, when contacted.
    pub info: Option<NodeInfo>,
    /// Its TLS certificate, when contacted.
    pub tls_certificate: Option<Vec<u8>>,
    /// What happened.
    pub status: NodeStatus,
}

impl NodeView {
    /// Whether it said it is the first node (in NODE_INFO).
    pub fn is_first_node(&self) -> bool {
        self.info.as_ref().is_some_and(|i| i.first_node)
    }
}

/// The whole cluster as discovered.
#[derive(Clone, Debug)]
pub struct ClusterView {
    /// Every node, the first node first, then alternate TFTP servers and firewalls.
    pub nodes: Vec<NodeView>,
}

/// How to discover.
#[derive(Clone, Debug)]
pub struct DiscoverOptions {
    /// The first node's host name and port.
    pub publisher: (String, u16),
    /// Application user.
    pub user: String,
    /// Its password.
    pub password: Password,
    /// Per-node connect and answer timeout.
    pub timeout: Duration,
    /// How the client authenticates its TLS sessions, when nodes require it.
    pub identity: Option<ClientIdentity>,
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let v: Vec<SocketAddr> = addrs.collect();
            if v.is_empty() {
                Err(format!("{host} has no address"))
            } else {
                Ok(v)
            }
        }
        Err(e) => Err(format!("{host} does not resolve: {e}")),
    }
}

fn classify(e: &NetError) -> NodeStatus {
    match e {
        NetError::Tls(rustls::Error::General(reason)) => {
            NodeStatus::IdentityMismatch(reason.clone())
        }
        NetError::Tls(other) => NodeStatus::Unreachable(format!("TLS: {other}")),
        NetError::Closed(reason) if reason.contains("no protocol version in common") => {
            NodeStatus::ProtocolMismatch(reason.clone())
        }
        NetError::Closed(reason) if reason.starts_with("login refused") => {
            NodeStatus::LoginRefused(reason.clone())
        }
        other => NodeStatus::Unreachable(other.to_string()),
    }
}

/// Connects to `host:port` under the shared trust policy and logs in.
async fn session(
    policy: &Arc<Mutex<TrustPolicy>>,
    host: &str,
    port: u16,
    options: &DiscoverOptions,
) -> Result<(Client, Vec<IpAddr>), NodeStatus> {
    let addrs = resolve(host, port)
        .await
        .map_err(NodeStatus::Unresolvable)?;
    let resolved: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
    let tls = client_tls_for(
        Arc::new(EndpointPolicy {
            shared: Arc::clone(policy),
            host: host.to_owned(),
            port,
        }),
        options.identity.as_ref(),
    )
    .map_err(|e| NodeStatus::ProtocolMismatch(e.to_string()))?;
    let mut last = NodeStatus::Unreachable(format!("{host}:{port}: no address answered"));
    for addr in addrs {
        match Client::connect(addr, host, Arc::clone(&tls), options.timeout).await {
            Ok(mut c) => {
                c.login(&options.user, &options.password)
                    .await
                    .map_err(|e| classify(&e))?;
                return Ok((c, resolved));
            }
            Err(e) => last = classify(&e),
        }
    }
    Err(last)
}

/// Visits a node and, when it is `ok`, hands back its logged-in session.
async fn visit_keeping(
    policy: Arc<Mutex<TrustPolicy>>,
    mut view: NodeView,
    options: Arc<DiscoverOptions>,
) -> (NodeView, Option<Client>) {
    match session(&policy, &view.host, view.port, &options).await {
        Ok((c, resolved)) => {
            view.resolved = resolved;
            let c = describe(&mut view, c).await;
            (view, c)
        }
        Err(status) => {
            view.status = status;
            (view, None)
        }
    }
}

/// Asks a logged-in node for its facts; keeps the session when that worked.
async fn describe(view: &mut NodeView, mut c: Client) -> Option<Client> {
    view.tls_certificate = Some(c.peer_certificate().to_vec());
    match c.call(&Request::NodeInfo).await {
        Ok(Response::NodeInfo(info)) => {
            view.services = info.services;
            view.info = Some(info);
            view.status = NodeStatus::Ok;
            return Some(c);
        }
        Ok(other) => {
            view.status = NodeStatus::ProtocolMismatch(format!("NODE_INFO answered {other:?}"))
        }
        Err(e) => view.status = classify(&e),
    }
    let _ = c.bye().await;
    None
}

/// Contacts one off-cluster provider (an alternate TFTP server or a firewall the operator
/// names) the way discovery contacts members; hands back its logged-in session when it is
/// `ok`, for the caller to go on using.
pub async fn visit_peer(
    trust: &Arc<Mutex<TrustPolicy>>,
    name: &str,
    host: &str,
    port: u16,
    kind: TargetKind,
    options: Arc<DiscoverOptions>,
) -> (NodeView, Option<Client>) {
    let view = NodeView {
        name: name.to_owned(),
        host: host.to_owned(),
        port,
        kind,
        source: None,
        services: 0,
        resolved: Vec::new(),
        info: None,
        tls_certificate: None,
        status: NodeStatus::Unreachable("not contacted".into()),
    };
    visit_keeping(Arc::clone(trust), view, options).await
}

/// Discovers the cluster: the member list from the first node, then every node (and
/// alternate TFTP server and firewall) contacted at once.
///
/// # Errors
/// The first node itself cannot be used (its status says why).
pub async fn discover(
    options: DiscoverOptions,
    policy: TrustPolicy,
) -> Result<(ClusterView, TrustPolicy), NodeStatus> {
    let (view, policy, sessions) = discover_with_sessions(options, policy).await?;
    for c in sessions.into_iter().flatten() {
        let _ = c.bye().await;
    }
    Ok((view, policy))
}

/// A discovered cluster, the trust policy as it ends up, and the logged-in session of every
/// node that is `ok` (in the order of the view), for the caller to go on using.
pub type Discovered = (ClusterView, TrustPolicy, Vec<Option<Client>>);

/// [`discover`], keeping the sessions open: a workflow that stages on every node right
/// after discovering them saves a login per node.
///
/// # Errors
/// The first node itself cannot be used (its status says why).
pub async fn discover_with_sessions(
    options: DiscoverOptions,
    policy: TrustPolicy,
) -> Result<Discovered, NodeStatus> {
    let shared = Arc::new(Mutex::new(policy));
    let (host, port) = options.publisher.clone();
    let (mut first, first_resolved) = session(&shared, &host, port, &options).await?;
    let members = match first.call(&Request::Members).await {
        Ok(Response::Members(m)) => m,
        Ok(Response::Error { message, .. }) => {
            return Err(NodeStatus::ProtocolMismatch(format!("MEMBERS: {message}")));
        }
        Ok(other) => {
            return Err(NodeStatus::ProtocolMismatch(format!(
                "MEMBERS answered {other:?}"
            )));
        }
        Err(e) => return Err(classify(&e)),
    };
    let mut targets: Vec<NodeView> = Vec::new();
    let blank = |name: &str, host: &str, port: u16, kind, source, services| NodeView {
        name: name.to_owned(),
        host: host.to_owned(),
        port,
        kind,
        source,
        services,
        resolved: Vec::new(),
        info: None,
        tls_certificate: None,
        status: NodeStatus::Unreachable("not contacted".into()),
    };
    // The first node lists itself (by the name it gave in HELLO); reach it as the operator named it.
    let me = members
        .members
        .iter()
        .position(|m| m.name == first.node())
        .unwrap_or(0);
    for (i, m) in members.members.iter().enumerate() {
        let (h, p) = if i == me {
            (host.as_str(), port)
        } else {
            (m.host.as_str(), m.port)
        };
        targets.push(blank(&m.name, h, p, TargetKind::Node, None, m.services));
    }
    for (kind, peers) in [
        (TargetKind::AlternateTftp, &members.alternate_tftp),
        (TargetKind::Firewall, &members.firewalls),
    ] {
        for p in peers {
            targets.push(blank(&p.name, &p.host, p.port, kind, Some(p.source), 0));
        }
    }
    let options = Arc::new(options);
    let mut set = tokio::task::JoinSet::new();
    let mut first = Some(first);
    for (i, mut t) in targets.into_iter().enumerate() {
        let (policy, options) = (Arc::clone(&shared), Arc::clone(&options));
        // The first node is already logged in: ask it for its facts on the same session.
        if i == me
            && let Some(c) = first.take()
        {
            t.resolved.clone_from(&first_resolved);
            set.spawn(async move {
                let session = describe(&mut t, c).await;
                (i, t, session)
            });
            continue;
        }
        set.spawn(async move {
            let (view, session) = visit_keeping(policy, t, options).await;
            (i, view, session)
        });
    }
    if let Some(c) = first {
        let _ = c.bye().await;
    }
    let mut nodes: Vec<(usize, NodeView, Option<Client>)> = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(x) = r {
            nodes.push(x);
        }
    }
    nodes.sort_by_key(|(i, _, _)| *i);
    let policy = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut views = Vec::with_capacity(nodes.len());
    let mut sessions = Vec::with_capacity(nodes.len());
    for (_, view, session) in nodes {
        views.push(view);
        sessions.push(session);
    }
    Ok((ClusterView { nodes: views }, policy, sessions))
}
