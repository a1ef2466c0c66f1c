//! Issue 12: what `ctl cluster` says about servers that are not providers and about
//! refusals: what happened in words, never a library's internals or a doubled code.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use ctl_test_support::start;

use crate::support::{stderr, v};

fn discover(port: u16, password: &Path, known: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ctl"))
        .args(["cluster", "discover", "--publisher"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--user", "admin", "--password-file"])
        .arg(password)
        .arg("--known-providers")
        .arg(known)
        .arg("--trust-on-first-use")
        .args(if extra.contains(&"--timeout") {
            &[][..]
        } else {
            &["--timeout", "2"][..]
        })
        .args(extra)
        .output()
        .unwrap()
}

/// One line, exit 1, naming the first node, without what must not be there.
fn assert_says(o: &Output, says: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(says), "{err}");
    for leak in [
        "http",
        "os error",
        "InvalidContentType",
        "LOGIN_REFUSED",
        "login-refused",
    ] {
        assert!(!err.contains(leak), "{leak} in {err}");
    }
}

#[test]
fn a_server_that_is_no_provider_is_named_so_and_not_unreachable() {
    let tmp = tempfile::tempdir().unwrap();
    let password = tmp.path().join("password");
    std::fs::write(&password, "s3cret\n").unwrap();
    let known = tmp.path().join("known");

    // A web server: answers, but not in TLS.
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let plain_port = plain.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in plain.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
        }
    });
    let o = discover(plain_port, &password, &known, &[]);
    assert_says(
        &o,
        "protocol mismatch: not a CTL provider (it does not speak TLS)",
    );

    // A TLS server that never answers HELLO.
    let key = ctl_token::SoftwareSigner::from_files(Path::new(&v("keys/ccm.pem")), None)
        .unwrap()
        .pkcs8_der()
        .unwrap();
    let cert = std::fs::read(v("keys/ccm.crt.der")).unwrap();
    let config = ctl_provider::net::server_tls(vec![cert], key.to_vec()).unwrap();
    let tls = TcpListener::bind("127.0.0.1:0").unwrap();
    let tls_port = tls.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut tcp in tls.incoming().flatten() {
            let config = std::sync::Arc::clone(&config);
            std::thread::spawn(move || {
                let mut conn = ctl_provider::net::rustls::ServerConnection::new(config).unwrap();
                while conn.is_handshaking() {
                    if conn.complete_io(&mut tcp).is_err() {
                        return;
                    }
                }
                std::thread::sleep(std::time::Duration::from_secs(5));
            });
        }
    });
    let o = discover(tls_port, &password, &known, &[]);
    assert_says(&o, "not a CTL provider (no answer to the protocol's HELLO)");
    assert!(
        std::fs::read_to_string(&known)
            .unwrap_or_default()
            .is_empty(),
        "a server that is no provider was pinned"
    );
}

#[test]
fn a_refused_login_says_so_once() {
    let tmp = tempfile::tempdir().unwrap();
    let node = start(&crate::support::lone_first_node(tmp.path()));
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "not the password\n").unwrap();
    let o = discover(node.port, &wrong, &tmp.path().join("known"), &[]);
    assert_says(&o, "login refused: wrong user or password");
    assert_eq!(stderr(&o).matches("refused").count(), 1, "{}", stderr(&o));

    // With --json, scripts get one object on stdout, whatever failed and when.
    let o = discover(
        node.port,
        &wrong,
        &tmp.path().join("known"),
        &["--json", "--timeout", "20"],
    );
    let j: serde_json::Value = serde_json::from_str(&crate::support::stdout(&o)).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(j["error_code"], "publisher");
    assert!(
        j["error"].as_str().unwrap().contains("login refused"),
        "{j}"
    );
    let missing = tmp.path().join("no-password-file");
    let o = discover(node.port, &missing, &tmp.path().join("known"), &["--json"]);
    // An I/O failure (exit 1, as the README's table says).
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_str(&crate::support::stdout(&o)).unwrap();
    assert_eq!(j["error_code"], "failed");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .ends_with("no-password-file: no such file or directory"),
        "{j}"
    );
    // A wrong call, too.
    let o = discover(
        node.port,
        &wrong,
        &tmp.path().join("known"),
        &["--json", "--bogus"],
    );
    assert_eq!(o.status.code(), Some(2));
    let j: serde_json::Value = serde_json::from_str(&crate::support::stdout(&o)).unwrap();
    assert_eq!(j["error_code"], "usage");
    assert!(j["error"].as_str().unwrap().contains("--bogus"), "{j}");
}
