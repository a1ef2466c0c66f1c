//! ctl-token's integration tests: the software signer, and PKCS#11 on a real SoftHSM2
//! module. (Waiting for the next token is in a test binary of its own, `wait`: tokens other
//! tests of a process create would count as inserted.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod fuzz_inputs;
mod pkcs11;
mod pkcs12;
mod software;
