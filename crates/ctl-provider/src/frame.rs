//! Frames: the byte layer of the protocol (`docs/protocol.md`, section 2). What a body
//! holds is in [`element`](crate::element).

use std::fmt;

use zeroize::Zeroize as _;

use crate::ProtocolError;

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

/// A whole frame: header fields and body. The body may hold a password (LOGIN): it is
/// zeroized when the frame is dropped, and `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// Protocol version of the frame.
    pub version: u8,
    /// Message type.
    pub kind: u8,
    /// Request id.
    pub id: u32,
    /// The elements, encoded.
    pub body: Vec<u8>,
}

impl Frame {
    /// The frame's bytes: header and body.
    ///
    /// # Errors
    /// A body over [`MAX_BODY`].
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the frame's bytes to `out` (no copy of the body in between: a LOGIN's
    /// password goes straight to the buffer that is zeroized after sending).
    ///
    /// # Errors
    /// A body over [`MAX_BODY`]; nothing is appended then.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        let length = u32::try_from(self.body.len())
            .ok()
            .filter(|l| *l as usize <= MAX_BODY)
            .ok_or(ProtocolError::FrameTooLarge {
                length: self.body.len(),
                limit: MAX_BODY,
            })?;
        out.reserve(HEADER_LEN + self.body.len());
        out.extend_from_slice(&MAGIC);
        out.push(self.version);
        out.push(self.kind);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&self.body);
        Ok(())
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        self.body.zeroize();
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

/// Accumulates bytes and yields whole frames. Never holds more than one frame's
/// worth of bytes beyond what it has yielded. The bytes of a yielded frame are zeroized
/// in its buffer, and the buffer when the reader is dropped; `Debug` shows only how much
/// it holds.
#[derive(Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

impl Drop for FrameReader {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl FrameReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.buf.capacity() - self.buf.len() < data.len() {
            // Grow by hand: a reallocation would free the old buffer without zeroizing it.
            let want = (self.buf.len() + data.len()).max(self.buf.capacity() * 2);
            let mut grown = Vec::with_capacity(want);
            grown.extend_from_slice(&self.buf);
            self.buf.zeroize();
            self.buf = grown;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes received and not yet yielded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next whole frame, if all of it has arrived.
    ///
    /// # Errors
    /// A bad header: the connection must then be closed (the stream cannot be resynchronized).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        let Some(head) = self.buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(head);
        let header = decode_header(&h)?;
        let total = HEADER_LEN + header.length as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let body = self.buf.get(HEADER_LEN..total).unwrap_or_default().to_vec();
        // Move what follows to the front and zero the tail it leaves, so no copy of the
        // yielded frame stays behind in the buffer.
        let len = self.buf.len();
        self.buf.copy_within(total.., 0);
        if let Some(tail) = self.buf.get_mut(len - total..) {
            tail.zeroize();
        }
        self.buf.truncate(len - total);
        Ok(Some(Frame {
            version: header.version,
            kind: header.kind,
            id: header.id,
            body,
        }))
    }
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
            body: vec![0x10, 0, 1, 0xaa],
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
