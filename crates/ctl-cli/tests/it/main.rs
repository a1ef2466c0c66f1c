//! ctl's integration tests: the file commands, `ctl token` on SoftHSM2, `ctl cluster`
//! against providers in this process, and end to end against `ctl-providerd` processes
//! with a real TFTP server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod attacks;
mod build;
mod cli;
mod cluster;
mod e2e;
mod interrupt;
mod known;
mod lint;
mod provision;
mod readme;
mod strangers;
mod support;
mod token;
