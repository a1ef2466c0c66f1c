//! Waiting for the next token, on the real module under test (SoftHSM2 or tpm2-pkcs11). In a test binary of its own:
//! tokens created by other tests in the same process would count as "inserted".
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ctl_test_support::{module, new_token};
use ctl_token::Error;
use ctl_token::pkcs11::{lab, list_tokens, wait};
use secrecy::SecretString;

/// A new token holding the `name` vector certificate (no key: importing one can make the
/// module re-read its store, under the waiter's feet).
fn token_with_certificate(name: &str, user_pin: &str) -> String {
    let (mut token, label) = new_token(name, user_pin);
    let cert = ctl_test_support::certificate(name);
    lab::import_certificate(
        &mut token,
        &SecretString::from(user_pin),
        cert.der(),
        &[1],
        name,
    )
    .unwrap();
    label
}

#[test]
#[cfg_attr(
    not(pkcs11),
    ignore = "the PKCS#11 module under test (CTL_TEST_PKCS11) is not installed; scripts/test installs it and runs these"
)]
fn waiting_for_the_next_token() {
    let modules = vec![module()];
    let before: Vec<_> = list_tokens(&modules)
        .unwrap()
        .iter()
        .map(|t| t.summary().clone())
        .collect();
    let cancel = AtomicBool::new(false);
    // Nothing new: a timeout.
    let err = wait::wait_for_new_token(
        &modules,
        &before,
        &wait::Wait {
            timeout: Duration::from_millis(300),
            poll: Duration::from_millis(50),
            rescan: false,
        },
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    // Cancelled.
    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    let err = wait::wait_for_new_token(
        &modules,
        &before,
        &wait::Wait {
            timeout: Duration::from_secs(5),
            poll: Duration::from_millis(50),
            rescan: false,
        },
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    cancel.store(false, std::sync::atomic::Ordering::Relaxed);
    // A token inserted while waiting is reported with its certificate.
    let waiter = {
        let modules = modules.clone();
        let before = before.clone();
        std::thread::spawn(move || {
            let cancel = AtomicBool::new(false);
            wait::wait_for_new_token(
                &modules,
                &before,
                &wait::Wait {
                    timeout: Duration::from_secs(20),
                    poll: Duration::from_millis(50),
                    rescan: false,
                },
                &cancel,
            )
        })
    };
    std::thread::sleep(Duration::from_millis(150));
    let label = token_with_certificate("sast2", "1234");
    let report = waiter.join().unwrap().unwrap();
    assert_eq!(report.summary.label, label);
    // The report lists the certificate on the token (read again: the waiter may have
    // seen the token before the certificate was written to it).
    let token = list_tokens(&modules)
        .unwrap()
        .into_iter()
        .find(|t| t.summary().label == label)
        .unwrap();
    let report = wait::report(&token).unwrap();
    assert_eq!(report.certificates.len(), 1);
    assert!(
        report.certificates[0].subject.contains("CN=SAST-2"),
        "{:?}",
        report.certificates
    );
    assert_eq!(
        report.certificates[0].serial,
        "3c1f27000000afa2da450102030405aa"
    );
    assert_eq!(report.certificates[0].key_bits, Some(2048));
    // Two new tokens at once are refused.
    let (_, x) = new_token("pair", "1234");
    let (_, y) = new_token("pair", "1234");
    let err = wait::wait_for_new_token(
        &modules,
        &before,
        &wait::Wait {
            timeout: Duration::from_secs(1),
            poll: Duration::from_millis(50),
            rescan: false,
        },
        &cancel,
    )
    .unwrap_err();
    let Error::SeveralInserted { tokens } = &err else {
        panic!("{err}")
    };
    assert!(
        tokens.iter().any(|t| t.contains(&x)) && tokens.iter().any(|t| t.contains(&y)),
        "{err}"
    );
}
