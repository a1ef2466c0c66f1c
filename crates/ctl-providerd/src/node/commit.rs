//! The STAGE / COMMIT / ABORT protocol: a staged file is checked (structure, signature by
//! a SAST of the current CTL, the client's certificate where required) and kept for its
//! session; one commit at a time installs it against the base it was staged on.

use std::time::Duration;

use bytes::Bytes;

use ctl_format::RsaVerifier;
use ctl_provider::ctl_hash;
use ctl_provider::message::{ErrorCode, OffCluster, Peer, Response};
use ctl_provider::net::PeerInfo;

use super::{HashedFile, Node, Refusal, Staged};
use crate::store::{PeerRecord, PendingPeers, StoredPeers};

fn hex(bytes: &[u8]) -> String {
    ctl_format::hex(bytes)
}

fn invalid(e: &impl std::fmt::Display) -> Refusal {
    Refusal::new(ErrorCode::InvalidFile, format!("not a valid CTL: {e}"))
}

impl Node {
    /// The current CTL and its hash.
    pub(super) fn current(&self) -> Result<Option<HashedFile>, Refusal> {
        self.store
            .current_ctl()
            .map(|c| c.map(|b| (ctl_hash(&b), Bytes::from(b))))
            .map_err(|e| Refusal::new(ErrorCode::Storage, format!("reading CTLFile.tlv: {e}")))
    }

    /// When the node requires it, the client's certificate must be a SAST of the current
    /// CTL; with no current CTL there is nothing to check it against, and the change is
    /// refused.
    pub(super) fn check_client_against_current(&self, peer: &PeerInfo) -> Result<(), Refusal> {
        if !self.config.require_sast_client_certificate {
            return Ok(());
        }
        match self.current()? {
            Some((_, bytes)) => self.check_client_certificate(peer, &bytes),
            None => Err(Refusal::new(
                ErrorCode::Forbidden,
                "this node requires a TLS client certificate that is a SAST of its current CTL, and it has none yet",
            )),
        }
    }

    /// When the node requires it, the client's certificate must be a SAST of `trust`
    /// (the current CTL, or the staged file when there is none).
    fn check_client_certificate(&self, peer: &PeerInfo, trust: &[u8]) -> Result<(), Refusal> {
        if !self.config.require_sast_client_certificate {
            return Ok(());
        }
        let Some(cert) = &peer.client_certificate else {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "this node requires a TLS client certificate that is a SAST of its current CTL",
            ));
        };
        let doc = ctl_format::parse_trust_list(trust).map_err(|e| invalid(&e))?;
        if is_sast_of(&doc, cert) {
            Ok(())
        } else {
            Err(Refusal::new(
                ErrorCode::Forbidden,
                format!(
                    "the client certificate (sha256 {}) is not a SAST of the current CTL",
                    hex(&ctl_hash(cert))
                ),
            ))
        }
    }

    /// STAGE: checks `file` against the current CTL and keeps it for this session.
    pub(super) fn stage(
        &self,
        peer: &PeerInfo,
        user: &str,
        base: Option<[u8; 32]>,
        file: Bytes,
        peers: Option<OffCluster>,
    ) -> Result<Response, Refusal> {
        let peers = peers.map(|p| self.peers_to_store(p)).transpose()?;
        // Early, before the work; again when the file is inserted, under the same lock.
        self.room_to_prepare(&self.inner().staged, peer.session)?;
        let current = self.current()?;
        if base != current.as_ref().map(|c| c.0) {
            let none = || "(none)".to_owned();
            return Err(Refusal::new(
                ErrorCode::Conflict,
                format!(
                    "the base {} is not the current CTL {}; fetch it and prepare the change again",
                    base.map_or_else(none, |b| hex(&b)),
                    current.as_ref().map_or_else(none, |c| hex(&c.0))
                ),
            ));
        }
        let doc = ctl_format::parse_trust_list(&file).map_err(|e| invalid(&e))?;
        self.check_client_certificate(peer, current.as_ref().map_or(&file, |c| &c.1))?;
        let h = ctl_hash(&file);
        if current.as_ref().is_some_and(|c| c.0 == h) {
            // The file is current already: committing it again converges.
            return Ok(Response::Staged(h));
        }
        let verdict = match &current {
            Some((_, bytes)) => {
                let held = ctl_format::parse_trust_list(bytes).map_err(|e| {
                    Refusal::new(
                        ErrorCode::Internal,
                        format!("the current CTL does not parse: {e}"),
                    )
                })?;
                doc.verify_with_trust_list(&held, &RsaVerifier).map(|_| ())
            }
            None => doc.verify(&RsaVerifier).map(|_| ()),
        };
        if let Err(e) = verdict {
            self.audit(user, "stage-refused", e.to_string());
            return Err(Refusal::new(
                ErrorCode::SignatureRefused,
                format!("not signed by a SAST of the current CTL: {e}"),
            ));
        }
        check_invariants(&doc)?;
        let timestamp = doc.header().timestamp().unwrap_or(0);
        if let Err(r) = self.check_newer(h, timestamp, current.as_ref()) {
            self.audit(user, "stage-refused", r.message.clone());
            return Err(r);
        }
        {
            let mut inner = self.inner();
            self.room_to_prepare(&inner.staged, peer.session)?;
            inner.staged.insert(
                h,
                Staged {
                    bytes: file,
                    timestamp,
                    base,
                    session: peer.session,
                    peers,
                },
            );
        }
        self.audit(user, "stage", hex(&h));
        Ok(Response::Staged(h))
    }

    /// BUSY when `max_preparing` other sessions hold staged files already.
    fn room_to_prepare(
        &self,
        staged: &std::collections::HashMap<[u8; 32], Staged>,
        session: u64,
    ) -> Result<(), Refusal> {
        let mut preparing: Vec<u64> = staged.values().map(|s| s.session).collect();
        preparing.sort_unstable();
        preparing.dedup();
        if !preparing.contains(&session) && preparing.len() >= self.config.limits.max_preparing {
            return Err(Refusal::new(
                ErrorCode::Busy,
                format!("{} sessions are already preparing changes", preparing.len()),
            ));
        }
        Ok(())
    }

    /// Refuses a file that is not newer than the current CTL and than every CTL this node
    /// committed, or that it committed before: phones take an old CTL signed by a token of
    /// the one they hold (they check no order), so the node must not hand one out.
    fn check_newer(
        &self,
        h: [u8; 32],
        timestamp: u32,
        current: Option<&HashedFile>,
    ) -> Result<(), Refusal> {
        let state = self
            .store
            .state()
            .map_err(|e| Refusal::new(ErrorCode::Storage, format!("state: {e}")))?;
        let current_timestamp = current
            .and_then(|(_, b)| ctl_format::parse_trust_list(b).ok())
            .and_then(|d| d.header().timestamp());
        let newest = current_timestamp.max(state.last_timestamp);
        match newest {
            Some(t) if timestamp <= t => Err(Refusal::new(
                ErrorCode::Rollback,
                format!(
                    "the file (timestamp {timestamp}) is older than or as old as the newest CTL committed here (timestamp {t})"
                ),
            )),
            _ => Ok(()),
        }?;
        if state.history.iter().any(|c| *c == hex(&h)) {
            return Err(Refusal::new(
                ErrorCode::Rollback,
                "this CTL was committed here before; an earlier CTL is never installed again",
            ));
        }
        Ok(())
    }

    /// The staged file `h` of this session.
    fn own_staged(&self, peer: &PeerInfo, h: &[u8; 32]) -> Result<(), Refusal> {
        match self.inner().staged.get(h) {
            Some(s) if s.session == peer.session => Ok(()),
            _ => Err(Refusal::new(
                ErrorCode::UnknownHash,
                format!("no CTL {} staged in this session", hex(h)),
            )),
        }
    }

    /// ABORT: drops a file this session staged.
    pub(super) fn abort(
        &self,
        peer: &PeerInfo,
        user: &str,
        h: [u8; 32],
    ) -> Result<Response, Refusal> {
        if self.config.require_sast_client_certificate {
            let trust = match self.current()? {
                Some((_, bytes)) => Some(bytes),
                None => self.inner().staged.get(&h).map(|s| s.bytes.clone()),
            };
            match trust {
                Some(t) => self.check_client_certificate(peer, &t)?,
                None => self.check_client_against_current(peer)?,
            }
        }
        self.own_staged(peer, &h)?;
        self.inner().staged.remove(&h);
        self.audit(user, "abort", hex(&h));
        Ok(Response::Aborted(h))
    }

    /// COMMIT: makes a staged file current, one commit at a time.
    pub(super) async fn commit(
        &self,
        peer: &PeerInfo,
        user: &str,
        h: [u8; 32],
    ) -> Result<Response, Refusal> {
        if self.config.require_sast_client_certificate {
            let trust = match self.current()? {
                Some((_, bytes)) => bytes,
                None => match self.inner().staged.get(&h) {
                    Some(s) => s.bytes.clone(),
                    None => {
                        return Err(Refusal::new(
                            ErrorCode::UnknownHash,
                            format!("no staged CTL {}", hex(&h)),
                        ));
                    }
                },
            };
            self.check_client_certificate(peer, &trust)?;
        }
        // One commit at a time: wait for the lock up to its lease, then give up as BUSY.
        let lease = Duration::from_secs(self.config.limits.lock_lease_secs);
        let Ok(_lock) = tokio::time::timeout(lease, self.commit.lock()).await else {
            return Err(Refusal::new(
                ErrorCode::Busy,
                format!(
                    "another commit held the lock for over {} s",
                    lease.as_secs()
                ),
            ));
        };
        self.commit_locked(peer, user, h).await
    }

    async fn commit_locked(
        &self,
        peer: &PeerInfo,
        user: &str,
        h: [u8; 32],
    ) -> Result<Response, Refusal> {
        let current = self.current()?;
        if current.as_ref().is_some_and(|c| c.0 == h) {
            // Already current: a retry after a lost answer converges.
            self.inner().staged.remove(&h);
            return Ok(Response::Committed {
                hash: h,
                hook: None,
            });
        }
        self.own_staged(peer, &h)?;
        let Some(staged) = self.inner().staged.remove(&h) else {
            return Err(Refusal::new(
                ErrorCode::UnknownHash,
                format!("no CTL {} staged in this session", hex(&h)),
            ));
        };
        if staged.base != current.as_ref().map(|c| c.0) {
            return Err(Refusal::new(
                ErrorCode::Conflict,
                "the CTL changed since this one was staged; stage it again",
            ));
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
                return Err(Refusal::new(
                    ErrorCode::Storage,
                    format!("writing the off-cluster servers: {e}; the previous file is unchanged"),
                ));
            }
        }
        if let Err(e) = self.store.install_ctl(&staged.bytes) {
            self.audit(user, "commit-failed", e.to_string());
            return Err(Refusal::new(
                ErrorCode::Storage,
                format!("writing CTLFile.tlv: {e}; the previous file is unchanged"),
            ));
        }
        let state_result = self.store.update_state(|s| {
            s.current_hash = Some(hex(&h));
            s.remember(&hex(&h), staged.timestamp);
            if let Some(pending) = s.pending_peers.take() {
                s.peers = pending.peers;
            }
            Ok(())
        });
        if let Err(e) = state_result {
            // The file is current; a restart repairs the state from it.
            tracing::error!(error = %e, "cannot update state.json after a commit (a restart repairs it)");
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
        Ok(Response::Committed { hash: h, hook })
    }

    /// Checks the PEERS of a STAGE: first node only, every name given once and not a
    /// member's, and not one the configuration already lists.
    fn peers_to_store(&self, peers: OffCluster) -> Result<StoredPeers, Refusal> {
        if !self.config.first_node {
            return Err(Refusal::new(
                ErrorCode::NotFirstNode,
                "only the first node stores the off-cluster servers (PEERS)",
            ));
        }
        let refuse = |why: String| Refusal::new(ErrorCode::InvalidFile, format!("PEERS: {why}"));
        let mut seen: Vec<&str> = Vec::new();
        for p in peers.alternate_tftp.iter().chain(&peers.firewalls) {
            if p.name.is_empty() || p.host.is_empty() || p.port == 0 {
                return Err(refuse(format!(
                    "\"{}\" at \"{}\" port {} needs a name, a host and a port",
                    p.name.escape_debug(),
                    p.host.escape_debug(),
                    p.port
                )));
            }
            if seen.contains(&p.name.as_str()) {
                return Err(refuse(format!("{} is named twice", p.name)));
            }
            if self.members.members.iter().any(|m| m.name == p.name) {
                return Err(refuse(format!(
                    "{} is a cluster member, not an off-cluster server",
                    p.name
                )));
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
    pub(super) fn configured_peer(&self, name: &str) -> bool {
        self.members
            .alternate_tftp
            .iter()
            .chain(&self.members.firewalls)
            .any(|c| c.name == name)
    }
}

/// Cisco's invariants of a trust list, checked before anything else: at least two
/// security tokens (an update must always be possible without the one that signed),
/// every record's certificate readable, and the signer a SAST record of the file itself
/// (phones holding it check the next file against its SAST records).
fn check_invariants(doc: &ctl_format::Document<'_>) -> Result<(), Refusal> {
    for (i, r) in doc.records().iter().enumerate() {
        if let Some(der) = r.certificate() {
            ctl_format::Certificate::from_der(der).map_err(|e| {
                Refusal::new(
                    ErrorCode::InvalidFile,
                    format!("record #{}: its certificate does not parse: {e}", i + 1),
                )
            })?;
        }
    }
    let tokens = doc
        .records()
        .iter()
        .filter(|r| r.role() == Some(ctl_format::Role::SAST) && r.certificate().is_some())
        .count();
    if tokens < 2 {
        return Err(Refusal::new(
            ErrorCode::InvalidFile,
            format!(
                "a CTL needs at least two security tokens (SAST records); this one has {tokens}"
            ),
        ));
    }
    doc.verify(&RsaVerifier).map_err(|e| {
        Refusal::new(
            ErrorCode::InvalidFile,
            format!("the signer is not a SAST record of the file: {e}"),
        )
    })?;
    Ok(())
}

/// Whether `cert` (DER) is a SAST record of `doc`.
pub(super) fn is_sast_of(doc: &ctl_format::Document<'_>, cert: &[u8]) -> bool {
    doc.records()
        .iter()
        .any(|r| r.role() == Some(ctl_format::Role::SAST) && r.certificate() == Some(cert))
}
