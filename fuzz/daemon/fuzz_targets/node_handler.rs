//! The node's request handling as a super-user over a temporary directory: STAGE,
//! COMMIT, ABORT, PEERS, SET_MODE, PUT_CAPF, AUDIT and any other message in any order,
//! from four sessions with different client certificates, with restarts and files planted
//! in the TFTP directory; the node's invariants are checked after every step
//! (`ctl_providerd::fuzzing::node_script`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ctl_providerd::fuzzing::node_script(data);
});
