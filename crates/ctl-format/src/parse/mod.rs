//! Parsing: the header walk and the entry points ([`parse`], [`parse_with`], ...); the
//! records are in [`records`].

mod records;

use crate::document::{
    Document, FileKind, Header, HeaderItem, HeaderItems, ParseOptions, RecordElements,
};
use crate::error::{Error, ErrorKind, What};
use crate::reader::{Reader, Tlv};
use crate::tag::{Tag, TagSpace, header};
use crate::types::{DigestAlgorithm, Version};

use records::parse_records;
#[cfg(feature = "fuzzing")]
pub(crate) use records::record_paths_agree;

/// Parses a trust list or a signed file, telling them apart by the header
/// (FILENAME ending in `.sgn` or `.sha512`, else VERSION 1.0, means a signed file).
///
/// # Errors
/// Any structural problem, with its offset; a trust list over [`MAX_LEN`](crate::MAX_LEN) bytes.
pub fn parse(input: &[u8]) -> Result<Document<'_>, Error> {
    parse_with(input, None, &ParseOptions::default())
}

/// Parses a trust list (`.tlv`).
///
/// # Errors
/// Any structural problem, with its offset; an input over [`MAX_LEN`](crate::MAX_LEN) bytes is refused before anything is read.
pub fn parse_trust_list(input: &[u8]) -> Result<Document<'_>, Error> {
    parse_with(input, Some(FileKind::TrustList), &ParseOptions::default())
}

/// Parses a signed file (`.sgn`).
///
/// # Errors
/// Any structural problem of the header, with its offset.
pub fn parse_signed(input: &[u8]) -> Result<Document<'_>, Error> {
    parse_with(input, Some(FileKind::Signed), &ParseOptions::default())
}

/// Parses with an explicit kind (or `None` to detect it) and options.
///
/// # Errors
/// Any structural problem, with its offset; a trust list over [`MAX_LEN`](crate::MAX_LEN) bytes.
pub fn parse_with<'a>(
    input: &'a [u8],
    kind: Option<FileKind>,
    options: &ParseOptions,
) -> Result<Document<'a>, Error> {
    let limit = options.max_len();
    let too_large = Error::without_offset(ErrorKind::TooLarge {
        len: input.len(),
        limit,
    });
    if kind == Some(FileKind::TrustList) && input.len() > limit {
        return Err(too_large);
    }
    let mut reader = Reader::new(input);
    let header = parse_header(&mut reader, options)?;
    let kind = kind.unwrap_or_else(|| detect(&header));
    let records = match kind {
        FileKind::Signed => Vec::new(),
        FileKind::TrustList => {
            if input.len() > limit {
                return Err(too_large);
            }
            parse_records(&mut reader, options)?
        }
    };
    Ok(Document {
        input,
        kind,
        header,
        records,
    })
}

fn detect(header: &Header<'_>) -> FileKind {
    if let Some(name) = header.filename {
        if name.ends_with(b".sgn") || name.ends_with(b".sha512") {
            return FileKind::Signed;
        }
        if name.ends_with(b".tlv") {
            return FileKind::TrustList;
        }
    }
    if header.version == Version::V1_0 {
        FileKind::Signed
    } else {
        FileKind::TrustList
    }
}

/// Checks that a text value ends with its NUL and returns it without.
fn nul_text<'a>(e: &Tlv<'a>, tag: Tag) -> Result<&'a [u8], Error> {
    match e.value {
        [] => Err(Error::new(ErrorKind::EmptyValue { tag }, e.offset)),
        [text @ .., 0] => Ok(text),
        [.., last] => Err(Error::new(
            ErrorKind::MissingNul { tag, found: *last },
            e.offset,
        )),
    }
}

fn fixed<'a, const N: usize>(e: &Tlv<'a>, tag: Tag) -> Result<[u8; N], Error> {
    <[u8; N]>::try_from(e.value).map_err(|_| {
        Error::new(
            ErrorKind::BadLength {
                tag,
                expected: u16::try_from(N).unwrap_or(u16::MAX),
                found: u16::try_from(e.value.len()).unwrap_or(u16::MAX),
            },
            e.offset,
        )
    })
}

fn non_empty<'a>(e: &Tlv<'a>, tag: Tag) -> Result<&'a [u8], Error> {
    if e.value.is_empty() {
        return Err(Error::new(ErrorKind::EmptyValue { tag }, e.offset));
    }
    Ok(e.value)
}

/// Which tag codes (those below 32) a section has had, so a second one is refused.
///
/// Only the bit is kept; where the first one was is found again on the error path.
struct Seen<'a> {
    mask: u32,
    /// The section's bytes, from its first element (the header, or a record).
    section: &'a [u8],
    /// Absolute offset of `section`.
    base: usize,
}

impl<'a> Seen<'a> {
    const fn new(section: &'a [u8], base: usize) -> Self {
        Self {
            mask: 0,
            section,
            base,
        }
    }

    fn check(&mut self, tag: Tag, offset: usize) -> Result<(), Error> {
        let Some(bit) = 1u32.checked_shl(u32::from(tag.code())) else {
            return Ok(());
        };
        if self.mask & bit == 0 {
            self.mask |= bit;
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::DuplicateTag {
                tag,
                first: self.first(tag),
            },
            offset,
        ))
    }

    /// The offset of the first element with this tag (the part before the duplicate is valid).
    fn first(&self, tag: Tag) -> usize {
        let found = match tag.space() {
            TagSpace::Header => HeaderItems {
                reader: Reader::new(self.section),
            }
            .find_map(|item| match item {
                HeaderItem::Element(e) if e.tag == tag => Some(e.offset),
                HeaderItem::Container { tag: t, offset, .. } if t == tag => Some(offset),
                _ => None,
            }),
            _ => RecordElements {
                reader: Reader::new(self.section),
                base: 0,
            }
            .find(|e| e.tag == tag)
            .map(|e| e.offset),
        };
        self.base.saturating_add(found.unwrap_or(0))
    }
}

/// Fields of the header as they are found.
#[derive(Default)]
struct HeaderFields<'a> {
    signer_version: Option<Version>,
    signer_name: Option<&'a [u8]>,
    serial: Option<&'a [u8]>,
    issuer_name: Option<&'a [u8]>,
    digest: Option<DigestAlgorithm>,
    signature_algorithm: Option<u8>,
    modulus_code: Option<u8>,
    signature: Option<(&'a [u8], usize)>,
    filename: Option<&'a [u8]>,
    timestamp: Option<u32>,
    padding: usize,
    opaque: usize,
}

const MAX_DEPTH: usize = 3;

fn parse_header<'a>(reader: &mut Reader<'a>, options: &ParseOptions) -> Result<Header<'a>, Error> {
    let start = reader.offset();
    let version_el = expect_tlv(reader, header::VERSION)?;
    let [major, minor] = fixed::<2>(&version_el, header::VERSION)?;
    if major != 1 {
        return Err(Error::new(
            ErrorKind::UnsupportedVersion { major, minor },
            version_el.offset,
        ));
    }
    let hl_el = expect_tlv(reader, header::HEADER_LENGTH)?;
    let header_length = u16::from_be_bytes(fixed::<2>(&hl_el, header::HEADER_LENGTH)?);
    let file_len = reader.end();
    if header_length < 12 {
        return Err(Error::new(
            ErrorKind::HeaderLengthTooSmall { header_length },
            hl_el.offset,
        ));
    }
    if header_length % 4 != 0 {
        return Err(Error::new(
            ErrorKind::HeaderLengthNotAligned { header_length },
            hl_el.offset,
        ));
    }
    if usize::from(header_length) > file_len {
        return Err(Error::new(
            ErrorKind::HeaderLengthPastEnd {
                header_length,
                file_len,
            },
            hl_el.offset,
        ));
    }
    // Bytes of the header after VERSION and HEADER_LENGTH (10 bytes, checked above).
    let rest_len = usize::from(header_length).saturating_sub(reader.offset().saturating_sub(start));
    let mut body = reader.sub(rest_len, What::Header, None)?;
    let mut fields = HeaderFields::default();
    let mut seen = Seen::new(reader.input().get(start..).unwrap_or_default(), start);
    seen.check(header::VERSION, version_el.offset)?;
    seen.check(header::HEADER_LENGTH, hl_el.offset)?;
    walk_header(&mut body, 0, &mut fields, &mut seen, options)?;

    let missing = |tag| Error::new(ErrorKind::MissingElement { tag }, start);
    let serial = fields
        .serial
        .ok_or_else(|| missing(header::SERIAL_NUMBER))?;
    let digest = fields
        .digest
        .ok_or_else(|| missing(header::HASH_ALGORITHM))?;
    let (signature, signature_offset) =
        fields.signature.ok_or_else(|| missing(header::SIGNATURE))?;
    let raw = reader_bytes(reader, start, header_length);
    Ok(Header {
        raw,
        version: Version { major, minor },
        signer_version: fields.signer_version,
        signer_name: fields.signer_name,
        serial,
        issuer_name: fields.issuer_name,
        digest,
        signature_algorithm: fields.signature_algorithm,
        modulus_code: fields.modulus_code,
        signature,
        signature_offset,
        filename: fields.filename,
        timestamp: fields.timestamp,
        padding: fields.padding,
        opaque: fields.opaque,
    })
}

/// The input bytes `[start, start + len)`, which the reader has already walked.
fn reader_bytes<'a>(reader: &Reader<'a>, start: usize, len: u16) -> &'a [u8] {
    reader
        .input()
        .get(start..start.saturating_add(usize::from(len)))
        .unwrap_or_default()
}

fn expect_tlv<'a>(reader: &mut Reader<'a>, tag: Tag) -> Result<Tlv<'a>, Error> {
    let offset = reader.offset();
    match reader.peek() {
        Some(code) if code == tag.code() => reader.tlv(Tag::header),
        Some(found) => Err(Error::new(
            ErrorKind::UnexpectedTag {
                expected: tag,
                found,
            },
            offset,
        )),
        None => Err(Error::new(
            ErrorKind::Truncated {
                what: What::Value(tag),
                needed: 5,
                available: 0,
            },
            offset,
        )),
    }
}

fn walk_header<'a>(
    r: &mut Reader<'a>,
    depth: usize,
    f: &mut HeaderFields<'a>,
    seen: &mut Seen<'a>,
    options: &ParseOptions,
) -> Result<(), Error> {
    while let Some(code) = r.peek() {
        let offset = r.offset();
        if code == header::PADDING.code() {
            if depth > 0 {
                return Err(Error::new(ErrorKind::PaddingInContainer, offset));
            }
            r.take(1, What::TagByte, None)?;
            f.padding = f.padding.saturating_add(1);
            if options.strict && r.peek().is_some_and(|next| next != header::PADDING.code()) {
                return Err(Error::new(ErrorKind::PaddingNotAtEnd, offset));
            }
            continue;
        }
        let tag = Tag::header(code);
        if header::is_container(code) {
            if depth >= MAX_DEPTH {
                return Err(Error::new(ErrorKind::NestingTooDeep { tag }, offset));
            }
            seen.check(tag, offset)?;
            r.u8(What::TagByte)?;
            let len = r.u16(What::Length(tag))?;
            let mut child = r
                .sub(usize::from(len), What::Value(tag), Some(tag))
                .map_err(|e| e.with_offset(offset))?;
            walk_header(&mut child, depth.saturating_add(1), f, seen, options)?;
            continue;
        }
        let e = r.tlv(Tag::header)?;
        if (1..=28).contains(&code) {
            seen.check(tag, offset)?;
        }
        match code {
            4 => f.signer_name = Some(nul_text(&e, tag)?),
            5 => f.serial = Some(non_empty(&e, tag)?),
            6 => f.issuer_name = Some(nul_text(&e, tag)?),
            8 => {
                let [c] = fixed::<1>(&e, tag)?;
                let digest = DigestAlgorithm::from_code(c)
                    .filter(|d| *d != DigestAlgorithm::Sha256 || options.allow_sha256)
                    .ok_or(Error::new(
                        ErrorKind::UnsupportedDigest { code: c },
                        e.offset,
                    ))?;
                f.digest = Some(digest);
            }
            10 => f.signature_algorithm = Some(u8::from_be_bytes(fixed::<1>(&e, tag)?)),
            11 => f.modulus_code = Some(u8::from_be_bytes(fixed::<1>(&e, tag)?)),
            12 => f.signature = Some((non_empty(&e, tag)?, e.offset)),
            14 => f.filename = Some(nul_text(&e, tag)?),
            15 => f.timestamp = Some(u32::from_be_bytes(fixed::<4>(&e, tag)?)),
            28 => {
                let [major, minor] = fixed::<2>(&e, tag)?;
                f.signer_version = Some(Version { major, minor });
            }
            _ if options.strict => return Err(Error::new(ErrorKind::UnknownTag { tag }, offset)),
            _ => f.opaque = f.opaque.saturating_add(1),
        }
    }
    Ok(())
}
