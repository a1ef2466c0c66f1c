//! Distribution: stage everywhere, then commit everywhere; any stage failure aborts everywhere.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use ctl_provider::cluster::{NodeStatus, NodeView};
use ctl_provider::message::{ErrorCode, HookOutcome, OffCluster, Request, Response, kind, service};
use ctl_provider::net::{NetError, Session, Target};

use crate::report::{DistributionReport, Followup, TargetError, TargetReport, TargetStatus};
use crate::{Client, Error, Event};

/// A request to send, on the same session, to the targets it applies to once they committed.
pub(crate) struct AfterCommit {
    pub(crate) request: Request,
    pub(crate) applies: fn(&NodeView) -> bool,
    pub(crate) what: String,
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

/// A file every target is sent, with its hash (computed once, not per target).
struct Shared {
    bytes: Bytes,
    hash: [u8; 32],
}

impl Shared {
    fn new(bytes: Bytes) -> Self {
        let hash = ctl_provider::ctl_hash(&bytes);
        Self { bytes, hash }
    }
}

/// A target that failed: the event, then its report.
fn failed(client: &Client, n: &NodeView, reason: TargetError) -> TargetReport {
    client.emit(Event::Failed {
        target: n.name.clone(),
        reason: reason.clone(),
    });
    report(n, TargetStatus::Failed(reason), None)
}

/// Brings a node that holds `held` (an earlier CTL: a distribution that committed
/// elsewhere and not there) to `base`, the CTL the new file was built from: `base` is
/// staged against what the node holds and committed. The node checks it as any file (a
/// signature by a SAST of what it holds, newer, never committed there before), so a node
/// that holds a newer CTL (a change committed meanwhile) or a CTL of its own refuses, and
/// the distribution stops.
async fn catch_up(s: &mut Session, held: [u8; 32], base: &Bytes) -> Result<(), TargetError> {
    let diverged = |refusal: String| TargetError::Diverged {
        holds: ctl_format::hex(&held),
        built_from: ctl_format::hex(&ctl_provider::ctl_hash(base)),
        refusal,
    };
    let staged = s
        .call(&Request::Stage {
            base: Some(held),
            file: base.clone(),
            peers: None,
        })
        .await
        .map_err(|e| TargetError::Stage(Arc::new(e)))?;
    let h = match staged {
        Response::Staged(h) => h,
        Response::Error { code, message } => {
            return Err(diverged(format!("{message} ({})", code.name())));
        }
        other => {
            return Err(diverged(format!(
                "STAGE answered {}",
                kind::name(other.kind())
            )));
        }
    };
    match s.call(&Request::Commit { hash: h }).await {
        Ok(Response::Committed { .. }) => Ok(()),
        Ok(Response::Error { code, message }) => {
            Err(diverged(format!("{message} ({})", code.name())))
        }
        Ok(other) => Err(diverged(format!(
            "COMMIT answered {}",
            kind::name(other.kind())
        ))),
        Err(e) => Err(TargetError::Commit(Arc::new(e))),
    }
}

/// Stages `file`, built from `base` (the first node's CTL when the change was prepared),
/// against `base` on the node `n`: a node that holds `base` takes it, a node that never had
/// a CTL takes it against an empty base, a node behind is brought to `base` first, and a
/// node that holds anything else refuses (no change committed meanwhile is lost). `file`
/// and `base` are shared by every target's STAGE, never copied for one.
async fn stage(
    client: &Client,
    n: &NodeView,
    file: &Shared,
    base: Option<&Shared>,
    session: Option<Session>,
    peers: Option<OffCluster>,
) -> Result<(Session, [u8; 32]), TargetError> {
    let mut s = match session {
        Some(s) => s,
        None => client
            .connector
            .connect(&n.host, n.port)
            .await
            .map_err(|e| TargetError::Connect(Arc::new(e)))?,
    };
    let held = crate::client::read_ctl(&mut s)
        .await
        .map_err(|e| TargetError::Stage(Arc::new(e)))?
        .map(|f| ctl_provider::ctl_hash(&f));
    let base_hash = base.map(|b| b.hash);
    let stage_base = match (held, base) {
        (None, _) => None,
        (Some(h), _) if Some(h) == base_hash || h == file.hash => Some(h),
        (Some(h), Some(base)) => {
            catch_up(&mut s, h, &base.bytes).await?;
            base_hash
        }
        (Some(h), None) => {
            return Err(TargetError::Diverged {
                holds: ctl_format::hex(&h),
                built_from: "(none)".to_owned(),
                refusal: "the cluster had no CTL when this change was prepared".to_owned(),
            });
        }
    };
    let request = Request::Stage {
        base: stage_base,
        file: file.bytes.clone(),
        peers,
    };
    match s.call(&request).await {
        Ok(Response::Staged(h)) => Ok((s, h)),
        Ok(Response::Error { code, message }) => Err(TargetError::StageRefused { code, message }),
        Ok(other) => Err(TargetError::Stage(Arc::new(NetError::Unexpected {
            request: kind::STAGE,
            answer: other.kind(),
        }))),
        Err(e) => Err(TargetError::Stage(Arc::new(e))),
    }
}

/// Commits on a staged target, then sends it the steps that apply to it.
async fn commit(
    client: &Client,
    n: &NodeView,
    mut s: Session,
    h: [u8; 32],
    after: &[AfterCommit],
) -> TargetReport {
    let outcome = match s.call(&Request::Commit { hash: h }).await {
        Ok(Response::Committed { hook, .. }) => {
            client.emit(Event::Committed {
                target: n.name.clone(),
            });
            let mut r = report(n, TargetStatus::Committed, hook);
            for a in after.iter().filter(|a| (a.applies)(n)) {
                let error = s.ask(&a.request).await.err().map(Arc::new);
                if let Some(e) = &error {
                    client.emit(Event::Failed {
                        target: n.name.clone(),
                        reason: TargetError::Followup {
                            what: a.what.clone(),
                            error: Arc::clone(e),
                        },
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
        }) => failed(client, n, TargetError::Conflict(message)),
        Ok(Response::Error { code, message }) => failed(
            client,
            n,
            TargetError::Commit(Arc::new(NetError::Refused { code, message })),
        ),
        Ok(other) => failed(
            client,
            n,
            TargetError::Commit(Arc::new(NetError::Unexpected {
                request: kind::COMMIT,
                answer: other.kind(),
            })),
        ),
        // An answer refusing it is a failure; no answer at all leaves it unknown.
        Err(e @ (NetError::Refused { .. } | NetError::Unexpected { .. })) => {
            failed(client, n, TargetError::Commit(Arc::new(e)))
        }
        Err(e) if e.code().is_some() => failed(client, n, TargetError::Commit(Arc::new(e))),
        Err(e) => {
            let reason = TargetError::CommitUnanswered(Arc::new(e));
            client.emit(Event::Failed {
                target: n.name.clone(),
                reason: reason.clone(),
            });
            report(n, TargetStatus::Unknown(reason), None)
        }
    };
    let _ = s.bye().await;
    outcome
}

/// Stages `file`, built from `base`, on every `ok` target at once (on the session
/// discovery left open, else a new one), then commits it on every target; if any stage
/// fails, every staged copy is aborted and nothing changes anywhere. The first node's
/// stage carries `peers`, the off-cluster servers it stores with the file.
pub(crate) async fn distribute(
    client: &Client,
    targets: Vec<Target>,
    base: Option<Bytes>,
    file: Bytes,
    after: &[AfterCommit],
    peers: &OffCluster,
) -> Result<DistributionReport, Error> {
    let file = Shared::new(file);
    let base = base.map(Shared::new);
    let (file, base) = (&file, base.as_ref());
    let hash = ctl_format::hex(&file.hash);
    let mut ready = Vec::new();
    for t in targets {
        if t.view.status == NodeStatus::Ok {
            ready.push(t);
        } else {
            t.close().await;
        }
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(client.concurrency));

    // Stage everywhere, concurrently.
    let (views, sessions): (Vec<NodeView>, Vec<Option<Session>>) =
        ready.into_iter().map(|t| (t.view, t.session)).unzip();
    let staged: Vec<Result<(Session, [u8; 32]), TargetError>> = {
        let stages = views.iter().zip(sessions).map(|(n, session)| {
            let gate = Arc::clone(&gate);
            let peers = n.is_first_node().then(|| peers.clone());
            async move {
                // The semaphore is never closed; a closed one would only lift the limit.
                let _permit = gate.acquire().await.ok();
                stage(client, n, file, base, session, peers).await
            }
        });
        join_all(stages).await
    };
    for (n, r) in views.iter().zip(&staged) {
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
        let aborts = views.iter().zip(staged).map(|(n, r)| async move {
            match r {
                Ok((mut s, h)) => {
                    let _ = s.call(&Request::Abort { hash: h }).await;
                    let _ = s.bye().await;
                    client.emit(Event::Aborted {
                        target: n.name.clone(),
                    });
                    report(n, TargetStatus::Aborted, None)
                }
                Err(reason) => report(n, TargetStatus::Failed(reason), None),
            }
        });
        return Err(Error::Distribution(Box::new(DistributionReport {
            hash,
            targets: join_all(aborts).await,
        })));
    }

    // Commit everywhere, concurrently. The event comes first: whoever listens knows that
    // from here on, stopping can split the cluster.
    client.emit(Event::Committing {
        targets: staged.len(),
    });
    let commits = views.iter().zip(staged).filter_map(|(n, r)| {
        r.ok()
            .map(|(s, h)| async move { commit(client, n, s, h, after).await })
    });
    let result = DistributionReport {
        hash,
        targets: join_all(commits).await,
    };
    if result.all_committed() {
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
        for (f, slot) in pending.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
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
