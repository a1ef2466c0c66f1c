//! A bounds-checked cursor over a byte slice that knows absolute offsets.

use crate::error::{Error, ErrorKind, What};
use crate::tag::Tag;

/// One `tag, length, value` element as found in the input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    pub(crate) code: u8,
    pub(crate) value: &'a [u8],
    /// Absolute offset of the tag byte.
    pub(crate) offset: usize,
}

/// A cursor over `buf`, whose first byte is at absolute offset `base` of an input
/// that is `input_len` bytes long.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    whole: &'a [u8],
    buf: &'a [u8],
    pos: usize,
    base: usize,
    input_len: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self {
            whole: input,
            buf: input,
            pos: 0,
            base: 0,
            input_len: input.len(),
        }
    }

    /// Absolute offset of the next byte.
    #[inline]
    pub(crate) fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    /// Absolute offset of the end of this reader's section.
    #[inline]
    pub(crate) fn end(&self) -> usize {
        self.base.saturating_add(self.buf.len())
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The whole input this reader is part of.
    #[inline]
    pub(crate) fn input(&self) -> &'a [u8] {
        self.whole
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The error for an element of `needed` bytes starting at `start` that does not fit:
    /// truncation when the input itself ends first, otherwise an overshoot of the section.
    fn short(&self, what: What, tag: Option<Tag>, start: usize, needed: usize) -> Error {
        let end = start.saturating_add(needed);
        match tag {
            Some(tag) if end <= self.input_len => Error::new(
                ErrorKind::Overshoot {
                    tag,
                    end,
                    limit: self.end(),
                },
                start,
            ),
            _ => Error::new(
                ErrorKind::Truncated {
                    what,
                    needed,
                    available: self.input_len.saturating_sub(start).min(self.remaining()),
                },
                start,
            ),
        }
    }

    /// Takes `n` bytes.
    #[inline]
    pub(crate) fn take(
        &mut self,
        n: usize,
        what: What,
        tag: Option<Tag>,
    ) -> Result<&'a [u8], Error> {
        let start = self.offset();
        let Some(end) = self.pos.checked_add(n) else {
            return Err(self.short(what, tag, start, n));
        };
        match self.buf.get(self.pos..end) {
            Some(bytes) => {
                self.pos = end;
                Ok(bytes)
            }
            None => Err(self.short(what, tag, start, n)),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self, what: What) -> Result<u8, Error> {
        match self.take(1, what, None)? {
            [b] => Ok(*b),
            _ => Err(self.short(what, None, self.offset(), 1)),
        }
    }

    #[inline]
    pub(crate) fn u16(&mut self, what: What) -> Result<u16, Error> {
        match self.take(2, what, None)? {
            [a, b] => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(self.short(what, None, self.offset(), 2)),
        }
    }

    /// Reads a `tag, u16 length, value` element of the given namespace.
    #[inline]
    pub(crate) fn tlv(&mut self, tag_of: fn(u8) -> Tag) -> Result<Tlv<'a>, Error> {
        let offset = self.offset();
        if let Some([code, hi, lo, tail @ ..]) = self.buf.get(self.pos..) {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            if let Some(value) = tail.get(..len) {
                // Cannot overflow: pos + 3 + len is within `buf`.
                self.pos = self.pos.saturating_add(3).saturating_add(len);
                return Ok(Tlv {
                    code: *code,
                    value,
                    offset,
                });
            }
        }
        self.tlv_slow(tag_of)
    }

    /// [`tlv`](Self::tlv) when the element does not fit: works out the precise error.
    #[cold]
    #[inline(never)]
    fn tlv_slow(&mut self, tag_of: fn(u8) -> Tag) -> Result<Tlv<'a>, Error> {
        let offset = self.offset();
        let code = self.u8(What::TagByte)?;
        let tag = tag_of(code);
        let len = self.u16(What::Length(tag)).map_err(|_| {
            // Report the whole element as short, from its tag byte.
            self.short(What::Length(tag), None, offset.saturating_add(1), 2)
        })?;
        let value_start = self.offset();
        let value = self
            .take(usize::from(len), What::Value(tag), Some(tag))
            .map_err(|e| {
                // An overshoot is reported for the whole element, from its tag byte.
                match e.kind() {
                    ErrorKind::Overshoot { tag, end, limit } => {
                        Error::new(ErrorKind::Overshoot { tag, end, limit }, offset)
                    }
                    _ => e.with_offset(value_start),
                }
            })?;
        Ok(Tlv {
            code,
            value,
            offset,
        })
    }

    /// Splits off the next `n` bytes as a reader of their own.
    #[inline]
    pub(crate) fn sub(&mut self, n: usize, what: What, tag: Option<Tag>) -> Result<Self, Error> {
        let base = self.offset();
        let buf = self.take(n, what, tag)?;
        Ok(Self {
            whole: self.whole,
            buf,
            pos: 0,
            base,
            input_len: self.input_len,
        })
    }
}

impl Error {
    pub(crate) const fn with_offset(self, offset: usize) -> Self {
        Self::new(self.kind(), offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::Tag;

    #[test]
    fn tlv_reads_and_bounds() {
        let mut r = Reader::new(&[4, 0, 2, b'a', 0, 9]);
        let t = r.tlv(Tag::header).unwrap();
        assert_eq!((t.code, t.value, t.offset), (4, &b"a\0"[..], 0));
        let e = r.tlv(Tag::header).unwrap_err();
        assert_eq!(e.offset(), Some(6));
        assert!(matches!(e.kind(), ErrorKind::Truncated { .. }));
    }

    #[test]
    fn overshoot_of_a_section_is_not_truncation() {
        let input = [3, 0, 3, 4, 0, 5, 0, 0, 0, 0, 0, 0];
        let mut r = Reader::new(&input);
        let _ = r.take(3, What::Header, None).unwrap();
        let mut sub = r.sub(3, What::Header, None).unwrap();
        let e = sub.tlv(Tag::header).unwrap_err();
        assert_eq!(e.offset(), Some(3));
        assert_eq!(
            e.kind(),
            ErrorKind::Overshoot {
                tag: Tag::header(4),
                end: 11,
                limit: 6
            }
        );
    }
}
