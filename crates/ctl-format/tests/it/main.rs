//! Integration tests of ctl-format: the golden vectors, malformed inputs, round trips.

mod vectors;
