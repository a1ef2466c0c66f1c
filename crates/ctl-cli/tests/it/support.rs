//! What the tests share: a SoftHSM2 token directory of its own and the `ctl` binary run
//! against it, the connection flags of `ctl cluster`.

use std::path::PathBuf;
use std::process::{Command, Output};

pub(crate) const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

pub(crate) fn module() -> String {
    std::env::var("CTL_TEST_PKCS11_MODULE").unwrap_or_else(|_| MODULE.to_owned())
}

pub(crate) fn vectors() -> PathBuf {
    ctl_test_support::vectors()
}

pub(crate) fn v(rel: &str) -> String {
    vectors().join(rel).display().to_string()
}

/// A SoftHSM2 token directory of its own, with PIN files.
pub(crate) struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        Self { dir }
    }

    pub(crate) fn pin_file(&self, name: &str, pin: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, format!("{pin}\n")).unwrap();
        p.display().to_string()
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn ctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ctl"))
            .args(args)
            .env("SOFTHSM2_CONF", self.dir.path().join("softhsm2.conf"))
            .env("CTL_PKCS11_MODULE", module())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    /// `ctl token init` with an imported key.
    pub(crate) fn init_with_key(&self, label: &str, pin: &str, key: &str) {
        let o = self.init(label, pin, &["--import-key", &v(key)]);
        assert!(stdout(&o).contains("uri: pkcs11:"), "{}", stdout(&o));
    }

    /// `ctl token init` with a key generated on the token and a self-signed certificate
    /// (CN = the label) signed on it: the SAST token of a lab.
    pub(crate) fn init_generated(&self, label: &str, pin: &str) {
        self.init(label, pin, &["--generate"]);
    }

    /// `ctl token init` of a token labelled `label`, its object `signer` made by `key_args`.
    fn init(&self, label: &str, pin: &str, key_args: &[&str]) -> Output {
        let o = self.try_init(label, pin, key_args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        o
    }

    /// [`init`](Self::init), whatever it answers.
    pub(crate) fn try_init(&self, label: &str, pin: &str, key_args: &[&str]) -> Output {
        let so = self.pin_file("so.pin", "87654321");
        let user = self.pin_file(&format!("{label}.pin"), pin);
        let module = module();
        let mut args = vec![
            "token",
            "init",
            "--module",
            &module,
            "--label",
            label,
            "--so-pin-file",
            &so,
            "--pin-file",
            &user,
            "--object",
            "signer",
        ];
        args.extend_from_slice(key_args);
        self.ctl(&args)
    }

    pub(crate) fn uri(&self, label: &str, pin_name: &str) -> String {
        format!(
            "pkcs11:token={label};object=signer?module-path={}&pin-source=file:{}",
            module(),
            self.path(pin_name).display()
        )
    }
}

/// The connection flags of `ctl cluster`: the first node at `publisher` (HOST:PORT), user
/// `admin` with the password in `dir/pub/password`, providers pinned on first use in
/// `dir/known`.
pub(crate) fn connect_args(publisher: &str, dir: &std::path::Path) -> Vec<String> {
    vec![
        "--publisher".into(),
        publisher.into(),
        "--user".into(),
        "admin".into(),
        "--password-file".into(),
        dir.join("pub/password").display().to_string(),
        "--known-providers".into(),
        dir.join("known").display().to_string(),
        "--trust-on-first-use".into(),
    ]
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// The password file `ctl` reads for the test nodes' user (`s3cret`), in `dir`.
pub(crate) fn password_file(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("password"), "s3cret\n").unwrap();
}

/// Runs `ctl` with `args`.
pub(crate) fn ctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ctl"))
        .args(args)
        .output()
        .unwrap()
}

/// A failure is one line on stderr naming the file, no backtrace, no panic.
pub(crate) fn assert_one_line_error(o: &Output, code: i32, names: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("ctl: "), "{err}");
    assert!(err.contains(names), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

/// A first node alone (CallManager, TFTP, provider) set up in `dir/pub`, with the password
/// file `ctl` reads ([`connect_args`]); started by the caller, honest or not.
pub(crate) fn lone_first_node(dir: &std::path::Path) -> ctl_providerd::Setup {
    let mut first = ctl_test_support::node_setup(
        &dir.join("pub"),
        "cucm-pub",
        0,
        &["callmanager", "tftp", "provider"],
    );
    first.first_node(true);
    password_file(&dir.join("pub"));
    first
}
