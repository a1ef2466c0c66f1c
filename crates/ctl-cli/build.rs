//! Same check as ctl-token: `cfg(softhsm)` when a SoftHSM2 module is installed, so the
//! token tests are ignored with a reason, not passed, where it is not.

include!("../ctl-token/pkcs11_cfg.rs");
