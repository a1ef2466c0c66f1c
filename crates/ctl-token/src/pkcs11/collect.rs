//! Collecting security tokens the Cisco way: every token is removed, then they are
//! inserted one at a time; each one's certificate is read (no PIN needed), two at once
//! are refused, a token that carries an earlier one's certificate is refused, and the last
//! one stays inserted to sign.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use ctl_format::Certificate;

use super::wait::{self, CertificateSummary, TokenReport, Wait};
use super::{Module, Pkcs11Uri, TokenSummary, list_tokens};
use crate::Error;

/// What the collection tells the person at the keyboard, as it goes.
#[derive(Debug)]
#[non_exhaustive]
pub enum Step<'a> {
    /// Tokens were present when it started: they do not count.
    AlreadyPresent {
        /// How many.
        count: usize,
    },
    /// Insert the next token.
    Insert {
        /// Which, from 1.
        index: usize,
        /// Of how many.
        of: usize,
        /// How long it waits.
        wait: Duration,
    },
    /// A token was read.
    Collected {
        /// Which, from 1.
        index: usize,
        /// Of how many.
        of: usize,
        /// The token.
        token: &'a TokenSummary,
        /// Its certificate.
        certificate: &'a CertificateSummary,
    },
    /// Remove it before the next one.
    Remove,
}

/// The tokens collected.
#[derive(Debug)]
pub struct Collected {
    /// Their certificates, in the order they were inserted.
    pub certificates: Vec<Certificate>,
    /// The last token, which is still inserted.
    pub last: TokenSummary,
    /// A URI naming the last token and its certificate's key (no PIN in it).
    pub last_uri: Pkcs11Uri,
}

/// The certificate of a token: its only one, else the only one whose private key shows
/// without a login.
fn security_certificate(report: &TokenReport) -> Result<&CertificateSummary, Error> {
    let all = &report.certificates;
    let with_key: Vec<_> = all.iter().filter(|c| c.has_private_key).collect();
    match (all.as_slice(), with_key.as_slice()) {
        ([], _) => Err(Error::NotASecurityToken {
            token: report.summary.to_string(),
        }),
        ([one], _) => Ok(one),
        (_, [one]) => Ok(*one),
        _ => Err(Error::WhichCertificate {
            token: report.summary.to_string(),
            labels: all.iter().map(|c| c.label.clone()).collect(),
        }),
    }
}

/// The tokens present now (the modules looked at again: other processes may have added some).
fn present(modules: &[Module]) -> Result<Vec<TokenSummary>, Error> {
    for m in modules {
        m.rescan()?;
    }
    Ok(list_tokens(modules)?
        .iter()
        .map(|t| t.summary().clone())
        .collect())
}

/// Collects `n` tokens inserted one at a time, waiting up to `options.timeout` for each,
/// and tells `tell` each step.
///
/// # Errors
/// No token in time, two at once, a token without a certificate or with several, a token
/// that repeats an earlier one's certificate, or a module failure.
pub fn collect(
    modules: &[Module],
    n: usize,
    options: &Wait,
    mut tell: impl FnMut(Step<'_>),
) -> Result<Collected, Error> {
    let never = AtomicBool::new(false);
    let mut certificates: Vec<Certificate> = Vec::new();
    let mut last: Option<(TokenSummary, Vec<u8>)> = None;
    for index in 1..=n {
        let before = present(modules)?;
        if index == 1 && !before.is_empty() {
            tell(Step::AlreadyPresent {
                count: before.len(),
            });
        }
        tell(Step::Insert {
            index,
            of: n,
            wait: options.timeout,
        });
        let start = Instant::now();
        let report = loop {
            let left = options.timeout.saturating_sub(start.elapsed());
            let wait = Wait {
                timeout: left,
                rescan: true,
                ..*options
            };
            let r = wait::wait_for_new_token(modules, &before, &wait, &never)?;
            // A token still being written (its certificate not there yet) is looked at again.
            if !r.certificates.is_empty() || left.is_zero() {
                break r;
            }
            std::thread::sleep(options.poll);
        };
        let chosen = security_certificate(&report)?;
        let cert = Certificate::from_der(&chosen.der).map_err(|source| Error::Certificate {
            what: format!("token {}", report.summary),
            source,
        })?;
        if let Some(j) = certificates.iter().position(|c| c.der() == cert.der()) {
            return Err(Error::SameToken {
                token: report.summary.to_string(),
                earlier: j + 1,
                subject: chosen.subject.clone(),
            });
        }
        tell(Step::Collected {
            index,
            of: n,
            token: &report.summary,
            certificate: chosen,
        });
        if index < n {
            tell(Step::Remove);
        }
        certificates.push(cert);
        last = Some((report.summary.clone(), chosen.id.clone()));
    }
    let (summary, id) =
        last.ok_or_else(|| Error::Unsupported("no token to collect: asked for none".into()))?;
    let last_uri = Pkcs11Uri {
        token: Some(summary.label.clone()),
        serial: Some(summary.serial.clone()),
        id: (!id.is_empty()).then_some(id),
        module_path: Some(summary.module.clone()),
        ..Pkcs11Uri::default()
    };
    Ok(Collected {
        certificates,
        last: summary,
        last_uri,
    })
}
