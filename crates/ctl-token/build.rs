//! Tells the tests which PKCS#11 implementation they run on and whether its module is
//! installed (`cfg(pkcs11)`), so that without one they are ignored with a reason instead
//! of passing without running. `CTL_REQUIRE_TOKENS=1` (set by scripts/test) makes a
//! missing module a build error.

include!("pkcs11_cfg.rs");
