//! The integration tests of `ctl-site`.
#![allow(clippy::unwrap_used, missing_docs)]

mod audit;
mod phone;
mod provision;
