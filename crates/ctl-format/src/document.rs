//! The parsed [`Document`] and its parts (the parser that makes one is in `parse`).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::borrow::Cow;

use crate::MAX_LEN;
use crate::error::What;
use crate::reader::{Reader, Tlv};
use crate::tag::{Tag, header, record};
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
    pub(crate) const fn max_len(&self) -> usize {
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
    pub(crate) raw: &'a [u8],
    pub(crate) version: Version,
    pub(crate) signer_version: Option<Version>,
    pub(crate) signer_name: Option<&'a [u8]>,
    pub(crate) serial: &'a [u8],
    pub(crate) issuer_name: Option<&'a [u8]>,
    pub(crate) digest: DigestAlgorithm,
    pub(crate) signature_algorithm: Option<u8>,
    pub(crate) modulus_code: Option<u8>,
    pub(crate) signature: &'a [u8],
    pub(crate) signature_offset: usize,
    pub(crate) filename: Option<&'a [u8]>,
    pub(crate) timestamp: Option<u32>,
    pub(crate) padding: usize,
    pub(crate) opaque: usize,
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
    pub(crate) reader: Reader<'a>,
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
    pub(crate) offset: usize,
    pub(crate) raw: &'a [u8],
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
    pub(crate) reader: Reader<'a>,
    pub(crate) base: usize,
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
    pub(crate) input: &'a [u8],
    pub(crate) kind: FileKind,
    pub(crate) header: Header<'a>,
    pub(crate) records: Vec<Record<'a>>,
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
