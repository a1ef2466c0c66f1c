//! `ctl`: inspect, verify, lint, build, sign and diff Cisco CTL, ITL and `.sgn` files.
//!
//! Exit codes: 0 success; 1 an invalid signature, a refused file, a difference
//! (`diff`) or a failure while working; 2 a malformed file or a wrong call.

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

#[macro_use]
mod terminal;

mod build;
mod cert;
mod check;
mod cluster;
mod diff;
mod extract;
mod failure;
mod files;
mod inspect;
mod lint;
mod progress;
mod render;
mod signing;
mod token;
mod verify;

#[derive(Parser, Debug)]
#[command(
    name = "ctl",
    version,
    about = "Cisco Certificate Trust List files: inspect, verify, build, sign, diff"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show what a CTL, ITL or .sgn file holds.
    Inspect(inspect::InspectArgs),
    /// Check a file's signature, and whether a phone holding --trust would take it.
    Verify(verify::VerifyArgs),
    /// What phones will not take: rules per phone family, with their sources.
    Lint(lint::LintArgs),
    /// Build and sign a CTL or ITL from certificates.
    Build(Box<build::BuildArgs>),
    /// Sign a file as FILE.sgn.
    Sign(build::SignArgs),
    /// Compare two files: records added, removed and changed, and header changes.
    Diff(diff::DiffArgs),
    /// Certificates of a trust list's records: export one as PEM.
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// Write the payload of a .sgn (only if it is signed as it should be, with --cert or --trust).
    Extract(extract::ExtractArgs),
    /// PKCS#11 security tokens: list, info, change-pin, init (labs).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The cluster, from its CTL providers.
    #[command(subcommand)]
    Cluster(Box<cluster::ClusterCommand>),
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // PINs, passwords and keys pass through this process: no core file, no debugger of
    // another process of the same user.
    if let Err(e) = ctl_provider::net::protect_secrets() {
        errln!("ctl: cannot keep secrets out of core files: {e}");
        return ExitCode::from(2);
    }
    let outcome = match cli.command {
        Command::Inspect(a) => inspect::run(&a),
        Command::Verify(a) => verify::run(&a),
        Command::Lint(a) => lint::run(&a),
        Command::Build(a) => {
            let sub = matches.subcommand_matches("build");
            build::run_build(&a, sub)
        }
        Command::Sign(a) => build::run_sign(&a),
        Command::Diff(a) => diff::run(&a),
        Command::Extract(a) => extract::run(&a),
        Command::Cert(c) => cert::run(&c),
        Command::Token(c) => token::run(&c),
        Command::Cluster(c) => cluster::run(&c),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                errln!("ctl: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
