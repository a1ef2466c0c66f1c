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
//! #     signer: ctl_client::SharedSigner,
//! # ) -> Result<(), ctl_client::Error> {
//! let client = Client::builder("cucm-pub.example.com", 2444, "admin", Password::new("..."))
//!     .trust(TrustPolicy { trust_on_first_use: true, ..TrustPolicy::default() })
//!     .on_event(|e| eprintln!("{e:?}"))
//!     // For nodes that require a SAST client certificate:
//!     // .identity(ctl_client::token_identity(token_signer.clone()))
//!     .build();
//! let outcome = client.set_mixed_mode(&[t1, t2], signer.clone()).await?;
//! for t in &outcome.distribution.targets {
//!     println!("{} committed: {} restart {}", t.name, t.status.is_committed(), t.restart.join(", "));
//! }
//! let status = client.status().await?;
//! if !status.up_to_date() {
//!     client.update(signer, &Changes::default()).await?;
//! }
//! # Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use ctl_format as format;
pub use ctl_provider as provider;
pub use ctl_token as token;

pub use ctl_format::{Certificate, Role, Signer};
pub use ctl_provider::cluster::{ClusterView, HeldCtl, NodeStatus, NodeView, TargetKind};
pub use ctl_provider::message::{HookOutcome, OffCluster, Password, PeerSource, SecurityMode};
pub use ctl_provider::net::ClientIdentity;
pub use ctl_provider::trust::{KnownProviders, TrustPolicy};

mod client;
mod distribute;
mod error;
mod event;
mod fetch;
mod identity;
pub mod known;
pub mod plan;
mod report;
mod selector;
mod workflow;

pub use client::{Client, ClientBuilder};
pub use error::Error;
pub use event::Event;
pub use fetch::{Fetched, Vouched};
pub use identity::{Token, software_identity, token_identity};
pub use plan::{Change, Entry, Origin, Preview, Rule, Selector};
pub use report::{DistributionReport, Followup, TargetError, TargetReport, TargetStatus};
pub use workflow::{Changes, ClusterStatus, Outcome, Peer, SharedSigner};
