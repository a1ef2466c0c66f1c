//! Integration tests of ctl-format: the golden vectors, malformed inputs, round trips.

mod facts;
mod malformed;
mod rebuild;
mod support;
mod vectors;
