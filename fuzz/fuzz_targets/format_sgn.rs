//! Any bytes as a `.sgn` payload (built and parsed back) and as a `.sgn` file.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctl_format::fuzzing::signed_round_trip(data));
