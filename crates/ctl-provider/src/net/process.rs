//! The process around a session: what a program that holds passwords, PINs or keys and
//! talks to the network sets up before it does either.

use rustix::process::{DumpableBehavior, Resource, Rlimit};

/// Keeps this process's memory (passwords, PINs, keys) out of core files and away from
/// other processes of the same user: no core file (`RLIMIT_CORE` 0), and not dumpable
/// (`PR_SET_DUMPABLE` 0, which also stops a non-root process of the same user from
/// attaching a debugger or reading `/proc/PID/mem`).
///
/// # Errors
/// The kernel refuses either setting.
pub fn protect_secrets() -> std::io::Result<()> {
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    rustix::process::setrlimit(Resource::Core, none)?;
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable)?;
    Ok(())
}

/// Whether this process is dumpable (see [`protect_secrets`]).
///
/// # Errors
/// The kernel does not say.
pub fn is_dumpable() -> std::io::Result<bool> {
    Ok(rustix::process::dumpable_behavior()? != DumpableBehavior::NotDumpable)
}

/// Raises the soft limit of open descriptors to the hard limit, so a server under a
/// flood runs out of sockets as late as the system allows (the accept loop backs off
/// when it does). Returns the limit now in force, if the system has one.
///
/// # Errors
/// The kernel refuses.
pub fn raise_descriptor_limit() -> std::io::Result<Option<u64>> {
    let now = rustix::process::getrlimit(Resource::Nofile);
    if now.maximum.is_none() || now.current == now.maximum {
        return Ok(now.current);
    }
    let raised = Rlimit {
        current: now.maximum,
        maximum: now.maximum,
    };
    rustix::process::setrlimit(Resource::Nofile, raised)?;
    Ok(now.maximum)
}
