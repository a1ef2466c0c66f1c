//! Any bytes as provider protocol frames, both ways, and through the session state machines.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctl_provider::fuzzing::any_input(data));
