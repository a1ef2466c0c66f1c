//! The Cisco CTL Client workflows as a library: discover the cluster through its CTL
//! providers, assemble the CTL by the Cisco rules, sign it on a token, and distribute it
//! to every node atomically (stage everywhere, then commit everywhere, or abort everywhere).
//!
//! ```text
//! ctl (CLI)   ctl-providerd (daemon)          examples/   benches/   fuzz/
//!       \         |
//!        ctl-client      facade: workflows, policy rules, distribution, progress events
//!       /     |     \
//! ctl-token  ctl-provider       PKCS#11 + software signers | wire protocol, client, server, discovery
//!       \     /
//!      ctl-format               pure: TLV codec, 64 KiB cap, signatures, trust rules (no I/O)
//! ```
//!
//! It does **not** draw progress (it reports [`Event`]s for any UI to draw), prompt for
//! PINs or passwords (callers pass them), or run the provider service.
//!
//! ```no_run
//! use ctl_client::{Changes, Client, Password, TrustPolicy};
//! # async fn demo(
//! #     t1: ctl_client::Certificate,
//! #     t2: ctl_client::Certificate,
//! #     signer: &(dyn ctl_client::Signer + Sync),
//! # ) -> Result<(), ctl_client::Error> {
//! let client = Client::builder("cucm-pub.example.com", 2444, "admin", Password::new("..."))
//!     .trust(TrustPolicy { trust_on_first_use: true, ..TrustPolicy::default() })
//!     .on_event(|e| eprintln!("{e:?}"))
//!     // For nodes that require a SAST client certificate:
//!     // .identity(ctl_client::token_identity(token_signer.clone()))
//!     .build();
//! let outcome = client.set_mixed_mode(&[t1, t2], signer).await?;
//! for t in &outcome.distribution.targets {
//!     println!("{} {:?} restart {:?}", t.name, t.status, t.restart);
//! }
//! let (_ctl, changes) = client.status().await?;
//! client.update(signer, &Changes::default()).await?;
//! # Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use ctl_format as format;
pub use ctl_provider as provider;
pub use ctl_token as token;

pub use ctl_format::{Certificate, Role, Signer};
pub use ctl_provider::discovery::{
    ClusterView, KnownProviders, NodeStatus, NodeView, TargetKind, TrustPolicy,
};
pub use ctl_provider::message::{HookOutcome, OffCluster, Password, PeerSource, SecurityMode};
pub use ctl_provider::net::ClientIdentity;

mod distribute;
pub mod plan;

pub use distribute::{DistributionReport, Followup, TargetReport, TargetStatus};
pub use plan::{Change, Entry, Origin, Selector};

/// Why a workflow stopped. Nothing was changed on any node unless the report says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The first node could not be used.
    #[error("first node {publisher}: {status}")]
    Publisher {
        /// HOST:PORT.
        publisher: String,
        /// What happened.
        status: String,
    },
    /// A node is not ready; the CTL must cover every node.
    #[error("node {node} is not ready ({status}); every node must be reachable to build the CTL")]
    NodeNotReady {
        /// The node.
        node: String,
        /// Its status.
        status: String,
    },
    /// A certificate that cannot be read.
    #[error("{what}: {reason}")]
    Certificate {
        /// Whose.
        what: String,
        /// Why.
        reason: String,
    },
    /// A Cisco rule refused the change (the text says which).
    #[error("{0}")]
    Rule(String),
    /// The CTL cannot be built (over 64 KiB, a signer that cannot sign, ...).
    #[error("building the CTL: {0}")]
    Build(#[from] ctl_format::BuildError),
    /// The current CTL does not check out.
    #[error("the current CTL: {0}")]
    CurrentCtl(String),
    /// A protocol or network failure outside distribution.
    #[error("{0}")]
    Provider(String),
    /// Distribution failed; every node that had staged the file aborted it.
    #[error("distribution failed: {0}")]
    Distribution(Box<DistributionReport>),
}

/// Progress, for any UI to draw.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A node answered discovery.
    NodeContacted {
        /// The node.
        node: String,
        /// Its status.
        status: String,
    },
    /// A certificate was collected for the CTL.
    CertificateCollected {
        /// From which node or token.
        from: String,
        /// Role and subject.
        entry: String,
    },
    /// A target staged the file.
    Staged {
        /// The target.
        target: String,
    },
    /// A target committed the file.
    Committed {
        /// The target.
        target: String,
    },
    /// A target aborted the staged file.
    Aborted {
        /// The target.
        target: String,
    },
    /// A step failed on a target.
    Failed {
        /// The target.
        target: String,
        /// Why.
        reason: String,
    },
}

type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// Builds a [`Client`].
pub struct ClientBuilder {
    publisher: (String, u16),
    user: String,
    password: Password,
    trust: TrustPolicy,
    timeout: Duration,
    concurrency: usize,
    events: Option<Sink>,
    identity: Option<ClientIdentity>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("publisher", &self.publisher)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Sets the provider trust policy (known providers, fingerprints, trust on first use).
    #[must_use]
    pub fn trust(mut self, trust: TrustPolicy) -> Self {
        self.trust = trust;
        self
    }

    /// Per-node timeout for connecting and for each answer.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// At most this many nodes contacted at once during distribution.
    #[must_use]
    pub const fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = if n == 0 { 1 } else { n };
        self
    }

    /// Authenticates every TLS session with this identity: nodes that require mutual TLS
    /// stage and commit only for a client whose certificate is a SAST of their CTL (see
    /// [`token_identity`] for a key on a token, [`software_identity`] for a key file).
    #[must_use]
    pub fn identity(mut self, identity: ClientIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Receives progress events.
    #[must_use]
    pub fn on_event(mut self, sink: impl Fn(Event) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(sink));
        self
    }

    /// The client.
    pub fn build(self) -> Client {
        Client {
            publisher: self.publisher,
            user: self.user,
            password: self.password,
            trust: Arc::new(Mutex::new(self.trust)),
            timeout: self.timeout,
            concurrency: self.concurrency,
            events: self.events,
            identity: self.identity,
        }
    }
}

/// A client of one cluster.
pub struct Client {
    publisher: (String, u16),
    user: String,
    password: Password,
    trust: Arc<Mutex<TrustPolicy>>,
    timeout: Duration,
    concurrency: usize,
    events: Option<Sink>,
    identity: Option<ClientIdentity>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("publisher", &self.publisher)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The result of a workflow: the CTL written and what happened on each target.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The CTL that was distributed.
    pub ctl: Vec<u8>,
    /// Per target.
    pub distribution: DistributionReport,
    /// Room left for more 2048-bit records under the 64 KiB limit.
    pub room_for_records: usize,
    /// What else was done (mode set, CAPF certificates put).
    pub notes: Vec<String>,
}

/// An off-cluster provider to add: an alternate TFTP server or a firewall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its name (the DNS name of its records).
    pub name: String,
    /// Host name or address of its provider.
    pub host: String,
    /// Provider port.
    pub port: u16,
    /// A firewall (records with role CCM) rather than an alternate TFTP server (role TFTP).
    pub firewall: bool,
}

/// What an update changes (build it with `..Changes::default()`).
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// Tokens to add.
    pub add_tokens: Vec<Certificate>,
    /// A token entry to remove.
    pub remove: Option<Selector>,
    /// Alternate TFTP servers and firewalls to add (their providers are contacted; the
    /// first node stores them with the new CTL, so later runs find them).
    pub add_peers: Vec<Peer>,
    /// Alternate TFTP servers and firewalls to remove, by name (their records go; ones in
    /// the first node's own configuration are removed there, not here).
    pub remove_peers: Vec<String>,
    /// Set non-secure mode: server records without certificates, mode 0 on the first node.
    pub non_secure: bool,
}

/// The TLS identity of a key on a PKCS#11 token: the token signs the handshakes
/// (RSASSA-PSS in TLS 1.3; PKCS #1 v1.5 in TLS 1.2), the key never leaves it.
pub fn token_identity(signer: Arc<ctl_token::TokenSigner>) -> ClientIdentity {
    ClientIdentity::External {
        chain: vec![signer.certificate().to_vec()],
        key: Arc::new(TokenTlsKey(signer)),
    }
}

/// The TLS identity of a software key (its certificate and PKCS #8 key).
///
/// # Errors
/// The key cannot be encoded.
pub fn software_identity(signer: &ctl_token::SoftwareSigner) -> Result<ClientIdentity, Error> {
    let key = signer.pkcs8_der().map_err(|e| Error::Certificate {
        what: "the TLS client key".into(),
        reason: e.to_string(),
    })?;
    Ok(ClientIdentity::Pkcs8 {
        chain: vec![signer.certificate().to_vec()],
        key,
    })
}

#[derive(Debug)]
struct TokenTlsKey(Arc<ctl_token::TokenSigner>);

impl ctl_provider::net::TlsKey for TokenTlsKey {
    fn sign(
        &self,
        scheme: ctl_provider::net::KeyScheme,
        message: &[u8],
    ) -> Result<Vec<u8>, String> {
        let scheme = match scheme {
            ctl_provider::net::KeyScheme::RsaPssSha256 => ctl_token::TlsScheme::RsaPssSha256,
            ctl_provider::net::KeyScheme::RsaPkcs1Sha256 => ctl_token::TlsScheme::RsaPkcs1Sha256,
            other => return Err(format!("{other:?} is not supported")),
        };
        self.0.sign_tls(scheme, message).map_err(|e| e.to_string())
    }

    fn schemes(&self) -> Vec<ctl_provider::net::KeyScheme> {
        self.0
            .tls_schemes()
            .into_iter()
            .filter_map(|s| match s {
                ctl_token::TlsScheme::RsaPssSha256 => {
                    Some(ctl_provider::net::KeyScheme::RsaPssSha256)
                }
                ctl_token::TlsScheme::RsaPkcs1Sha256 => {
                    Some(ctl_provider::net::KeyScheme::RsaPkcs1Sha256)
                }
                _ => None,
            })
            .collect()
    }
}

/// A discovered cluster, the sessions discovery left open, and the first node's CTL.
struct Discovered {
    view: ClusterView,
    sessions: Vec<Option<ctl_provider::net::Client>>,
    current: Option<Vec<u8>>,
}

impl Discovered {
    /// The first node's session, when discovery kept one.
    fn first_session(&mut self) -> Option<&mut ctl_provider::net::Client> {
        let i = self.view.nodes.iter().position(NodeView::is_first_node)?;
        self.sessions.get_mut(i)?.as_mut()
    }

    async fn close(self) {
        for c in self.sessions.into_iter().flatten() {
            let _ = c.bye().await;
        }
    }
}

async fn read_ctl(c: &mut ctl_provider::net::Client) -> Result<Option<Vec<u8>>, Error> {
    match c
        .call(&ctl_provider::Request::GetCtl)
        .await
        .map_err(|e| Error::Provider(e.to_string()))?
    {
        ctl_provider::Response::Ctl(x) => Ok(x.map(|(_, f)| f)),
        other => Err(Error::Provider(format!("GET_CTL answered {other:?}"))),
    }
}

async fn read_mode(c: &mut ctl_provider::net::Client) -> Result<SecurityMode, Error> {
    match c
        .call(&ctl_provider::Request::GetMode)
        .await
        .map_err(|e| Error::Provider(e.to_string()))?
    {
        ctl_provider::Response::Mode(m) => Ok(m),
        other => Err(Error::Provider(format!("GET_MODE answered {other:?}"))),
    }
}

/// Sets `mode` on the first node, on its session, once it committed the file.
fn set_mode_after(mode: SecurityMode) -> distribute::AfterCommit {
    distribute::AfterCommit {
        request: ctl_provider::Request::SetMode(mode),
        applies: NodeView::is_first_node,
        what: format!("security mode set to {mode:?}"),
    }
}

/// The alternate TFTP servers and firewalls of `view`, for the first node to store.
fn off_cluster(view: &ClusterView) -> OffCluster {
    let mut out = OffCluster::default();
    for n in &view.nodes {
        let list = match n.kind {
            TargetKind::AlternateTftp => &mut out.alternate_tftp,
            TargetKind::Firewall => &mut out.firewalls,
            _ => continue,
        };
        list.push(ctl_provider::message::Peer {
            name: n.name.clone(),
            host: n.host.clone(),
            port: n.port,
            source: n.source.unwrap_or(PeerSource::Stored),
        });
    }
    out
}

/// A 2048-bit record in the CUCM layout is under this many bytes.
const RECORD_2048: usize = 1750;

fn room(size: usize) -> usize {
    ctl_format::MAX_LEN.saturating_sub(size) / RECORD_2048
}

impl Client {
    /// A builder for the cluster whose first node's provider is `host:port`.
    pub fn builder(host: &str, port: u16, user: &str, password: Password) -> ClientBuilder {
        ClientBuilder {
            publisher: (host.to_owned(), port),
            user: user.to_owned(),
            password,
            trust: TrustPolicy::default(),
            timeout: Duration::from_secs(10),
            concurrency: 16,
            events: None,
            identity: None,
        }
    }

    fn emit(&self, event: Event) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }

    /// The trust policy as it is now (with providers pinned on first use), to save.
    pub fn trust(&self) -> TrustPolicy {
        self.trust
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn publisher_text(&self) -> String {
        format!("{}:{}", self.publisher.0, self.publisher.1)
    }

    /// Discovers the cluster.
    ///
    /// # Errors
    /// The first node cannot be used.
    pub async fn discover(&self) -> Result<ClusterView, Error> {
        let (view, sessions) = self.discover_sessions().await?;
        for c in sessions.into_iter().flatten() {
            let _ = c.bye().await;
        }
        Ok(view)
    }

    /// Discovery that keeps every `ok` node's session for the distribution that follows.
    async fn discover_sessions(
        &self,
    ) -> Result<(ClusterView, Vec<Option<ctl_provider::net::Client>>), Error> {
        let options = ctl_provider::discovery::DiscoverOptions {
            publisher: self.publisher.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            timeout: self.timeout,
            identity: self.identity.clone(),
        };
        let trust = self.trust();
        let (view, trust, sessions) =
            ctl_provider::discovery::discover_with_sessions(options, trust)
                .await
                .map_err(|s| Error::Publisher {
                    publisher: self.publisher_text(),
                    status: s.to_string(),
                })?;
        *self
            .trust
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = trust;
        for n in &view.nodes {
            self.emit(Event::NodeContacted {
                node: n.name.clone(),
                status: n.status.to_string(),
            });
        }
        Ok((view, sessions))
    }

    /// The first node's current CTL, if any.
    ///
    /// # Errors
    /// The first node cannot be used.
    pub async fn current_ctl(&self) -> Result<Option<Vec<u8>>, Error> {
        let mut c = self.session(&self.publisher.0, self.publisher.1).await?;
        let current = read_ctl(&mut c).await;
        let _ = c.bye().await;
        current
    }

    /// Discovery, then the first node's current CTL read on the session discovery left
    /// open (one login on the first node for the whole workflow).
    async fn discover_with_ctl(&self) -> Result<Discovered, Error> {
        let (view, sessions) = self.discover_sessions().await?;
        let mut found = Discovered {
            view,
            sessions,
            current: None,
        };
        found.current = match found.first_session() {
            Some(s) => read_ctl(s).await?,
            None => self.current_ctl().await?,
        };
        Ok(found)
    }

    async fn session(&self, host: &str, port: u16) -> Result<ctl_provider::net::Client, Error> {
        distribute::open(self, host, port)
            .await
            .map_err(|e| Error::Provider(format!("{host}:{port}: {e}")))
    }

    fn build_ctl(
        &self,
        entries: &[Entry],
        servers_certified: bool,
        signer: &(dyn Signer + Sync),
    ) -> Result<Vec<u8>, Error> {
        let mut b = ctl_format::TrustListBuilder::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        b.timestamp(u32::try_from(now).unwrap_or(u32::MAX));
        for e in entries {
            let certified = servers_certified || e.role == Role::SAST;
            b.push(e.spec(certified));
            self.emit(Event::CertificateCollected {
                from: match &e.origin {
                    Origin::Token => "token".to_owned(),
                    Origin::Node(n) | Origin::AlternateTftp(n) | Origin::Firewall(n) => n.clone(),
                },
                entry: e.describe(),
            });
        }
        // The size is known before anything is signed or sent.
        b.encoded_len(signer.certificate())?;
        Ok(b.build(signer)?)
    }

    /// **Set mixed mode, first time**: at least two tokens; records for every node, CAPF,
    /// TVS, alternate TFTP servers and firewalls; signed by the last token; distributed;
    /// mixed mode set on the first node; the CAPF certificate put on every subsequent node.
    ///
    /// On a cluster set back to non-secure mode (a CTL whose server records carry no
    /// certificates), it is an update instead: the signing token must be one of the
    /// current CTL's, the tokens given are added, and the server certificates come back.
    ///
    /// # Errors
    /// Fewer than two tokens, a cluster already in mixed mode with a CTL, a node not
    /// ready, a CTL over 64 KiB, or a failed distribution (aborted everywhere).
    pub async fn set_mixed_mode(
        &self,
        tokens: &[Certificate],
        signer: &(dyn Signer + Sync),
    ) -> Result<Outcome, Error> {
        let mut distinct: Vec<&Certificate> = Vec::new();
        for t in tokens {
            if !distinct.iter().any(|d| d.der() == t.der()) {
                distinct.push(t);
            }
        }
        if distinct.len() < 2 {
            return Err(Error::Rule(format!(
                "mixed mode needs at least two security tokens; {} given",
                distinct.len()
            )));
        }
        if !tokens.iter().any(|t| t.der() == signer.certificate()) {
            return Err(Error::Rule(
                "the signing token must be one of the tokens in the CTL".into(),
            ));
        }
        let mut found = self.discover_with_ctl().await?;
        if let Some(current) = &found.current {
            let non_secure = plan::is_non_secure(
                &ctl_format::parse_trust_list(current)
                    .map_err(|e| Error::CurrentCtl(e.to_string()))?,
            );
            // Back from non-secure mode, or a first run whose last step (the mode) failed.
            let mode = match found.first_session() {
                Some(s) => Some(read_mode(s).await?),
                None => None,
            };
            if !non_secure && mode != Some(SecurityMode::NonSecure) {
                found.close().await;
                return Err(Error::Rule(
                    "the cluster already has a CTL in mixed mode: use update".into(),
                ));
            }
            let changes = Changes {
                add_tokens: distinct.into_iter().cloned().collect(),
                ..Changes::default()
            };
            return self
                .rebuild(found, signer, &changes, Some(SecurityMode::Mixed))
                .await;
        }
        let Discovered { view, sessions, .. } = found;
        let mut entries = plan::token_entries(&distinct.into_iter().cloned().collect::<Vec<_>>());
        entries.extend(plan::server_entries(&view)?);
        let ctl = self.build_ctl(&entries, true, signer)?;
        let capf = view
            .nodes
            .iter()
            .filter_map(|n| n.info.as_ref())
            .find(|i| i.first_node)
            .and_then(|i| i.certificates.iter().find(|c| c.role == Role::CAPF.0))
            .map(|c| distribute::AfterCommit {
                request: ctl_provider::Request::PutCapf {
                    certificate: c.der.clone(),
                },
                applies: |n| n.kind == TargetKind::Node && !n.is_first_node(),
                what: "CAPF certificate stored".to_owned(),
            });
        let after: Vec<_> = capf
            .into_iter()
            .chain([set_mode_after(SecurityMode::Mixed)])
            .collect();
        let distribution =
            distribute::distribute(self, &view, &ctl, &after, sessions, &off_cluster(&view))
                .await?;
        Ok(Outcome {
            room_for_records: room(ctl.len()),
            notes: distribution.followup_notes(),
            ctl,
            distribution,
        })
    }

    /// Checks that there is a current CTL, that `token` is one of its SASTs, and that its
    /// signature verifies.
    fn check_signed_by(current: Option<&[u8]>, token: &Certificate) -> Result<(), Error> {
        let current = current.ok_or_else(|| {
            Error::Rule("the cluster has no CTL yet: set mixed mode first".into())
        })?;
        let doc =
            ctl_format::parse_trust_list(current).map_err(|e| Error::CurrentCtl(e.to_string()))?;
        let sasts = plan::sast_certificates(&doc)?;
        if !sasts.iter().any(|s| s.der() == token.der()) {
            return Err(Error::Rule(format!(
                "token {} is not in the current CTL; present one of its {} security tokens",
                token.subject_text(ctl_format::NameStyle::Reversed),
                sasts.len()
            )));
        }
        // The current file must check out before anything changes.
        doc.verify(&ctl_format::RsaVerifier)
            .map_err(|e| Error::CurrentCtl(format!("its signature does not verify: {e}")))?;
        Ok(())
    }

    /// **Update**: with a token of the current CTL (checked, and the current CTL's signature
    /// verified first), rebuild the CTL from the current tokens with `changes` and fresh
    /// server entries from discovery: every node, and every alternate TFTP server and
    /// firewall the first node knows (configured, or stored with the current CTL), with
    /// the ones to add and without the ones to remove; distribute it. The first node
    /// stores the new list of off-cluster servers with the new file. Records of servers
    /// that are gone (a node removed or renamed) are left out, and the notes name them.
    /// A non-secure CTL stays non-secure.
    ///
    /// # Errors
    /// A token not in the current CTL, a rule refusal (server entries cannot be removed by
    /// hand; two tokens must remain; a configured off-cluster server is removed in the
    /// first node's configuration), a node or off-cluster server not ready, a failed
    /// distribution.
    pub async fn update(
        &self,
        signer: &(dyn Signer + Sync),
        changes: &Changes,
    ) -> Result<Outcome, Error> {
        let mode = changes.non_secure.then_some(SecurityMode::NonSecure);
        let found = self.discover_with_ctl().await?;
        self.rebuild(found, signer, changes, mode).await
    }

    /// Update, switching to `mode` when given (else the CTL keeps its kind: server
    /// records with certificates, or without them in non-secure mode).
    async fn rebuild(
        &self,
        found: Discovered,
        signer: &(dyn Signer + Sync),
        changes: &Changes,
        mode: Option<SecurityMode>,
    ) -> Result<Outcome, Error> {
        let signer_cert =
            Certificate::from_der(signer.certificate()).map_err(|e| Error::Certificate {
                what: "the signing token".into(),
                reason: e.to_string(),
            })?;
        if let Err(e) = Self::check_signed_by(found.current.as_deref(), &signer_cert) {
            found.close().await;
            return Err(e);
        }
        let Discovered {
            mut view,
            mut sessions,
            current,
        } = found;
        let current = current.unwrap_or_default();
        let doc =
            ctl_format::parse_trust_list(&current).map_err(|e| Error::CurrentCtl(e.to_string()))?;
        let mut tokens = plan::sast_certificates(&doc)?;
        for t in &changes.add_tokens {
            if !tokens.iter().any(|x| x.der() == t.der()) {
                tokens.push(t.clone());
            }
        }
        for name in &changes.remove_peers {
            let Some(i) = view
                .nodes
                .iter()
                .position(|n| n.kind != TargetKind::Node && n.name == *name)
            else {
                let known: Vec<&str> = view
                    .nodes
                    .iter()
                    .filter(|n| n.kind != TargetKind::Node)
                    .map(|n| n.name.as_str())
                    .collect();
                return Err(Error::Rule(format!(
                    "no alternate TFTP server or firewall is named {name} (known: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            if view.nodes[i].source == Some(PeerSource::Configured) {
                return Err(Error::Rule(format!(
                    "{name} is in the first node's own provider configuration; remove it there"
                )));
            }
            view.nodes.remove(i);
            if let Some(c) = sessions.remove(i) {
                let _ = c.bye().await;
            }
        }
        for p in &changes.add_peers {
            if let Some(n) = view.nodes.iter().find(|n| n.name == p.name) {
                return Err(Error::Rule(format!(
                    "{} is already {}",
                    p.name,
                    match n.kind {
                        TargetKind::Node => "a cluster node",
                        TargetKind::Firewall => "a firewall of this CTL",
                        _ => "an alternate TFTP server of this CTL",
                    }
                )));
            }
            let options = Arc::new(ctl_provider::discovery::DiscoverOptions {
                publisher: self.publisher.clone(),
                user: self.user.clone(),
                password: self.password.clone(),
                timeout: self.timeout,
                identity: self.identity.clone(),
            });
            let kind = if p.firewall {
                TargetKind::Firewall
            } else {
                TargetKind::AlternateTftp
            };
            let (node, session) = ctl_provider::discovery::visit_peer(
                &self.trust,
                &p.name,
                &p.host,
                p.port,
                kind,
                options,
            )
            .await;
            self.emit(Event::NodeContacted {
                node: node.name.clone(),
                status: node.status.to_string(),
            });
            view.nodes.push(node);
            sessions.push(session);
        }
        let servers = plan::server_entries(&view)?;
        if let Some(selector) = &changes.remove {
            let removed = plan::remove_token(&mut tokens, &servers, selector)?;
            if removed.der() == signer.certificate() {
                return Err(Error::Rule(
                    "the token signing this change cannot remove itself; sign with the other token"
                        .into(),
                ));
            }
        }
        // Server records follow the cluster and the off-cluster servers the first node
        // knows: a record that matches none of them (a node removed or renamed, a server
        // removed above) is left out, and the notes say so.
        let mut notes: Vec<String> = doc
            .records()
            .iter()
            .filter(|r| r.role() != Some(Role::SAST))
            .filter(|r| {
                !servers.iter().any(|e| {
                    Some(e.role) == r.role() && e.dns_name.as_deref() == r.dns_name().as_deref()
                })
            })
            .map(|r| {
                format!(
                    "left out of the new CTL: {} ({}), no longer a cluster node or a known alternate TFTP server or firewall",
                    r.dns_name().unwrap_or_default(),
                    r.role().map(|x| x.to_string()).unwrap_or_default()
                )
            })
            .collect();
        let mut entries = plan::token_entries(&tokens);
        entries.extend(servers);
        let certified = match mode {
            Some(m) => m == SecurityMode::Mixed,
            None => !plan::is_non_secure(&doc),
        };
        let ctl = self.build_ctl(&entries, certified, signer)?;
        let after: Vec<_> = mode.map(set_mode_after).into_iter().collect();
        let distribution =
            distribute::distribute(self, &view, &ctl, &after, sessions, &off_cluster(&view))
                .await?;
        notes.extend(distribution.followup_notes());
        Ok(Outcome {
            room_for_records: room(ctl.len()),
            ctl,
            distribution,
            notes,
        })
    }

    /// **Status**: what changed in the cluster since the current CTL was built. Empty: up to date.
    ///
    /// # Errors
    /// No CTL, a CTL that does not parse, or the first node cannot be used.
    pub async fn status(&self) -> Result<(Vec<u8>, Vec<Change>), Error> {
        let Discovered {
            view,
            sessions,
            current,
        } = self.discover_with_ctl().await?;
        for c in sessions.into_iter().flatten() {
            let _ = c.bye().await;
        }
        let current = current.ok_or_else(|| {
            Error::Rule("the cluster has no CTL (non-secure, never set to mixed mode)".into())
        })?;
        let doc =
            ctl_format::parse_trust_list(&current).map_err(|e| Error::CurrentCtl(e.to_string()))?;
        let servers = plan::server_entries(&view)?;
        let changes = plan::changes(&doc, &servers);
        Ok((current.clone(), changes))
    }
}
