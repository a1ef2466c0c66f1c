//! The `pkcs11_uri` target's regression inputs and seeds (`fuzz/regressions/pkcs11_uri/`,
//! `fuzz/corpus/pkcs11_uri/seed-*`), replayed by `cargo test`.

use std::path::Path;

#[test]
fn the_pkcs11_uri_inputs_pass_their_harness() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for dir in [
        fuzz.join("regressions/pkcs11_uri"),
        fuzz.join("corpus/pkcs11_uri"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if dir.ends_with("corpus/pkcs11_uri") && !name.starts_with("seed-") {
                continue;
            }
            ctl_token::fuzzing::uri_text(&std::fs::read(entry.path()).unwrap());
            replayed += 1;
        }
    }
    // Six seeds and the regression input of the `%+0` escape.
    assert!(replayed >= 7, "only {replayed} inputs");
}
