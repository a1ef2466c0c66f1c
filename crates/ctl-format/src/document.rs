//! The zero-copy parser and the parsed [`Document`].

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::borrow::Cow;

use crate::MAX_LEN;
use crate::error::{Error, ErrorKind, What};
use crate::reader::{Reader, Tlv};
use crate::tag::{Tag, TagSpace, header, record};
use crate::types::{DigestAlgorithm, Role, Version};

/// What follows the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// A trust list (`CTLFile.tlv`, `ITLFile.tlv`): records follow the header.
    TrustList,
    /// A signed file (`*.sgn`): the signed payload follows the header.
    Signed,
}

impl FileKind {
    /// `tlv` or `sgn`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::TrustList => "tlv",
            Self::Signed => "sgn",
        }
    }
}

/// How strictly to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Accept HASH_ALGORITHM 2 (SHA-256), which no real file is known to use.
    pub allow_sha256: bool,
    /// Refuse elements with unknown tags (kept as opaque items otherwise) and padding
    /// anywhere but at the end of the header.
    pub strict: bool,
    /// Read trust lists over [`MAX_LEN`] (up to [`MAX_OVERSIZE`]): phones refuse them, but
    /// a person may want to look at one (certutils writes such lists).
    pub oversize: bool,
}

/// The largest trust list read with [`ParseOptions::oversize`].
pub const MAX_OVERSIZE: usize = 1024 * 1024;

impl ParseOptions {
    /// Refuses unknown tags and misplaced padding.
    #[must_use]
    pub const fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// Accepts SHA-256 (code 2) as well as SHA-1 and SHA-512.
    #[must_use]
    pub const fn with_sha256(mut self) -> Self {
        self.allow_sha256 = true;
        self
    }

    /// Reads trust lists up to [`MAX_OVERSIZE`] instead of [`MAX_LEN`].
    #[must_use]
    pub const fn oversize(mut self) -> Self {
        self.oversize = true;
        self
    }

    /// The largest trust list these options read.
    const fn max_len(&self) -> usize {
        if self.oversize { MAX_OVERSIZE } else { MAX_LEN }
    }
}

/// A `tag, length, value` element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element<'a> {
    /// The tag, with its namespace.
    pub tag: Tag,
    /// The value bytes.
    pub value: &'a [u8],
    /// Offset of the tag byte in the file.
    pub offset: usize,
}

/// One item of the header, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderItem<'a> {
    /// An element with a value (known or opaque).
    Element(Element<'a>),
    /// The 3-byte start of a container; its children follow as the next items.
    Container {
        /// The container tag (3, 7, 9, ...).
        tag: Tag,
        /// The length it declares: the size of its encoded children.
        length: u16,
        /// Offset of the tag byte.
        offset: usize,
    },
    /// One padding byte (0x0D).
    Padding {
        /// Offset of the byte.
        offset: usize,
    },
}

/// The parsed header, common to trust lists and signed files.
#[derive(Clone)]
pub struct Header<'a> {
    raw: &'a [u8],
    version: Version,
    signer_version: Option<Version>,
    signer_name: Option<&'a [u8]>,
    serial: &'a [u8],
    issuer_name: Option<&'a [u8]>,
    digest: DigestAlgorithm,
    signature_algorithm: Option<u8>,
    modulus_code: Option<u8>,
    signature: &'a [u8],
    signature_offset: usize,
    filename: Option<&'a [u8]>,
    timestamp: Option<u32>,
    padding: usize,
    opaque: usize,
}

/// Text as stored (without its NUL), shown as UTF-8 with invalid bytes replaced.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

impl<'a> Header<'a> {
    /// The header bytes, `header_length` long.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// VERSION (1.2 for trust lists, 1.0 for `.sgn`).
    pub const fn version(&self) -> Version {
        self.version
    }

    /// HEADER_LENGTH.
    pub const fn length(&self) -> usize {
        self.raw.len()
    }

    /// SIGNER_VERSION (tag 28), when present.
    pub const fn signer_version(&self) -> Option<Version> {
        self.signer_version
    }

    /// SIGNER_NAME bytes without the NUL.
    pub const fn signer_name_bytes(&self) -> Option<&'a [u8]> {
        self.signer_name
    }

    /// SIGNER_NAME as text.
    pub fn signer_name(&self) -> Option<Cow<'a, str>> {
        self.signer_name.map(text)
    }

    /// ISSUER_NAME bytes without the NUL.
    pub const fn issuer_name_bytes(&self) -> Option<&'a [u8]> {
        self.issuer_name
    }

    /// ISSUER_NAME as text.
    pub fn issuer_name(&self) -> Option<Cow<'a, str>> {
        self.issuer_name.map(text)
    }

    /// SERIAL_NUMBER of the signer, as stored.
    pub const fn serial(&self) -> &'a [u8] {
        self.serial
    }

    /// The digest of the signature.
    pub const fn digest(&self) -> DigestAlgorithm {
        self.digest
    }

    /// SIGNATURE_ALGORITHM (0 = RSA PKCS#1 v1.5), when present.
    pub const fn signature_algorithm(&self) -> Option<u8> {
        self.signature_algorithm
    }

    /// SIGNATURE_MODULUS, the RSA size code, when present.
    pub const fn modulus_code(&self) -> Option<u8> {
        self.modulus_code
    }

    /// The signature bytes.
    pub const fn signature(&self) -> &'a [u8] {
        self.signature
    }

    /// Offset of the SIGNATURE tag byte.
    pub const fn signature_offset(&self) -> usize {
        self.signature_offset
    }

    /// FILENAME bytes without the NUL.
    pub const fn filename_bytes(&self) -> Option<&'a [u8]> {
        self.filename
    }

    /// FILENAME as text.
    pub fn filename(&self) -> Option<Cow<'a, str>> {
        self.filename.map(text)
    }

    /// TIMESTAMP, Unix seconds.
    pub const fn timestamp(&self) -> Option<u32> {
        self.timestamp
    }

    /// Number of padding bytes.
    pub const fn padding(&self) -> usize {
        self.padding
    }

    /// Number of elements with tags this reader does not know, kept as they are.
    pub const fn opaque_elements(&self) -> usize {
        self.opaque
    }

    /// The items of the header in file order, VERSION and HEADER_LENGTH included.
    pub fn items(&self) -> HeaderItems<'a> {
        HeaderItems {
            reader: Reader::new(self.raw),
        }
    }
}

/// Iterator over the items of a parsed header.
#[derive(Clone, Debug)]
pub struct HeaderItems<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for HeaderItems<'a> {
    type Item = HeaderItem<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let offset = self.reader.offset();
        let code = self.reader.peek()?;
        if code == header::PADDING.code() {
            self.reader.take(1, What::TagByte, None).ok()?;
            return Some(HeaderItem::Padding { offset });
        }
        if header::is_container(code) {
            let _ = self.reader.u8(What::TagByte).ok()?;
            let length = self.reader.u16(What::Length(Tag::header(code))).ok()?;
            return Some(HeaderItem::Container {
                tag: Tag::header(code),
                length,
                offset,
            });
        }
        let Tlv {
            code,
            value,
            offset,
        } = self.reader.tlv(Tag::header).ok()?;
        Some(HeaderItem::Element(Element {
            tag: Tag::header(code),
            value,
            offset,
        }))
    }
}

/// A record of a trust list.
///
/// Parsing checks every element of the record; the accessors then find their
/// element again in the record's bytes (a few elements, no allocation), so a
/// record costs nothing beyond its position until it is looked at.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    offset: usize,
    raw: &'a [u8],
}

impl<'a> Record<'a> {
    /// Offset of the record in the file.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The record bytes, RECORD_LENGTH long.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// RECORD_LENGTH: the whole record, its own 5-byte element included.
    pub const fn length(&self) -> usize {
        self.raw.len()
    }

    /// The value of the element with this record tag code (the only one: parsing refuses repeats).
    fn value(&self, code: u8) -> Option<&'a [u8]> {
        self.elements()
            .find(|e| e.tag.code() == code)
            .map(|e| e.value)
    }

    /// A text value without its NUL (parsing checked it is there).
    fn text_bytes(&self, code: u8) -> Option<&'a [u8]> {
        self.value(code)
            .map(|v| v.split_last().map_or(v, |(_, text)| text))
    }

    /// DNS_NAME without the NUL (`Some(b"")` when stored empty).
    pub fn dns_name_bytes(&self) -> Option<&'a [u8]> {
        self.text_bytes(record::DNS_NAME.code())
    }

    /// DNS_NAME as text.
    pub fn dns_name(&self) -> Option<Cow<'a, str>> {
        self.dns_name_bytes().map(text)
    }

    /// SUBJECT_NAME without the NUL.
    pub fn subject_name_bytes(&self) -> Option<&'a [u8]> {
        self.text_bytes(record::SUBJECT_NAME.code())
    }

    /// SUBJECT_NAME as text.
    pub fn subject_name(&self) -> Option<Cow<'a, str>> {
        self.subject_name_bytes().map(text)
    }

    /// ISSUER_NAME without the NUL.
    pub fn issuer_name_bytes(&self) -> Option<&'a [u8]> {
        self.text_bytes(record::ISSUER_NAME.code())
    }

    /// ISSUER_NAME as text.
    pub fn issuer_name(&self) -> Option<Cow<'a, str>> {
        self.issuer_name_bytes().map(text)
    }

    /// ROLE.
    pub fn role(&self) -> Option<Role> {
        let v = self.value(record::ROLE.code())?;
        <[u8; 2]>::try_from(v)
            .ok()
            .map(|b| Role(u16::from_be_bytes(b)))
    }

    /// SERIAL_NUMBER as stored.
    pub fn serial(&self) -> Option<&'a [u8]> {
        self.value(record::SERIAL_NUMBER.code())
    }

    /// PUBLIC_KEY: PKCS#1 RSAPublicKey DER, or an EC point.
    pub fn public_key(&self) -> Option<&'a [u8]> {
        self.value(record::PUBLIC_KEY.code())
    }

    /// SIGNATURE: the certificate's own signature value.
    pub fn signature(&self) -> Option<&'a [u8]> {
        self.value(record::SIGNATURE.code())
    }

    /// CERTIFICATE, DER.
    pub fn certificate(&self) -> Option<&'a [u8]> {
        self.value(record::CERTIFICATE.code())
    }

    /// IP_ADDRESS.
    pub fn ip_address(&self) -> Option<IpAddr> {
        let v = self.value(record::IP_ADDRESS.code())?;
        if let Ok(v6) = <[u8; 16]>::try_from(v) {
            return Some(IpAddr::V6(Ipv6Addr::from(v6)));
        }
        <[u8; 4]>::try_from(v)
            .ok()
            .map(|v4| IpAddr::V4(Ipv4Addr::from(v4)))
    }

    /// CERTIFICATE_HASH.
    pub fn certificate_hash(&self) -> Option<&'a [u8]> {
        self.value(record::CERTIFICATE_HASH.code())
    }

    /// HASH_ALGORITHM code of CERTIFICATE_HASH.
    pub fn hash_algorithm(&self) -> Option<u8> {
        self.value(record::HASH_ALGORITHM.code())
            .and_then(|v| v.first().copied())
    }

    /// Number of elements with tags this reader does not know, kept as they are.
    pub fn opaque_elements(&self) -> usize {
        self.elements().filter(|e| e.tag.name().is_none()).count()
    }

    /// The elements after RECORD_LENGTH, in file order.
    pub fn elements(&self) -> RecordElements<'a> {
        let mut reader = Reader::new(self.raw);
        // RECORD_LENGTH was checked when parsing.
        let _ = reader.tlv(Tag::record);
        RecordElements {
            reader,
            base: self.offset,
        }
    }
}

/// Iterator over the elements of a record.
#[derive(Clone, Debug)]
pub struct RecordElements<'a> {
    reader: Reader<'a>,
    base: usize,
}

impl<'a> Iterator for RecordElements<'a> {
    type Item = Element<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let Tlv {
            code,
            value,
            offset,
        } = self.reader.tlv(Tag::record).ok()?;
        Some(Element {
            tag: Tag::record(code),
            value,
            offset: self.base.saturating_add(offset),
        })
    }
}

/// A parsed trust list or signed file. Nothing in it is trusted until a `verify` method says so.
#[derive(Clone)]
pub struct Document<'a> {
    input: &'a [u8],
    kind: FileKind,
    header: Header<'a>,
    records: Vec<Record<'a>>,
}

impl<'a> Document<'a> {
    /// The whole file.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.input
    }

    /// Trust list or signed file.
    pub const fn kind(&self) -> FileKind {
        self.kind
    }

    /// The header.
    pub const fn header(&self) -> &Header<'a> {
        &self.header
    }

    /// The records (empty for a signed file).
    pub fn records(&self) -> &[Record<'a>] {
        &self.records
    }

    /// The bytes after the header: the payload of a signed file, the records of a trust list.
    ///
    /// Not verified: use [`Verified::payload`](crate::Verified::payload) to act on it.
    pub fn body_unverified(&self) -> &'a [u8] {
        self.input.get(self.header.length()..).unwrap_or_default()
    }

    /// The signed bytes: the file without its SIGNATURE element, as two slices.
    pub fn signed_parts(&self) -> [&'a [u8]; 2] {
        let start = self.header.signature_offset;
        let end = start
            .saturating_add(3)
            .saturating_add(self.header.signature.len());
        [
            self.input.get(..start).unwrap_or_default(),
            self.input.get(end..).unwrap_or_default(),
        ]
    }

    /// The size [`encode_into`](Self::encode_into) writes.
    pub fn encoded_len(&self) -> usize {
        let header = self
            .header
            .items()
            .fold(0usize, |acc, i| acc.saturating_add(item_len(&i)));
        let records = self
            .records
            .iter()
            .fold(0usize, |acc, r| acc.saturating_add(record_len(r)));
        let payload = match self.kind {
            FileKind::Signed => self.body_unverified().len(),
            FileKind::TrustList => 0,
        };
        header.saturating_add(records).saturating_add(payload)
    }

    /// Re-encodes the document from its items and elements. For a parsed file this
    /// gives back the same bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        for item in self.header.items() {
            match item {
                HeaderItem::Element(e) => put_tlv(out, e.tag.code(), e.value),
                HeaderItem::Container { tag, length, .. } => {
                    out.push(tag.code());
                    out.extend_from_slice(&length.to_be_bytes());
                }
                HeaderItem::Padding { .. } => out.push(header::PADDING.code()),
            }
        }
        for r in &self.records {
            let len = record_len(r);
            put_tlv(
                out,
                record::RECORD_LENGTH.code(),
                &u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes(),
            );
            for e in r.elements() {
                put_tlv(out, e.tag.code(), e.value);
            }
        }
        if self.kind == FileKind::Signed {
            out.extend_from_slice(self.body_unverified());
        }
    }

    /// [`encode_into`](Self::encode_into) a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode_into(&mut v);
        v
    }
}

/// The encoded size of a record: RECORD_LENGTH plus its elements.
fn record_len(r: &Record<'_>) -> usize {
    r.elements().fold(5usize, |acc, e| {
        acc.saturating_add(3).saturating_add(e.value.len())
    })
}

// Debug shows the structure, not kilobytes of certificate bytes.
impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("version", &self.version)
            .field("length", &self.raw.len())
            .field("signer_version", &self.signer_version)
            .field("signer_name", &self.signer_name())
            .field("serial", &crate::hex(self.serial))
            .field("digest", &self.digest)
            .field("signature_len", &self.signature.len())
            .field("filename", &self.filename())
            .field("timestamp", &self.timestamp)
            .field("padding", &self.padding)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("offset", &self.offset)
            .field("length", &self.raw.len())
            .field("role", &self.role())
            .field("subject_name", &self.subject_name())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("kind", &self.kind)
            .field("len", &self.input.len())
            .field("header", &self.header)
            .field("records", &self.records)
            .finish()
    }
}

fn item_len(item: &HeaderItem<'_>) -> usize {
    match item {
        HeaderItem::Element(e) => e.value.len().saturating_add(3),
        HeaderItem::Container { .. } => 3,
        HeaderItem::Padding { .. } => 1,
    }
}

/// Appends one element. The caller guarantees `value` fits a u16 length.
pub(crate) fn put_tlv(out: &mut Vec<u8>, code: u8, value: &[u8]) {
    out.push(code);
    out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(value);
}

/// Parses a trust list or a signed file, telling them apart by the header
/// (FILENAME ending in `.sgn` or `.sha512`, else VERSION 1.0, means a signed file).
///
/// # Errors
/// Any structural problem, with its offset; a trust list over [`MAX_LEN`] bytes.
pub fn parse(input: &[u8]) -> Result<Document<'_>, Error> {
    parse_with(input, None, &ParseOptions::default())
}

/// Parses a trust list (`.tlv`).
///
/// # Errors
/// Any structural problem, with its offset; an input over [`MAX_LEN`] bytes is refused before anything is read.
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
/// Any structural problem, with its offset; a trust list over [`MAX_LEN`] bytes.
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

fn parse_records<'a>(
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
    if !records.iter().all(|r| record_body_fits(body(r))) {
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
    let end = p.saturating_add(3).saturating_add(len);
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
    let mut seen = 1u32 << record::RECORD_LENGTH.code();
    let mut pos = 0;
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
/// When they disagree.
#[cfg(feature = "fuzzing")]
pub(crate) fn record_paths_agree(body: &[u8]) {
    let strict = ParseOptions::default().strict();
    let checked = check_record_body(Reader::new(body), body, 0, &strict).is_ok();
    assert_eq!(
        record_body_fits(body),
        checked,
        "the fast pass and the checked walk disagree on a record body"
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
