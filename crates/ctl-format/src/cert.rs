//! The facts of an X.509 certificate that a trust-list record carries.

use core::fmt;

use der::{Decode as _, Encode as _, Tag as DerTag, Tagged as _};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;

use crate::types::{hex, strip_leading_zeros};

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const RSA_ENCRYPTION_OID: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap(RSA_ENCRYPTION);
const EC_PUBLIC_KEY_OID: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap(EC_PUBLIC_KEY);

/// The public key of a certificate, in the form a record stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey {
    /// RSA: PKCS#1 `RSAPublicKey` DER, and the modulus size.
    Rsa {
        /// `RSAPublicKey ::= SEQUENCE { n, e }`, DER.
        pkcs1: Vec<u8>,
        /// Modulus size in bits.
        bits: usize,
    },
    /// EC: the uncompressed point `04 || X || Y` and the curve.
    Ec {
        /// The point.
        point: Vec<u8>,
        /// The named curve (P-256, P-384, P-521) or its OID.
        curve: String,
    },
}

impl PublicKey {
    /// `RSA` or `EC`.
    pub const fn algorithm(&self) -> &'static str {
        match self {
            Self::Rsa { .. } => "RSA",
            Self::Ec { .. } => "EC",
        }
    }

    /// The bytes a record's PUBLIC_KEY holds.
    pub fn record_bytes(&self) -> &[u8] {
        match self {
            Self::Rsa { pkcs1, .. } => pkcs1,
            Self::Ec { point, .. } => point,
        }
    }
}

/// A certificate that cannot be used: what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    /// Not DER X.509 (the decoder's message).
    Der(String),
    /// PEM text without a `CERTIFICATE` block, or a block that is not base64.
    Pem(&'static str),
    /// A key algorithm other than RSA and EC.
    UnsupportedKey {
        /// The algorithm OID.
        oid: String,
    },
    /// An EC point that is not uncompressed (`04 || X || Y`).
    CompressedPoint,
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Der(e) => write!(f, "not a DER X.509 certificate: {e}"),
            Self::Pem(e) => write!(f, "PEM: {e}"),
            Self::UnsupportedKey { oid } => {
                write!(f, "key algorithm {oid}: expected RSA or EC")
            }
            Self::CompressedPoint => {
                f.write_str("EC public key: expected an uncompressed point (04 || X || Y), found a compressed one")
            }
        }
    }
}

impl std::error::Error for CertificateError {}

/// One attribute of a distinguished name, formatted: type and escaped value.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NameAttribute {
    kind: String,
    value: String,
}

/// How distinguished names become text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameStyle {
    /// Attributes in DER order, `TYPE=value` joined by the separator.
    DerOrder(char),
    /// Attributes in reverse DER order (as RFC 4514 writes them; the usual C, O, ..., CN
    /// order comes out CN first), joined by `;`.
    Reversed,
}

/// The facts of a certificate, decoded once.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    subject: Vec<NameAttribute>,
    issuer: Vec<NameAttribute>,
    serial: Vec<u8>,
    key: PublicKey,
    signature: Vec<u8>,
    not_before: u64,
    not_after: u64,
}

impl Certificate {
    /// Decodes a DER certificate.
    ///
    /// # Errors
    /// When it is not DER X.509, or its key is neither RSA nor EC.
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| CertificateError::Der(e.to_string()))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs.subject_public_key_info();
        let oid = spki.algorithm.oid.to_string();
        let key_bytes = spki.subject_public_key.raw_bytes();
        let key = match oid.as_str() {
            RSA_ENCRYPTION => PublicKey::Rsa {
                pkcs1: key_bytes.to_vec(),
                bits: rsa_bits(key_bytes)?,
            },
            EC_PUBLIC_KEY => {
                if key_bytes.first() != Some(&4) {
                    return Err(CertificateError::CompressedPoint);
                }
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                    .map(|o| curve_name(&o.to_string()))
                    .unwrap_or_else(|| "unknown".to_owned());
                PublicKey::Ec {
                    point: key_bytes.to_vec(),
                    curve,
                }
            }
            _ => return Err(CertificateError::UnsupportedKey { oid }),
        };
        let validity = tbs.validity();
        Ok(Self {
            der: der.to_vec(),
            subject: name_attributes(tbs.subject()),
            issuer: name_attributes(tbs.issuer()),
            serial: serial_bytes(tbs)?,
            key,
            signature: cert.signature().raw_bytes().to_vec(),
            not_before: validity.not_before.to_unix_duration().as_secs(),
            not_after: validity.not_after.to_unix_duration().as_secs(),
        })
    }

    /// Decodes the first `CERTIFICATE` block of PEM text (other blocks, such as keys, are skipped).
    ///
    /// # Errors
    /// No certificate block, bad base64, or the errors of [`from_der`](Self::from_der).
    pub fn from_pem(pem: &[u8]) -> Result<Self, CertificateError> {
        let der = pem_blocks(pem)
            .find(|b| b.label == "CERTIFICATE")
            .ok_or(CertificateError::Pem("no CERTIFICATE block"))?
            .decode()?;
        Self::from_der(&der)
    }

    /// Decodes DER, or PEM when the bytes look like PEM text.
    ///
    /// # Errors
    /// See [`from_der`](Self::from_der) and [`from_pem`](Self::from_pem).
    pub fn from_der_or_pem(bytes: &[u8]) -> Result<Self, CertificateError> {
        if looks_like_pem(bytes) {
            Self::from_pem(bytes)
        } else {
            Self::from_der(bytes)
        }
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The serial number as a minimal unsigned big-endian integer (`00` for zero).
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// The public key.
    pub const fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The certificate's own signature value.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// notBefore, Unix seconds.
    pub const fn not_before(&self) -> u64 {
        self.not_before
    }

    /// notAfter, Unix seconds.
    pub const fn not_after(&self) -> u64 {
        self.not_after
    }

    /// The subject as text.
    pub fn subject_text(&self, style: NameStyle) -> String {
        format_name(&self.subject, style)
    }

    /// The issuer as text.
    pub fn issuer_text(&self, style: NameStyle) -> String {
        format_name(&self.issuer, style)
    }
}

/// The subject public key of a DER certificate, found without decoding the rest of it:
/// the algorithm (`RSA`, `EC` or the OID) and the key bytes (PKCS#1 `RSAPublicKey` for RSA).
///
/// Verification needs only this; a full decode would cost more than the hash of a file.
pub(crate) fn public_key_of(der: &[u8]) -> Result<(&'static str, &[u8]), CertificateError> {
    use der::Reader as _;
    let err = |e: der::Error| CertificateError::Der(e.to_string());
    let cert = der::AnyRef::from_der(der).map_err(err)?;
    let mut outer = der::SliceReader::new(cert.value()).map_err(err)?;
    let tbs: der::AnyRef<'_> = outer.decode().map_err(err)?;
    let mut r = der::SliceReader::new(tbs.value()).map_err(err)?;
    let version = DerTag::ContextSpecific {
        constructed: true,
        number: der::TagNumber(0),
    };
    if DerTag::peek(&r).map_err(err)? == version {
        r.tlv_bytes().map_err(err)?;
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        r.tlv_bytes().map_err(err)?;
    }
    let spki: x509_cert::spki::SubjectPublicKeyInfoRef<'_> = r.decode().map_err(err)?;
    let oid = spki.algorithm.oid;
    let algorithm = if oid == RSA_ENCRYPTION_OID {
        "RSA"
    } else if oid == EC_PUBLIC_KEY_OID {
        "EC"
    } else {
        "not RSA"
    };
    Ok((algorithm, spki.subject_public_key.raw_bytes()))
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

fn serial_bytes(tbs: &x509_cert::TbsCertificate) -> Result<Vec<u8>, CertificateError> {
    // The DER INTEGER contents; a positive serial with its top bit set has a 00 sign byte.
    let der = tbs
        .serial_number()
        .to_der()
        .map_err(|e| CertificateError::Der(e.to_string()))?;
    let contents = der::AnyRef::from_der(&der)
        .map_err(|e| CertificateError::Der(e.to_string()))?
        .value();
    let minimal = strip_leading_zeros(contents);
    Ok(if minimal.is_empty() {
        vec![0]
    } else {
        minimal.to_vec()
    })
}

/// The modulus size in bits of a PKCS#1 `RSAPublicKey`.
fn rsa_bits(pkcs1: &[u8]) -> Result<usize, CertificateError> {
    let err = |e: der::Error| CertificateError::Der(format!("RSA public key: {e}"));
    let seq = der::AnyRef::from_der(pkcs1).map_err(err)?;
    let mut reader = der::SliceReader::new(seq.value()).map_err(err)?;
    let n: der::asn1::UintRef<'_> = der::Decode::decode(&mut reader).map_err(err)?;
    let bytes = n.as_bytes();
    let top = bytes.first().copied().unwrap_or(0);
    Ok(bytes
        .len()
        .saturating_sub(1)
        .saturating_mul(8)
        .saturating_add(8usize.saturating_sub(top.leading_zeros() as usize)))
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".to_owned(),
        "1.3.132.0.34" => "P-384".to_owned(),
        "1.3.132.0.35" => "P-521".to_owned(),
        other => other.to_owned(),
    }
}

fn name_attributes(name: &Name) -> Vec<NameAttribute> {
    name.iter().map(attribute).collect()
}

fn attribute(atv: &AttributeTypeAndValue) -> NameAttribute {
    let oid = atv.oid.to_string();
    let kind = match oid.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => oid.as_str(),
    }
    .to_owned();
    let value = match decode_string(atv.value.tag(), atv.value.value()) {
        Some(text) => escape_value(&text),
        None => format!("#{}", hex(&atv.value.to_der().unwrap_or_default())),
    };
    NameAttribute { kind, value }
}

/// The text of a directory string, by its ASN.1 type.
fn decode_string(tag: DerTag, bytes: &[u8]) -> Option<String> {
    match tag {
        DerTag::Utf8String
        | DerTag::PrintableString
        | DerTag::Ia5String
        | DerTag::VisibleString
        | DerTag::NumericString => core::str::from_utf8(bytes).ok().map(str::to_owned),
        // Teletex is read as Latin-1, as most decoders do.
        DerTag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        DerTag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| match c {
                    [a, b] => u16::from_be_bytes([*a, *b]),
                    _ => 0xFFFD,
                })
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

/// RFC 4514 section 2.4 escaping of an attribute value.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' | '"' | '+' | ',' | ';' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == last => out.push_str("\\ "),
            _ => out.push(c),
        }
    }
    out
}

fn format_name(attrs: &[NameAttribute], style: NameStyle) -> String {
    let join = |it: &mut dyn Iterator<Item = &NameAttribute>, sep: char| {
        let mut s = String::new();
        for (i, a) in it.enumerate() {
            if i > 0 {
                s.push(sep);
            }
            s.push_str(&a.kind);
            s.push('=');
            s.push_str(&a.value);
        }
        s
    };
    match style {
        NameStyle::DerOrder(sep) => join(&mut attrs.iter(), sep),
        NameStyle::Reversed => join(&mut attrs.iter().rev(), ';'),
    }
}

/// A PEM block: its label and base64 body.
#[derive(Debug)]
pub(crate) struct PemBlock<'a> {
    pub(crate) label: &'a str,
    body: &'a str,
}

impl PemBlock<'_> {
    pub(crate) fn decode(&self) -> Result<Vec<u8>, CertificateError> {
        let compact: String = self
            .body
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        <base64ct::Base64 as base64ct::Encoding>::decode_vec(&compact)
            .map_err(|_| CertificateError::Pem("a block that is not base64"))
    }
}

/// The `-----BEGIN X-----` ... `-----END X-----` blocks of PEM text, in order.
pub(crate) fn pem_blocks(text: &[u8]) -> impl Iterator<Item = PemBlock<'_>> {
    let text = core::str::from_utf8(text).unwrap_or("");
    let mut rest = text;
    core::iter::from_fn(move || {
        loop {
            let start = rest.find("-----BEGIN ")?;
            let after = rest.get(start.saturating_add(11)..)?;
            let label_end = after.find("-----")?;
            let label = after.get(..label_end)?;
            let body_start = after.get(label_end.saturating_add(5)..)?;
            let end_marker = format!("-----END {label}-----");
            let Some(body_end) = body_start.find(&end_marker) else {
                rest = body_start;
                continue;
            };
            let body = body_start.get(..body_end)?;
            rest = body_start.get(body_end.saturating_add(end_marker.len())..)?;
            return Some(PemBlock { label, body });
        }
    })
}

/// The DER of every block of PEM text with the given label.
///
/// # Errors
/// A block that is not base64.
pub fn pem_decode_all(text: &[u8], label: &str) -> Result<Vec<Vec<u8>>, CertificateError> {
    pem_blocks(text)
        .filter(|b| b.label == label)
        .map(|b| b.decode())
        .collect()
}

/// `der` as one PEM block with `label`, in lines of 64 characters.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = <base64ct::Base64 as base64ct::Encoding>::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        // Base64 text is ASCII, so any byte index is a character boundary.
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The labels of the PEM blocks in `text`, in order.
pub fn pem_labels(text: &[u8]) -> Vec<String> {
    pem_blocks(text).map(|b| b.label.to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_rfc4514() {
        for (raw, escaped) in [
            ("Example, Inc.", "Example\\, Inc."),
            ("a+b;c<d>e\"f\\", "a\\+b\\;c\\<d\\>e\\\"f\\\\"),
            (" lead", "\\ lead"),
            ("#x", "\\#x"),
            ("trail ", "trail\\ "),
            ("Zürich", "Zürich"),
            ("mid#dle", "mid#dle"),
        ] {
            assert_eq!(escape_value(raw), escaped, "{raw}");
        }
    }

    #[test]
    fn pem_blocks_are_found_in_order() {
        let text = b"junk\n-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nAwQ=\n-----END CERTIFICATE-----\n";
        let labels: Vec<_> = pem_blocks(text).map(|b| b.label).collect();
        assert_eq!(labels, ["PRIVATE KEY", "CERTIFICATE"]);
        assert_eq!(
            pem_decode_all(text, "CERTIFICATE").unwrap(),
            vec![vec![3, 4]]
        );
    }

    #[test]
    fn pem_encoding_decodes_back_in_64_column_lines() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = pem_encode("CERTIFICATE", &der);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(pem.ends_with("\n-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64), "{pem}");
        assert_eq!(
            pem_decode_all(pem.as_bytes(), "CERTIFICATE").unwrap(),
            [der]
        );
        assert_eq!(pem_encode("X", &[]), "-----BEGIN X-----\n-----END X-----\n");
    }
}
