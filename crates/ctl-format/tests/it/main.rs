//! Integration tests of ctl-format: the golden vectors, malformed inputs, round trips.
// Test code: a panic is a failed test, and the generators' casts truncate on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation,
    clippy::indexing_slicing,
    missing_docs
)]

mod facts;
mod fuzz_inputs;
mod lint;
mod malformed;
mod props;
mod rebuild;
mod rules;
mod support;
mod vectors;
