//! Cluster discovery: from the first node's member list to a [`Target`] per node, each
//! contacted concurrently through one [`Connector`], with a status per node.

use crate::cluster::{NodeStatus, NodeView, TargetKind};
use crate::conn::CloseReason;
use crate::message::{ErrorCode, Request, Response, kind};
use crate::trust::Untrusted;

use super::{Connector, NetError, Session};

/// One node of a discovered cluster and, when it is `ok`, its logged-in session, for the
/// caller to go on using (a workflow that stages right after discovery saves a login).
#[derive(Debug)]
pub struct Target {
    /// What it is and what it told.
    pub view: NodeView,
    /// Its session, when it is `ok`.
    pub session: Option<Session>,
}

impl Target {
    fn new(name: &str, host: &str, port: u16, kind: TargetKind) -> Self {
        Self {
            view: NodeView {
                name: name.to_owned(),
                host: host.to_owned(),
                port,
                kind,
                publisher: false,
                source: None,
                services: 0,
                resolved: Vec::new(),
                info: None,
                tls_certificate: None,
                status: NodeStatus::Unreachable("not contacted".into()),
                ctl: crate::cluster::HeldCtl::Unknown,
            },
            session: None,
        }
    }

    /// Says BYE on its session, if it has one.
    pub async fn close(self) {
        if let Some(s) = self.session {
            let _ = s.bye().await;
        }
    }
}

/// The status a failure to reach or use a node gives it.
pub fn status_of(e: &NetError) -> NodeStatus {
    let text = e.to_string();
    match e {
        NetError::Untrusted(Untrusted::Changed { .. }) => NodeStatus::IdentityMismatch(text),
        NetError::Untrusted(_) => NodeStatus::UnknownIdentity(text),
        NetError::NotAProvider(_) => NodeStatus::ProtocolMismatch(text),
        NetError::Unresolvable { .. } | NetError::NoAddress { .. } => {
            NodeStatus::Unresolvable(text)
        }
        // The node's own words; the status names what happened.
        NetError::Refused {
            code: ErrorCode::LoginRefused | ErrorCode::LockedOut,
            message,
        }
        | NetError::Ended(CloseReason::Refused {
            code: ErrorCode::LockedOut,
            message,
        }) => NodeStatus::LoginRefused(message.clone()),
        NetError::Ended(CloseReason::Refused {
            code: ErrorCode::UnsupportedVersion | ErrorCode::BadMessage,
            ..
        })
        | NetError::Ended(
            CloseReason::Protocol(_)
            | CloseReason::Unsolicited { .. }
            | CloseReason::UnknownRequest { .. }
            | CloseReason::WrongAnswer { .. },
        )
        | NetError::Unexpected { .. } => NodeStatus::ProtocolMismatch(text),
        _ => NodeStatus::Unreachable(text),
    }
}

/// Connects to the target and asks for its facts; keeps the session when that worked.
async fn visit(connector: &Connector, mut t: Target) -> Target {
    match connector.connect(&t.view.host, t.view.port).await {
        Ok(session) => describe(t, session).await,
        Err(e) => {
            t.view.status = status_of(&e);
            t
        }
    }
}

/// Asks a logged-in node for its facts on `session`; keeps the session when that worked.
async fn describe(mut t: Target, mut session: Session) -> Target {
    let view = &mut t.view;
    view.resolved = session.resolved().to_vec();
    view.tls_certificate = Some(session.peer_certificate().to_vec());
    match session.ask(&Request::NodeInfo).await {
        Ok(Response::NodeInfo(info)) => {
            view.services = info.services;
            view.info = Some(info);
            view.status = NodeStatus::Ok;
            t.session = Some(session);
            return t;
        }
        Ok(other) => {
            view.status = status_of(&NetError::Unexpected {
                request: kind::NODE_INFO,
                answer: other.kind(),
            });
        }
        Err(e) => view.status = status_of(&e),
    }
    let _ = session.bye().await;
    t
}

/// Contacts one off-cluster provider (an alternate TFTP server or a firewall the operator
/// names) the way discovery contacts members.
pub async fn visit_peer(
    connector: &Connector,
    name: &str,
    host: &str,
    port: u16,
    kind: TargetKind,
) -> Target {
    visit(connector, Target::new(name, host, port, kind)).await
}

/// Discovers the cluster whose first node's provider is `host:port`: the member list
/// from the first node, then every node (and alternate TFTP server and firewall) contacted
/// at once. Targets come in order: the members as the first node lists them (itself among
/// them, reached as the operator named it), then alternate TFTP servers, then firewalls.
///
/// # Errors
/// The first node itself cannot be used (its status says why).
pub async fn discover(
    connector: &Connector,
    host: &str,
    port: u16,
) -> Result<Vec<Target>, NodeStatus> {
    let mut first = connector
        .connect(host, port)
        .await
        .map_err(|e| status_of(&e))?;
    let members = match first.ask(&Request::Members).await {
        Ok(Response::Members(m)) => m,
        Ok(other) => {
            return Err(status_of(&NetError::Unexpected {
                request: kind::MEMBERS,
                answer: other.kind(),
            }));
        }
        Err(e @ NetError::Refused { .. }) => {
            return Err(NodeStatus::ProtocolMismatch(format!("MEMBERS: {e}")));
        }
        Err(e) => return Err(status_of(&e)),
    };
    // The first node lists itself (by the name it gave in HELLO).
    let me = members
        .members
        .iter()
        .position(|m| m.name == first.node())
        .unwrap_or(0);
    let mut targets: Vec<Target> = Vec::new();
    for (i, m) in members.members.iter().enumerate() {
        let (h, p) = if i == me {
            (host, port)
        } else {
            (m.host.as_str(), m.port)
        };
        let mut t = Target::new(&m.name, h, p, TargetKind::Node);
        t.view.services = m.services;
        t.view.publisher = i == me;
        targets.push(t);
    }
    for (kind, peers) in [
        (TargetKind::AlternateTftp, &members.alternate_tftp),
        (TargetKind::Firewall, &members.firewalls),
    ] {
        for p in peers {
            let mut t = Target::new(&p.name, &p.host, p.port, kind);
            t.view.source = Some(p.source);
            targets.push(t);
        }
    }
    // Every node on a task of its own: the handshakes run in parallel on a multi-threaded
    // runtime.
    let mut set = tokio::task::JoinSet::new();
    let mut first = Some(first);
    for (i, t) in targets.into_iter().enumerate() {
        // The first node is already logged in: ask it for its facts on the same session.
        let session = if i == me { first.take() } else { None };
        let connector = connector.clone();
        set.spawn(async move {
            let t = match session {
                Some(s) => describe(t, s).await,
                None => visit(&connector, t).await,
            };
            (i, t)
        });
    }
    if let Some(s) = first {
        let _ = s.bye().await;
    }
    let mut found: Vec<(usize, Target)> = Vec::with_capacity(set.len());
    while let Some(r) = set.join_next().await {
        // A task that panicked is a bug; its node is left out rather than the run lost.
        if let Ok(x) = r {
            found.push(x);
        }
    }
    found.sort_by_key(|(i, _)| *i);
    Ok(found.into_iter().map(|(_, t)| t).collect())
}
