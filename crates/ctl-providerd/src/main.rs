//! `ctl-providerd`: the CTL provider service of one cluster node.
//!
//! `init` writes a node's configuration, certificates and user; `run` serves the provider
//! protocol (`docs/protocol.md`) over TLS.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ctl_providerd::{init, run};

#[derive(Parser, Debug)]
#[command(
    name = "ctl-providerd",
    version,
    about = "The CTL provider service of a cluster node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write DIR/provider.toml, the node's certificates and keys, and a user.
    Init(Box<init::InitArgs>),
    /// Serve the provider protocol.
    Run {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(a) => init::run(&a).map(|p| println!("wrote {}", p.display())),
        Command::Run { config } => run(&config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctl-providerd: {e}");
            ExitCode::from(1)
        }
    }
}
