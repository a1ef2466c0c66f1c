//! `ctl completions SHELL` and `ctl man --out DIR`: shell completions and man pages made
//! from the same clap definitions `--help` shows, so they never disagree with it.

use std::path::PathBuf;

use clap::CommandFactory as _;

use crate::failure::{Failure, Outcome};
use crate::files::{display, write_atomic};

/// Arguments of `ctl completions`.
#[derive(clap::Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

/// Arguments of `ctl man`.
#[derive(clap::Args, Debug)]
pub(crate) struct ManArgs {
    /// The directory to write ctl.1 and a page per subcommand (ctl-build.1, ...) into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub(crate) fn completions(a: &CompletionsArgs) -> Outcome {
    let mut cmd = crate::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "ctl", &mut script);
    // Written as bytes: the script is for the shell, not for a terminal to show.
    use std::io::Write as _;
    match std::io::stdout().write_all(&script) {
        // A closed pipe (`| head`) ends the output, as everywhere else.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::failed(format!(
            "stdout: {}",
            ctl_format::io_words(&e)
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn man(a: &ManArgs) -> Outcome {
    std::fs::create_dir_all(&a.out).map_err(|e| {
        Failure::failed(format!("{}: {}", display(&a.out), ctl_format::io_words(&e)))
    })?;
    let mut cmd = crate::Cli::command();
    cmd.build();
    let mut written = 0usize;
    write_pages(&cmd, "ctl", &a.out, &mut written)?;
    outln!("wrote {written} man pages in {}", display(&a.out));
    Ok(())
}

/// The page of `cmd` (named `name`), then those of its subcommands (`name-sub`).
fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &std::path::Path,
    written: &mut usize,
) -> Outcome {
    let mut text = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(name)
        .render(&mut text)
        .map_err(|e| Failure::failed(format!("{name}.1: {}", ctl_format::io_words(&e))))?;
    write_atomic(&dir.join(format!("{name}.1")), &text)?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
