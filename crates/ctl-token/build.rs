//! Tells the tests whether a SoftHSM2 module is installed (`cfg(softhsm)`), so that
//! without one they are ignored with a reason instead of passing without running.
//! `CTL_REQUIRE_SOFTHSM=1` (set by scripts/test) makes a missing module a build error.

include!("softhsm_cfg.rs");
