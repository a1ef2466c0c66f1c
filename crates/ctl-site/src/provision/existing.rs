//! What a name of the output directory holds against what the manifest makes, and the
//! signers a run opens only when a file must be signed.

use std::sync::{Mutex, OnceLock};

use ctl_format::{BuildError, Certificate, FileKind, ParseOptions, Signer, SignerError};
use ctl_token::SignerOptions;

use super::Action;
use crate::error::ProvisionError;
use crate::fsutil::Found;
use crate::keys::{Key, SharedSigner};

/// A signer that "signs" with a signature already made: rebuilding a file at its own
/// timestamp with it gives the file back, byte for byte, exactly when its content is
/// what the manifest makes and the signature is the key's over it (the builder checks).
pub(super) struct Replay<'a> {
    cert: &'a [u8],
    signature: &'a [u8],
}

impl Signer for Replay<'_> {
    fn certificate(&self) -> &[u8] {
        self.cert
    }

    fn sign(&self, _: ctl_format::DigestAlgorithm, _: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(self.signature.to_vec())
    }
}

/// What a name in the output directory holds, against what the manifest makes.
pub(super) enum Existing {
    /// The file the manifest makes.
    Same,
    /// Another file (its timestamp, when it has one, for the next to move past).
    Differs(Option<u32>),
    /// Nothing.
    Absent,
    /// Not a regular file.
    NotAFile,
}

impl Existing {
    /// Compares `found` with what `build` makes at the found file's timestamp.
    pub(super) fn of(
        found: Found,
        kind: FileKind,
        cert: &Certificate,
        build: impl FnOnce(u32, &dyn Signer) -> Result<Vec<u8>, BuildError>,
    ) -> Self {
        let bytes = match found {
            Found::Absent => return Self::Absent,
            Found::Other(_) => return Self::NotAFile,
            Found::File(b) => b,
        };
        let Ok(doc) = ctl_format::parse_with(&bytes, Some(kind), &ParseOptions::default()) else {
            return Self::Differs(None);
        };
        let Some(ts) = doc.header().timestamp() else {
            return Self::Differs(None);
        };
        let replay = Replay {
            cert: cert.der(),
            signature: doc.header().signature(),
        };
        match build(ts, &replay) {
            Ok(rebuilt) if rebuilt == bytes => Self::Same,
            _ => Self::Differs(Some(ts)),
        }
    }

    /// The action that replaces it, and the timestamp the new file carries.
    pub(super) fn action(&self, now: u32) -> (Action, u32) {
        match self {
            Self::Same => (Action::Updated, now),
            Self::Absent => (Action::Created, now),
            Self::NotAFile | Self::Differs(None) => (Action::Replaced, now),
            Self::Differs(Some(old)) => (Action::Updated, now.max(old.saturating_add(1))),
        }
    }
}

/// A signer opened the first time a file needs it (a token asks for its PIN only then).
pub(super) struct Lazy<'k> {
    key: Option<&'k Key>,
    options: &'k SignerOptions,
    cell: OnceLock<Option<SharedSigner>>,
    error: Mutex<Option<ProvisionError>>,
}

impl<'k> Lazy<'k> {
    pub(super) fn new(key: &'k Key, options: &'k SignerOptions) -> Self {
        Self {
            key: Some(key),
            options,
            cell: OnceLock::new(),
            error: Mutex::new(None),
        }
    }

    /// A signer already open.
    pub(super) fn ready(signer: SharedSigner, options: &'k SignerOptions) -> Self {
        Self {
            key: None,
            options,
            cell: OnceLock::from(Some(signer)),
            error: Mutex::new(None),
        }
    }

    pub(super) fn get(&self) -> Result<&SharedSigner, ProvisionError> {
        let opened = self
            .cell
            .get_or_init(|| match self.key.map(|k| k.open(self.options)) {
                Some(Ok(s)) => Some(s),
                Some(Err(e)) => {
                    *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    None
                }
                None => None,
            });
        // Every caller but the one that tried gets a stand-in; the run reports the real
        // error ([`failure`](Self::failure)) whichever file failed first.
        opened.as_ref().ok_or_else(|| ProvisionError::Source {
            path: self
                .key
                .map_or_else(|| "signer".into(), |k| k.source.to_string().into()),
            reason: "the signer could not be opened".into(),
        })
    }

    /// Why the signer could not be opened, once.
    pub(super) fn failure(&self) -> Option<ProvisionError> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}
