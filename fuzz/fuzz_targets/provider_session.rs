//! A provider session scripted by the fuzzer: chunks of peer bytes, time moving on,
//! logins and requests answered every way; the server's rules checked after every step.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctl_provider::fuzzing::session_script(data));
