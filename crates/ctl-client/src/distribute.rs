//! Distribution: stage everywhere, then commit everywhere; any stage failure aborts everywhere.

use std::future::Future;
use std::sync::Arc;

use ctl_provider::discovery::{ClusterView, NodeStatus, NodeView};
use ctl_provider::message::{ErrorCode, HookOutcome, OffCluster, Request, Response, service};
use ctl_provider::net::{Client as Session, NetError};

use crate::{Client, Error, Event};

/// What became of the file on one target.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetStatus {
    /// The file is current there.
    Committed,
    /// Staged, then aborted because another target failed: the target is unchanged.
    Aborted,
    /// This target failed (the reason); it is unchanged unless it committed.
    Failed(String),
}

/// One target of a distribution.
#[derive(Clone, Debug)]
pub struct TargetReport {
    /// Node name.
    pub name: String,
    /// Host and port of its provider.
    pub server: String,
    /// Where the file is.
    pub location: String,
    /// What happened.
    pub status: TargetStatus,
    /// Services to restart on it for the new CTL to take effect.
    pub restart: Vec<&'static str>,
    /// The on-commit hook, if it ran.
    pub hook: Option<HookOutcome>,
    /// What was done on it after the commit (the CAPF certificate stored on a subsequent
    /// node, the security mode set on the first node).
    pub after_commit: Vec<Followup>,
}

/// A step done on a target, on the same session, once it committed the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Followup {
    /// What it is (`security mode set to Mixed`, `CAPF certificate stored`).
    pub what: String,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// A request to send, on the same session, to the targets it applies to once they committed.
pub(crate) struct AfterCommit {
    pub(crate) request: Request,
    pub(crate) applies: fn(&NodeView) -> bool,
    pub(crate) what: String,
}

/// Every target of a distribution.
#[derive(Clone, Debug)]
pub struct DistributionReport {
    /// SHA-256 of the file, hex.
    pub hash: String,
    /// Per target.
    pub targets: Vec<TargetReport>,
}

impl DistributionReport {
    /// One line per step done after the commits, failed ones saying so.
    pub fn followup_notes(&self) -> Vec<String> {
        self.targets
            .iter()
            .flat_map(|t| {
                t.after_commit.iter().map(|f| match &f.error {
                    None => format!("{} on {}", f.what, t.name),
                    Some(e) => format!("{} NOT done on {}: {e}", f.what, t.name),
                })
            })
            .collect()
    }

    /// The steps after the commits that failed, as text; empty when all were done.
    pub fn followups_failed(&self) -> Vec<String> {
        self.targets
            .iter()
            .flat_map(|t| {
                t.after_commit.iter().filter_map(|f| {
                    f.error
                        .as_ref()
                        .map(|e| format!("{} NOT done on {}: {e}", f.what, t.name))
                })
            })
            .collect()
    }
}

impl std::fmt::Display for DistributionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bad: Vec<String> = self
            .targets
            .iter()
            .filter_map(|t| match &t.status {
                TargetStatus::Failed(r) => Some(format!("{} ({}): {r}", t.name, t.server)),
                _ => None,
            })
            .collect();
        write!(f, "{}", bad.join("; "))
    }
}

pub(crate) async fn open(client: &Client, host: &str, port: u16) -> Result<Session, NetError> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port)).await?.collect();
    let addr = addrs
        .first()
        .copied()
        .ok_or_else(|| NetError::Closed(format!("{host} has no address")))?;
    let policy = ctl_provider::discovery::policy_for(&client.trust, host, port);
    let tls = ctl_provider::net::client_tls_for(policy, client.identity.as_ref())?;
    let mut s = Session::connect(addr, host, tls, client.timeout).await?;
    s.login(&client.user, &client.password).await?;
    Ok(s)
}

fn restart_list(services: u16) -> Vec<&'static str> {
    let mut v = Vec::new();
    if services & service::CALLMANAGER != 0 {
        v.push("Cisco CallManager");
    }
    if services & service::TFTP != 0 {
        v.push("Cisco TFTP");
    }
    v
}

fn report(n: &NodeView, status: TargetStatus, hook: Option<HookOutcome>) -> TargetReport {
    TargetReport {
        name: n.name.clone(),
        server: format!("{}:{}", n.host, n.port),
        location: "CTLFile.tlv in its TFTP directory".to_owned(),
        status,
        restart: restart_list(n.services),
        hook,
        after_commit: Vec::new(),
    }
}

/// A target that failed: the event, then its report.
fn failed(client: &Client, n: &NodeView, reason: String) -> TargetReport {
    client.emit(Event::Failed {
        target: n.name.clone(),
        reason: reason.clone(),
    });
    report(n, TargetStatus::Failed(reason), None)
}

async fn stage(
    client: &Client,
    n: &NodeView,
    file: &[u8],
    session: Option<Session>,
    peers: Option<OffCluster>,
) -> Result<(Session, [u8; 32]), String> {
    let mut s = match session {
        Some(s) => s,
        None => open(client, &n.host, n.port)
            .await
            .map_err(|e| e.to_string())?,
    };
    let base = match s.call(&Request::GetCtl).await.map_err(|e| e.to_string())? {
        Response::Ctl(x) => x.map(|(h, _)| h),
        other => return Err(format!("GET_CTL answered {other:?}")),
    };
    match s
        .call(&Request::Stage {
            base,
            file: file.to_vec(),
            peers,
        })
        .await
        .map_err(|e| e.to_string())?
    {
        Response::Staged(h) => Ok((s, h)),
        Response::Error { code, message } => Err(format!("stage refused ({code:?}): {message}")),
        other => Err(format!("STAGE answered {other:?}")),
    }
}

/// Stages `file` on every target at once, then commits it on every target; if any stage
/// fails, every staged copy is aborted and nothing changes anywhere. The first node's
/// stage carries `peers`, the off-cluster servers it stores with the file.
pub(crate) async fn distribute(
    client: &Client,
    view: &ClusterView,
    file: &[u8],
    after: &[AfterCommit],
    sessions: Vec<Option<Session>>,
    peers: &OffCluster,
) -> Result<DistributionReport, Error> {
    let hash = ctl_format::hex(&ctl_provider::net::fingerprint(file));
    // Sessions left open by discovery are used again: one login per node, not two.
    let mut sessions = sessions.into_iter();
    let (targets, open_sessions): (Vec<NodeView>, Vec<Option<Session>>) = view
        .nodes
        .iter()
        .map(|n| (n, sessions.next().flatten()))
        .filter(|(n, _)| n.status == NodeStatus::Ok)
        .map(|(n, s)| (n.clone(), s))
        .unzip();
    let gate = Arc::new(tokio::sync::Semaphore::new(client.concurrency));
    let file: Arc<[u8]> = Arc::from(file);

    // Stage everywhere, concurrently.
    let staged: Vec<Result<(Session, [u8; 32]), String>> = {
        let futures = targets.iter().zip(open_sessions).map(|(n, session)| {
            let (gate, file) = (Arc::clone(&gate), Arc::clone(&file));
            let first = n.is_first_node();
            let peers = first.then(|| peers.clone());
            async move {
                let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
                stage(client, n, &file, session, peers).await
            }
        });
        join_all(futures).await
    };
    for (n, r) in targets.iter().zip(&staged) {
        match r {
            Ok(_) => client.emit(Event::Staged {
                target: n.name.clone(),
            }),
            Err(reason) => client.emit(Event::Failed {
                target: n.name.clone(),
                reason: reason.clone(),
            }),
        }
    }
    if staged.iter().any(Result::is_err) {
        let mut reports = Vec::new();
        let aborts = targets.iter().zip(staged).map(|(n, r)| async move {
            match r {
                Ok((mut s, h)) => {
                    let _ = s.call(&Request::Abort { hash: h }).await;
                    client.emit(Event::Aborted {
                        target: n.name.clone(),
                    });
                    report(n, TargetStatus::Aborted, None)
                }
                Err(reason) => report(n, TargetStatus::Failed(reason), None),
            }
        });
        reports.extend(join_all(aborts).await);
        return Err(Error::Distribution(Box::new(DistributionReport {
            hash,
            targets: reports,
        })));
    }

    // Commit everywhere, concurrently.
    let commits = targets.iter().zip(staged).map(|(n, r)| async move {
        let Ok((mut s, h)) = r else {
            return report(n, TargetStatus::Failed("not staged".into()), None);
        };
        let answer = s.call(&Request::Commit { hash: h }).await;
        let outcome = match answer {
            Ok(Response::Committed { hook, .. }) => {
                client.emit(Event::Committed {
                    target: n.name.clone(),
                });
                let mut r = report(n, TargetStatus::Committed, hook);
                for a in after.iter().filter(|a| (a.applies)(n)) {
                    let error = match s.call(&a.request).await {
                        Ok(Response::Error { code, message }) => {
                            Some(format!("{message} ({code:?})"))
                        }
                        Ok(_) => None,
                        Err(e) => Some(e.to_string()),
                    };
                    if let Some(reason) = &error {
                        client.emit(Event::Failed {
                            target: n.name.clone(),
                            reason: format!("{}: {reason}", a.what),
                        });
                    }
                    r.after_commit.push(Followup {
                        what: a.what.clone(),
                        error,
                    });
                }
                r
            }
            Ok(Response::Error {
                code: ErrorCode::Conflict,
                message,
            }) => failed(
                client,
                n,
                format!("another CTL was committed first: {message}"),
            ),
            Ok(other) => failed(client, n, format!("COMMIT answered {other:?}")),
            Err(e) => failed(client, n, format!("{e}; run again: commits are idempotent")),
        };
        let _ = s.bye().await;
        outcome
    });
    let reports = join_all(commits).await;
    let result = DistributionReport {
        hash,
        targets: reports,
    };
    if result
        .targets
        .iter()
        .all(|t| t.status == TargetStatus::Committed)
    {
        Ok(result)
    } else {
        Err(Error::Distribution(Box::new(result)))
    }
}

/// Runs futures concurrently on this task and returns their outputs in order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, f) in pending.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
