//! Where a PIN comes from: the caller, `pin-value`, `pin-source`, or the terminal.

#[cfg(feature = "prompt")]
use std::io::IsTerminal as _;
use std::io::Read as _;
use std::path::Path;

use secrecy::{ExposeSecret as _, SecretString};
use zeroize::Zeroizing;

use super::uri::Pkcs11Uri;
use crate::Error;

/// PINs that tokens ship with; a token still on one must have it changed before it signs.
pub const DEFAULT_FACTORY_PINS: &[&str] = &["Cisco123"];

/// Reads a PIN file: its first line, without the line end. At most 4 KiB is read.
///
/// # Errors
/// The file cannot be read or is empty.
pub fn read_pin_file(path: &Path) -> Result<SecretString, Error> {
    let source_name = path.display().to_string();
    let fail = |reason: String| Error::PinSource {
        source_name: source_name.clone(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(ctl_format::io_words(&e)))?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(4096)
        .read_to_end(&mut buf)
        .map_err(|e| fail(ctl_format::io_words(&e)))?;
    let text = std::str::from_utf8(&buf).map_err(|_| fail("not UTF-8 text".to_owned()))?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(fail("empty".to_owned()));
    }
    Ok(SecretString::from(line))
}

/// The path of a `pin-source`: `file:/path`, `file:///path` or a plain path.
fn source_path(source: &str) -> &Path {
    let s = source
        .strip_prefix("file://")
        .or_else(|| source.strip_prefix("file:"))
        .unwrap_or(source);
    Path::new(s)
}

/// Asks for a secret on the terminal, without echo (feature `prompt`).
///
/// # Errors
/// The terminal cannot be read.
#[cfg(feature = "prompt")]
pub fn prompt(prompt: &str) -> Result<SecretString, Error> {
    rpassword::prompt_password(prompt)
        .map(SecretString::from)
        .map_err(|e| Error::PinSource {
            source_name: "the terminal".to_owned(),
            reason: e.to_string(),
        })
}

/// Changes the user PIN of the token the URI names (C_SetPIN). The old PIN comes
/// from `old`, or the URI's PIN sources (or the terminal, with feature `prompt`).
///
/// # Errors
/// A wrong old PIN, a new PIN the token refuses, a token that went away.
pub fn change_pin(
    uri: &Pkcs11Uri,
    old: Option<&SecretString>,
    new: &SecretString,
) -> Result<(), Error> {
    let mut token = super::select_token(uri)?;
    let old = resolve(uri, old, &token.summary().label, true)?;
    let session = token.open_rw_session()?;
    token.login(&session, &old)?;
    session
        .set_pin(
            &cryptoki::types::AuthPin::from(old.expose_secret()),
            &cryptoki::types::AuthPin::from(new.expose_secret()),
        )
        .map_err(|e| token.error("C_SetPIN", e))?;
    Ok(())
}

/// The PIN for `token`: `explicit`, else the URI's `pin-value`, else its `pin-source`,
/// else asked on the terminal (without echo) when `prompt` is set, stdin is a terminal and
/// the crate has feature `prompt`.
///
/// # Errors
/// An unreadable source, or no PIN at all.
pub fn resolve(
    uri: &Pkcs11Uri,
    explicit: Option<&SecretString>,
    token: &str,
    prompt: bool,
) -> Result<SecretString, Error> {
    if let Some(p) = explicit {
        return Ok(p.clone());
    }
    if let Some(p) = &uri.pin_value {
        return Ok(p.clone());
    }
    if let Some(source) = &uri.pin_source {
        return read_pin_file(source_path(source));
    }
    #[cfg(feature = "prompt")]
    if prompt && std::io::stdin().is_terminal() {
        return self::prompt(&format!("PIN for token {token}: "));
    }
    #[cfg(not(feature = "prompt"))]
    let _ = prompt;
    Err(Error::NoPin {
        token: token.to_owned(),
    })
}
