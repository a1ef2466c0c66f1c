//! The STAGE / COMMIT / ABORT protocol: a staged file is checked (structure, signature by
//! a SAST of the current CTL, the client's certificate where required) and kept for its
//! session; one commit at a time installs it against the base it was staged on.

use std::time::Duration;

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
            .map(|c| c.map(|b| (ctl_hash(&b), b)))
            .map_err(|e| Refusal::new(ErrorCode::Storage, format!("reading CTLFile.tlv: {e}")))
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
        let is_sast = doc.records().iter().any(|r| {
            r.role() == Some(ctl_format::Role::SAST) && r.certificate() == Some(cert.as_slice())
        });
        if is_sast {
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
        file: Vec<u8>,
        peers: Option<OffCluster>,
    ) -> Result<Response, Refusal> {
        let peers = peers.map(|p| self.peers_to_store(p)).transpose()?;
        {
            let inner = self.inner();
            let mut preparing: Vec<u64> = inner.staged.values().map(|s| s.session).collect();
            preparing.sort_unstable();
            preparing.dedup();
            if !preparing.contains(&peer.session)
                && preparing.len() >= self.config.limits.max_preparing
            {
                return Err(Refusal::new(
                    ErrorCode::Busy,
                    format!("{} sessions are already preparing changes", preparing.len()),
                ));
            }
        }
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
        let h = ctl_hash(&file);
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
        Ok(Response::Staged(h))
    }

    /// ABORT: drops a staged file.
    pub(super) fn abort(&self, h: [u8; 32]) -> Result<Response, Refusal> {
        match self.inner().staged.remove(&h) {
            Some(_) => Ok(Response::Aborted(h)),
            None => Err(Refusal::new(
                ErrorCode::UnknownHash,
                format!("no staged CTL {}", hex(&h)),
            )),
        }
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
        self.commit_locked(user, h).await
    }

    async fn commit_locked(&self, user: &str, h: [u8; 32]) -> Result<Response, Refusal> {
        let current = self.current()?;
        if current.as_ref().is_some_and(|c| c.0 == h) {
            // Already current: a retry after a lost answer converges.
            self.inner().staged.remove(&h);
            return Ok(Response::Committed {
                hash: h,
                hook: None,
            });
        }
        let Some(staged) = self.inner().staged.remove(&h) else {
            return Err(Refusal::new(
                ErrorCode::UnknownHash,
                format!("no staged CTL {}", hex(&h)),
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
            if let Some(pending) = s.pending_peers.take() {
                s.peers = pending.peers;
            }
            Ok(())
        });
        if let Err(e) = state_result {
            // The file is current; a restart repairs the state from it.
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
