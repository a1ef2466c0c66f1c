//! The records of a trust list: a fast pass for the common case (every element
//! documented, of its shape), and the element-by-element walk that names the first error.

use super::{Seen, fixed, non_empty, nul_text};
use crate::document::{ParseOptions, Record};
use crate::error::{Error, ErrorKind, What};
use crate::reader::{Reader, Tlv};
use crate::tag::{Tag, record};

pub(super) fn parse_records<'a>(
    reader: &mut Reader<'a>,
    options: &ParseOptions,
) -> Result<Vec<Record<'a>>, Error> {
    if reader.is_empty() {
        return Err(Error::new(ErrorKind::NoRecords, reader.offset()));
    }
    if let Some(records) = records_fast(reader) {
        return Ok(records);
    }
    // Something the fast pass does not take (an error, an unknown tag): element by
    // element, in file order, for the first error and where it is.
    // A 2048-bit record is about 1.6 KB; this rarely reallocates and never
    // reserves more than the input could hold.
    let mut records = Vec::with_capacity((reader.remaining() / 1024).saturating_add(1));
    while !reader.is_empty() {
        records.push(parse_record(reader, options)?);
    }
    Ok(records)
}

/// The records of a list whose every record is well formed and holds only documented
/// elements, each once, of the right shapes; `None` (and the reader where it was)
/// otherwise. First the chain of RECORD_LENGTHs, then each record's elements in a loop of
/// its own ([`record_body_fits`]).
#[inline(never)]
fn records_fast<'a>(reader: &mut Reader<'a>) -> Option<Vec<Record<'a>>> {
    let input = reader.input();
    let (start, end) = (reader.offset(), reader.end());
    let mut records = Vec::with_capacity((end.saturating_sub(start) / 1024).saturating_add(1));
    let mut at = start;
    while at < end {
        let [code, 0, 2, hi, lo] = *input.get(at..at.checked_add(5)?)? else {
            return None;
        };
        let length = usize::from(u16::from_be_bytes([hi, lo]));
        let next = at.checked_add(length).filter(|n| *n <= end)?;
        if code != record::RECORD_LENGTH.code() || length < 5 {
            return None;
        }
        records.push(Record {
            offset: at,
            raw: input.get(at..next)?,
        });
        at = next;
    }
    let body = |r: &Record<'a>| r.raw.get(5..).unwrap_or_default();
    let mut pairs = records.chunks_exact(2);
    for pair in &mut pairs {
        if let [a, b] = pair
            && !both_fit(body(a), body(b))
        {
            return None;
        }
    }
    if !pairs.remainder().iter().all(|r| record_body_fits(body(r))) {
        return None;
    }
    reader
        .take(end.saturating_sub(start), What::Record, None)
        .ok()?;
    Some(records)
}

/// One record, element by element: the first error in it, and where.
fn parse_record<'a>(reader: &mut Reader<'a>, options: &ParseOptions) -> Result<Record<'a>, Error> {
    let offset = reader.offset();
    let first = match reader.peek() {
        Some(c) if c == record::RECORD_LENGTH.code() => reader.tlv(Tag::record)?,
        Some(found) => {
            return Err(Error::new(
                ErrorKind::UnexpectedTag {
                    expected: record::RECORD_LENGTH,
                    found,
                },
                offset,
            ));
        }
        None => return Err(Error::new(ErrorKind::NoRecords, offset)),
    };
    let length = u16::from_be_bytes(fixed::<2>(&first, record::RECORD_LENGTH)?);
    if length < 5 {
        return Err(Error::new(
            ErrorKind::RecordLengthTooSmall { found: length },
            offset,
        ));
    }
    let available = reader.remaining().saturating_add(5);
    if usize::from(length) > available {
        return Err(Error::new(
            ErrorKind::Truncated {
                what: What::Record,
                needed: usize::from(length),
                available,
            },
            offset,
        ));
    }
    let body = reader.sub(usize::from(length).saturating_sub(5), What::Record, None)?;
    let raw = reader
        .input()
        .get(offset..offset.saturating_add(usize::from(length)))
        .unwrap_or_default();
    check_record_body(body, raw, offset, options)?;
    Ok(Record { offset, raw })
}

/// Whether the element at `*pos` of a record body is a documented one, not seen before
/// (`*seen`), of its shape and within the body; if so `*pos` and `*seen` move past it.
/// One table lookup and comparisons, no branch on the tag (an indirect jump per element,
/// which the predictor misses, made this walk twice as slow).
#[inline(always)]
fn element_fits(body: &[u8], pos: &mut usize, seen: &mut u32) -> bool {
    let p = *pos;
    let Some([code, hi, lo, ..]) = body.get(p..) else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    // Where the next element begins: the chain every element waits on, so plain adds (no
    // saturation, which would put two more steps on it). Cannot wrap: `p` and `len` are
    // under 64 Ki.
    let end = p.wrapping_add(3).wrapping_add(len);
    // Every u8 has an entry: this never fails, and costs no check.
    let Some(shape) = RECORD_SHAPES.get(usize::from(*code)) else {
        return false;
    };
    let bit = 1u32 << (code & 31);
    // Branches that go the same way for every good element, so the predictor never
    // misses; the extra rules only for the elements that have them.
    let ok = end <= body.len()
        && len.wrapping_sub(usize::from(shape.min)) <= usize::from(shape.span)
        && *seen & bit == 0
        && (shape.flags == 0 || extra_fits(shape.flags, len, body.get(end.wrapping_sub(1))));
    if ok {
        *seen |= bit;
        *pos = end;
    }
    ok
}

/// The rules [`element_fits`] checks beyond the length: a final NUL, an address's size,
/// and none for an unknown code.
#[inline(always)]
fn extra_fits(flags: u8, len: usize, last: Option<&u8>) -> bool {
    flags & UNKNOWN == 0
        && (flags & NUL == 0 || last == Some(&0))
        && (flags & IP == 0 || len == 4 || len == 16)
}

/// Whether a record's elements (after RECORD_LENGTH) are all documented ones, each once,
/// of the right shape and within the record: the fast path of [`parse_records`]. Not
/// inlined: on its own its loop keeps everything in registers.
#[inline(never)]
fn record_body_fits(body: &[u8]) -> bool {
    // RECORD_LENGTH was the first element.
    rest_fits(body, 0, 1u32 << record::RECORD_LENGTH.code())
}

/// [`record_body_fits`] of two bodies at once, walked side by side: where each element
/// ends is where the next begins, a chain of dependent loads, and two independent chains
/// run in the time of one (measured: 0.81 -> 0.67 us on the maximal CTL; four side by
/// side gain nothing more).
#[inline(never)]
fn both_fit(a: &[u8], b: &[u8]) -> bool {
    let first = 1u32 << record::RECORD_LENGTH.code();
    let (mut pa, mut pb) = (0, 0);
    let (mut sa, mut sb) = (first, first);
    while pa < a.len() && pb < b.len() {
        let fa = element_fits(a, &mut pa, &mut sa);
        let fb = element_fits(b, &mut pb, &mut sb);
        if !(fa && fb) {
            return false;
        }
    }
    rest_fits(a, pa, sa) && rest_fits(b, pb, sb)
}

/// The rest of a body from `pos`, with the tags `seen` so far.
#[inline(always)]
fn rest_fits(body: &[u8], mut pos: usize, mut seen: u32) -> bool {
    while pos < body.len() {
        if !element_fits(body, &mut pos, &mut seen) {
            return false;
        }
    }
    true
}

/// Fuzzing: the fast pass accepts a record body exactly when the checked walk in strict
/// mode does.
///
/// # Panics
/// When they disagree. Its `assert`s and `panic!` are the fuzzer's oracles (compiled only
/// with the `fuzzing` feature, as in the `fuzzing` module): they fire on a bug in one of the
/// two paths, never on a malformed input, which both paths refuse alike.
#[cfg(feature = "fuzzing")]
pub(crate) fn record_paths_agree(body: &[u8]) {
    let strict = ParseOptions::default().strict();
    let checked = check_record_body(Reader::new(body), body, 0, &strict).is_ok();
    assert_eq!(
        record_body_fits(body),
        checked,
        "the fast pass and the checked walk disagree on a record body"
    );
    let (half, rest) = body.split_at(body.len() / 2);
    assert_eq!(
        both_fit(half, rest),
        record_body_fits(half) && record_body_fits(rest),
        "two bodies side by side are judged as each alone"
    );
    // Taken as a list's records: what the fast pass returns, the checked walk returns too.
    if let Some(fast) = records_fast(&mut Reader::new(body)) {
        let mut r = Reader::new(body);
        let mut checked = Vec::new();
        while !r.is_empty() {
            match parse_record(&mut r, &strict) {
                Ok(rec) => checked.push((rec.offset, rec.raw)),
                Err(e) => panic!("the fast pass took records the checked walk refuses: {e}"),
            }
        }
        let fast: Vec<_> = fast.iter().map(|rec| (rec.offset, rec.raw)).collect();
        assert_eq!(
            fast, checked,
            "the fast pass and the checked walk found other records"
        );
    }
}

/// A record's elements checked one by one, for the error that names what is wrong.
#[inline(never)]
fn check_record_body(
    mut body: Reader<'_>,
    raw: &[u8],
    offset: usize,
    options: &ParseOptions,
) -> Result<(), Error> {
    let mut seen = Seen::new(raw, offset);
    seen.check(record::RECORD_LENGTH, offset)?;
    while !body.is_empty() {
        let e = body.tlv(Tag::record)?;
        if (1..=12).contains(&e.code) {
            seen.check(Tag::record(e.code), e.offset)?;
        }
        check_record_value(&e, options)?;
    }
    Ok(())
}

/// The shape a record element's value must have: `min..=min + span` bytes, and what
/// `flags` add ([`NUL`], [`IP`]; [`UNKNOWN`] for codes without a documented shape).
#[derive(Clone, Copy)]
#[repr(align(8))]
struct Shape {
    min: u16,
    span: u16,
    flags: u8,
}

/// The value ends in a NUL.
const NUL: u8 = 1;
/// The value is 4 or 16 bytes.
const IP: u8 = 2;
/// Not a documented record element (RECORD_LENGTH only opens a record).
const UNKNOWN: u8 = 4;

const fn record_shapes() -> [Shape; 256] {
    let any = u16::MAX - 1;
    let mut t = [Shape {
        min: 0,
        span: 0,
        flags: UNKNOWN,
    }; 256];
    let text = Shape {
        min: 1,
        span: any,
        flags: NUL,
    };
    let bytes = Shape {
        min: 1,
        span: any,
        flags: 0,
    };
    t[2] = text; // DNS name
    t[3] = text; // subject name
    t[4] = Shape {
        min: 2,
        span: 0,
        flags: 0,
    }; // role
    t[5] = text; // issuer name
    t[6] = bytes;
    t[7] = bytes;
    t[8] = bytes;
    t[9] = bytes;
    t[10] = Shape {
        min: 4,
        span: 12,
        flags: IP,
    }; // IP address
    t[11] = bytes;
    t[12] = Shape {
        min: 1,
        span: 0,
        flags: 0,
    }; // certificate hash algorithm
    t
}

/// The shapes of the record elements, by tag code (`docs/format.md`).
const RECORD_SHAPES: [Shape; 256] = record_shapes();

/// The rules of one record element, with the error that names what is wrong.
fn check_record_value(e: &Tlv<'_>, options: &ParseOptions) -> Result<(), Error> {
    let tag = Tag::record(e.code);
    match e.code {
        2 | 3 | 5 => {
            nul_text(e, tag)?;
        }
        4 => {
            fixed::<2>(e, tag)?;
        }
        6..=9 | 11 => {
            non_empty(e, tag)?;
        }
        // IPv6 (16 bytes) or IPv4 (4 bytes).
        10 if e.value.len() == 16 => {}
        10 => {
            fixed::<4>(e, tag)?;
        }
        12 => {
            fixed::<1>(e, tag)?;
        }
        _ if options.strict => return Err(Error::new(ErrorKind::UnknownTag { tag }, e.offset)),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One element: tag, length, value.
    fn el(code: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![code];
        out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn the_fast_record_pass_accepts_exactly_what_strict_checking_does() {
        let good = [
            el(2, b"cm1\0"),
            el(3, b"CN=cm1\0"),
            el(4, &[0, 1]),
            el(5, b"CN=ca\0"),
            el(6, &[1]),
            el(7, &[0x30]),
            el(8, &[1, 2]),
            el(9, &[3]),
            el(10, &[192, 0, 2, 1]),
            el(11, &[0x30, 0x82]),
            el(12, &[1]),
        ]
        .concat();
        let cases: Vec<(Vec<u8>, bool)> = vec![
            (good.clone(), true),
            (Vec::new(), true),
            (el(10, &[0; 16]), true),
            (el(10, &[0; 8]), false),
            ([el(2, b"a\0"), el(2, b"b\0")].concat(), false),
            (el(2, b"no nul"), false),
            (el(4, &[1]), false),
            (el(6, &[]), false),
            (el(13, &[1]), false),
            (el(1, &[0, 5]), false),
            (good[..good.len() - 1].to_vec(), false),
            ([good.clone(), vec![2, 0]].concat(), false),
        ];
        let strict = ParseOptions::default().strict();
        for (body, expected) in cases {
            let checked = check_record_body(Reader::new(&body), &body, 0, &strict).is_ok();
            assert_eq!(
                (record_body_fits(&body), checked),
                (expected, expected),
                "{body:02x?}"
            );
        }
        // Outside strict mode an unknown tag is refused by the fast pass and accepted by
        // the checked walk, which the parser then relies on.
        let unknown = el(40, &[1, 2, 3]);
        assert!(!record_body_fits(&unknown));
        assert!(
            check_record_body(Reader::new(&unknown), &unknown, 0, &ParseOptions::default()).is_ok()
        );
    }
}
