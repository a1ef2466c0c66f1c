//! Session state machines for both ends (`docs/protocol.md`, section 7). Sans-I/O: bytes
//! in, bytes and events out, time passed in by the caller.

mod client;
mod server;

pub use client::{ClientConn, ClientEvent, CloseReason};
pub use server::{ServerConfig, ServerConn, ServerEvent};
