//! Warnings about files that parse and verify but may not work on every phone.

use core::fmt;

use crate::cert::Certificate;
use crate::document::{Document, FileKind};
use crate::types::{Role, format_utc};

/// Above this size a trust list is close to the 64 KiB phones load.
pub const SIZE_WARNING: usize = 60 * 1024;

/// Certificates expiring within this many seconds are flagged (30 days).
pub const EXPIRY_WARNING: u64 = 30 * 86_400;

/// Something to look at before shipping a file to phones.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// More than two SAST records (phones are documented to hold two).
    TooManySast {
        /// How many.
        count: usize,
    },
    /// A record's certificate has expired.
    Expired {
        /// Record index.
        index: usize,
        /// Its role.
        role: Role,
        /// notAfter, Unix seconds.
        not_after: u64,
    },
    /// A record's certificate expires within 30 days.
    ExpiresSoon {
        /// Record index.
        index: usize,
        /// Its role.
        role: Role,
        /// notAfter, Unix seconds.
        not_after: u64,
    },
    /// The signature is from a key over 2048 bits, which older phones reject.
    LargeSignerKey {
        /// Key size in bits.
        bits: usize,
    },
    /// Two records with the same role and certificate.
    DuplicateRecord {
        /// The first record's index.
        first: usize,
        /// The repeat's index.
        second: usize,
    },
    /// A CTL with no CallManager or TFTP record.
    NoServerRecord,
    /// The file is above 60 KiB, near the 64 KiB limit (or over it: a list read with
    /// [`ParseOptions::oversize`](crate::ParseOptions::oversize)).
    NearSizeLimit {
        /// Its size.
        size: usize,
    },
    /// A record whose certificate cannot be decoded.
    UnreadableCertificate {
        /// Record index.
        index: usize,
        /// What is wrong with it.
        error: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManySast { count } => {
                write!(
                    f,
                    "{count} SAST records: phones are documented to accept at most 2"
                )
            }
            Self::Expired {
                index,
                role,
                not_after,
            } => write!(
                f,
                "record #{} ({role}): certificate expired on {} UTC",
                index.saturating_add(1),
                format_utc(*not_after)
            ),
            Self::ExpiresSoon {
                index,
                role,
                not_after,
            } => write!(
                f,
                "record #{} ({role}): certificate expires within 30 days, on {} UTC",
                index.saturating_add(1),
                format_utc(*not_after)
            ),
            Self::LargeSignerKey { bits } => write!(
                f,
                "signed with a {bits}-bit key: older phones accept at most 2048 bits"
            ),
            Self::DuplicateRecord { first, second } => write!(
                f,
                "record #{} repeats record #{} (same role and certificate)",
                second.saturating_add(1),
                first.saturating_add(1)
            ),
            Self::NoServerRecord => {
                f.write_str("no CCM, CCM+TFTP or TFTP record: phones will not trust any server")
            }
            Self::NearSizeLimit { size } if *size > crate::MAX_LEN => write!(
                f,
                "{size} bytes: over the 65536 bytes phones load; every phone refuses it"
            ),
            Self::NearSizeLimit { size } => write!(
                f,
                "{size} bytes: above 60 KiB, close to the 65536 bytes phones load"
            ),
            Self::UnreadableCertificate { index, error } => {
                write!(
                    f,
                    "record #{}: certificate cannot be read: {error}",
                    index.saturating_add(1)
                )
            }
        }
    }
}

/// Warnings for `doc` at time `now` (Unix seconds).
pub fn lint(doc: &Document<'_>, now: u64) -> Vec<Warning> {
    let mut out = Vec::new();
    let records = doc.records();
    let sast = records
        .iter()
        .filter(|r| r.role() == Some(Role::SAST))
        .count();
    if sast > 2 {
        out.push(Warning::TooManySast { count: sast });
    }
    for (index, r) in records.iter().enumerate() {
        let Some(der) = r.certificate() else { continue };
        let role = r.role().unwrap_or(Role(u16::MAX));
        match Certificate::from_der(der) {
            Ok(cert) if cert.not_after() < now => {
                out.push(Warning::Expired {
                    index,
                    role,
                    not_after: cert.not_after(),
                });
            }
            Ok(cert) if cert.not_after() < now.saturating_add(EXPIRY_WARNING) => {
                out.push(Warning::ExpiresSoon {
                    index,
                    role,
                    not_after: cert.not_after(),
                });
            }
            Ok(_) => {}
            Err(e) => out.push(Warning::UnreadableCertificate {
                index,
                error: e.to_string(),
            }),
        }
    }
    let bits = doc.header().signature().len().saturating_mul(8);
    if bits > 2048 {
        out.push(Warning::LargeSignerKey { bits });
    }
    for (second, r) in records.iter().enumerate() {
        let first = records.iter().take(second).position(|o| {
            // Records without a certificate (non-secure lists) repeat nothing.
            r.certificate().is_some() && o.role() == r.role() && o.certificate() == r.certificate()
        });
        if let Some(first) = first {
            out.push(Warning::DuplicateRecord { first, second });
        }
    }
    let servers = [Role::CCM, Role::CCM_TFTP, Role::TFTP];
    if doc.kind() == FileKind::TrustList
        && !records
            .iter()
            .any(|r| r.role().is_some_and(|x| servers.contains(&x)))
    {
        out.push(Warning::NoServerRecord);
    }
    if doc.as_bytes().len() > SIZE_WARNING {
        out.push(Warning::NearSizeLimit {
            size: doc.as_bytes().len(),
        });
    }
    out
}
