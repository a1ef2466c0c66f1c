//! "Insert the next token": wait for a token that was not there before.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cryptoki::error::RvError;

use super::{Module, Token, TokenSummary, list_tokens};
use crate::Error;

/// A certificate found on a token.
#[derive(Clone, Debug)]
pub struct CertificateSummary {
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID.
    pub id: Vec<u8>,
    /// Subject, attributes in reversed DER order.
    pub subject: String,
    /// Serial number, hex.
    pub serial: String,
    /// notAfter, Unix seconds.
    pub not_after: u64,
    /// Whether a private key with the same CKA_ID is visible (private keys usually show only after a login).
    pub has_private_key: bool,
    /// Key size in bits, when known.
    pub key_bits: Option<usize>,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

/// A token and the certificates on it.
#[derive(Clone, Debug)]
pub struct TokenReport {
    /// The token.
    pub summary: TokenSummary,
    /// Its certificates (readable without a PIN).
    pub certificates: Vec<CertificateSummary>,
}

/// The token's public certificates, read without logging in.
///
/// # Errors
/// The token went away.
pub fn report(token: &Token) -> Result<TokenReport, Error> {
    let session = token.open_session()?;
    let certificates = token
        .objects(&session)?
        .into_iter()
        .filter_map(|e| {
            let der = e.certificate?;
            let cert = ctl_format::Certificate::from_der(&der).ok()?;
            Some(CertificateSummary {
                label: e.certificate_label.unwrap_or_default(),
                id: e.id,
                subject: cert.subject_text(ctl_format::NameStyle::Reversed),
                serial: ctl_format::hex(cert.serial()),
                not_after: cert.not_after(),
                has_private_key: e.private_key.is_some(),
                key_bits: e.key_bits,
                der,
            })
        })
        .collect();
    Ok(TokenReport {
        summary: token.summary().clone(),
        certificates,
    })
}

fn same(a: &TokenSummary, b: &TokenSummary) -> bool {
    a.module == b.module && a.label == b.label && a.serial == b.serial
}

/// How to wait for the next token.
#[derive(Clone, Copy, Debug)]
pub struct Wait {
    /// Give up after this long.
    pub timeout: Duration,
    /// Look this often.
    pub poll: Duration,
    /// Re-initialize the modules before each look ([`Module::rescan`]), for modules that
    /// only see tokens created by other processes after `C_Initialize` (SoftHSM2). No
    /// session of these modules may be open meanwhile.
    pub rescan: bool,
}

impl Default for Wait {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            poll: Duration::from_millis(250),
            rescan: false,
        }
    }
}

/// Waits until a token that is not in `before` is present, and reports it.
///
/// Looks every `wait.poll`; gives up after `wait.timeout` or when `cancel` is set. Two
/// new tokens at once are refused: the Cisco procedure inserts one token at a time.
///
/// # Errors
/// [`Error::Timeout`], [`Error::Cancelled`], [`Error::SeveralInserted`], or a module failure.
pub fn wait_for_new_token(
    modules: &[Module],
    before: &[TokenSummary],
    wait: &Wait,
    cancel: &AtomicBool,
) -> Result<TokenReport, Error> {
    let (timeout, poll) = (wait.timeout, wait.poll);
    let start = Instant::now();
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        if wait.rescan {
            for m in modules {
                m.rescan()?;
            }
        }
        let now_present = list_tokens(modules)?;
        // A token whose user PIN is not set yet is still being provisioned: opening a
        // session on it now would make its security officer's login fail
        // (CKR_SESSION_READ_ONLY_EXISTS); it counts once it is ready.
        let new: Vec<Token> = now_present
            .into_iter()
            .filter(|t| !before.iter().any(|b| same(b, t.summary())))
            .filter(|t| t.summary().flags.user_pin_initialized)
            .collect();
        match new.as_slice() {
            [] => {}
            [one] => match report(one) {
                Ok(r) => return Ok(r),
                // Still being set up (a security officer session is open): look again next time.
                Err(Error::Pkcs11 {
                    source: cryptoki::error::Error::Pkcs11(RvError::SessionReadWriteSoExists, _),
                    ..
                }) => {}
                Err(e) => return Err(e),
            },
            several => {
                return Err(Error::SeveralInserted {
                    tokens: several.iter().map(Token::name).collect(),
                });
            }
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(Error::Timeout(timeout));
        }
        std::thread::sleep(poll.min(timeout - elapsed));
    }
}
