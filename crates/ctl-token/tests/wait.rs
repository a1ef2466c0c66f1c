//! Waiting for the next token, on a real SoftHSM2 module. In a test binary of its own:
//! tokens created by other tests in the same process would count as "inserted".
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ctl_format::Certificate;
use ctl_test_support::{module, new_token};
use ctl_token::Error;
use ctl_token::pkcs11::{lab, list_tokens, wait};
use rsa::pkcs8::DecodePrivateKey as _;
use secrecy::SecretString;

/// Reads a shared test file by name.
fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(ctl_test_support::fixture(name)).unwrap()
}

fn token_with_vector_key(name: &str, user_pin: &str) -> String {
    let (mut token, label) = new_token(name, user_pin);
    let pin = SecretString::from(user_pin);
    let key_pem = String::from_utf8(fixture(&format!("{name}.key.pem"))).unwrap();
    let key = rsa::PrivateKey::from_pkcs8_pem(&key_pem).unwrap();
    let cert = Certificate::from_pem(&fixture(&format!("{name}.crt.pem"))).unwrap();
    lab::import_rsa_key(&mut token, &pin, &key, &[1], name).unwrap();
    lab::import_certificate(&mut token, &pin, cert.der(), &[1], name).unwrap();
    label
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
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
    let label = token_with_vector_key("sast2", "1234");
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
