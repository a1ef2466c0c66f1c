//! The protocol error: what a peer did wrong on the wire.

/// A protocol violation. The session that saw it is closed; nothing else changes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The frame does not start with `CT`.
    #[error("expected a frame starting with \"CT\", found {found:02x?}")]
    BadMagic {
        /// The two bytes found.
        found: [u8; 2],
    },
    /// A frame body over the cap.
    #[error("frame body of {length} bytes, over the limit of {limit}")]
    FrameTooLarge {
        /// Its length.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// An element that does not fit.
    #[error("element at body offset {offset}: {reason}")]
    BadElement {
        /// Offset in the body.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An unknown message type.
    #[error("unknown message type 0x{kind:02x}")]
    UnknownMessage {
        /// The type.
        kind: u8,
    },
    /// A required element is missing.
    #[error("message 0x{kind:02x}: missing element 0x{tag:02x}")]
    MissingElement {
        /// The message type.
        kind: u8,
        /// The element tag.
        tag: u8,
    },
    /// A malformed element value.
    #[error("message 0x{kind:02x}: {reason}")]
    BadMessage {
        /// The message type.
        kind: u8,
        /// What is wrong.
        reason: &'static str,
    },
    /// A file over the 64 KiB a CTL may have.
    #[error("file over {limit} bytes")]
    FileTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A frame with a version other than the one negotiated.
    #[error("frame of protocol version {found}, expected {expected}")]
    WrongVersion {
        /// Negotiated.
        expected: u8,
        /// Found.
        found: u8,
    },
    /// A message that is not allowed in the session's state.
    #[error("{0}")]
    State(&'static str),
}
