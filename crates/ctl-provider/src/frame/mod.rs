//! Frames: the byte layer of the protocol (`docs/protocol.md`, section 2). What a body
//! holds is in [`element`](crate::element). Bodies are [`Bytes`] segments ([`Body`]),
//! shared rather than copied on the way in ([`FrameReader`]) and out ([`Transmit`]).

use std::fmt;

use bytes::Bytes;

use crate::ProtocolError;

mod body;
mod reader;

pub use body::{Body, Transmit, zeroizing};
pub use reader::FrameReader;

/// The two magic bytes that open every frame: `CT`.
pub const MAGIC: [u8; 2] = *b"CT";

/// Size of the frame header.
pub const HEADER_LEN: usize = 12;

/// The largest body a frame may carry: room for a 64 KiB CTL and everything around it.
pub const MAX_BODY: usize = 128 * 1024;

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Protocol version of the frame.
    pub version: u8,
    /// Message type.
    pub kind: u8,
    /// Request id (a response carries its request's).
    pub id: u32,
    /// Body length.
    pub length: u32,
}

/// A whole frame: header fields and body. The body may hold a password (LOGIN): the
/// bytes this crate makes or receives are [`zeroizing`], and `Debug` shows only the body's
/// length.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// Protocol version of the frame.
    pub version: u8,
    /// Message type.
    pub kind: u8,
    /// Request id.
    pub id: u32,
    /// The elements, encoded.
    pub body: Body,
}

impl Frame {
    /// The frame's bytes in one buffer: header and body (for tests, harnesses and the
    /// one-off refusal a server writes; sessions queue segments with
    /// [`encode_into`](Self::encode_into)).
    ///
    /// # Errors
    /// A body over [`MAX_BODY`].
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        out.extend_from_slice(&self.header()?);
        for p in self.body.parts() {
            out.extend_from_slice(p);
        }
        Ok(out)
    }

    /// Queues the frame on `out`: its header, then the body's segments as they are (a
    /// file shared by many frames is not copied; a LOGIN's password stays in its
    /// zeroizing segment).
    ///
    /// # Errors
    /// A body over [`MAX_BODY`]; nothing is queued then.
    pub fn encode_into(&self, out: &mut Transmit) -> Result<(), ProtocolError> {
        out.push(Bytes::copy_from_slice(&self.header()?));
        for p in self.body.parts() {
            out.push(p.clone());
        }
        Ok(())
    }

    fn header(&self) -> Result<[u8; HEADER_LEN], ProtocolError> {
        let len = self.body.len();
        let length = u32::try_from(len)
            .ok()
            .filter(|l| *l as usize <= MAX_BODY)
            .ok_or(ProtocolError::FrameTooLarge {
                length: len,
                limit: MAX_BODY,
            })?;
        let [m0, m1] = MAGIC;
        let [i0, i1, i2, i3] = self.id.to_be_bytes();
        let [l0, l1, l2, l3] = length.to_be_bytes();
        Ok([
            m0,
            m1,
            self.version,
            self.kind,
            i0,
            i1,
            i2,
            i3,
            l0,
            l1,
            l2,
            l3,
        ])
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("version", &self.version)
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Reads a frame header from the first [`HEADER_LEN`] bytes.
///
/// # Errors
/// Wrong magic, or a body length over [`MAX_BODY`].
pub fn decode_header(bytes: &[u8; HEADER_LEN]) -> Result<FrameHeader, ProtocolError> {
    let [m0, m1, version, kind, i0, i1, i2, i3, l0, l1, l2, l3] = *bytes;
    if [m0, m1] != MAGIC {
        return Err(ProtocolError::BadMagic { found: [m0, m1] });
    }
    let length = u32::from_be_bytes([l0, l1, l2, l3]);
    if length as usize > MAX_BODY {
        return Err(ProtocolError::FrameTooLarge {
            length: length as usize,
            limit: MAX_BODY,
        });
    }
    Ok(FrameHeader {
        version,
        kind,
        id: u32::from_be_bytes([i0, i1, i2, i3]),
        length,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn header_round_trip_and_limits() {
        let f = Frame {
            version: 1,
            kind: 0x05,
            id: 7,
            body: vec![0x10, 0, 1, 0xaa].into(),
        };
        let bytes = f.encode().unwrap();
        assert_eq!(bytes, hex!("4354 01 05 00000007 00000004 10 0001 aa"));
        let mut r = FrameReader::new();
        r.push(&bytes[..5]);
        assert_eq!(r.next_frame().unwrap(), None);
        r.push(&bytes[5..]);
        assert_eq!(r.next_frame().unwrap(), Some(f));
        assert_eq!(r.buffered(), 0);
        let mut bad = FrameReader::new();
        bad.push(&hex!("4354 01 05 00000007 00020001"));
        assert!(matches!(
            bad.next_frame(),
            Err(ProtocolError::FrameTooLarge {
                length: 131_073,
                ..
            })
        ));
        let mut magic = FrameReader::new();
        magic.push(b"GET / HTTP/1.1\r\n");
        assert!(matches!(
            magic.next_frame(),
            Err(ProtocolError::BadMagic {
                found: [b'G', b'E']
            })
        ));
    }
}
