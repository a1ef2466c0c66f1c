//! The frame reader: bytes in, whole frames out, each body in a buffer of its own that
//! becomes the frame's [`Bytes`] without a copy.

use std::collections::VecDeque;
use std::fmt;

use zeroize::Zeroize as _;

use super::body::zeroizing;
use super::{Frame, FrameHeader, HEADER_LEN, decode_header};
use crate::ProtocolError;

/// What a body buffer starts at: a body longer than this gets its buffer of exact size
/// only once this much of it has arrived, so a peer that announces a large frame and
/// sends nothing more makes the reader hold no more than it sent, plus this.
const FIRST_CHUNK: usize = 16 * 1024;

/// The reader's own buffer between bodies: room for the headers and small frames (HELLO,
/// LOGIN, COMMIT and their answers) of one read.
const STAGING: usize = 4 * 1024;

/// Accumulates bytes and yields whole frames. A frame's body is read into a buffer of its
/// own, of the body's exact length (in two steps for a body over 16 KiB: the first 16 KiB,
/// then the rest), and that buffer becomes the frame's body: a file in it reaches the
/// message as a slice of it, never copied. The buffer is zeroized when the last slice of
/// it goes, and the reader's own buffers when it is dropped (and the one between bodies
/// after each use); `Debug` shows only how much the reader holds.
///
/// Two ways to feed it: [`push`](Self::push) copies bytes in (any amount, any number of
/// frames), and [`spare`](Self::spare) with [`advance`](Self::advance) lets the caller
/// read from its stream straight into the frame's buffer.
#[derive(Default)]
pub struct FrameReader {
    head: [u8; HEADER_LEN],
    head_len: usize,
    /// The header of the frame being read, once all of it has arrived.
    header: Option<FrameHeader>,
    /// The body read so far: its first `filled` bytes.
    body: Vec<u8>,
    filled: usize,
    /// Between bodies, what [`spare`](Self::spare) hands out (allocated when first asked).
    staging: Vec<u8>,
    /// Whole frames not yet yielded.
    ready: VecDeque<Frame>,
    /// A bad header: yielded after the frames before it; nothing is read after it.
    failed: Option<ProtocolError>,
}

impl Drop for FrameReader {
    fn drop(&mut self) {
        self.head.zeroize();
        self.body.zeroize();
        self.staging.zeroize();
    }
}

impl fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.buffered())
            .field("failed", &self.failed.is_some())
            .finish()
    }
}

impl FrameReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds received bytes.
    pub fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.failed.is_none() {
            let space = self.exact();
            let n = space.len().min(data.len());
            if n == 0 {
                break;
            }
            let (now, rest) = data.split_at(n);
            if let Some(dst) = space.get_mut(..n) {
                dst.copy_from_slice(now);
            }
            self.took(n);
            data = rest;
        }
    }

    /// Where the next received bytes go, to read them in without a copy: the rest of the
    /// body being received; between bodies, a small buffer of the reader's own, which
    /// takes the next headers and small frames whole (what of a body it holds is copied
    /// to the body's buffer; the rest of a large body is read straight into that). Never
    /// empty while the reader can take bytes (empty once a bad header was seen).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.failed.is_some() {
            return &mut [];
        }
        if self.header.is_some() {
            return self.body.get_mut(self.filled..).unwrap_or_default();
        }
        if self.staging.is_empty() {
            self.staging = vec![0u8; STAGING];
        }
        &mut self.staging
    }

    /// Takes note that `n` bytes were written at the start of [`spare`](Self::spare)
    /// (more than it had are ignored).
    pub fn advance(&mut self, n: usize) {
        if self.failed.is_some() || n == 0 {
            return;
        }
        if self.header.is_some() {
            return self.took(n);
        }
        let mut staging = std::mem::take(&mut self.staging);
        let n = n.min(staging.len());
        if let Some(received) = staging.get_mut(..n) {
            self.push(received);
            received.zeroize();
        }
        self.staging = staging;
    }

    /// The rest of the header, or of the current frame's body.
    fn exact(&mut self) -> &mut [u8] {
        if self.header.is_none() {
            return self.head.get_mut(self.head_len..).unwrap_or_default();
        }
        self.body.get_mut(self.filled..).unwrap_or_default()
    }

    /// `n` bytes were written at the start of [`exact`](Self::exact).
    fn took(&mut self, n: usize) {
        let Some(header) = self.header else {
            self.head_len = (self.head_len + n).min(HEADER_LEN);
            if self.head_len == HEADER_LEN {
                self.head_len = 0;
                match decode_header(&self.head) {
                    Ok(h) => self.begin(h),
                    Err(e) => self.failed = Some(e),
                }
                self.head.zeroize();
            }
            return;
        };
        self.filled = (self.filled + n).min(self.body.len());
        let length = header.length as usize;
        if self.filled < length {
            if self.filled == self.body.len() {
                // The first chunk is full: now the buffer of the body's size.
                let mut whole = vec![0u8; length];
                if let Some(dst) = whole.get_mut(..self.filled) {
                    dst.copy_from_slice(self.body.get(..self.filled).unwrap_or_default());
                }
                self.body.zeroize();
                self.body = whole;
            }
            return;
        }
        self.finish(header);
    }

    /// A header has arrived: the body's buffer, or the frame itself if it has no body.
    fn begin(&mut self, header: FrameHeader) {
        self.header = Some(header);
        self.filled = 0;
        self.body = vec![0u8; (header.length as usize).min(FIRST_CHUNK)];
        if header.length == 0 {
            self.finish(header);
        }
    }

    fn finish(&mut self, header: FrameHeader) {
        self.header = None;
        self.filled = 0;
        let body = std::mem::take(&mut self.body);
        self.ready.push_back(Frame {
            version: header.version,
            kind: header.kind,
            id: header.id,
            body: zeroizing(body).into(),
        });
    }

    /// Bytes received and not yet yielded.
    pub fn buffered(&self) -> usize {
        self.head_len
            + self.filled
            + self.header.map_or(0, |_| HEADER_LEN)
            + self
                .ready
                .iter()
                .map(|f| HEADER_LEN + f.body.len())
                .sum::<usize>()
    }

    /// The next whole frame, if all of it has arrived.
    ///
    /// # Errors
    /// A bad header (after the frames before it): the connection must then be closed, the
    /// stream cannot be resynchronized.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        if let Some(f) = self.ready.pop_front() {
            return Ok(Some(f));
        }
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Vec<u8> {
        Frame {
            version: 1,
            kind: 7,
            id: 3,
            body: (0..len)
                .map(|i| u8::try_from(i % 251).unwrap_or(0))
                .collect::<Vec<u8>>()
                .into(),
        }
        .encode()
        .unwrap()
    }

    #[test]
    fn reads_straight_into_the_body_buffer() {
        let bytes = frame(40_000);
        let mut r = FrameReader::new();
        let mut at = 0;
        let mut grants = Vec::new();
        while at < bytes.len() {
            let space = r.spare();
            grants.push(space.len());
            let n = space.len().min(bytes.len() - at);
            space[..n].copy_from_slice(&bytes[at..at + n]);
            r.advance(n);
            at += n;
        }
        // The reader's own buffer (the header and the body's start), the rest of the
        // first 16 KiB, then the rest of the body's exact size.
        assert_eq!(grants[0], STAGING);
        assert_eq!(grants[1], FIRST_CHUNK - (STAGING - HEADER_LEN));
        assert_eq!(grants[2], 40_000 - FIRST_CHUNK);
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(f.body.parts().len(), 1);
        assert_eq!(f.encode().unwrap(), bytes);
        assert_eq!(r.buffered(), 0);
        assert_eq!(r.next_frame().unwrap(), None);
    }

    #[test]
    fn small_frames_arrive_whole_in_one_read() {
        let mut all = frame(3);
        all.extend(frame(100));
        all.extend(&frame(50)[..20]);
        let mut r = FrameReader::new();
        let space = r.spare();
        space[..all.len()].copy_from_slice(&all);
        r.advance(all.len());
        assert_eq!(r.next_frame().unwrap().unwrap().body.len(), 3);
        assert_eq!(r.next_frame().unwrap().unwrap().body.len(), 100);
        assert_eq!(r.next_frame().unwrap(), None);
        // The third frame's start went to its body buffer: the rest goes straight there.
        assert_eq!(r.spare().len(), 42);
        assert_eq!(r.buffered(), 20);
    }

    #[test]
    fn many_frames_in_one_push_and_an_error_after_them() {
        let mut all = frame(0);
        all.extend(frame(5));
        all.extend(frame(20_000));
        all.extend(b"GET / HTTP/1.1\r\n");
        let mut r = FrameReader::new();
        r.push(&all);
        let lens: Vec<usize> = (0..3)
            .map(|_| r.next_frame().unwrap().unwrap().body.len())
            .collect();
        assert_eq!(lens, [0, 5, 20_000]);
        assert!(matches!(
            r.next_frame(),
            Err(ProtocolError::BadMagic {
                found: [b'G', b'E']
            })
        ));
        assert!(r.spare().is_empty());
        r.push(b"more");
        assert!(r.next_frame().is_err());
    }

    #[test]
    fn an_announced_body_costs_only_what_arrived() {
        let mut r = FrameReader::new();
        r.push(&hex_literal::hex!("4354 01 07 00000001 00020000"));
        assert_eq!(r.spare().len(), FIRST_CHUNK);
        assert_eq!(r.buffered(), HEADER_LEN);
    }
}
