//! Any bytes: parse every way, re-encode, verify with an accept-all verifier, apply the phone rules, lint.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctl_format::fuzzing::parse_input(data));
