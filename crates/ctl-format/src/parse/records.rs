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
/// otherwise.
#[inline(never)]
fn records_fast<'a>(reader: &mut Reader<'a>) -> Option<Vec<Record<'a>>> {
    let input = reader.input();
    let (start, end) = (reader.offset(), reader.end());
    // A 2048-bit record is about 1.6 KB: this rarely reallocates, and never reserves more
    // than the input could hold.
    let mut records = Vec::with_capacity((end.saturating_sub(start) / 1024).saturating_add(1));
    records_fit(input.get(..end)?, start, &mut records)?;
    reader
        .take(end.saturating_sub(start), What::Record, None)
        .ok()?;
    Some(records)
}

/// Whether every record of `list[start..]` fits (see [`records_fast`]), listing them in
/// `records` as it goes. Records are taken [`LANES`] at a time and their elements walked
/// side by side ([`lanes_fit`]): where each element ends is where the next begins, a
/// chain of dependent loads, and independent chains run in the time of one. Measured on
/// the maximal CTL (39 records), in instructions per parse (callgrind) and time: one at a
/// time 0.81 us (an earlier, heavier walk); two 8.5k, 0.46 us; three 10.2k, 0.41 us; four
/// 10.3k, 0.44 us (its lanes no longer fit in registers). The match below names each
/// count, so another [`LANES`] does not compile without it. The RECORD_LENGTHs are read in the same loop, where their
/// loads overlap the walk (a pass of its own over them, one dependent load per record
/// with nothing to hide it, was a sixth of the parse).
fn records_fit<'a>(list: &'a [u8], start: usize, records: &mut Vec<Record<'a>>) -> Option<()> {
    let end = list.len();
    let mut at = start;
    while at < end {
        let mut bodies = [(0, 0); LANES];
        let mut taken = 0_usize;
        for body in &mut bodies {
            if at == end {
                break;
            }
            let next = record_end(list, at)?;
            records.push(Record {
                offset: at,
                raw: list.get(at..next)?,
            });
            *body = (at.wrapping_add(5), next);
            taken = taken.wrapping_add(1);
            at = next;
        }
        let fit = match bodies {
            [a, b, c] if taken == 3 => lanes_fit(list, [a, b, c]),
            [a, b, _] if taken == 2 => lanes_fit(list, [a, b]),
            [(from, to), ..] => rest_fits(list.get(..to)?, from, Tags::FIRST),
        };
        if !fit {
            return None;
        }
    }
    Some(())
}

/// How many records [`records_fit`] walks side by side.
const LANES: usize = 3;

/// Where the record opened at `at` ends, if it opens with a RECORD_LENGTH of two bytes
/// that counts at least itself and stays within `list`.
#[inline(always)]
fn record_end(list: &[u8], at: usize) -> Option<usize> {
    const RECORD_LENGTH: u8 = record::RECORD_LENGTH.code();
    let Some([RECORD_LENGTH, 0, 2, hi, lo, ..]) = list.get(at..) else {
        return None;
    };
    let length = usize::from(u16::from_be_bytes([*hi, *lo]));
    let end = at.wrapping_add(length);
    if length < 5 || end > list.len() {
        return None;
    }
    Some(end)
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

/// Whether the element at `*pos` of a record body is a documented one of its shape; if
/// so `*pos` moves past it, and its tag goes into `tags` (whether it was there before is
/// for [`Tags::distinct`] to say once the walk is over). Whether it ends within the body
/// is left to the caller: the walk must end exactly at the body's end ([`rest_fits`]),
/// which an element past it cannot. One table lookup and comparisons, no branch on the
/// tag (an indirect jump per element, which the predictor misses, made this walk twice
/// as slow).
#[inline(always)]
fn element_fits(body: &[u8], pos: &mut usize, tags: &mut Tags) -> bool {
    let p = *pos;
    let Some(&[code, hi, lo]) = body.get(p..p.wrapping_add(3)) else {
        return false;
    };
    let len16 = u16::from_be_bytes([hi, lo]);
    let len = usize::from(len16);
    // Where the next element begins: the chain every element waits on, so plain adds (no
    // saturation, which would put two more steps on it). Cannot wrap: `p` and `len` are
    // under 64 Ki.
    let end = p.wrapping_add(3).wrapping_add(len);
    // Every u8 has an entry: this never fails, and costs no check.
    let Some(shape) = RECORD_SHAPES.get(usize::from(code)) else {
        return false;
    };
    tags.add(shape.bit);
    *pos = end;
    // Branches that go the same way for every good element, so the predictor never
    // misses; the extra rule only for the elements that have one.
    len16 >= shape.min
        && len16 <= shape.max
        && (shape.extra == 0 || extra_fits(shape.extra, len, body.get(end.wrapping_sub(1))))
}

/// The rule of [`Shape::extra`]: a final NUL, or no bit of its mask in the length.
#[inline(always)]
fn extra_fits(extra: u8, len: usize, last: Option<&u8>) -> bool {
    if extra == NUL {
        last == Some(&0)
    } else {
        len & usize::from(extra) == 0
    }
}

/// The tags a walk has met, as the sum and the union of their bits: they are equal while
/// no bit has been added twice (a second one makes the sum exceed the union, and no sum
/// of a record's elements, at most 21,845 of at most 2^15 each, reaches 2^32). One add
/// and one or per element, with no branch: the walk's verdict waits for its end.
#[derive(Clone, Copy)]
struct Tags {
    sum: u32,
    union: u32,
}

impl Tags {
    /// A walk's start: RECORD_LENGTH (which opened the record) and [`POISON`], so an
    /// undocumented code counts as a second one.
    const FIRST: Self = Self {
        sum: FIRST_BITS,
        union: FIRST_BITS,
    };

    #[inline(always)]
    fn add(&mut self, bit: u16) {
        self.sum = self.sum.wrapping_add(u32::from(bit));
        self.union |= u32::from(bit);
    }

    #[inline(always)]
    fn distinct(self) -> bool {
        self.sum == self.union
    }
}

/// The bits of [`Tags::FIRST`].
const FIRST_BITS: u32 = 1 << record::RECORD_LENGTH.code() | POISON as u32;

/// Whether a record's elements (after RECORD_LENGTH) are all documented ones, each once,
/// of the right shape and within the record: what [`records_fit`] checks of each record.
#[cfg(any(test, feature = "fuzzing"))]
fn record_body_fits(body: &[u8]) -> bool {
    rest_fits(body, 0, Tags::FIRST)
}

/// Whether the elements of each `list[start..end]` of `bodies` fit, walked side by side
/// (see [`records_fit`]). Not inlined: on its own its loop keeps everything in registers.
#[inline(never)]
fn lanes_fit<const N: usize>(list: &[u8], bodies: [(usize, usize); N]) -> bool {
    // Each walk reads within its own record: an element's header that crosses the
    // record's end is not read at all, its walk stops short of the end, and fails.
    let mut lanes = [(list, 0, Tags::FIRST); N];
    for (lane, (start, end)) in lanes.iter_mut().zip(bodies) {
        let Some(record) = list.get(..end) else {
            return false;
        };
        *lane = (record, start, Tags::FIRST);
    }
    while lanes.iter().all(|(l, pos, _)| has_header(l, *pos)) {
        for (l, pos, tags) in &mut lanes {
            if !element_fits(l, pos, tags) {
                return false;
            }
        }
    }
    lanes
        .into_iter()
        .all(|(l, pos, tags)| rest_fits(l, pos, tags))
}

/// Whether an element's three header bytes are at `pos` in `list`: the loop condition
/// that lets [`element_fits`] read them with no check of its own.
#[inline(always)]
fn has_header(list: &[u8], pos: usize) -> bool {
    pos.wrapping_add(3) <= list.len()
}

/// The rest of `list` from `pos`, with the `tags` met so far: every element fits, the
/// last ends where `list` does, and no tag came twice.
#[inline(always)]
fn rest_fits(list: &[u8], mut pos: usize, mut tags: Tags) -> bool {
    while has_header(list, pos) {
        if !element_fits(list, &mut pos, &mut tags) {
            return false;
        }
    }
    pos == list.len() && tags.distinct()
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
    // Cut in two and in three: walked side by side, each part is judged as alone.
    let (third, half) = (body.len() / 3, body.len() / 2);
    let part = |from: usize, to: usize| body.get(from..to).unwrap_or_default();
    assert_eq!(
        lanes_fit(body, [(0, half), (half, body.len())]),
        record_body_fits(part(0, half)) && record_body_fits(part(half, body.len())),
        "two bodies side by side are judged as each alone"
    );
    let (a, b, end) = (third, third.saturating_mul(2), body.len());
    assert_eq!(
        lanes_fit(body, [(0, a), (a, b), (b, end)]),
        record_body_fits(part(0, a))
            && record_body_fits(part(a, b))
            && record_body_fits(part(b, end)),
        "three bodies side by side are judged as each alone"
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

/// The shape a record element's value must have: `min..=max` bytes, and what
/// `extra` adds: [`NUL`], and bits that must be clear in the length; `bit` is the code's
/// bit in a walk's [`Tags`]. Eight bytes, so an entry is one scaled index away.
#[derive(Clone, Copy)]
#[repr(align(8))]
struct Shape {
    min: u16,
    max: u16,
    bit: u16,
    extra: u8,
}

/// In [`Shape::extra`]: the value ends in a NUL.
const NUL: u8 = 0x80;

/// The bit of every code without a documented shape (RECORD_LENGTH only opens a record):
/// set before a walk begins, so any of them is refused as a second one would be.
const POISON: u16 = 1 << 15;

const fn record_shapes() -> [Shape; 256] {
    const fn shape(code: u8, min: u16, max: u16, nul: bool) -> Shape {
        Shape {
            min,
            max,
            bit: 1 << code,
            extra: if nul { NUL } else { 0 },
        }
    }
    let any = u16::MAX;
    let mut t = [Shape {
        min: 0,
        max: u16::MAX,
        bit: POISON,
        extra: 0,
    }; 256];
    t[2] = shape(2, 1, any, true); // DNS name
    t[3] = shape(3, 1, any, true); // subject name
    t[4] = shape(4, 2, 2, false); // role
    t[5] = shape(5, 1, any, true); // issuer name
    t[6] = shape(6, 1, any, false);
    t[7] = shape(7, 1, any, false);
    t[8] = shape(8, 1, any, false);
    t[9] = shape(9, 1, any, false);
    // IP address: 4 or 16 bytes, the only lengths of 4..=16 with none of the bits 0b1011.
    t[10] = Shape {
        extra: 0b1011,
        ..shape(10, 4, 16, false)
    };
    t[11] = shape(11, 1, any, false);
    t[12] = shape(12, 1, 1, false); // certificate hash algorithm
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

    /// A list of records: each is RECORD_LENGTH then `body`.
    fn list(bodies: &[&[u8]]) -> Vec<u8> {
        bodies
            .iter()
            .flat_map(|b| {
                let len = u16::try_from(b.len().saturating_add(5)).unwrap_or(u16::MAX);
                [el(1, &len.to_be_bytes()), b.to_vec()].concat()
            })
            .collect()
    }

    #[test]
    fn an_element_running_into_the_next_record_is_refused_by_both_paths() {
        let good = [el(2, b"cm1\0"), el(4, &[0, 1]), el(9, &[0x30, 0x82])].concat();
        // The same record with its last element's length two bytes longer: it ends in
        // the next record's RECORD_LENGTH, whose bytes would pass for its value.
        let mut long = good.clone();
        let last = long.len() - 5;
        long[last + 2] += 2;
        // And with one more byte, which opens an element whose header crosses the end.
        let crossing = [good.clone(), vec![2]].concat();
        let strict = ParseOptions::default().strict();
        // One to five records, so the bad one comes once at each position of a walk
        // side by side and of the walk alone after it.
        for n in 1..=5 {
            for bad in [&long, &crossing] {
                for at in 0..n {
                    let bodies: Vec<&[u8]> = (0..n)
                        .map(|i| if i == at { &bad[..] } else { &good[..] })
                        .collect();
                    let bytes = list(&bodies);
                    let fast = records_fast(&mut Reader::new(&bytes));
                    assert!(fast.is_none(), "fast pass took {bytes:02x?}");
                    let mut r = Reader::new(&bytes);
                    let checked = (0..n).try_for_each(|_| parse_record(&mut r, &strict).map(drop));
                    assert!(checked.is_err(), "checked walk took {bytes:02x?}");
                }
            }
            let bodies = vec![&good[..]; n];
            let fast = records_fast(&mut Reader::new(&list(&bodies))).map(|r| r.len());
            assert_eq!(fast, Some(n));
        }
    }
}
