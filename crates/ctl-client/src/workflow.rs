//! The Cisco CTL Client workflows: orchestration only. Every rule they apply is a pure
//! function of [`plan`](crate::plan); distribution is in `distribute`.

use std::sync::Arc;

use ctl_format::{Certificate, Role};
use ctl_provider::cluster::{HeldCtl, NodeStatus, NodeView, TargetKind};
use ctl_provider::message::{Request, SecurityMode};

use crate::client::{Cluster, read_mode};
use crate::distribute::{self, AfterCommit};
use crate::identity::Token;
use crate::plan::{self, Change, Entry, Preview, Rule, Selector};
use crate::report::DistributionReport;
use crate::{Client, Error, Event};

/// The token the workflows sign with (and authenticate with, by default), shared so that
/// it can sign on a blocking thread (a PKCS#11 signature must not block a runtime worker).
pub type SharedSigner = Arc<dyn Token>;

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
    /// What phones will not take in the distributed CTL ([`ctl_format::lint()`]).
    pub warnings: Vec<ctl_format::Warning>,
    /// Nothing needed changing: no CTL was signed or sent (`ctl` is the current one,
    /// `distribution` has no targets).
    pub unchanged: bool,
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

impl Changes {
    /// Whether nothing is asked for.
    pub fn is_empty(&self) -> bool {
        self.add_tokens.is_empty()
            && self.remove.is_none()
            && self.add_peers.is_empty()
            && self.remove_peers.is_empty()
            && !self.non_secure
    }
}

/// The names of the targets that will receive the file.
fn ready_targets(cluster: &Cluster) -> Vec<String> {
    cluster
        .nodes()
        .into_iter()
        .filter(|n| n.status == NodeStatus::Ok)
        .map(|n| n.name.clone())
        .collect()
}

/// Sets `mode` on the first node, on its session, once it committed the file.
fn set_mode_after(mode: SecurityMode) -> AfterCommit {
    AfterCommit {
        request: Request::SetMode(mode),
        applies: NodeView::is_first_node,
        what: format!("security mode set to {mode}"),
    }
}

/// Now, in Unix seconds (lint judges expiry by it).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Client {
    /// Builds and signs the CTL of `entries`, newer than `after` (the TIMESTAMP of the CTL
    /// it replaces: nodes refuse a CTL that is not newer); the signature is made on a
    /// blocking thread.
    async fn build_ctl(
        &self,
        entries: &[Entry],
        servers_certified: bool,
        signer: &SharedSigner,
        current: Option<&ctl_format::Document<'_>>,
        targets: Vec<String>,
    ) -> Result<Vec<u8>, Error> {
        let mut b = ctl_format::TrustListBuilder::new();
        b.digest(self.digest);
        let after = current.and_then(|d| d.header().timestamp());
        b.timestamp(plan::next_timestamp(std::time::SystemTime::now(), after));
        for e in entries {
            let certified = servers_certified || e.role == Role::SAST;
            b.push(e.spec(certified));
            self.emit(Event::CertificateCollected {
                from: e.origin.to_string(),
                entry: e.describe(),
            });
        }
        // The size is known before anything is signed or sent, and the operator sees what
        // the token is about to sign.
        let size = b.encoded_len(signer.certificate())?;
        let mut preview = Preview::new(current, entries, targets, size);
        preview.warnings = plan::draft_warnings(&b, signer.certificate(), unix_now());
        self.confirm(&preview)?;
        let signer = Arc::clone(signer);
        Ok(tokio::task::spawn_blocking(move || b.build(&*signer))
            .await
            .map_err(Error::SigningTask)??)
    }

    /// Distributes `ctl` to the cluster's targets and collects the outcome.
    async fn distribute(
        &self,
        cluster: Cluster,
        ctl: Vec<u8>,
        after: &[AfterCommit],
        mut notes: Vec<String>,
    ) -> Result<Outcome, Error> {
        let peers = plan::off_cluster(cluster.nodes());
        // One buffer for every target's STAGE (vectored writes send slices of it).
        let file = bytes::Bytes::from(ctl);
        let distribution = distribute::distribute(
            self,
            cluster.targets,
            cluster.current,
            file.clone(),
            after,
            &peers,
        )
        .await?;
        // Back to the caller's vector without a copy: the sessions are gone.
        let ctl = Vec::from(file);
        notes.extend(distribution.followup_notes());
        // Every target committed it: it is the CTL this client holds from now on.
        self.hold(&ctl);
        let warnings = ctl_format::parse_trust_list(&ctl)
            .map(|doc| ctl_format::lint(&doc, unix_now()))
            .unwrap_or_default();
        Ok(Outcome {
            room_for_records: ctl_format::room_for_records(ctl.len()),
            warnings,
            ctl,
            distribution,
            notes,
            unchanged: false,
        })
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
        signer: SharedSigner,
    ) -> Result<Outcome, Error> {
        let run = self.authenticated_by(&signer);
        let outcome = run.mixed_mode(tokens, signer).await;
        self.adopt(&run);
        outcome
    }

    async fn mixed_mode(
        &self,
        tokens: &[Certificate],
        signer: SharedSigner,
    ) -> Result<Outcome, Error> {
        let distinct = plan::mixed_mode_tokens(tokens, signer.certificate())?;
        let mut cluster = self.cluster().await?;
        if let Some(current) = &cluster.current {
            let non_secure = plan::is_non_secure(
                &ctl_format::parse_trust_list(current).map_err(Error::CurrentCtl)?,
            );
            // Back from non-secure mode, or a first run whose last step (the mode) failed.
            let mode = match cluster.first_session() {
                Some(s) => Some(read_mode(s).await.map_err(|e| self.on_publisher(e))?),
                None => None,
            };
            if !non_secure && mode != Some(SecurityMode::NonSecure) {
                cluster.close().await;
                return Err(Rule::AlreadyMixed.into());
            }
            let changes = Changes {
                add_tokens: distinct,
                ..Changes::default()
            };
            return self
                .rebuild(cluster, &signer, &changes, Some(SecurityMode::Mixed))
                .await;
        }
        let mut entries = plan::token_entries(&distinct);
        entries.extend(plan::server_entries(cluster.nodes())?);
        let targets = ready_targets(&cluster);
        let ctl = self
            .build_ctl(&entries, true, &signer, None, targets)
            .await?;
        let capf = cluster
            .nodes()
            .into_iter()
            .filter_map(|n| n.info.as_ref())
            .find(|i| i.first_node)
            .and_then(|i| i.certificates.iter().find(|c| c.role == Role::CAPF.0))
            .map(|c| AfterCommit {
                request: Request::PutCapf {
                    certificate: c.der.clone(),
                },
                applies: |n| n.kind == TargetKind::Node && !n.is_first_node(),
                what: "CAPF certificate stored".to_owned(),
            });
        let after: Vec<_> = capf
            .into_iter()
            .chain([set_mode_after(SecurityMode::Mixed)])
            .collect();
        self.distribute(cluster, ctl, &after, Vec::new()).await
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
    pub async fn update(&self, signer: SharedSigner, changes: &Changes) -> Result<Outcome, Error> {
        let run = self.authenticated_by(&signer);
        let mode = changes.non_secure.then_some(SecurityMode::NonSecure);
        let outcome = match run.cluster().await {
            Ok(cluster) => run.rebuild(cluster, &signer, changes, mode).await,
            Err(e) => Err(e),
        };
        self.adopt(&run);
        outcome
    }

    /// Update, switching to `mode` when given (else the CTL keeps its kind: server
    /// records with certificates, or without them in non-secure mode).
    async fn rebuild(
        &self,
        mut cluster: Cluster,
        signer: &SharedSigner,
        changes: &Changes,
        mode: Option<SecurityMode>,
    ) -> Result<Outcome, Error> {
        let signer_cert =
            Certificate::from_der(signer.certificate()).map_err(|source| Error::Certificate {
                what: "the signing token".into(),
                source,
            })?;
        let tokens = match self.trusted_tokens(cluster.current.as_deref(), &signer_cert) {
            Ok(t) => t,
            Err(e) => {
                cluster.close().await;
                return Err(e);
            }
        };
        let current = cluster.current.clone().unwrap_or_default();
        let doc = ctl_format::parse_trust_list(&current).map_err(Error::CurrentCtl)?;
        let mut tokens = plan::with_tokens(tokens, &changes.add_tokens);
        for name in &changes.remove_peers {
            let i = plan::peer_to_remove(&cluster.nodes(), name)?;
            cluster.targets.remove(i).close().await;
        }
        for p in &changes.add_peers {
            plan::check_new_peer(&cluster.nodes(), &p.name)?;
            let kind = if p.firewall {
                TargetKind::Firewall
            } else {
                TargetKind::AlternateTftp
            };
            let t = ctl_provider::net::visit_peer(&self.connector, &p.name, &p.host, p.port, kind)
                .await;
            self.emit(Event::NodeContacted {
                node: t.view.name.clone(),
                status: t.view.status.clone(),
            });
            cluster.targets.push(t);
        }
        let servers = plan::server_entries(cluster.nodes())?;
        // The same token signing again changes nothing either (another token is a change:
        // the list's signer).
        let same_signer = doc.signer_record().ok().and_then(|(_, r)| r.certificate())
            == Some(signer.certificate());
        if mode.is_none()
            && same_signer
            && changes.is_empty()
            && plan::changes(&doc, &servers).is_empty()
        {
            // Nothing asked, the same signer, nothing changed: when every node holds the
            // current CTL, signing a new one would only move its timestamp. (A node on another CTL
            // still gets a new one: that is how the cluster converges.)
            crate::client::read_held_ctls(&mut cluster.targets).await;
            let hash = ctl_provider::ctl_hash(&current);
            let converged = cluster
                .targets
                .iter()
                .filter(|t| t.view.kind == TargetKind::Node)
                .all(|t| t.view.ctl == HeldCtl::Sha256(hash));
            if converged {
                cluster.close().await;
                return Ok(Outcome {
                    room_for_records: ctl_format::room_for_records(current.len()),
                    distribution: DistributionReport {
                        hash: ctl_format::hex(&hash),
                        targets: Vec::new(),
                    },
                    warnings: ctl_format::lint(&doc, unix_now()),
                    ctl: current.into(),
                    notes: vec![
                        "nothing changed: every node holds the current CTL and it covers the cluster as it is; nothing was signed or sent".to_owned(),
                    ],
                    unchanged: true,
                });
            }
        }
        if let Some(selector) = &changes.remove {
            let removed = plan::remove_token(&mut tokens, &servers, selector)?;
            plan::check_removal(&removed, signer.certificate())?;
        }
        // Server records follow the cluster and the off-cluster servers the first node
        // knows: a record that matches none of them is left out, and the notes say so.
        let notes = plan::left_out(&doc, &servers);
        let mut entries = plan::token_entries(&tokens);
        entries.extend(servers);
        let certified = match mode {
            Some(m) => m == SecurityMode::Mixed,
            None => !plan::is_non_secure(&doc),
        };
        let ctl = self
            .build_ctl(
                &entries,
                certified,
                signer,
                Some(&doc),
                ready_targets(&cluster),
            )
            .await?;
        let after: Vec<_> = mode.map(set_mode_after).into_iter().collect();
        self.distribute(cluster, ctl, &after, notes).await
    }

    /// **Status**: which CTL every node holds against the first node's, and what changed
    /// in the cluster since that CTL was built. A node that cannot be reached is reported,
    /// not an error; while one is, what changed cannot be told (its records would look
    /// removed) and [`ClusterStatus::changes`] is `None`.
    ///
    /// # Errors
    /// No CTL on the first node, a CTL that does not parse, or the first node cannot be used.
    pub async fn status(&self) -> Result<ClusterStatus, Error> {
        let mut cluster = self.cluster().await?;
        crate::client::read_held_ctls(&mut cluster.targets).await;
        let nodes: Vec<NodeView> = cluster.nodes().into_iter().cloned().collect();
        let current = cluster.current.take();
        cluster.close().await;
        let current = current.ok_or(Rule::NoCtlToCompare)?;
        let doc = ctl_format::parse_trust_list(&current).map_err(Error::CurrentCtl)?;
        let all_ready = nodes.iter().all(|n| n.status == NodeStatus::Ok);
        let changes = if all_ready {
            Some(plan::changes(&doc, &plan::server_entries(&nodes)?))
        } else {
            None
        };
        Ok(ClusterStatus {
            sha256: ctl_provider::ctl_hash(&current),
            ctl: current.into(),
            changes,
            nodes,
        })
    }
}

/// What [`Client::status`] found.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClusterStatus {
    /// The first node's current CTL.
    pub ctl: Vec<u8>,
    /// Its hash.
    pub sha256: [u8; 32],
    /// What changed in the cluster since it was built; `None` while a node cannot be
    /// reached (its records would look removed).
    pub changes: Option<Vec<Change>>,
    /// Every node, alternate TFTP server and firewall, with the CTL each node holds.
    pub nodes: Vec<NodeView>,
}

impl ClusterStatus {
    /// The nodes that answered and hold another CTL than the first node's (or none): a
    /// commit that did not reach them.
    pub fn differing(&self) -> impl Iterator<Item = &NodeView> {
        self.nodes.iter().filter(|n| {
            n.kind == TargetKind::Node
                && n.status == NodeStatus::Ok
                && n.ctl != HeldCtl::Sha256(self.sha256)
        })
    }

    /// The nodes (and off-cluster servers) that could not be asked.
    pub fn unreachable(&self) -> impl Iterator<Item = &NodeView> {
        self.nodes.iter().filter(|n| n.status != NodeStatus::Ok)
    }

    /// Every node answered, holds the first node's CTL, and the CTL covers the cluster.
    pub fn up_to_date(&self) -> bool {
        self.changes.as_ref().is_some_and(Vec::is_empty)
            && self.differing().next().is_none()
            && self.unreachable().next().is_none()
    }
}
