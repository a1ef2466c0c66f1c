//! ctl-client's integration tests: discovery and the workflows against providers served
//! in this process (real TLS on loopback), with software tokens.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod attacks;
mod cluster;
mod discovery;
mod peers;
mod workflows;
