//! ctl-provider's integration tests: the sans-I/O core, then the TLS shell on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod fuzz_inputs;
mod messages;
mod net;
mod session;
