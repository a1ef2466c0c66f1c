#![doc = include_str!("../README.md")]
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
