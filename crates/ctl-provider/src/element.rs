//! Elements: the tag, length, value layer inside a frame body (`docs/protocol.md`,
//! section 3). [`BodyWriter`] writes them; [`elements`] splits a body, and the crate's
//! message decoders read them through lookups that name the message and the element.

use std::net::IpAddr;

use bytes::Bytes;

use crate::ProtocolError;
use crate::frame::{Body, zeroizing};

/// Element tags (one namespace for every message).
pub mod tag {
    /// Versions the client speaks, one byte each.
    pub const VERSIONS: u8 = 0x01;
    /// The version chosen.
    pub const VERSION: u8 = 0x02;
    /// Software name and version, text.
    pub const SOFTWARE: u8 = 0x03;
    /// Application user name, text.
    pub const USER: u8 = 0x04;
    /// Password, text.
    pub const PASSWORD: u8 = 0x05;
    /// Role, 1 byte.
    pub const ROLE: u8 = 0x06;
    /// Node name, text.
    pub const NODE_NAME: u8 = 0x07;
    /// IPv4 (4 bytes) or IPv6 (16 bytes) address; repeatable.
    pub const ADDRESS: u8 = 0x08;
    /// Services, u16 bit set.
    pub const SERVICES: u8 = 0x09;
    /// Role code (u16) then certificate DER; repeatable.
    pub const CERTIFICATE: u8 = 0x0A;
    /// A cluster member, nested elements; repeatable.
    pub const MEMBER: u8 = 0x0B;
    /// Host name, text.
    pub const HOST: u8 = 0x0C;
    /// TCP port, u16.
    pub const PORT: u8 = 0x0D;
    /// An off-cluster alternate TFTP server, nested; repeatable.
    pub const ALTERNATE_TFTP: u8 = 0x0E;
    /// A firewall (ASA TLS proxy), nested; repeatable.
    pub const FIREWALL: u8 = 0x0F;
    /// SHA-256 of a CTL, 32 bytes.
    pub const HASH: u8 = 0x10;
    /// SHA-256 of the CTL a stage replaces, 32 bytes, or empty for "none".
    pub const BASE_HASH: u8 = 0x11;
    /// Security mode, 1 byte.
    pub const MODE: u8 = 0x12;
    /// Error code, u16.
    pub const ERROR_CODE: u8 = 0x13;
    /// Human-readable text.
    pub const MESSAGE: u8 = 0x14;
    /// On-commit hook outcome, nested.
    pub const HOOK: u8 = 0x15;
    /// Exit status, i32 (negative: killed or timed out).
    pub const EXIT_STATUS: u8 = 0x16;
    /// An audit entry, nested; repeatable.
    pub const AUDIT_ENTRY: u8 = 0x17;
    /// Unix seconds, u64.
    pub const TIME: u8 = 0x18;
    /// Audit action, text.
    pub const ACTION: u8 = 0x19;
    /// How many entries at most, u32.
    pub const LIMIT: u8 = 0x1A;
    /// Whether the node is the first node, 1 byte.
    pub const FIRST_NODE: u8 = 0x1B;
    /// The off-cluster servers a staged CTL covers, nested ALTERNATE_TFTP and FIREWALL.
    pub const PEERS: u8 = 0x1C;
    /// Where an off-cluster server comes from, 1 byte (see [`PeerSource`](crate::types::PeerSource)).
    pub const SOURCE: u8 = 0x1D;
    /// A chunk of a file; consecutive FILE elements are concatenated.
    pub const FILE: u8 = 0x20;
}

/// The largest value of one element; longer values (files) are sent as several
/// consecutive elements with the same tag.
pub const MAX_ELEMENT: usize = u16::MAX as usize;

/// One element: tag and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element<'a> {
    /// The tag.
    pub tag: u8,
    /// The value.
    pub value: &'a [u8],
}

/// Splits a body (or a nested value) into elements.
///
/// # Errors
/// An element that runs past the end.
pub fn elements(body: &[u8]) -> Result<Vec<Element<'_>>, ProtocolError> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut offset = 0usize;
    while !rest.is_empty() {
        let [tag, hi, lo, tail @ ..] = rest else {
            return Err(ProtocolError::BadElement {
                offset,
                reason: "truncated element header",
            });
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let Some(value) = tail.get(..len) else {
            return Err(ProtocolError::BadElement {
                offset,
                reason: "element runs past the end of the frame",
            });
        };
        out.push(Element { tag: *tag, value });
        rest = tail.get(len..).unwrap_or_default();
        offset += 3 + len;
    }
    Ok(out)
}

/// Builds a body element by element: small values are copied into the body, a shared
/// value ([`put_shared`](Self::put_shared)) becomes segments of it without a copy.
#[derive(Debug, Default, Clone)]
pub struct BodyWriter {
    /// Segments done: written elements, and slices of shared values.
    parts: Vec<Bytes>,
    /// The elements written since the last shared value.
    buf: Vec<u8>,
}

/// The header of one element.
fn element_header(tag: u8, len: usize) -> [u8; 3] {
    let [hi, lo] = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    [tag, hi, lo]
}

impl BodyWriter {
    /// An empty body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one element; values over [`MAX_ELEMENT`] are split into consecutive
    /// elements with the same tag (only defined for FILE).
    pub fn put(&mut self, tag: u8, value: &[u8]) -> &mut Self {
        if value.is_empty() {
            self.buf.extend_from_slice(&element_header(tag, 0));
        }
        for chunk in value.chunks(MAX_ELEMENT) {
            self.buf
                .extend_from_slice(&element_header(tag, chunk.len()));
            self.buf.extend_from_slice(chunk);
        }
        self
    }

    /// Adds `value` as [`put`](Self::put) does, its bytes as slices of `value` rather
    /// than copies: a file sent in many frames stays one buffer.
    pub fn put_shared(&mut self, tag: u8, value: &Bytes) -> &mut Self {
        if value.is_empty() {
            return self.put(tag, &[]);
        }
        let mut at = 0;
        while at < value.len() {
            let end = value.len().min(at + MAX_ELEMENT);
            self.buf.extend_from_slice(&element_header(tag, end - at));
            self.flush();
            self.parts.push(value.slice(at..end));
            at = end;
        }
        self
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.parts.push(zeroizing(std::mem::take(&mut self.buf)));
        }
    }

    /// The body in one buffer (what a nested element's value is).
    pub fn finish(self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(self.parts.iter().map(Bytes::len).sum::<usize>() + self.buf.len());
        for p in &self.parts {
            out.extend_from_slice(p);
        }
        out.extend_from_slice(&self.buf);
        out
    }

    /// The body as segments: the shared values' slices between the elements written
    /// (zeroizing: a LOGIN's password is in them).
    pub fn into_body(mut self) -> Body {
        self.flush();
        Body::from_parts(self.parts)
    }
}

/// The elements of one message body, with lookups whose errors name the message (its
/// type) and the element. Values borrow the body; [`share`](Self::share) gives one as a
/// slice of the body's [`Bytes`], without a copy.
pub(crate) struct Elements<'a> {
    kind: u8,
    body: &'a Bytes,
    els: Vec<Element<'a>>,
}

impl<'a> Elements<'a> {
    /// The elements of `body`, a body of message type `kind`.
    pub(crate) fn parse(kind: u8, body: &'a Bytes) -> Result<Self, ProtocolError> {
        Ok(Self {
            kind,
            body,
            els: elements(body)?,
        })
    }

    /// The elements nested in `value`, a value of these elements (errors still name the
    /// outer message).
    pub(crate) fn nested(&self, value: &'a [u8]) -> Result<Self, ProtocolError> {
        Ok(Self {
            kind: self.kind,
            body: self.body,
            els: elements(value)?,
        })
    }

    /// `value`, a value of these elements, as a slice of the body (a copy only if it were
    /// not one, which the lookups never hand out).
    pub(crate) fn share(&self, value: &[u8]) -> Bytes {
        let start = value
            .as_ptr()
            .addr()
            .wrapping_sub(self.body.as_ptr().addr());
        match start.checked_add(value.len()) {
            _ if value.is_empty() => Bytes::new(),
            Some(end) if end <= self.body.len() => self.body.slice(start..end),
            _ => Bytes::copy_from_slice(value),
        }
    }

    pub(crate) const fn bad(&self, reason: &'static str) -> ProtocolError {
        ProtocolError::BadMessage {
            kind: self.kind,
            reason,
        }
    }

    const fn missing(&self, tag: u8) -> ProtocolError {
        ProtocolError::MissingElement {
            kind: self.kind,
            tag,
        }
    }

    /// Every value with tag `t`, in order.
    pub(crate) fn all(&self, t: u8) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.els.iter().filter(move |e| e.tag == t).map(|e| e.value)
    }

    /// The first value with tag `t`.
    pub(crate) fn opt(&self, t: u8) -> Option<&'a [u8]> {
        self.all(t).next()
    }

    pub(crate) fn req(&self, t: u8) -> Result<&'a [u8], ProtocolError> {
        self.opt(t).ok_or(self.missing(t))
    }

    /// Nested elements of every value with tag `t`, decoded by `read`.
    pub(crate) fn each<T>(
        &self,
        t: u8,
        read: impl Fn(&Self) -> Result<T, ProtocolError>,
    ) -> Result<Vec<T>, ProtocolError> {
        self.all(t).map(|v| read(&self.nested(v)?)).collect()
    }

    /// Nested elements of the value with tag `t`, decoded by `read`, if there is one.
    pub(crate) fn opt_nested<T>(
        &self,
        t: u8,
        read: impl Fn(&Self) -> Result<T, ProtocolError>,
    ) -> Result<Option<T>, ProtocolError> {
        self.opt(t).map(|v| read(&self.nested(v)?)).transpose()
    }

    fn utf8(&self, v: &[u8]) -> Result<String, ProtocolError> {
        String::from_utf8(v.to_vec()).map_err(|_| self.bad("text that is not UTF-8"))
    }

    pub(crate) fn text(&self, t: u8) -> Result<String, ProtocolError> {
        self.utf8(self.req(t)?)
    }

    pub(crate) fn opt_text(&self, t: u8) -> Result<Option<String>, ProtocolError> {
        self.opt(t).map(|v| self.utf8(v)).transpose()
    }

    fn fixed<const N: usize>(
        &self,
        v: &[u8],
        reason: &'static str,
    ) -> Result<[u8; N], ProtocolError> {
        <[u8; N]>::try_from(v).map_err(|_| self.bad(reason))
    }

    pub(crate) fn opt_u8(&self, t: u8) -> Result<Option<u8>, ProtocolError> {
        self.opt(t)
            .map(|v| {
                self.fixed::<1>(v, "a 1-byte element of another size")
                    .map(|[b]| b)
            })
            .transpose()
    }

    pub(crate) fn u8(&self, t: u8) -> Result<u8, ProtocolError> {
        self.opt_u8(t)?.ok_or(self.missing(t))
    }

    pub(crate) fn u16(&self, t: u8) -> Result<u16, ProtocolError> {
        self.fixed(self.req(t)?, "a 2-byte element of another size")
            .map(u16::from_be_bytes)
    }

    pub(crate) fn opt_u32(&self, t: u8) -> Result<Option<u32>, ProtocolError> {
        self.opt(t)
            .map(|v| {
                self.fixed(v, "a 4-byte element of another size")
                    .map(u32::from_be_bytes)
            })
            .transpose()
    }

    pub(crate) fn i32(&self, t: u8, reason: &'static str) -> Result<i32, ProtocolError> {
        self.fixed(self.req(t)?, reason).map(i32::from_be_bytes)
    }

    pub(crate) fn u64(&self, t: u8, reason: &'static str) -> Result<u64, ProtocolError> {
        self.fixed(self.req(t)?, reason).map(u64::from_be_bytes)
    }

    pub(crate) fn hash_of(&self, v: &[u8]) -> Result<[u8; 32], ProtocolError> {
        self.fixed(v, "a hash that is not 32 bytes")
    }

    pub(crate) fn hash(&self, t: u8) -> Result<[u8; 32], ProtocolError> {
        self.hash_of(self.req(t)?)
    }

    /// Every ADDRESS-style value with tag `t` (4 or 16 bytes).
    pub(crate) fn addresses(&self, t: u8) -> Result<Vec<IpAddr>, ProtocolError> {
        self.all(t)
            .map(|v| {
                if let Ok(v4) = <[u8; 4]>::try_from(v) {
                    Ok(IpAddr::from(v4))
                } else if let Ok(v6) = <[u8; 16]>::try_from(v) {
                    Ok(IpAddr::from(v6))
                } else {
                    Err(self.bad("ADDRESS of neither 4 nor 16 bytes"))
                }
            })
            .collect()
    }

    /// The concatenated chunks with tag `t`, if any; at most `limit` bytes. One chunk (a
    /// file under 64 KiB) is a slice of the body; several are joined once, into a buffer of
    /// the file's size.
    pub(crate) fn file(&self, t: u8, limit: usize) -> Result<Option<Bytes>, ProtocolError> {
        let mut total = 0usize;
        let mut chunks = 0usize;
        for v in self.all(t) {
            total = total.saturating_add(v.len());
            chunks += 1;
            if total > limit {
                return Err(ProtocolError::FileTooLarge { limit });
            }
        }
        match chunks {
            0 => Ok(None),
            1 => Ok(self.opt(t).map(|v| self.share(v))),
            _ => {
                let mut joined = Vec::with_capacity(total);
                for v in self.all(t) {
                    joined.extend_from_slice(v);
                }
                Ok(Some(zeroizing(joined)))
            }
        }
    }
}

/// The bytes of an address element.
pub(crate) fn address_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_chunked() {
        let value = vec![7u8; 65_536];
        let mut w = BodyWriter::new();
        w.put(0x20, &value);
        let body = w.finish();
        let els = elements(&body).unwrap();
        assert_eq!(els.len(), 2);
        assert_eq!(els[0].value.len(), 65_535);
        assert_eq!(els[1].value.len(), 1);
        assert!(elements(&body[..body.len() - 1]).is_err());
        // Shared, the same bytes: the file's two slices between the element headers.
        let shared = Bytes::from(value);
        let mut s = BodyWriter::new();
        s.put(0x11, &[]).put_shared(0x20, &shared);
        let segmented = s.into_body();
        assert_eq!(segmented.parts().len(), 4);
        assert_eq!(segmented.parts()[1].as_ptr(), shared.as_ptr());
        let mut copied = BodyWriter::new();
        copied.put(0x11, &[]).put(0x20, &shared);
        assert_eq!(segmented, Body::from(copied.finish()));
    }

    #[test]
    fn a_file_of_one_chunk_is_a_slice_of_the_body() {
        let mut w = BodyWriter::new();
        w.put(0x11, &[1, 2]).put(0x20, &[9; 1000]);
        let body = Bytes::from(w.finish());
        let m = Elements::parse(0x07, &body).unwrap();
        let file = m.file(0x20, 64 * 1024).unwrap().unwrap();
        assert_eq!(file.len(), 1000);
        assert_eq!(file.as_ptr(), body[8..].as_ptr());
        assert_eq!(m.file(0x21, 10).unwrap(), None);
        assert!(matches!(
            m.file(0x20, 999),
            Err(ProtocolError::FileTooLarge { limit: 999 })
        ));
        // A value that is not the body's is copied, never sliced out of bounds.
        let other = [5u8; 3];
        assert_eq!(m.share(&other), &other[..]);
    }
}
