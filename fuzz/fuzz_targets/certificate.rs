//! Any bytes as a certificate, PEM or DER: decoded, named and re-encoded.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctl_format::fuzzing::certificate_input(data));
