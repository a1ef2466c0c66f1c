//! The daemon targets' regression inputs and seeds (`fuzz/regressions/TARGET/`,
//! `fuzz/daemon/corpus/TARGET/seed-*`), replayed by `cargo test`.

use std::path::Path;

use ctl_providerd::fuzzing::{Summary, config_text, node_script};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in [
        fuzz.join("regressions").join(target),
        fuzz.join("daemon/corpus").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let corpus = dir.ends_with(Path::new("corpus").join(target));
            if (corpus && !name.starts_with("seed-")) || name == "README.md" {
                continue;
            }
            out.push((name, std::fs::read(&path).unwrap()));
        }
    }
    assert!(
        !out.is_empty(),
        "no seeds or regression inputs for {target}"
    );
    out
}

#[test]
fn the_node_handler_inputs_keep_the_nodes_rules() {
    for (name, data) in inputs("node_handler") {
        let summary = node_script(&data);
        assert!(summary.steps > 0, "{name} ran no step");
    }
}

#[test]
fn the_node_handler_seeds_reach_commits_restarts_and_refusals() {
    let chain = inputs("node_handler")
        .into_iter()
        .find(|(name, _)| name == "seed-commit-chain")
        .expect("seed-commit-chain");
    let Summary {
        staged,
        commits,
        refusals,
        restarts,
        ..
    } = node_script(&chain.1);
    // Four lists in a row, each signed by a token of the one before; the old list and the
    // stranger's refused; two restarts, one repairing a planted CTLFile.tlv.
    assert_eq!((staged, commits, restarts), (4, 4, 2));
    assert_eq!(refusals, 2);
    let rules = inputs("node_handler")
        .into_iter()
        .find(|(name, _)| name == "seed-client-rules")
        .expect("seed-client-rules");
    let s = node_script(&rules.1);
    assert!(s.commits >= 2 && s.refusals >= 3, "{s:?}");
}

#[test]
fn the_provider_config_inputs_pass_their_harness() {
    for (_, data) in inputs("provider_config") {
        config_text(&data);
    }
}
