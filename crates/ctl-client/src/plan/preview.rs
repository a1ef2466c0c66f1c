//! What a token is about to sign, for the operator to see first: the records added,
//! removed and kept against the current CTL (security tokens first), the targets that
//! will receive the file, its size, and what phones will not take in it (lint).

use std::fmt;

use ctl_format::{
    Certificate, DigestAlgorithm, Document, NameStyle, PublicKey, Role, Signer, SignerError,
    TrustListBuilder, Warning, hex,
};

use super::Entry;

/// What a workflow is about to sign and send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Preview {
    /// Security tokens added (subject and serial).
    pub tokens_added: Vec<String>,
    /// Security tokens removed.
    pub tokens_removed: Vec<String>,
    /// Server records added (role, subject, DNS name).
    pub added: Vec<String>,
    /// Server records removed.
    pub removed: Vec<String>,
    /// Records kept as they are.
    pub kept: usize,
    /// The targets that will receive the file.
    pub targets: Vec<String>,
    /// The file's size in bytes.
    pub size: usize,
    /// What phones will not take in it ([`ctl_format::lint()`]), found before it is signed.
    pub warnings: Vec<Warning>,
}

/// Signs with zeros of the key's length: the file as it will be, without a signature.
struct Placeholder<'a> {
    cert: &'a [u8],
    len: usize,
}

impl Signer for Placeholder<'_> {
    fn certificate(&self) -> &[u8] {
        self.cert
    }

    fn sign(&self, _: DigestAlgorithm, _: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(vec![0; self.len])
    }
}

/// The lint warnings of the file `b` builds when `signer_cert` signs it, at `now` (Unix
/// seconds), found before anything is signed (the file built with a placeholder
/// signature of the key's length). None when the file cannot be built: the real build
/// says why.
pub fn draft_warnings(b: &TrustListBuilder, signer_cert: &[u8], now: u64) -> Vec<Warning> {
    let len = match Certificate::from_der(signer_cert).map(|c| c.public_key().clone()) {
        Ok(PublicKey::Rsa { bits, .. }) => bits.div_ceil(8),
        _ => return Vec::new(),
    };
    let mut draft = b.clone();
    draft.unchecked(true);
    let Ok(bytes) = draft.build(&Placeholder {
        cert: signer_cert,
        len,
    }) else {
        return Vec::new();
    };
    ctl_format::parse_trust_list(&bytes)
        .map(|doc| ctl_format::lint(&doc, now))
        .unwrap_or_default()
}

/// A record of the current CTL, as far as a preview compares it: role, certificate, DNS name.
type Held<'a> = (Option<Role>, Option<&'a [u8]>, Option<String>);

fn token(c: &Certificate) -> String {
    format!(
        "{} (serial {})",
        c.subject_text(NameStyle::Reversed),
        hex(c.serial())
    )
}

impl Preview {
    /// The records of `entries` against those of `current` (none: everything is added).
    pub fn new(
        current: Option<&Document<'_>>,
        entries: &[Entry],
        targets: Vec<String>,
        size: usize,
    ) -> Self {
        let mut p = Self {
            targets,
            size,
            ..Self::default()
        };
        let held: Vec<Held<'_>> = current
            .map(|d| {
                d.records()
                    .iter()
                    .map(|r| {
                        (
                            r.role(),
                            r.certificate(),
                            r.dns_name().map(|n| n.into_owned()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        // A token is the same record by its certificate; a server by role, certificate
        // (absent in non-secure mode) and DNS name.
        let same = |e: &Entry, h: &Held<'_>| {
            let certificate = h.1 == Some(e.certificate.der()) || h.1.is_none();
            h.0 == Some(e.role)
                && certificate
                && (e.role == Role::SAST
                    || h.2.as_deref() == e.dns_name.as_deref().filter(|n| !n.is_empty()))
        };
        for e in entries {
            if held.iter().any(|h| same(e, h)) {
                p.kept += 1;
            } else if e.role == Role::SAST {
                p.tokens_added.push(token(&e.certificate));
            } else {
                p.added.push(e.describe());
            }
        }
        for h in &held {
            if entries.iter().any(|e| same(e, h)) {
                continue;
            }
            let what =
                h.1.and_then(|der| Certificate::from_der(der).ok())
                    .map_or_else(
                        || "a record without a certificate".to_owned(),
                        |c| token(&c),
                    );
            if h.0 == Some(Role::SAST) {
                p.tokens_removed.push(what);
            } else {
                p.removed.push(format!(
                    "{} {what} ({})",
                    h.0.map(|r| r.to_string()).unwrap_or_default(),
                    h.2.clone().unwrap_or_default()
                ));
            }
        }
        p
    }
}

impl fmt::Display for Preview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.tokens_added {
            writeln!(f, "  SECURITY TOKEN ADDED:   {t}")?;
        }
        for t in &self.tokens_removed {
            writeln!(f, "  SECURITY TOKEN REMOVED: {t}")?;
        }
        for a in &self.added {
            writeln!(f, "  added:   {a}")?;
        }
        for r in &self.removed {
            writeln!(f, "  removed: {r}")?;
        }
        writeln!(f, "  kept:    {} records", self.kept)?;
        for w in &self.warnings {
            writeln!(f, "  WARNING: {w}")?;
        }
        write!(
            f,
            "  {} bytes, to {}",
            self.size,
            if self.targets.is_empty() {
                "no target".to_owned()
            } else {
                self.targets.join(", ")
            }
        )
    }
}
