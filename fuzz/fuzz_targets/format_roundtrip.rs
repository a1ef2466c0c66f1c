//! An arbitrary trust list: build it, check the predicted size, parse it back, compare.
#![no_main]
libfuzzer_sys::fuzz_target!(|input: ctl_format::fuzzing::BuildInput| {
    ctl_format::fuzzing::build_round_trip(&input)
});
