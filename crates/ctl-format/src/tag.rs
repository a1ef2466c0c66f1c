//! Tag numbers of the two tag namespaces: the header and the records.
//!
//! The same byte means different things in the header and in a record (3 is
//! SIGNER_INFO in the header but SUBJECT_NAME in a record), so a [`Tag`] carries
//! its namespace and prints its name.

use core::fmt;

/// Which namespace a tag number belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TagSpace {
    /// Tags of the file header (before `header_length`).
    Header,
    /// Tags of a CTL / ITL record.
    Record,
}

/// A tag number together with its namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    space: TagSpace,
    code: u8,
}

impl Tag {
    /// A header tag.
    pub const fn header(code: u8) -> Self {
        Self {
            space: TagSpace::Header,
            code,
        }
    }

    /// A record tag.
    pub const fn record(code: u8) -> Self {
        Self {
            space: TagSpace::Record,
            code,
        }
    }

    /// The tag byte.
    pub const fn code(self) -> u8 {
        self.code
    }

    /// The namespace.
    pub const fn space(self) -> TagSpace {
        self.space
    }

    /// The name of a documented tag, or `None`.
    pub const fn name(self) -> Option<&'static str> {
        match self.space {
            TagSpace::Header => header::name(self.code),
            TagSpace::Record => record::name(self.code),
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let space = match self.space {
            TagSpace::Header => "header",
            TagSpace::Record => "record",
        };
        match self.name() {
            Some(name) => write!(f, "{space} tag {} ({name})", self.code),
            None => write!(f, "{space} tag {}", self.code),
        }
    }
}

/// Header tags (`format.md` section 3.1).
pub mod header {
    use super::Tag;

    /// File format version, 2 bytes: major, minor. Always first.
    pub const VERSION: Tag = Tag::header(1);
    /// Total header size in bytes, u16. Always second.
    pub const HEADER_LENGTH: Tag = Tag::header(2);
    /// Container of SIGNER_NAME, SERIAL_NUMBER and ISSUER_NAME.
    pub const SIGNER_INFO: Tag = Tag::header(3);
    /// Subject of the signing certificate, NUL-terminated text.
    pub const SIGNER_NAME: Tag = Tag::header(4);
    /// Serial number of the signing certificate, raw bytes.
    pub const SERIAL_NUMBER: Tag = Tag::header(5);
    /// Issuer of the signing certificate, NUL-terminated text.
    pub const ISSUER_NAME: Tag = Tag::header(6);
    /// Container of HASH_ALGORITHM and SIGNATURE_ALGORITHM_INFO.
    pub const SIGNATURE_INFO: Tag = Tag::header(7);
    /// Digest code, 1 byte.
    pub const HASH_ALGORITHM: Tag = Tag::header(8);
    /// Container of SIGNATURE_ALGORITHM and SIGNATURE_MODULUS.
    pub const SIGNATURE_ALGORITHM_INFO: Tag = Tag::header(9);
    /// Signature algorithm, 1 byte (0 = RSA PKCS#1 v1.5).
    pub const SIGNATURE_ALGORITHM: Tag = Tag::header(10);
    /// RSA size code, 1 byte: 0..=3 for 64..=512-byte signatures.
    pub const SIGNATURE_MODULUS: Tag = Tag::header(11);
    /// The file signature.
    pub const SIGNATURE: Tag = Tag::header(12);
    /// One padding byte, with no length and no value.
    pub const PADDING: Tag = Tag::header(13);
    /// Logical file name, NUL-terminated text.
    pub const FILENAME: Tag = Tag::header(14);
    /// Signing time, u32 Unix seconds.
    pub const TIMESTAMP: Tag = Tag::header(15);
    /// Signer version, 2 bytes: major, minor.
    pub const SIGNER_VERSION: Tag = Tag::header(28);

    /// Whether a header tag opens a container whose value is a run of child elements.
    ///
    /// 16, 17 and 21 are the containers of encrypted `.enc.sgn` files.
    pub(crate) const fn is_container(code: u8) -> bool {
        matches!(code, 3 | 7 | 9 | 16 | 17 | 21)
    }

    pub(super) const fn name(code: u8) -> Option<&'static str> {
        Some(match code {
            1 => "VERSION",
            2 => "HEADER_LENGTH",
            3 => "SIGNER_INFO",
            4 => "SIGNER_NAME",
            5 => "SERIAL_NUMBER",
            6 => "ISSUER_NAME",
            7 => "SIGNATURE_INFO",
            8 => "HASH_ALGORITHM",
            9 => "SIGNATURE_ALGORITHM_INFO",
            10 => "SIGNATURE_ALGORITHM",
            11 => "SIGNATURE_MODULUS",
            12 => "SIGNATURE",
            13 => "PADDING",
            14 => "FILENAME",
            15 => "TIMESTAMP",
            16 => "ENCRYPTION_INFO",
            17 => "IV_INFO",
            21 => "KEY_INFO",
            28 => "SIGNER_VERSION",
            _ => return None,
        })
    }
}

/// Record tags (`format.md` section 4.2).
pub mod record {
    use super::Tag;

    /// Total record length including this element, u16. Always first.
    pub const RECORD_LENGTH: Tag = Tag::record(1);
    /// Host name, NUL-terminated text.
    pub const DNS_NAME: Tag = Tag::record(2);
    /// Subject of the certificate, NUL-terminated text.
    pub const SUBJECT_NAME: Tag = Tag::record(3);
    /// Role code, u16.
    pub const ROLE: Tag = Tag::record(4);
    /// Issuer of the certificate, NUL-terminated text.
    pub const ISSUER_NAME: Tag = Tag::record(5);
    /// Serial number of the certificate, raw bytes.
    pub const SERIAL_NUMBER: Tag = Tag::record(6);
    /// PKCS#1 RSAPublicKey DER, or an uncompressed EC point.
    pub const PUBLIC_KEY: Tag = Tag::record(7);
    /// The certificate's own signatureValue.
    pub const SIGNATURE: Tag = Tag::record(8);
    /// The certificate, DER.
    pub const CERTIFICATE: Tag = Tag::record(9);
    /// IPv4 (4 bytes) or IPv6 (16 bytes) address.
    pub const IP_ADDRESS: Tag = Tag::record(10);
    /// Digest of the certificate.
    pub const CERTIFICATE_HASH: Tag = Tag::record(11);
    /// Digest code of CERTIFICATE_HASH, 1 byte.
    pub const HASH_ALGORITHM: Tag = Tag::record(12);

    pub(super) const fn name(code: u8) -> Option<&'static str> {
        Some(match code {
            1 => "RECORD_LENGTH",
            2 => "DNS_NAME",
            3 => "SUBJECT_NAME",
            4 => "ROLE",
            5 => "ISSUER_NAME",
            6 => "SERIAL_NUMBER",
            7 => "PUBLIC_KEY",
            8 => "SIGNATURE",
            9 => "CERTIFICATE",
            10 => "IP_ADDRESS",
            11 => "CERTIFICATE_HASH",
            12 => "HASH_ALGORITHM",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_namespace() {
        assert_eq!(
            header::SIGNER_INFO.to_string(),
            "header tag 3 (SIGNER_INFO)"
        );
        assert_eq!(
            record::SUBJECT_NAME.to_string(),
            "record tag 3 (SUBJECT_NAME)"
        );
        assert_eq!(Tag::record(99).to_string(), "record tag 99");
    }
}
