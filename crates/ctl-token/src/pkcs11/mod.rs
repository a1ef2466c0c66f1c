//! PKCS#11 tokens: discovery, selection by URI, login, and the objects on a token.

use std::fmt;
use std::path::PathBuf;

use cryptoki::error::RvError;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::{ExposeSecret as _, SecretString};

use crate::Error;

pub mod collect;
#[cfg(feature = "lab")]
#[cfg_attr(docsrs, doc(cfg(feature = "lab")))]
pub mod lab;
mod mechanisms;
pub mod module;
pub mod pin;
mod registry;
pub mod signer;
pub mod uri;
pub mod wait;

pub use module::Module;
pub use uri::Pkcs11Uri;

/// What a token says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSummary {
    /// The module that serves it.
    pub module: PathBuf,
    /// Its slot number (not stable across modules' restarts; select by label or serial).
    pub slot_id: u64,
    /// CKA label.
    pub label: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Token flags.
    pub flags: TokenFlags,
}

/// The token flags a user acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // they are the token's flags
pub struct TokenFlags {
    /// A login is needed to use private objects.
    pub login_required: bool,
    /// The user PIN is set.
    pub user_pin_initialized: bool,
    /// A wrong PIN was entered since the last good one.
    pub user_pin_count_low: bool,
    /// The next wrong PIN locks the token.
    pub user_pin_final_try: bool,
    /// The user PIN is locked.
    pub user_pin_locked: bool,
    /// The token asks for its PIN to be changed (factory PIN).
    pub user_pin_to_be_changed: bool,
    /// Read-only token.
    pub write_protected: bool,
    /// PIN entry on the token's own pad.
    pub protected_authentication_path: bool,
}

impl fmt::Display for TokenSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} (serial {}, {} {})",
            self.label, self.serial, self.manufacturer, self.model
        )
    }
}

/// A token in a slot of a loaded module.
#[derive(Clone, Debug)]
pub struct Token {
    module: Module,
    slot: Slot,
    summary: TokenSummary,
}

impl Token {
    /// What the token says about itself.
    pub const fn summary(&self) -> &TokenSummary {
        &self.summary
    }

    /// The module serving it.
    pub const fn module(&self) -> &Module {
        &self.module
    }

    pub(crate) const fn slot(&self) -> Slot {
        self.slot
    }

    pub(crate) fn name(&self) -> String {
        self.summary.to_string()
    }

    /// A URI naming this token (by label and serial) and its module.
    pub fn uri(&self) -> Pkcs11Uri {
        Pkcs11Uri {
            token: Some(self.summary.label.clone()),
            serial: Some(self.summary.serial.clone()),
            module_path: Some(self.summary.module.clone()),
            ..Pkcs11Uri::default()
        }
    }

    /// Reads the token's information again (flags change after logins).
    ///
    /// # Errors
    /// The token went away.
    pub fn refresh(&mut self) -> Result<(), Error> {
        let info = self
            .module
            .ctx()
            .get_token_info(self.slot)
            .map_err(|e| self.error("C_GetTokenInfo", e))?;
        self.summary = summary(&self.module, self.slot, &info);
        Ok(())
    }

    /// Maps a cryptoki error: a token that went away is [`Error::TokenRemoved`].
    pub(crate) fn error(&self, operation: &'static str, e: cryptoki::error::Error) -> Error {
        token_error(&self.name(), operation, e)
    }

    /// Opens a read-only session.
    ///
    /// # Errors
    /// The token went away.
    pub(crate) fn open_session(&self) -> Result<Session, Error> {
        self.module
            .ctx()
            .open_ro_session(self.slot)
            .map_err(|e| self.error("C_OpenSession", e))
    }

    /// Opens a read-write session.
    ///
    /// # Errors
    /// The token went away or is write-protected.
    pub(crate) fn open_rw_session(&self) -> Result<Session, Error> {
        self.module
            .ctx()
            .open_rw_session(self.slot)
            .map_err(|e| self.error("C_OpenSession", e))
    }

    /// Logs the user in, with distinct errors for a wrong PIN, a low count, a final try and a lock.
    ///
    /// # Errors
    /// See above; a token that went away.
    pub(crate) fn login(&mut self, session: &Session, pin: &SecretString) -> Result<(), Error> {
        self.refresh()?;
        let token = self.name();
        if self.summary.flags.user_pin_locked {
            return Err(Error::PinLocked { token });
        }
        let auth = cryptoki::types::AuthPin::from(pin.expose_secret());
        match session.login(UserType::User, Some(&auth)) {
            Ok(()) | Err(cryptoki::error::Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(cryptoki::error::Error::Pkcs11(
                RvError::PinIncorrect | RvError::PinLenRange,
                _,
            )) => {
                self.refresh()?;
                Err(wrong_pin(self.summary.flags, token))
            }
            Err(cryptoki::error::Error::Pkcs11(RvError::PinLocked, _)) => {
                Err(Error::PinLocked { token })
            }
            Err(e) => Err(self.error("C_Login", e)),
        }
    }

    /// The key and certificate pairs on the token; with a PIN, after a login, so private keys show too.
    ///
    /// # Errors
    /// A wrong PIN, or the token went away.
    pub fn list_objects(&mut self, pin: Option<&SecretString>) -> Result<Vec<KeyEntry>, Error> {
        let session = self.open_session()?;
        if let Some(pin) = pin {
            self.login(&session, pin)?;
        }
        self.objects(&session)
    }

    /// The key and certificate pairs on the token (private keys only show after a login).
    ///
    /// # Errors
    /// The token went away.
    pub(crate) fn objects(&self, session: &Session) -> Result<Vec<KeyEntry>, Error> {
        let find = |class| {
            session
                .find_objects(&[Attribute::Class(class)])
                .map_err(|e| self.error("C_FindObjects", e))
        };
        let mut entries: Vec<KeyEntry> = Vec::new();
        for (class, kind) in [
            (ObjectClass::PRIVATE_KEY, Part::Private),
            (ObjectClass::PUBLIC_KEY, Part::Public),
            (ObjectClass::CERTIFICATE, Part::Certificate),
        ] {
            for handle in find(class)? {
                let attrs = session
                    .get_attributes(
                        handle,
                        &[
                            AttributeType::Id,
                            AttributeType::Label,
                            AttributeType::KeyType,
                            AttributeType::Value,
                            AttributeType::Modulus,
                        ],
                    )
                    .map_err(|e| self.error("C_GetAttributeValue", e))?;
                let mut id = Vec::new();
                let mut label = String::new();
                let mut key_type = None;
                let mut value = None;
                let mut modulus_bits = None;
                for a in attrs {
                    match a {
                        Attribute::Id(v) => id = v,
                        Attribute::Label(v) => label = String::from_utf8_lossy(&v).into_owned(),
                        Attribute::KeyType(t) => key_type = Some(t),
                        Attribute::Value(v) => value = Some(v),
                        Attribute::Modulus(m) => modulus_bits = Some(bits(&m)),
                        _ => {}
                    }
                }
                let entry = match entries.iter_mut().position(|e| e.id == id) {
                    Some(i) => &mut entries[i],
                    None => {
                        entries.push(KeyEntry {
                            id: id.clone(),
                            ..KeyEntry::default()
                        });
                        let last = entries.len() - 1;
                        &mut entries[last]
                    }
                };
                if entry.label.is_empty() {
                    entry.label.clone_from(&label);
                }
                match kind {
                    Part::Private => {
                        entry.private_key = Some(handle);
                        entry.key_type = key_type.map(key_type_name);
                        entry.key_bits = entry.key_bits.or(modulus_bits);
                    }
                    Part::Public => {
                        entry.has_public_key = true;
                        entry.key_type = entry.key_type.clone().or(key_type.map(key_type_name));
                        entry.key_bits = entry.key_bits.or(modulus_bits);
                    }
                    Part::Certificate => {
                        entry.certificate_label = Some(label);
                        entry.certificate = value;
                    }
                }
            }
        }
        for e in &mut entries {
            if let Some(Ok(cert)) = e
                .certificate
                .as_deref()
                .map(ctl_format::Certificate::from_der)
            {
                if let ctl_format::PublicKey::Rsa { bits, .. } = cert.public_key() {
                    e.key_bits = e.key_bits.or(Some(*bits));
                }
                e.key_type = e
                    .key_type
                    .clone()
                    .or(Some(cert.public_key().algorithm().to_owned()));
            }
        }
        Ok(entries)
    }
}

/// The error for a refused PIN, from the flags the token shows after the refusal.
fn wrong_pin(flags: TokenFlags, token: String) -> Error {
    if flags.user_pin_locked {
        Error::PinLocked { token }
    } else if flags.user_pin_final_try {
        Error::PinFinalTry { token }
    } else if flags.user_pin_count_low {
        Error::PinCountLow { token }
    } else {
        Error::PinIncorrect { token }
    }
}

#[derive(Clone, Copy)]
enum Part {
    Private,
    Public,
    Certificate,
}

fn bits(modulus: &[u8]) -> usize {
    let trimmed: &[u8] = {
        let mut m = modulus;
        while let [0, rest @ ..] = m {
            m = rest;
        }
        m
    };
    trimmed
        .first()
        .map_or(0, |top| trimmed.len() * 8 - top.leading_zeros() as usize)
}

fn key_type_name(t: KeyType) -> String {
    if t == KeyType::RSA {
        "RSA".to_owned()
    } else if t == KeyType::EC {
        "EC".to_owned()
    } else {
        t.to_string()
    }
}

/// A key pair or certificate on a token, grouped by CKA_ID.
#[derive(Clone, Debug, Default)]
pub struct KeyEntry {
    /// CKA_ID.
    pub id: Vec<u8>,
    /// CKA_LABEL of the key (or of the certificate when there is no key).
    pub label: String,
    /// `RSA`, `EC` or another key type.
    pub key_type: Option<String>,
    /// Key size in bits (RSA).
    pub key_bits: Option<usize>,
    /// The private key, when visible (after a login).
    pub(crate) private_key: Option<ObjectHandle>,
    /// A public key object with this id exists.
    pub has_public_key: bool,
    /// The certificate with this id, DER.
    pub certificate: Option<Vec<u8>>,
    /// Its label.
    pub certificate_label: Option<String>,
}

impl KeyEntry {
    /// Whether the entry matches the URI's object attributes (label of the key or the certificate, id).
    pub fn matches(&self, uri: &Pkcs11Uri) -> bool {
        let label_ok = uri
            .object
            .as_deref()
            .is_none_or(|o| o == self.label || self.certificate_label.as_deref() == Some(o));
        let id_ok = uri.id.as_deref().is_none_or(|id| id == self.id.as_slice());
        label_ok && id_ok
    }

    /// Whether a private key with this id is visible (private keys usually show only after a login).
    pub const fn has_private_key(&self) -> bool {
        self.private_key.is_some()
    }

    /// `label (id HEX)`.
    pub fn describe(&self) -> String {
        format!("{:?} (id {})", self.label, ctl_format::hex(&self.id))
    }
}

/// A text field of CK_TOKEN_INFO without its padding: blanks by the standard, NULs on
/// some modules (tpm2-pkcs11 pads its model so); control characters left inside are
/// escaped, so that a token's name never breaks a one-line message.
fn token_text(field: &str) -> String {
    field
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn summary(module: &Module, slot: Slot, info: &cryptoki::slot::TokenInfo) -> TokenSummary {
    TokenSummary {
        module: module.path().to_owned(),
        slot_id: slot.id(),
        label: token_text(info.label()),
        manufacturer: token_text(info.manufacturer_id()),
        model: token_text(info.model()),
        serial: token_text(info.serial_number()),
        flags: TokenFlags {
            login_required: info.login_required(),
            user_pin_initialized: info.user_pin_initialized(),
            user_pin_count_low: info.user_pin_count_low(),
            user_pin_final_try: info.user_pin_final_try(),
            user_pin_locked: info.user_pin_locked(),
            user_pin_to_be_changed: info.user_pin_to_be_changed(),
            write_protected: info.write_protected(),
            protected_authentication_path: info.protected_authentication_path(),
        },
    }
}

pub(crate) fn token_error(
    token: &str,
    operation: &'static str,
    e: cryptoki::error::Error,
) -> Error {
    match e {
        cryptoki::error::Error::Pkcs11(
            RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::SlotIdInvalid
            | RvError::ObjectHandleInvalid
            | RvError::KeyHandleInvalid,
            _,
        ) => Error::TokenRemoved {
            token: token.to_owned(),
            operation,
        },
        cryptoki::error::Error::Pkcs11(rv, function) => Error::Pkcs11 {
            token: token.to_owned(),
            function: format!("{function:?}"),
            code: format!("{rv:?}"),
            source: e,
        },
        other => Error::Pkcs11 {
            token: token.to_owned(),
            function: operation.to_owned(),
            code: other.to_string(),
            source: other,
        },
    }
}

/// Every initialized token in the given modules.
///
/// ```no_run
/// use ctl_token::pkcs11::{Module, list_tokens};
///
/// for token in list_tokens(&Module::defaults()?)? {
///     println!("{}: {}", token.summary(), token.uri());
/// }
/// # Ok::<(), ctl_token::Error>(())
/// ```
///
/// # Errors
/// A module that fails to list its slots.
pub fn list_tokens(modules: &[Module]) -> Result<Vec<Token>, Error> {
    let mut out = Vec::new();
    for module in modules {
        let name = module.path().display().to_string();
        let slots = module
            .ctx()
            .get_slots_with_token()
            .map_err(|e| token_error(&name, "C_GetSlotList", e))?;
        for slot in slots {
            // A token pulled out between the two calls is simply not listed.
            let Ok(info) = module.ctx().get_token_info(slot) else {
                continue;
            };
            if !info.token_initialized() {
                continue;
            }
            out.push(Token {
                module: module.clone(),
                slot,
                summary: summary(module, slot, &info),
            });
        }
    }
    Ok(out)
}

/// The one token a URI names.
///
/// # Errors
/// No module, no matching token, or several (the Cisco guide: never two tokens at once).
pub fn select_token(uri: &Pkcs11Uri) -> Result<Token, Error> {
    let modules = Module::for_uri(uri)?;
    let tokens = list_tokens(&modules)?;
    let (matching, others): (Vec<Token>, Vec<Token>) = tokens.into_iter().partition(|t| {
        let s = &t.summary;
        uri.matches_token(&s.label, &s.manufacturer, &s.model, &s.serial)
            && uri.slot_id.is_none_or(|id| id == s.slot_id)
    });
    match matching.len() {
        1 => Ok(matching
            .into_iter()
            .next()
            .ok_or_else(|| Error::Internal("token vanished".into()))?),
        0 => Err(Error::TokenNotPresent {
            uri: uri.to_string(),
            present: if others.is_empty() {
                "none".to_owned()
            } else {
                others
                    .iter()
                    .map(Token::name)
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        }),
        _ => Err(Error::AmbiguousToken {
            uri: uri.to_string(),
            tokens: matching.iter().map(Token::name).collect(),
        }),
    }
}

/// What is on a token, for error messages: `"a" (id 01), "b" (id 02)` or `nothing`.
pub(crate) fn inventory(entries: &[KeyEntry]) -> String {
    if entries.is_empty() {
        return "nothing".to_owned();
    }
    entries
        .iter()
        .map(KeyEntry::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The certificate a URI names on its token, read without a PIN (certificates are public objects).
///
/// # Errors
/// No or several tokens, no certificate, or several certificates matching.
pub fn certificate_for(uri: &Pkcs11Uri) -> Result<Vec<u8>, Error> {
    let token = select_token(uri)?;
    let session = token.open_session()?;
    let entries = token.objects(&session)?;
    let mut certs: Vec<&KeyEntry> = entries
        .iter()
        .filter(|e| e.certificate.is_some() && e.matches(uri))
        .collect();
    match certs.len() {
        1 => Ok(certs
            .pop()
            .and_then(|e| e.certificate.clone())
            .unwrap_or_default()),
        0 => Err(Error::KeyNotFound {
            token: token.name(),
            what: format!(
                "no certificate matches {uri}; on the token: {}",
                inventory(&entries)
            ),
        }),
        _ => Err(Error::AmbiguousKey {
            token: token.name(),
            keys: certs.iter().map(|e| e.describe()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_fields_lose_blank_and_nul_padding_and_never_carry_control_characters() {
        assert_eq!(token_text("SW   TPM\0\0\0\0"), "SW   TPM");
        assert_eq!(token_text("  SoftHSM project   "), "SoftHSM project");
        assert_eq!(token_text("a\nb\0c"), "a\\nb\\u{0}c");
    }

    #[test]
    fn each_pin_state_has_its_own_error() {
        let t = || "\"SAST1\" (serial 1)".to_owned();
        let base = TokenFlags::default();
        assert!(matches!(wrong_pin(base, t()), Error::PinIncorrect { .. }));
        let low = TokenFlags {
            user_pin_count_low: true,
            ..base
        };
        assert!(matches!(wrong_pin(low, t()), Error::PinCountLow { .. }));
        let last = TokenFlags {
            user_pin_count_low: true,
            user_pin_final_try: true,
            ..base
        };
        let e = wrong_pin(last, t());
        assert!(matches!(e, Error::PinFinalTry { .. }));
        assert!(e.to_string().contains("next wrong PIN locks"), "{e}");
        let locked = TokenFlags {
            user_pin_locked: true,
            user_pin_final_try: true,
            ..base
        };
        let e = wrong_pin(locked, t());
        assert!(matches!(e, Error::PinLocked { .. }));
        assert!(e.to_string().contains("locked"), "{e}");
    }

    #[test]
    fn key_sizes_from_moduli() {
        assert_eq!(bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(bits(&[0x01, 0xff]), 9);
        assert_eq!(bits(&[]), 0);
    }
}
