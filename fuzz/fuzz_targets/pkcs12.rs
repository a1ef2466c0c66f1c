//! Any bytes as a PKCS #12 file (an `ITLRecovery.p12`): its MAC, safes, PBES2 and
//! PBE-SHA1-3DES decryption and bags, with and without the MAC check
//! (`ctl_token::fuzzing::pkcs12`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ctl_token::fuzzing::pkcs12(data);
});
