//! What a phone takes, step by step: pure, from the bytes it downloaded and the lists it
//! holds.
//!
//! The model (the project's, from Cisco's security guides and `format.md`): a phone keeps
//! one CTL and one ITL in flash. A list is taken by leap of faith only when the phone
//! holds no list at all; afterwards a new CTL or ITL is taken only when a SAST of a list
//! it holds (the same kind first) signed it. A signed configuration is checked with the
//! TFTP or CCM+TFTP records of the CTL when it holds one, else of the ITL. Families add
//! what their firmware is documented to refuse.

use core::fmt;
use core::str::FromStr;

use crate::error::FamilyError;
use ctl_format::{
    Acceptance, DigestAlgorithm, Document, Refusal, Role, RsaVerifier, parse_signed,
    parse_trust_list, phone_accepts,
};

/// A phone family, for the rules only some firmware applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// 7900 series (7942, 7962, 7965, 7975, ...): SHA-1 signatures of keys up to 2048 bits.
    Legacy7900,
    /// 7800, 8800 and 9900 series on current enterprise firmware: SHA-1 and SHA-512.
    #[default]
    Enterprise,
}

impl Family {
    /// `7900` or `enterprise`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Legacy7900 => "7900",
            Self::Enterprise => "enterprise",
        }
    }

    /// What this family's firmware refuses in a file that otherwise checks out.
    fn refuses(self, doc: &Document<'_>) -> Option<&'static str> {
        match self {
            Self::Legacy7900 if doc.header().signature().len() > 256 => {
                Some("7900-series firmware takes signatures of keys up to 2048 bits only")
            }
            Self::Legacy7900 if doc.header().digest() != DigestAlgorithm::Sha1 => {
                Some("7900-series firmware checks SHA-1 signatures only")
            }
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Family {
    type Err = FamilyError;

    /// A family (`7900`, `enterprise`) or a model (`7965`, `8845`, `78xx`, `9971`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_prefix("cp-").unwrap_or(&t);
        if t == "enterprise" || ["78", "88", "89", "99"].iter().any(|p| t.starts_with(p)) {
            Ok(Self::Enterprise)
        } else if t.starts_with("79") {
            Ok(Self::Legacy7900)
        } else {
            Err(FamilyError(s.to_owned()))
        }
    }
}

/// Why a phone refuses a download.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneRefusal {
    /// The file does not parse.
    Malformed(String),
    /// The family's firmware refuses it.
    Family(&'static str),
    /// The trust rule refuses it.
    Trust(Refusal),
    /// The lists name a TFTP signer, so the configuration must be signed; it is not.
    Unsigned,
}

impl fmt::Display for PhoneRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "refused: not a valid file: {e}"),
            Self::Family(why) => write!(f, "refused: {why}"),
            Self::Trust(r) => write!(f, "{r}"),
            Self::Unsigned => f.write_str(
                "refused: the trust lists name a TFTP signer, so the phone takes only a signed configuration",
            ),
        }
    }
}

/// The lists a phone holds (their bytes, as in flash).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// `CTLFile.tlv`.
    pub ctl: Option<Vec<u8>>,
    /// `ITLFile.tlv`.
    pub itl: Option<Vec<u8>>,
}

/// Which list a download is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A CTL.
    Ctl,
    /// An ITL.
    Itl,
}

fn parsed(bytes: Option<&[u8]>) -> Option<Document<'_>> {
    bytes.and_then(|b| parse_trust_list(b).ok())
}

impl Held {
    fn get(&self, kind: Kind) -> Option<&[u8]> {
        match kind {
            Kind::Ctl => self.ctl.as_deref(),
            Kind::Itl => self.itl.as_deref(),
        }
    }

    /// Whether a phone holding these lists takes `candidate` as its `kind` list.
    ///
    /// # Errors
    /// Why it refuses.
    pub fn judge_list(
        &self,
        family: Family,
        kind: Kind,
        candidate: &[u8],
    ) -> Result<Acceptance, PhoneRefusal> {
        let doc =
            parse_trust_list(candidate).map_err(|e| PhoneRefusal::Malformed(e.to_string()))?;
        if let Some(why) = family.refuses(&doc) {
            return Err(PhoneRefusal::Family(why));
        }
        let other = match kind {
            Kind::Ctl => Kind::Itl,
            Kind::Itl => Kind::Ctl,
        };
        let same = parsed(self.get(kind));
        let other = parsed(self.get(other));
        match (same, other) {
            (None, None) => phone_accepts(None, &doc, &RsaVerifier).map_err(PhoneRefusal::Trust),
            (Some(s), None) | (None, Some(s)) => {
                phone_accepts(Some(&s), &doc, &RsaVerifier).map_err(PhoneRefusal::Trust)
            }
            (Some(s), Some(o)) => phone_accepts(Some(&s), &doc, &RsaVerifier)
                .or_else(|first| phone_accepts(Some(&o), &doc, &RsaVerifier).map_err(|_| first))
                .map_err(PhoneRefusal::Trust),
        }
    }

    /// The list that checks configurations: the CTL when held, else the ITL.
    fn config_list(&self) -> Option<Document<'_>> {
        parsed(self.ctl.as_deref()).or_else(|| parsed(self.itl.as_deref()))
    }

    /// Whether the phone asks for `SEP<MAC>.cnf.xml.sgn`: its lists hold a TFTP-capable record.
    pub fn wants_signed_config(&self) -> bool {
        self.config_list().is_some_and(|d| {
            d.records()
                .iter()
                .any(|r| r.role().is_some_and(Role::signs_configs))
        })
    }

    /// Whether the phone takes `sgn` as its signed configuration.
    ///
    /// # Errors
    /// Why it refuses.
    pub fn judge_config(&self, family: Family, sgn: &[u8]) -> Result<(), PhoneRefusal> {
        let doc = parse_signed(sgn).map_err(|e| PhoneRefusal::Malformed(e.to_string()))?;
        if let Some(why) = family.refuses(&doc) {
            return Err(PhoneRefusal::Family(why));
        }
        let list = self.config_list();
        phone_accepts(list.as_ref(), &doc, &RsaVerifier)
            .map(|_| ())
            .map_err(PhoneRefusal::Trust)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn models_name_their_family() {
        for (m, f) in [
            ("7965", Family::Legacy7900),
            ("CP-7942G", Family::Legacy7900),
            ("8845", Family::Enterprise),
            ("78xx", Family::Enterprise),
            ("9971", Family::Enterprise),
            ("enterprise", Family::Enterprise),
        ] {
            assert_eq!(m.parse::<Family>().unwrap(), f, "{m}");
        }
        assert!("6921".parse::<Family>().is_err());
    }

    fn vector(name: &str) -> Vec<u8> {
        std::fs::read(ctl_test_support::vectors().join(name)).unwrap()
    }

    #[test]
    fn a_first_list_is_taken_then_a_stranger_s_is_refused() {
        let itl = vector("itl/ITLFile-sha1.tlv");
        let empty = Held::default();
        assert_eq!(
            empty.judge_list(Family::Enterprise, Kind::Itl, &itl),
            Ok(Acceptance::FirstList)
        );
        let held = Held {
            ctl: None,
            itl: Some(itl.clone()),
        };
        // The same list again: signed by a SAST of itself.
        assert_eq!(
            held.judge_list(Family::Enterprise, Kind::Itl, &itl),
            Ok(Acceptance::SignedByHeld)
        );
        assert!(matches!(
            held.judge_list(Family::Enterprise, Kind::Itl, b"garbage"),
            Err(PhoneRefusal::Malformed(_))
        ));
    }

    #[test]
    fn a_7900_refuses_sha512_where_an_8800_takes_it() {
        let ctl = vector("ctl/CTLFile-sha512.tlv");
        let empty = Held::default();
        assert!(matches!(
            empty.judge_list(Family::Legacy7900, Kind::Ctl, &ctl),
            Err(PhoneRefusal::Family(_))
        ));
        assert_eq!(
            empty.judge_list(Family::Enterprise, Kind::Ctl, &ctl),
            Ok(Acceptance::FirstList)
        );
    }
}
