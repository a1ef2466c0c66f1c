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
        "callmanager.key",
        "capf.key",
        "tvs.key",
        "state/state.json",
        "state/audit.log",
    ] {
        assert_eq!(mode(&dir.join(private)), 0o600, "{private}");
    }
    assert_eq!(mode(&dir.join("state")), 0o700, "state/");
    for public in ["callmanager.pem", "capf.pem", "tvs.pem", "tftp/CTLFile.tlv"] {
        assert_eq!(mode(&dir.join(public)), 0o644, "{public}");
    }
}
