//! The integration tests of `ctl-site`.
#![allow(clippy::unwrap_used, missing_docs)]

mod phone;
mod provision;
