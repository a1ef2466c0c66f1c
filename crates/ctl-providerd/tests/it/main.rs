//! ctl-providerd's integration tests: the daemon as separate processes, driven over TLS
//! by the protocol client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod commits;
mod files;
mod floods;
mod fuzz_inputs;
mod logins;
mod logs;
mod peers;
mod rules;
mod serve;
mod support;
