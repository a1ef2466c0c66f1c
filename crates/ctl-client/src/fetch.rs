//! **Fetch**: the first node's current CTL and security mode, checked as a phone holding
//! the CTL held for the cluster would check it.

use ctl_provider::message::SecurityMode;

use crate::client::{Client, read_ctl, read_mode};
use crate::error::Error;
use crate::plan::{sast_certificates, untrusted_ctl};

/// What vouches for a fetched CTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Vouched {
    /// It is the CTL held for the cluster, byte for byte.
    Held,
    /// A phone holding the CTL held for the cluster would take it (signed by one of the
    /// held list's SAST records).
    PhoneWouldTake,
    /// The operator accepted it by its SHA-256.
    Accepted,
    /// Nothing: no CTL is held for the cluster. Compare its hash with one you know.
    Nothing,
}

impl core::fmt::Display for Vouched {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Held => "it is the CTL held for this cluster",
            Self::PhoneWouldTake => {
                "a phone holding the CTL held for this cluster would take it"
            }
            Self::Accepted => "its SHA-256 was accepted (--accept-ctl)",
            Self::Nothing => {
                "nothing vouches for it: no CTL is held for this cluster; compare its SHA-256 with one you know"
            }
        })
    }
}

/// What [`Client::fetch`] found.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Fetched {
    /// The current CTL and its SHA-256; `None` when the first node holds none.
    pub ctl: Option<(Vec<u8>, [u8; 32])>,
    /// The cluster's security mode, as the first node tells it.
    pub mode: SecurityMode,
    /// What vouches for the CTL ([`Vouched::Nothing`] when there is none).
    pub vouched: Vouched,
}

impl Client {
    /// **Fetch**: the first node's current CTL and mode. The CTL must parse and verify
    /// against its own SAST record, and, when a CTL is held for the cluster, a phone
    /// holding that one must take it; one the held CTL does not vouch for is refused, as
    /// every changing workflow refuses it. A CTL something vouches for becomes the one
    /// held ([`Client::anchor`]).
    ///
    /// # Errors
    /// The first node cannot be used; a CTL that does not parse or verify, or that the
    /// held CTL does not vouch for.
    pub async fn fetch(&self) -> Result<Fetched, Error> {
        let (host, port) = &self.publisher;
        let mut s = self
            .connector
            .connect(host, *port)
            .await
            .map_err(|e| self.on_publisher(e))?;
        let read = async {
            let ctl = read_ctl(&mut s).await?;
            let mode = read_mode(&mut s).await?;
            Ok((ctl, mode))
        }
        .await
        .map_err(|e| self.on_publisher(e));
        let _ = s.bye().await;
        let (ctl, mode) = read?;
        let Some(ctl) = ctl else {
            return Ok(Fetched {
                ctl: None,
                mode,
                vouched: Vouched::Nothing,
            });
        };
        let vouched = self.vouch(&ctl)?;
        if vouched != Vouched::Nothing {
            // Vouched for: held from now on, as a committed CTL is.
            self.hold(&ctl);
        }
        let sha256 = ctl_provider::ctl_hash(&ctl);
        Ok(Fetched {
            ctl: Some((ctl.into(), sha256)),
            mode,
            vouched,
        })
    }

    /// What vouches for `ctl`, which must verify; a held CTL that refuses it is an error.
    fn vouch(&self, ctl: &[u8]) -> Result<Vouched, Error> {
        let doc = ctl_format::parse_trust_list(ctl).map_err(Error::CurrentCtl)?;
        doc.verify(&ctl_format::RsaVerifier)
            .map_err(Error::CurrentSignature)?;
        let hash = ctl_provider::ctl_hash(ctl);
        if self.accepted == Some(hash) {
            return Ok(Vouched::Accepted);
        }
        let Some(held) = self.anchor() else {
            return Ok(Vouched::Nothing);
        };
        if held == ctl {
            return Ok(Vouched::Held);
        }
        let held_doc = ctl_format::parse_trust_list(&held).map_err(Error::CurrentCtl)?;
        match ctl_format::phone_accepts(Some(&held_doc), &doc, &ctl_format::RsaVerifier) {
            Ok(_) => Ok(Vouched::PhoneWouldTake),
            Err(e) => Err(untrusted_ctl(
                ctl,
                &sast_certificates(&doc)?,
                None,
                format!("a phone holding the CTL held here would refuse it: {e}"),
            )),
        }
    }
}
