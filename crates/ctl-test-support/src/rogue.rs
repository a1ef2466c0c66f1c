//! A provider that lies: a real node (real TLS, real logins, real storage) whose answers
//! are changed on the way out, as a compromised or rogue node would change them. The
//! attacks of the security tests go through it.

use std::sync::{Arc, Mutex};

use ctl_provider::message::{NodeInfo, Password, Request, Response, RoleCertificate, UserRole};
use ctl_provider::net::{Handler, PeerInfo};
use ctl_providerd::Setup;
use ctl_providerd::node::Node;

use crate::TestNode;

/// What the node lies about.
#[derive(Debug, Clone, Default)]
pub struct Lies {
    /// Certificates added to NODE_INFO, with the roles it claims for them.
    pub extra_certificates: Vec<RoleCertificate>,
    /// The role it claims for its own CallManager certificate.
    pub callmanager_role: Option<u16>,
    /// The services it claims in NODE_INFO.
    pub services: Option<u16>,
    /// The file GET_CTL answers with (hash and bytes), instead of its current CTL.
    pub current_ctl: Option<Vec<u8>>,
    /// How long it takes to answer STAGE (a slow node), in milliseconds.
    pub stage_delay_ms: u64,
    /// How many STAGE requests it received (counted before the delay).
    pub stages_seen: Arc<std::sync::atomic::AtomicUsize>,
    /// How long it takes to answer COMMIT, in milliseconds (it commits after the delay).
    pub commit_delay_ms: u64,
    /// How many COMMIT requests it received (counted before the delay).
    pub commits_seen: Arc<std::sync::atomic::AtomicUsize>,
}

/// What a rogue node lies about now: the test changes it while the node runs.
pub type Liar = Arc<Mutex<Lies>>;

/// A node behind [`Lies`].
#[derive(Debug)]
struct Rogue {
    node: Node,
    lies: Liar,
}

impl Rogue {
    fn lies(&self) -> Lies {
        self.lies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn lie_about(&self, mut info: NodeInfo) -> NodeInfo {
        let lies = self.lies();
        if let (Some(role), Some(first)) = (lies.callmanager_role, info.certificates.first_mut()) {
            first.role = role;
        }
        if let Some(services) = lies.services {
            info.services = services;
        }
        info.certificates.extend(lies.extra_certificates);
        info
    }
}

impl Handler for Rogue {
    async fn login(&self, peer: &PeerInfo, user: &str, password: &Password) -> Response {
        self.node.login(peer, user, password).await
    }

    async fn handle(
        &self,
        peer: &PeerInfo,
        user: &str,
        role: UserRole,
        request: Request,
    ) -> Response {
        let lies = self.lies();
        if let (Request::GetCtl, Some(forged)) = (&request, &lies.current_ctl) {
            return Response::Ctl(Some((
                ctl_provider::ctl_hash(forged),
                forged.clone().into(),
            )));
        }
        if matches!(request, Request::Stage { .. }) {
            lies.stages_seen
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(lies.stage_delay_ms)).await;
        }
        if matches!(request, Request::Commit { .. }) {
            lies.commits_seen
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(lies.commit_delay_ms)).await;
        }
        match self.node.handle(peer, user, role, request).await {
            Response::NodeInfo(info) => Response::NodeInfo(self.lie_about(info)),
            other => other,
        }
    }

    async fn failed(&self, peer: &PeerInfo, user: &str, kind: u8) {
        self.node.failed(peer, user, kind).await;
    }

    async fn closed(&self, peer: &PeerInfo) {
        self.node.closed(peer).await;
    }
}

/// Writes the node of `setup` and serves it in this process, lying as the returned
/// [`Liar`] says (honest until told otherwise).
pub fn start_rogue(setup: &Setup) -> (TestNode, Liar) {
    let config = setup.write().expect("init");
    let lies = Liar::default();
    let shared = Arc::clone(&lies);
    let bound = ctl_providerd::spawn_wrapped(&config, |node| Rogue { node, lies: shared })
        .expect("provider starts");
    let node = TestNode {
        dir: setup.dir().to_owned(),
        port: bound.port(),
    };
    (node, lies)
}

/// The vector certificate `name` as a certificate a node reports with `role`.
pub fn reported(name: &str, role: ctl_format::Role) -> RoleCertificate {
    RoleCertificate {
        role: role.0,
        der: crate::certificate(name).der().to_vec().into(),
    }
}
