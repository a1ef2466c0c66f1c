//! Cluster-wide state a node keeps besides its files: the security mode, the off-cluster
//! servers stored with the current CTL (MEMBERS), the CAPF certificate of subsequent
//! nodes, the audit log; and the repair at start-up that makes the state agree with the
//! file on disk.

use ctl_provider::ctl_hash;
use ctl_provider::message::{AuditEntry, ErrorCode, Peer, PeerSource, Response, SecurityMode};
use ctl_provider::net::PeerInfo;

use super::{Node, Refusal};
use crate::store::{State, Store};

/// At start-up: makes the TFTP directory publish the node's own CTL (never the other way
/// round), then the saved state agree with that file after a crash between the writes of
/// a commit: the current hash is the file's, and a pending list of off-cluster servers
/// becomes current when its file is the one on disk.
pub(super) fn repair(store: &Store) -> std::io::Result<()> {
    let state = store.state()?;
    if let Some(what) = store.reconcile_published(state.current_hash.as_deref())? {
        tracing::warn!(what = %what, "the TFTP directory differed from the node's own files");
    }
    let on_disk = store.current_ctl()?.map(|b| ctl_format::hex(&ctl_hash(&b)));
    if state.current_hash == on_disk && state.pending_peers.is_none() {
        return Ok(());
    }
    store.update_state(|s| {
        if let Some(pending) = s.pending_peers.take()
            && Some(&pending.hash) == on_disk.as_ref()
        {
            s.peers = pending.peers;
        }
        s.current_hash = on_disk;
        Ok(())
    })
}

impl Node {
    /// SET_MODE, first node only.
    pub(super) fn set_mode(
        &self,
        peer: &PeerInfo,
        user: &str,
        mode: SecurityMode,
    ) -> Result<Response, Refusal> {
        if !self.config.first_node {
            return Err(Refusal::new(
                ErrorCode::NotFirstNode,
                "the security mode is set on the first node",
            ));
        }
        self.check_client_against_current(peer)?;
        self.store
            .update_state(|s| {
                s.mode = mode.code();
                Ok(())
            })
            .map_err(|e| Refusal::new(ErrorCode::Storage, format!("saving the mode: {e}")))?;
        self.audit(user, "set-mode", mode.name().to_owned());
        Ok(Response::ModeSet(mode))
    }

    /// GET_MODE.
    pub(super) fn mode(&self) -> Result<Response, Refusal> {
        match self.store.state() {
            Ok(State { mode: 1, .. }) => Ok(Response::Mode(SecurityMode::Mixed)),
            Ok(_) => Ok(Response::Mode(SecurityMode::NonSecure)),
            Err(e) => Err(Refusal::new(
                ErrorCode::Storage,
                format!("reading the state: {e}"),
            )),
        }
    }

    /// MEMBERS: the configured members and peers, then the peers stored with the current CTL
    /// (the file on disk decides which list that is, also in the middle of a commit).
    pub(super) fn members_now(&self) -> Result<Response, Refusal> {
        if !self.config.first_node {
            return Err(Refusal::new(
                ErrorCode::NotFirstNode,
                "ask the first node for the members",
            ));
        }
        let mut out = self.members.clone();
        let current = self.current()?.map(|(h, _)| ctl_format::hex(&h));
        let state = self
            .store
            .state()
            .map_err(|e| Refusal::new(ErrorCode::Storage, format!("state: {e}")))?;
        let stored = state.peers_for(current.as_deref());
        for (list, records) in [
            (&mut out.alternate_tftp, &stored.alternate_tftp),
            (&mut out.firewalls, &stored.firewalls),
        ] {
            for r in records {
                if !self.configured_peer(&r.name) {
                    list.push(Peer {
                        name: r.name.clone(),
                        host: r.host.clone(),
                        port: r.port,
                        source: PeerSource::Stored,
                    });
                }
            }
        }
        Ok(Response::Members(out))
    }

    /// PUT_CAPF, subsequent nodes only: capf.cer (DER) and capf.pem.
    pub(super) fn put_capf(
        &self,
        peer: &PeerInfo,
        user: &str,
        der: &[u8],
    ) -> Result<Response, Refusal> {
        if self.config.first_node {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "the first node runs CAPF itself; the CAPF certificate goes to subsequent nodes",
            ));
        }
        self.check_client_against_current(peer)?;
        let cert = ctl_format::Certificate::from_der(der)
            .map_err(|e| Refusal::new(ErrorCode::InvalidFile, format!("CAPF certificate: {e}")))?;
        let pem = ctl_format::pem_encode("CERTIFICATE", cert.der());
        self.store
            .install_capf(cert.der(), &pem)
            .map_err(|e| Refusal::new(ErrorCode::Storage, format!("writing capf.cer: {e}")))?;
        self.audit(
            user,
            "put-capf",
            cert.subject_text(ctl_format::NameStyle::Reversed),
        );
        Ok(Response::CapfStored)
    }

    /// AUDIT: the newest `limit` entries.
    pub(super) fn audit_entries(&self, limit: u32) -> Result<Response, Refusal> {
        let lines = self
            .audit_log
            .tail(usize::try_from(limit).unwrap_or(usize::MAX))
            .map_err(|e| Refusal::new(ErrorCode::Storage, format!("reading the audit log: {e}")))?;
        Ok(Response::Audit(
            lines
                .into_iter()
                .map(|l| AuditEntry {
                    time: l.time,
                    user: l.user,
                    action: l.action,
                    message: l.message,
                })
                .collect(),
        ))
    }
}
