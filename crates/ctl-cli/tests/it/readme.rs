//! Issue 12: the README's command reference matches `--help`. Every command heading and
//! table row of the README names a command `ctl` has, and every flag it names is one of
//! that command's; every command `ctl` has is in the reference.

use std::collections::BTreeSet;

use crate::support::{ctl, stdout};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap()
}

/// The commands of `ctl`: each `--help`'s "Commands:" list, followed down.
fn commands() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    let mut todo = vec![String::from("ctl")];
    while let Some(path) = todo.pop() {
        let args: Vec<&str> = path.split(' ').skip(1).chain(["--help"]).collect();
        let help = stdout(&ctl(&args));
        let listed = help
            .split("Commands:\n")
            .nth(1)
            .map(|rest| rest.split("\n\n").next().unwrap_or_default().to_owned())
            .unwrap_or_default();
        for line in listed.lines() {
            let Some(name) = line.split_whitespace().next() else {
                continue;
            };
            if name != "help" {
                todo.push(format!("{path} {name}"));
            }
        }
        all.insert(path);
    }
    all
}

/// A reference line's command text: `ctl token list|info` gives `ctl token list` and
/// `ctl token info`; the flags it names.
fn reference(text: &str) -> (Vec<String>, Vec<String>) {
    let mut paths = vec![String::from("ctl")];
    for word in text.split_whitespace().skip(1) {
        let alternatives: Vec<&str> = word.split('|').collect();
        let is_name = |w: &str| {
            !w.is_empty()
                && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && !w.starts_with('-')
        };
        if !alternatives.iter().all(|w| is_name(w)) {
            break;
        }
        // `set-mode mixed`: a value, not a subcommand; kept out by the known commands.
        paths = paths
            .iter()
            .flat_map(|p| alternatives.iter().map(move |a| format!("{p} {a}")))
            .collect();
    }
    let flags = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_owned)
        .collect();
    (paths, flags)
}

/// The `ctl ...` texts in backticks on a line.
fn references(line: &str) -> Vec<&str> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| t.starts_with("ctl "))
        .collect()
}

#[test]
fn the_readme_command_reference_matches_help() {
    let commands = commands();
    let text = readme();
    let mut covered = BTreeSet::new();
    let lines = text
        .lines()
        .filter(|l| l.starts_with("### `ctl ") || l.starts_with("| `ctl "));
    // A table row's first cell, or a heading: the command texts it names.
    for (line, cmd) in lines.flat_map(|l| {
        let head = if l.starts_with('|') {
            l.split(" | ").next().unwrap_or(l)
        } else {
            l
        };
        references(head).into_iter().map(move |c| (l, c))
    }) {
        let (paths, flags) = reference(cmd);
        // The longest prefix of each path that is a command.
        let found: Vec<String> = paths
            .iter()
            .filter_map(|p| {
                let words: Vec<&str> = p.split(' ').collect();
                (1..=words.len())
                    .rev()
                    .map(|n| words[..n].join(" "))
                    .find(|c| commands.contains(c) && c != "ctl")
            })
            .collect();
        assert!(!found.is_empty(), "README names no command of ctl: {line}");
        let mut help = String::new();
        for c in &found {
            covered.insert(c.clone());
            let args: Vec<&str> = c.split(' ').skip(1).chain(["--help"]).collect();
            help.push_str(&stdout(&ctl(&args)));
        }
        // Flags of the connection group are documented once, in prose.
        for flag in flags {
            assert!(
                help.contains(&format!("{flag} "))
                    || help.contains(&format!("{flag}\n"))
                    || help.contains(&format!("{flag}=")),
                "README line names {flag}, which `{}` does not take:\n{line}",
                found.join(" / ")
            );
        }
    }
    let groups: BTreeSet<&str> = [
        "ctl",
        "ctl cert",
        "ctl token",
        "ctl cluster",
        "ctl cluster known",
        "ctl phone",
        "ctl help",
    ]
    .into();
    let missing: Vec<&String> = commands
        .iter()
        .filter(|c| !groups.contains(c.as_str()) && !covered.contains(*c))
        .filter(|c| {
            !["ctl completions", "ctl man"].contains(&c.as_str())
                || !text.contains(&format!("{c} "))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "commands missing from the README reference: {missing:?}"
    );
}
