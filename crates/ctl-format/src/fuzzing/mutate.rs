//! A structure-aware mutator for trust lists: it finds the TLV elements of the header
//! (and the containers nested in it) and of every record, then changes one element
//! (its value, its tag, its length, its place, or whether it is there) and fixes the
//! lengths that enclose it (containers, HEADER_LENGTH, RECORD_LENGTH), so most mutants
//! still parse as far as the element changed and reach the code behind it. One
//! mutation in six lies about a length on purpose.

/// Header tags whose values are TLV sequences (SIGNER_INFO, SIGNATURE_INFO,
/// SIGNATURE_ALGORITHM_INFO).
const CONTAINERS: [u8; 3] = [3, 7, 9];

/// Tags the mutator may give an element.
const TAGS: [u8; 17] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 28, 0xff];

/// Where an element's enclosing section keeps its length.
#[derive(Clone, Copy, Debug)]
enum Section {
    /// HEADER_LENGTH's value, at this offset.
    Header(Option<usize>),
    /// RECORD_LENGTH's value, at this offset.
    Record(Option<usize>),
}

#[derive(Clone, Debug)]
struct Span {
    /// Offset of the tag byte.
    start: usize,
    tag: u8,
    /// Value length.
    len: usize,
    /// Indices of the containers around it.
    parents: Vec<usize>,
    section: Section,
}

/// A small deterministic generator: the same seed gives the same mutation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::try_from(self.next() % (n as u64)).unwrap_or(0)
        }
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at + 2)?;
    Some(usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?])))
}

fn walk(
    data: &[u8],
    (from, to): (usize, usize),
    parents: &[usize],
    section: Section,
    out: &mut Vec<Span>,
) {
    let mut pos = from;
    while pos + 3 <= to {
        let (Some(&tag), Some(len)) = (data.get(pos), u16_at(data, pos + 1)) else {
            return;
        };
        let end = pos + 3 + len;
        if end > to {
            return;
        }
        let index = out.len();
        out.push(Span {
            start: pos,
            tag,
            len,
            parents: parents.to_vec(),
            section,
        });
        if matches!(section, Section::Header(_)) && CONTAINERS.contains(&tag) && parents.len() < 3 {
            let mut inner = parents.to_vec();
            inner.push(index);
            walk(data, (pos + 3, end), &inner, section, out);
        }
        pos = end;
    }
}

/// The elements of a trust list (or of anything shaped like one).
fn elements(data: &[u8]) -> Vec<Span> {
    let mut out = Vec::new();
    // VERSION, then HEADER_LENGTH: the header's extent.
    let header_length = (data.get(5) == Some(&2) && u16_at(data, 6) == Some(2))
        .then(|| u16_at(data, 8))
        .flatten()
        .filter(|l| *l <= data.len() && *l >= 10);
    let header_end = header_length.unwrap_or(data.len());
    let at = header_length.map(|_| 8);
    walk(data, (0, header_end), &[], Section::Header(at), &mut out);
    let mut pos = header_end;
    while pos + 3 <= data.len() {
        let length_at =
            (data.get(pos) == Some(&1) && u16_at(data, pos + 1) == Some(2)).then_some(pos + 3);
        let end = length_at
            .and_then(|at| u16_at(data, at))
            .filter(|l| *l >= 5)
            .map_or(data.len(), |l| (pos + l).min(data.len()));
        walk(data, (pos, end), &[], Section::Record(length_at), &mut out);
        pos = end;
    }
    out
}

fn set_u16(data: &mut [u8], at: usize, value: usize) {
    let v = u16::try_from(value).unwrap_or(u16::MAX).to_be_bytes();
    if let Some(slot) = data.get_mut(at..at + 2) {
        slot.copy_from_slice(&v);
    }
}

/// Adds `delta` to a length field at `at` (saturating at 0 and 65,535).
fn adjust(data: &mut [u8], at: usize, delta: isize) {
    if let Some(old) = u16_at(data, at) {
        set_u16(data, at, old.saturating_add_signed(delta));
    }
}

/// Fixes the lengths around `span` after its encoded size changed by `delta`.
fn fix_enclosing(data: &mut [u8], spans: &[Span], span: &Span, delta: isize) {
    for p in &span.parents {
        if let Some(parent) = spans.get(*p) {
            adjust(data, parent.start + 1, delta);
        }
    }
    match span.section {
        Section::Header(Some(at)) | Section::Record(Some(at)) => adjust(data, at, delta),
        _ => {}
    }
}

/// One structure-aware mutation of `data` chosen by `seed`; `mutate_value` changes an
/// element's value (the fuzzer's own byte-level mutator). `None` when `data` has no
/// element to work on.
pub fn mutate_tlv(
    data: &[u8],
    seed: u32,
    mutate_value: &mut dyn FnMut(&mut Vec<u8>),
) -> Option<Vec<u8>> {
    let spans = elements(data);
    let mut rng = Rng(u64::from(seed) | 1 << 40);
    let span = spans.get(rng.below(spans.len()))?.clone();
    let value_at = span.start + 3;
    let whole = data.get(span.start..value_at + span.len)?.to_vec();
    let mut out = data.to_vec();
    match rng.below(6) {
        // The value, changed by the fuzzer's mutator; lengths follow.
        0 => {
            let mut value = data.get(value_at..value_at + span.len)?.to_vec();
            mutate_value(&mut value);
            value.truncate(usize::from(u16::MAX));
            let delta = value.len() as isize - span.len as isize;
            out.splice(value_at..value_at + span.len, value.iter().copied());
            set_u16(&mut out, span.start + 1, value.len());
            fix_enclosing(&mut out, &spans, &span, delta);
        }
        // Gone.
        1 => {
            out.drain(span.start..value_at + span.len);
            fix_enclosing(&mut out, &spans, &span, -(whole.len() as isize));
        }
        // Twice.
        2 => {
            let at = value_at + span.len;
            out.splice(at..at, whole.iter().copied());
            fix_enclosing(&mut out, &spans, &span, whole.len() as isize);
        }
        // Moved after the next element of the same container, if it has one.
        4 if spans
            .iter()
            .any(|s| s.start == value_at + span.len && s.parents == span.parents) =>
        {
            let next = spans
                .iter()
                .find(|s| s.start == value_at + span.len && s.parents == span.parents)?;
            let end = next.start + 3 + next.len;
            let moved: Vec<u8> = data
                .get(next.start..end)?
                .iter()
                .chain(whole.iter())
                .copied()
                .collect();
            out.splice(span.start..end, moved);
        }
        // Another tag.
        3 | 4 => {
            let tag = *TAGS.get(rng.below(TAGS.len()))?;
            *out.get_mut(span.start)? = if tag == span.tag {
                tag.wrapping_add(1)
            } else {
                tag
            };
        }
        // A length that lies.
        _ => {
            let lie = match rng.below(5) {
                0 => 0,
                1 => span.len + 1,
                2 => span.len.saturating_sub(1),
                3 => usize::from(u16::MAX),
                _ => rng.below(data.len() + 1),
            };
            set_u16(&mut out, span.start + 1, lie);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    const CTL: &[u8] = include_bytes!("../../tests/vectors/ctl/CTLFile-sha1.tlv");

    fn flip(v: &mut Vec<u8>) {
        if let Some(b) = v.first_mut() {
            *b ^= 0x5a;
        } else {
            v.push(1);
        }
    }

    #[test]
    fn it_finds_the_header_its_containers_and_the_records() {
        let spans = elements(CTL);
        let doc = crate::parse(CTL).unwrap();
        let records = spans
            .iter()
            .filter(|s| s.tag == 1 && matches!(s.section, Section::Record(_)))
            .count();
        assert_eq!(records, doc.records().len(), "{spans:?}");
        assert!(
            spans.iter().any(|s| s.tag == 12 && s.len == 256),
            "the signature"
        );
        assert!(
            spans.iter().any(|s| s.tag == 10 && s.parents.len() == 2),
            "nested twice"
        );
    }

    /// Most mutants still parse: the lengths around a change are kept consistent.
    #[test]
    fn most_mutants_still_parse() {
        let mut parsed = 0;
        for seed in 0..600 {
            let out = mutate_tlv(CTL, seed, &mut flip).unwrap();
            if crate::parse_with(&out, None, &crate::ParseOptions::default()).is_ok() {
                parsed += 1;
            }
        }
        assert!(parsed > 150, "{parsed} of 600 parse");
        // And the same seed gives the same mutant.
        assert_eq!(mutate_tlv(CTL, 7, &mut flip), mutate_tlv(CTL, 7, &mut flip));
    }
}
