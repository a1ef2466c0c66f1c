//! The node's files on disk: who may read them (issue 11).

use std::os::unix::fs::PermissionsExt as _;

use crate::support::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Finding 4: keys, the password hash, the state and the audit log are private to the
/// node's user from the first byte, whatever the umask the daemon was started with (here
/// none at all); what phones and clients fetch stays readable, never writable by others.
#[tokio::test(flavor = "multi_thread")]
async fn a_nodes_private_files_are_private_whatever_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    daemon::init_with(
        daemon::under_umask(Path::new(BIN), "000"),
        dir,
        "127.0.0.1:0",
        &[
            "--node",
            "n1",
            "--first-node",
            "--services",
            "callmanager,tftp,capf,tvs,provider",
            "--password-only",
        ],
    );
    let d = daemon::run_with(daemon::under_umask(Path::new(BIN), "000"), dir);
    let mut c = connect(&d).await;
    assert!(c.login("admin", &Password::new("nope")).await.is_err());
    let mut c = logged_in(&d).await;
    assert!(matches!(
        stage_commit(&mut c, ctl("sast1", 10), None).await,
        Response::Committed { .. }
    ));
    for private in [
        "provider.toml",
        "keys/callmanager.key",
        "keys/capf.key",
        "keys/tvs.key",
        "state/state.json",
        "state/audit.log",
    ] {
        assert_eq!(mode(&dir.join(private)), 0o600, "{private}");
    }
    assert_eq!(mode(&dir.join("state")), 0o700, "state/");
    assert_eq!(mode(&dir.join("keys")), 0o700, "keys/");
    for public in ["callmanager.pem", "capf.pem", "tvs.pem", "tftp/CTLFile.tlv"] {
        assert_eq!(mode(&dir.join(public)), 0o644, "{public}");
    }
}

fn init_again(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "init",
        "--dir",
        dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--user",
        "admin",
        "--node",
        "n1",
        "--password-only",
        "--password-file",
    ];
    let password = dir.join("password");
    args.push(password.to_str().unwrap());
    args.extend_from_slice(extra);
    std::process::Command::new(BIN)
        .args(&args)
        .output()
        .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Finding 5: `init` on a directory that holds a node refuses (its key, certificate,
/// services and members stay); `--force` replaces it and keeps the old files in a dated
/// backup; a failed `init` leaves nothing of its own behind.
#[test]
fn init_does_not_overwrite_a_node_and_leaves_nothing_when_it_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    init(
        &dir,
        "n1",
        &["--services", "callmanager,tftp,capf,provider"],
    );
    let key = std::fs::read(dir.join("keys/callmanager.key")).unwrap();
    let config = std::fs::read(dir.join("provider.toml")).unwrap();

    let o = init_again(&dir, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds a node already"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(dir.join("keys/callmanager.key")).unwrap(),
        key
    );
    assert_eq!(std::fs::read(dir.join("provider.toml")).unwrap(), config);

    let o = init_again(&dir, &["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(
        std::fs::read(dir.join("keys/callmanager.key")).unwrap(),
        key
    );
    let backups: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("backup-")
        })
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(
        std::fs::read(backups[0].join("keys/callmanager.key")).unwrap(),
        key
    );
    assert_eq!(
        std::fs::read(backups[0].join("provider.toml")).unwrap(),
        config
    );
    assert!(backups[0].join("keys/capf.key").exists());
    assert_eq!(mode(&backups[0]), 0o700);

    // Part of a node in the way (a directory named capf.pem, where the old init wrote the
    // CallManager key and certificate, then failed): refused, nothing written.
    let fresh = tmp.path().join("fresh");
    std::fs::create_dir_all(fresh.join("capf.pem")).unwrap();
    std::fs::write(fresh.join("password"), "s3cret\n").unwrap();
    let o = init_again(&fresh, &["--services", "callmanager,capf,provider"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let mut left: Vec<String> = std::fs::read_dir(&fresh)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["capf.pem", "password"], "{}", stderr(&o));
}

/// The SHA-256 of what GET_CTL hands out (compared by digest: a failure prints no key).
async fn served(d: &Daemon) -> Option<[u8; 32]> {
    let mut c = logged_in(d).await;
    match c.call(&Request::GetCtl).await.unwrap() {
        Response::Ctl(x) => x.map(|(_, bytes)| sha(&bytes)),
        other => panic!("{other:?}"),
    }
}

fn sha_of(path: &Path) -> [u8; 32] {
    sha(&std::fs::read(path).unwrap())
}

/// Finding 6: the node's CTL is its own copy in the state directory; the TFTP directory
/// only publishes it. A symlink in place of `CTLFile.tlv` is never followed (GET_CTL does
/// not hand out the key it points to), a file written there is never adopted, and a
/// restart republishes the node's own CTL.
#[tokio::test(flavor = "multi_thread")]
async fn the_tftp_directory_publishes_the_ctl_and_is_never_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(dir, "n1", &[]);
    let d = start(dir);
    let mut c = logged_in(&d).await;
    let committed = ctl("sast1", 10);
    assert!(matches!(
        stage_commit(&mut c, committed.clone(), None).await,
        Response::Committed { .. }
    ));
    let published = dir.join("tftp/CTLFile.tlv");
    let key = std::fs::read(dir.join("keys/callmanager.key")).unwrap();

    // A symlink to the node's key in place of the published file.
    std::fs::remove_file(&published).unwrap();
    std::os::unix::fs::symlink(dir.join("keys/callmanager.key"), &published).unwrap();
    assert_eq!(
        served(&d).await,
        Some(sha(&committed)),
        "GET_CTL follows the link"
    );
    drop(c);
    drop(d);
    let d = start(dir);
    assert!(!published.symlink_metadata().unwrap().is_symlink());
    assert_eq!(sha_of(&published), sha(&committed), "republished");
    assert_eq!(sha_of(&dir.join("keys/callmanager.key")), sha(&key));

    // A newer CTL signed by a token of the current one, written straight into TFTP:
    // not adopted, replaced at the next start.
    let planted = ctl("sast2", 20);
    std::fs::write(&published, &planted).unwrap();
    assert_eq!(served(&d).await, Some(sha(&committed)));
    drop(d);
    let d = start(dir);
    assert_eq!(served(&d).await, Some(sha(&committed)));
    assert_eq!(sha_of(&published), sha(&committed));
    drop(d);

    // A node with no CTL of its own: a file planted in TFTP is not served, and is taken
    // down at start.
    let other = tmp.path().join("other");
    init(&other, "n2", &[]);
    std::fs::create_dir_all(other.join("tftp")).unwrap();
    std::fs::write(other.join("tftp/CTLFile.tlv"), &planted).unwrap();
    let d = start(&other);
    assert_eq!(served(&d).await, None);
    assert!(!other.join("tftp/CTLFile.tlv").exists());
}

/// Finding 2: a user name over 256 bytes could never log in (LOGIN refuses it before any
/// check), so `init` refuses to write one, before it makes any key; so do names that are
/// empty or carry control characters.
#[test]
fn init_refuses_a_user_name_no_login_can_carry() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("password"), "s3cret\n").unwrap();
    let long = "a".repeat(257);
    for (user, why) in [
        (long.as_str(), "over 256 bytes"),
        ("", "empty"),
        ("ad\u{1b}[2Jmin", "control characters"),
    ] {
        let o = std::process::Command::new(BIN)
            .args(["init", "--dir", tmp.path().to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--node", "n1", "--password-only"])
            .args(["--user", user, "--password-file"])
            .arg(tmp.path().join("password"))
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(why), "{err}");
        assert!(!err.contains('\u{1b}'), "{err}");
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["password"], "init left files behind");
    }
}

/// Issue 12: a wrong call and a configuration that is not TOML are one line each, naming
/// what was wrong and where (the TOML line), never the parser's multi-line snippet.
#[test]
fn wrong_calls_and_bad_toml_are_one_line() {
    let run = |args: &[&str]| std::process::Command::new(BIN).args(args).output().unwrap();
    let o = run(&["run", "--confg", "x.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("ctl-providerd: unexpected argument '--confg'"),
        "{err}"
    );
    assert!(
        err.contains("'--config'") && err.contains("--help"),
        "{err}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    init(&dir, "n1", &["--services", "callmanager,tftp,provider"]);
    let config = dir.join("provider.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\nlisten = [oops\n")).unwrap();
    let o = run(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("provider.toml") && err.contains("line "),
        "{err}"
    );
}
