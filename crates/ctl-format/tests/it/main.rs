//! Integration tests of ctl-format: the golden vectors, malformed inputs, round trips.

mod rebuild;
mod support;
mod vectors;
