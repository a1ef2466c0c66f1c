//! The client of one cluster: its builder, discovery, and the cluster as a workflow holds
//! it (every target with its session, and the first node's current CTL).

use bytes::Bytes;
use std::time::Duration;

use ctl_provider::cluster::{ClusterView, HeldCtl, NodeView};
use ctl_provider::message::{Password, Request, Response, SecurityMode, kind};
use ctl_provider::net::{ClientIdentity, Connector, NetError, Session, Target};
use ctl_provider::trust::TrustPolicy;

use crate::Error;
use crate::event::{Event, Sink};

/// Builds a [`Client`].
pub struct ClientBuilder {
    publisher: (String, u16),
    connector: Connector,
    concurrency: usize,
    events: Option<Sink>,
    anchor: Option<Vec<u8>>,
    accepted: Option<[u8; 32]>,
    token_tls: bool,
    confirm: Option<Confirm>,
    digest: ctl_format::DigestAlgorithm,
}

/// Asked before a token signs: shown what it is about to sign, true to go on.
pub(crate) type Confirm = std::sync::Arc<dyn Fn(&crate::plan::Preview) -> bool + Send + Sync>;

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("publisher", &self.publisher)
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Sets the provider trust policy (known providers, fingerprints, trust on first use).
    #[must_use]
    pub fn trust(mut self, trust: TrustPolicy) -> Self {
        self.connector.set_trust(trust);
        self
    }

    /// Per-node timeout for connecting and for each answer.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.connector.timeout(timeout);
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
    /// [`token_identity`](crate::token_identity) for a key on a token,
    /// [`software_identity`](crate::software_identity) for a key file).
    #[must_use]
    pub fn identity(mut self, identity: ClientIdentity) -> Self {
        self.connector.identity(Some(identity));
        self.token_tls = false;
        self
    }

    /// Logs in with the password alone: the changing workflows do not authenticate their
    /// TLS sessions with the signing token (by default they do, and nodes that require a
    /// SAST client certificate, as `ctl-providerd init` writes them, need it).
    #[must_use]
    pub fn password_only(mut self) -> Self {
        self.connector.identity(None);
        self.token_tls = false;
        self
    }

    /// The CTL this client last verified or committed for the cluster: a current CTL is
    /// trusted only if a phone holding this one would take it (see
    /// [`known::load_anchor`](crate::known::load_anchor)). Without one, the current CTL
    /// must be signed by the token the operator presents.
    #[must_use]
    pub fn anchor(mut self, held: Vec<u8>) -> Self {
        self.anchor = Some(held);
        self
    }

    /// Trusts the current CTL with this SHA-256, which the operator has seen and accepts.
    #[must_use]
    pub const fn accept_ctl(mut self, hash: [u8; 32]) -> Self {
        self.accepted = Some(hash);
        self
    }

    /// Shows every changing workflow what its token is about to sign (records added,
    /// removed and kept, the targets, the size) before it signs; `false` stops it with
    /// [`Error::Cancelled`] and nothing is signed or sent (a dry run).
    #[must_use]
    pub fn confirm(
        mut self,
        ask: impl Fn(&crate::plan::Preview) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.confirm = Some(std::sync::Arc::new(ask));
        self
    }

    /// The digest the workflows sign with (default SHA-1, which every phone takes;
    /// SHA-512 for firmware that knows it, see [`ctl_format::Warning::DigestNeedsFirmware`]).
    /// The layout is CUCM's: the only one with the DNS names and addresses the server
    /// records of a cluster carry.
    #[must_use]
    pub const fn digest(mut self, digest: ctl_format::DigestAlgorithm) -> Self {
        self.digest = digest;
        self
    }

    /// Receives progress events.
    #[must_use]
    pub fn on_event(mut self, sink: impl Fn(Event) + Send + Sync + 'static) -> Self {
        self.events = Some(std::sync::Arc::new(sink));
        self
    }

    /// The client.
    pub fn build(self) -> Client {
        Client {
            publisher: self.publisher,
            connector: self.connector,
            concurrency: self.concurrency,
            events: self.events,
            anchor: std::sync::Mutex::new(self.anchor),
            accepted: self.accepted,
            token_tls: self.token_tls,
            confirm: self.confirm,
            digest: self.digest,
        }
    }
}

/// A client of one cluster.
pub struct Client {
    pub(crate) publisher: (String, u16),
    pub(crate) connector: Connector,
    pub(crate) concurrency: usize,
    events: Option<Sink>,
    /// The CTL last verified or committed (the trust anchor), updated by every workflow.
    anchor: std::sync::Mutex<Option<Vec<u8>>>,
    pub(crate) accepted: Option<[u8; 32]>,
    /// Whether the changing workflows authenticate with the signing token.
    token_tls: bool,
    confirm: Option<Confirm>,
    /// The digest of the CTLs the workflows build. (Their layout is CUCM's: the only one
    /// with the DNS names and addresses their server records carry.)
    pub(crate) digest: ctl_format::DigestAlgorithm,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("publisher", &self.publisher)
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

/// A discovered cluster as a workflow holds it: every target with the session discovery
/// left open, and the first node's current CTL.
pub(crate) struct Cluster {
    pub(crate) targets: Vec<Target>,
    pub(crate) current: Option<Bytes>,
}

impl Cluster {
    /// The node views, in order.
    pub(crate) fn nodes(&self) -> Vec<&NodeView> {
        self.targets.iter().map(|t| &t.view).collect()
    }

    /// The first node's session, when discovery kept one.
    pub(crate) fn first_session(&mut self) -> Option<&mut Session> {
        self.targets
            .iter_mut()
            .find(|t| t.view.is_first_node())?
            .session
            .as_mut()
    }

    /// Says BYE on every session.
    pub(crate) async fn close(self) {
        for t in self.targets {
            t.close().await;
        }
    }
}

/// GET_CTL on `s`: the current CTL, if any.
pub(crate) async fn read_ctl(s: &mut Session) -> Result<Option<Bytes>, NetError> {
    match s.ask(&Request::GetCtl).await? {
        Response::Ctl(x) => Ok(x.map(|(_, f)| f)),
        other => Err(NetError::Unexpected {
            request: kind::GET_CTL,
            answer: other.kind(),
        }),
    }
}

/// Asks every node that kept a session which CTL it holds (GET_CTL), into its view.
/// A node that cannot say stays [`HeldCtl::Unknown`].
pub(crate) async fn read_held_ctls(targets: &mut [Target]) {
    for t in targets
        .iter_mut()
        .filter(|t| t.view.kind == ctl_provider::cluster::TargetKind::Node)
    {
        if let Some(s) = t.session.as_mut() {
            t.view.ctl = match read_ctl(s).await {
                Ok(Some(file)) => HeldCtl::Sha256(ctl_provider::ctl_hash(&file)),
                Ok(None) => HeldCtl::None,
                Err(_) => HeldCtl::Unknown,
            };
        }
    }
}

/// GET_MODE on `s`.
pub(crate) async fn read_mode(s: &mut Session) -> Result<SecurityMode, NetError> {
    match s.ask(&Request::GetMode).await? {
        Response::Mode(m) => Ok(m),
        other => Err(NetError::Unexpected {
            request: kind::GET_MODE,
            answer: other.kind(),
        }),
    }
}

impl Client {
    /// A builder for the cluster whose first node's provider is `host:port`.
    ///
    /// ```no_run
    /// use ctl_client::{Client, Password, TrustPolicy, known};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let path = std::path::Path::new("known_providers");
    /// let client = Client::builder("cucm-pub.example.com", 2444, "admin", Password::new("..."))
    ///     // The providers pinned before; unknown ones are refused (no trust on first use).
    ///     .trust(TrustPolicy { known: known::load(path)?, ..TrustPolicy::default() })
    ///     .build();
    /// for node in client.discover().await?.nodes {
    ///     println!("{} {}", node.name, node.status);
    /// }
    /// known::save(path, &client.trust().known)?;
    /// # Ok(()) }
    /// ```
    pub fn builder(host: &str, port: u16, user: &str, password: Password) -> ClientBuilder {
        ClientBuilder {
            publisher: (host.to_owned(), port),
            connector: Connector::new(user, password, TrustPolicy::default()),
            concurrency: 16,
            events: None,
            anchor: None,
            accepted: None,
            token_tls: true,
            confirm: None,
            digest: ctl_format::DigestAlgorithm::Sha1,
        }
    }

    /// Asks the confirmation, if there is one, about `preview`.
    pub(crate) fn confirm(&self, preview: &crate::plan::Preview) -> Result<(), Error> {
        match &self.confirm {
            Some(ask) if !ask(preview) => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }

    /// This client as a changing workflow runs it with `signer`: its TLS sessions
    /// authenticated with the token's key (unless the builder set an identity or said
    /// password only). The trust policy is shared; take the anchor back with
    /// [`Client::adopt`].
    pub(crate) fn authenticated_by(&self, signer: &crate::SharedSigner) -> Self {
        let mut connector = self.connector.clone();
        if self.token_tls {
            connector.identity(std::sync::Arc::clone(signer).tls_identity());
        }
        Self {
            publisher: self.publisher.clone(),
            connector,
            concurrency: self.concurrency,
            events: self.events.clone(),
            anchor: std::sync::Mutex::new(self.anchor()),
            accepted: self.accepted,
            token_tls: false,
            confirm: self.confirm.clone(),
            digest: self.digest,
        }
    }

    /// Takes the anchor `other` (a workflow's client) ended with.
    pub(crate) fn adopt(&self, other: &Self) {
        if let Some(held) = other.anchor() {
            self.hold(&held);
        }
    }

    /// The CTL this client now holds for the cluster (the one it last verified or
    /// committed), to keep for the next run.
    pub fn anchor(&self) -> Option<Vec<u8>> {
        self.anchor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Holds `ctl` from now on.
    pub(crate) fn hold(&self, ctl: &[u8]) {
        *self
            .anchor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ctl.to_vec());
    }

    /// Checks the cluster's current CTL against the anchor and returns its tokens.
    pub(crate) fn trusted_tokens(
        &self,
        current: Option<&[u8]>,
        token: &ctl_format::Certificate,
    ) -> Result<Vec<ctl_format::Certificate>, Error> {
        let held = self.anchor();
        crate::plan::current_tokens(
            current,
            token,
            crate::plan::Anchor {
                held: held.as_deref(),
                accepted: self.accepted,
            },
        )
    }

    pub(crate) fn emit(&self, event: Event) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }

    /// The trust policy as it is now (with providers pinned on first use), to save.
    pub fn trust(&self) -> TrustPolicy {
        self.connector.trust()
    }

    /// `host:port` of the first node.
    pub(crate) fn publisher_text(&self) -> String {
        format!("{}:{}", self.publisher.0, self.publisher.1)
    }

    /// A provider failure on the first node, outside distribution.
    pub(crate) fn on_publisher(&self, source: NetError) -> Error {
        Error::Provider {
            server: self.publisher_text(),
            source,
        }
    }

    /// Discovers the cluster.
    ///
    /// # Errors
    /// The first node cannot be used.
    pub async fn discover(&self) -> Result<ClusterView, Error> {
        let mut targets = self.targets().await?;
        read_held_ctls(&mut targets).await;
        let view = ClusterView {
            nodes: targets.iter().map(|t| t.view.clone()).collect(),
        };
        for t in targets {
            t.close().await;
        }
        Ok(view)
    }

    /// Discovery that keeps every `ok` node's session for the distribution that follows.
    pub(crate) async fn targets(&self) -> Result<Vec<Target>, Error> {
        let (host, port) = &self.publisher;
        let targets = ctl_provider::net::discover(&self.connector, host, *port)
            .await
            .map_err(|status| Error::Publisher {
                publisher: self.publisher_text(),
                status,
            })?;
        for t in &targets {
            self.emit(Event::NodeContacted {
                node: t.view.name.clone(),
                status: t.view.status.clone(),
            });
        }
        Ok(targets)
    }

    /// The first node's current CTL, if any.
    ///
    /// # Errors
    /// The first node cannot be used.
    pub async fn current_ctl(&self) -> Result<Option<Vec<u8>>, Error> {
        let (host, port) = &self.publisher;
        let mut s = self
            .connector
            .connect(host, *port)
            .await
            .map_err(|e| self.on_publisher(e))?;
        let current = read_ctl(&mut s).await.map_err(|e| self.on_publisher(e));
        let _ = s.bye().await;
        current.map(|c| c.map(Vec::from))
    }

    /// Discovery, then the first node's current CTL read on the session discovery left
    /// open (one login on the first node for the whole workflow).
    pub(crate) async fn cluster(&self) -> Result<Cluster, Error> {
        let mut found = Cluster {
            targets: self.targets().await?,
            current: None,
        };
        found.current = match found.first_session() {
            Some(s) => read_ctl(s).await.map_err(|e| self.on_publisher(e))?,
            None => self.current_ctl().await?.map(Bytes::from),
        };
        Ok(found)
    }
}
