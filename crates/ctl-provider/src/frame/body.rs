//! The bytes frames are made of, shared instead of copied: a [`Body`] is a list of
//! [`Bytes`] segments (the elements written for one message, and slices of a file every
//! target's STAGE shares), and a [`Transmit`] is the queue of segments a session has to
//! send, written out with vectored writes. Bytes a session makes or receives itself are
//! [`zeroizing`]: wiped when the last slice of them goes (a LOGIN's password is in them).

use std::collections::VecDeque;
use std::fmt;
use std::io::IoSlice;

use bytes::{Buf, Bytes};
use zeroize::{Zeroize as _, Zeroizing};

/// An owner whose bytes are zeroized when it is dropped.
struct Wiped(Vec<u8>);

impl AsRef<[u8]> for Wiped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `bytes` as [`Bytes`] without a copy, zeroized when the last slice of them is dropped.
pub fn zeroizing(bytes: Vec<u8>) -> Bytes {
    if bytes.is_empty() {
        return Bytes::new();
    }
    Bytes::from_owner(Wiped(bytes))
}

/// Whether two segment lists hold the same bytes, however they are cut.
fn same_bytes(a: &[Bytes], b: &[Bytes]) -> bool {
    a.iter().map(Bytes::len).sum::<usize>() == b.iter().map(Bytes::len).sum::<usize>()
        && a.iter().flatten().eq(b.iter().flatten())
}

/// A frame body: its bytes in one or more segments. A received body is one segment;
/// a body this side encodes is the elements it wrote with the slices of a shared file
/// between them, so a file sent to many peers is never copied per peer. Two bodies are
/// equal when their bytes are, however they are cut.
#[derive(Clone, Default)]
pub struct Body {
    parts: Vec<Bytes>,
}

impl Body {
    /// A body of these segments (empty ones are dropped).
    pub fn from_parts(parts: impl IntoIterator<Item = Bytes>) -> Self {
        Self {
            parts: parts.into_iter().filter(|p| !p.is_empty()).collect(),
        }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Its segments, in order.
    pub fn parts(&self) -> &[Bytes] {
        &self.parts
    }

    /// Its bytes in one piece: shared when it is one segment already (a received body),
    /// else joined into a new zeroizing buffer.
    pub fn contiguous(&self) -> Bytes {
        match self.parts.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            parts => {
                let mut joined = Vec::with_capacity(self.len());
                for p in parts {
                    joined.extend_from_slice(p);
                }
                zeroizing(joined)
            }
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Self::from_parts([bytes])
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from_parts([zeroizing(bytes)])
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        same_bytes(&self.parts, &other.parts)
    }
}

impl Eq for Body {}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("len", &self.len())
            .field("parts", &self.parts.len())
            .finish()
    }
}

/// Bytes a session has to send: frames as segments, in order. It is a [`Buf`] whose
/// [`chunks_vectored`](Buf::chunks_vectored) gives every segment, so a writer that
/// supports vectored writes (tokio-rustls does) sends a frame's header, its elements and
/// the shared file in one call without joining them. `Debug` shows only its length.
#[derive(Clone, Default)]
pub struct Transmit {
    parts: VecDeque<Bytes>,
    len: usize,
}

impl Transmit {
    /// Nothing to send yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a segment.
    pub fn push(&mut self, part: Bytes) {
        if !part.is_empty() {
            self.len += part.len();
            self.parts.push_back(part);
        }
    }

    /// Bytes left to send.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is left to send.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many segments are left.
    pub fn segments(&self) -> usize {
        self.parts.len()
    }

    /// All of it in one buffer, zeroized when dropped (for tests and harnesses that pass
    /// bytes around; a network shell writes the segments as they are).
    pub fn to_vec(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.len));
        for p in &self.parts {
            out.extend_from_slice(p);
        }
        out
    }
}

impl Buf for Transmit {
    fn remaining(&self) -> usize {
        self.len
    }

    fn chunk(&self) -> &[u8] {
        self.parts.front().map_or(&[], |p| p.as_ref())
    }

    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(front) = self.parts.front_mut() else {
                break;
            };
            let n = cnt.min(front.len());
            front.advance(n);
            self.len -= n;
            cnt -= n;
            if front.is_empty() {
                self.parts.pop_front();
            }
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, part) in dst.iter_mut().zip(&self.parts) {
            *slot = IoSlice::new(part);
            n += 1;
        }
        n
    }
}

impl PartialEq for Transmit {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.parts.as_slices(), other.parts.as_slices());
        self.len == other.len
            && a.0
                .iter()
                .chain(a.1)
                .flatten()
                .eq(b.0.iter().chain(b.1).flatten())
    }
}

impl Eq for Transmit {}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transmit")
            .field("len", &self.len)
            .field("segments", &self.parts.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_compare_by_bytes_and_join_once() {
        let file = Bytes::from_static(b"0123456789");
        let cut = Body::from_parts([Bytes::from_static(b"ab"), file.slice(..4), file.slice(4..)]);
        let whole = Body::from(b"ab0123456789".to_vec());
        assert_eq!(cut, whole);
        assert_ne!(cut, Body::from(b"ab012345678".to_vec()));
        assert_eq!(cut.parts().len(), 3);
        assert_eq!(cut.contiguous(), &b"ab0123456789"[..]);
        // One segment is handed out as it is, not copied.
        let one = Body::from(file.clone());
        assert_eq!(one.contiguous().as_ptr(), file.as_ptr());
        assert!(Body::from_parts([Bytes::new()]).is_empty());
    }

    #[test]
    fn transmit_is_a_vectored_buf() {
        let mut t = Transmit::new();
        t.push(Bytes::from_static(b"CT"));
        t.push(Bytes::new());
        t.push(Bytes::from_static(b"0123"));
        assert_eq!((t.len(), t.segments()), (6, 2));
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(t.chunks_vectored(&mut slices), 2);
        assert_eq!(&*slices[1], b"0123");
        t.advance(3);
        assert_eq!((t.chunk(), t.remaining()), (&b"123"[..], 3));
        t.advance(10);
        assert!(t.is_empty());
        assert_eq!(t.segments(), 0);
    }
}
