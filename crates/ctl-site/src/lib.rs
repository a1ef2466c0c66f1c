#![doc = include_str!("../README.md")]
#![deny(clippy::indexing_slicing)]

pub mod audit;
mod devices;
mod error;
mod example;
mod fsutil;
mod keys;
mod lists;
pub mod manifest;
pub mod migrate;
mod pattern;
pub mod phone;
mod provision;
mod watch;
mod work;

pub use error::{FamilyError, MacError, ManifestError, PatternError, ProvisionError};
pub use example::EXAMPLE;
pub use keys::{KeyOutcome, SharedSigner, generate_missing};
pub use lists::List;
pub use manifest::{KeySource, Mac, Manifest, Server};
pub use pattern::Pattern;
pub use provision::{Action, Change, MAX_CONFIG, Options, Report, provision};
pub use watch::watch;
