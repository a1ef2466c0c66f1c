//! Any bytes: parse as a caller would (then the other ways that can give another document),
//! re-encode, verify with an accept-all verifier, apply the phone rules, lint. Two
//! mutations in three are structure-aware (`ctl_format::fuzzing::mutate_tlv`: one TLV
//! element changed, the lengths around it kept consistent), the rest libFuzzer's own.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ctl_format::fuzzing::parse_input(data));

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    if !seed.is_multiple_of(3) {
        let mut value_mutator = |value: &mut Vec<u8>| {
            let len = value.len();
            value.resize(len * 2 + 16, 0);
            let n = libfuzzer_sys::fuzzer_mutate(value, len, len * 2 + 16);
            value.truncate(n);
        };
        if let Some(out) = ctl_format::fuzzing::mutate_tlv(&data[..size], seed, &mut value_mutator)
        {
            let n = out.len().min(max_size);
            data[..n].copy_from_slice(&out[..n]);
            return n;
        }
    }
    libfuzzer_sys::fuzzer_mutate(data, size, max_size)
});
