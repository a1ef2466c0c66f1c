//! The provider targets' regression inputs and seeds (`fuzz/regressions/TARGET/`,
//! `fuzz/corpus/TARGET/seed-*`), replayed by `cargo test`.

use std::path::Path;

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for (n, dir) in [
        fuzz.join("regressions").join(target),
        fuzz.join("corpus").join(target),
    ]
    .iter()
    .enumerate()
    {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if (n == 1 && !name.starts_with("seed-")) || name == "README.md" {
                continue;
            }
            out.push(std::fs::read(&path).unwrap());
        }
    }
    assert!(
        !out.is_empty(),
        "no seeds or regression inputs for {target}"
    );
    out
}

#[test]
fn the_provider_targets_inputs_pass_their_harnesses() {
    for data in inputs("provider_message") {
        ctl_provider::fuzzing::any_input(&data);
    }
    for data in inputs("provider_session") {
        ctl_provider::fuzzing::session_script(&data);
    }
    for data in inputs("known_providers") {
        let text = String::from_utf8(data).unwrap();
        let known = ctl_provider::trust::KnownProviders::parse(&text).unwrap();
        assert!(!known.is_empty());
        assert_eq!(
            ctl_provider::trust::KnownProviders::parse(&known.to_text()).unwrap(),
            known
        );
    }
}
