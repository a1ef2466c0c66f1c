//! Any bytes as a trust list, verified with the real RSA verifier against every
//! certificate it carries; the phone rule must agree with the signature check.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctl_format::fuzzing::verify_input(data));
