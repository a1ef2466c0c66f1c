//! tpm2-pkcs11 on a software TPM: the lab and the provisioning steps.
//!
//! The lab is one software TPM 2.0 (`swtpm`, state in the lab directory) behind the
//! resource manager `tpm2-abrmd` (without one, several sessions and `tpm2_ptool` run out
//! of TPM object contexts), on a private D-Bus bus of its own: no system bus, no root
//! needed. It is started once per machine and user, in `CTL_TPM2_LAB` (default
//! `/tmp/ctl-tpm2-lab-UID`), and reused while it answers; `lab/env` holds the variables a
//! shell needs to use it (`. /tmp/ctl-tpm2-lab-0/env; pkcs11-tool --module ... -L`).
//!
//! Each test process has its own token store (`TPM2_PKCS11_STORE`), so its tokens are its
//! own; the TPM's dictionary-attack lockout is set to forgive a wrong PIN after a second,
//! so that the wrong-PIN tests of one run do not lock the TPM for the next.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The lab directory of this user.
pub fn lab_dir() -> PathBuf {
    std::env::var_os("CTL_TPM2_LAB").map_or_else(
        || {
            let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
            std::env::temp_dir().join(format!("ctl-tpm2-lab-{uid}"))
        },
        PathBuf::from,
    )
}

/// What a client of the lab needs in its environment.
fn client_env(lab: &Path) -> Vec<(&'static str, String)> {
    vec![
        (
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", lab.join("bus").display()),
        ),
        ("TPM2_PKCS11_TCTI", "tabrmd:bus_type=session".to_owned()),
        ("TPM2TOOLS_TCTI", "tabrmd:bus_type=session".to_owned()),
        // The TSS and the module log every refused PIN to stderr otherwise.
        ("TSS2_LOG", "all+NONE".to_owned()),
        ("TPM2_PKCS11_LOG_LEVEL", "0".to_owned()),
    ]
}

/// Starts the lab if it is not running, and points this process at it with a token store
/// of its own under `dir`.
///
/// # Panics
/// A missing tool, a lab that does not come up, or a test harness running several tests at
/// once (importing a key re-initializes the module under every other test's sessions).
pub fn prepare(dir: &Path) {
    let args: Vec<String> = std::env::args().collect();
    let one_at_a_time = std::env::var("RUST_TEST_THREADS").is_ok_and(|v| v == "1")
        || args.iter().any(|a| a == "--test-threads=1")
        || args
            .windows(2)
            .any(|w| w[0] == "--test-threads" && w[1] == "1");
    assert!(
        one_at_a_time,
        "CTL_TEST_PKCS11=tpm2 runs one test at a time: pass --test-threads=1 \
         (importing a key makes tpm2-pkcs11 re-read its store, which ends every open session)"
    );
    let lab = lab_dir();
    start_lab(&lab);
    let store = dir.join("store");
    std::fs::create_dir(&store).expect("token store");
    for (k, v) in client_env(&lab) {
        std::env::set_var(k, v);
    }
    std::env::set_var("TPM2_PKCS11_STORE", &store);
}

/// Imports the private key in `key_file` (PEM) onto the token `label` of `store` as
/// `key_label` with CKA_ID `id`, with tpm2-pkcs11's own tool (the module cannot create
/// private keys). The module sees it after a rescan.
///
/// # Panics
/// The tool fails; an id that is not UTF-8 (the tool takes it as text).
pub fn import_key(
    store: &Path,
    label: &str,
    pin: &str,
    key_file: &Path,
    id: &[u8],
    key_label: &str,
) {
    let id = std::str::from_utf8(id).expect("tpm2_ptool takes a UTF-8 CKA_ID");
    // tpm2_ptool reads the PIN from its arguments only; a test PIN, in a test lab.
    run(Command::new("tpm2_ptool")
        .args([
            "import",
            "--algorithm",
            "rsa",
            "--label",
            label,
            "--key-label",
            key_label,
        ])
        .args(["--id", id, "--userpin", pin, "--privkey"])
        .arg(key_file)
        .arg("--path")
        .arg(store));
}

fn run(command: &mut Command) -> String {
    let shown = format!("{command:?}");
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{shown}: {e} (scripts/test installs the TPM tools)"));
    assert!(
        out.status.success(),
        "{shown}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the lab's resource manager answers.
fn answers(lab: &Path) -> bool {
    let mut probe = Command::new("tpm2_getcap");
    probe.arg("properties-fixed").envs(client_env(lab));
    probe
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn start_lab(lab: &Path) {
    std::fs::create_dir_all(lab).expect("lab directory");
    // One process starts it; the others wait for it and reuse it.
    let lock = std::fs::File::create(lab.join("lock")).expect("lab lock");
    lock.lock().expect("lab lock");
    if answers(lab) {
        return;
    }
    stop(lab);
    let state = lab.join("state");
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir(&state).expect("TPM state directory");
    let _ = std::fs::remove_file(lab.join("bus"));

    let dbus = run(Command::new("dbus-daemon")
        .arg("--session")
        .arg(format!("--address=unix:path={}", lab.join("bus").display()))
        .args(["--fork", "--print-pid"]));
    std::fs::write(lab.join("dbus.pid"), dbus.trim()).expect("dbus.pid");

    let (port, ctrl) = free_ports();
    run(Command::new("swtpm")
        .args(["socket", "--tpm2", "--tpmstate"])
        .arg(format!("dir={}", state.display()))
        .arg("--server")
        .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
        .arg("--ctrl")
        .arg(format!("type=tcp,port={ctrl},bindaddr=127.0.0.1"))
        .args([
            "--flags",
            "not-need-init,startup-clear",
            "--daemon",
            "--pid",
        ])
        .arg(format!("file={}", lab.join("swtpm.pid").display())));

    let log = std::fs::File::create(lab.join("abrmd.log")).expect("abrmd.log");
    let mut abrmd = Command::new("tpm2-abrmd")
        .args(["--session", "--allow-root", "--flush-all"])
        .arg(format!("--tcti=swtpm:host=127.0.0.1,port={port}"))
        .envs(client_env(lab))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("tpm2-abrmd: {e} (scripts/test installs it)"));
    std::fs::write(lab.join("abrmd.pid"), abrmd.id().to_string()).expect("abrmd.pid");
    // It outlives this process, serving the next ones; reaped here if it ends before.
    std::thread::spawn(move || abrmd.wait());

    let start = Instant::now();
    while !answers(lab) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the TPM lab in {} does not answer (see abrmd.log there)",
            lab.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    run(Command::new("tpm2_dictionarylockout")
        .args(["--setup-parameters", "--max-tries=32", "--recovery-time=1"])
        .arg("--lockout-recovery-time=1")
        .envs(client_env(lab)));
    let mut env = std::fs::File::create(lab.join("env")).expect("lab env");
    for (k, v) in client_env(lab) {
        writeln!(env, "export {k}={v}").expect("lab env");
    }
}

/// Ends the processes of an earlier lab that no longer answers.
fn stop(lab: &Path) {
    for (file, program) in [
        ("abrmd.pid", "tpm2-abrmd"),
        ("swtpm.pid", "swtpm"),
        ("dbus.pid", "dbus-daemon"),
    ] {
        let Ok(pid) = std::fs::read_to_string(lab.join(file)) else {
            continue;
        };
        let pid = pid.trim();
        // Only the lab's own program: the number may belong to another process by now.
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && comm.trim() == program {
            let _ = Command::new("kill").arg(pid).stderr(Stdio::null()).status();
        }
        let _ = std::fs::remove_file(lab.join(file));
    }
}

/// A port free on 127.0.0.1 whose next port is free too: the swtpm TCTI finds the TPM's
/// control port at the next one.
fn free_ports() -> (u16, u16) {
    for _ in 0..100 {
        let first = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = first.local_addr().expect("its address").port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", next)).is_ok() {
            return (port, next);
        }
    }
    panic!("no two free consecutive ports on 127.0.0.1 for the software TPM")
}
