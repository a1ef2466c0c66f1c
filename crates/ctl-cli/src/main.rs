//! `ctl`: inspect, verify, lint, build, sign and diff Cisco CTL, ITL and `.sgn` files.
//!
//! Exit codes: 0 success; 1 an invalid signature, a refused file, a difference
//! (`diff`) or a failure while working; 2 a malformed file or a wrong call.

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

#[macro_use]
mod terminal;

mod audit;
mod build;
mod cert;
mod check;
mod cluster;
mod diff;
mod docs;
mod extract;
mod failure;
mod files;
mod inspect;
mod lint;
mod migrate;
mod phone;
mod progress;
mod provision;
mod render;
mod sign;
mod signing;
mod token;
mod verify;

#[derive(Parser, Debug)]
#[command(
    name = "ctl",
    version,
    about = "Cisco Certificate Trust List files: inspect, verify, build, sign, diff"
)]
pub(crate) struct Cli {
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
    /// Make a TFTP directory hold every trust list and signed config a manifest names.
    Provision(provision::ProvisionArgs),
    /// Move phones off a trust list the site did not sign: bridge lists by the old key.
    Migrate(Box<migrate::MigrateArgs>),
    /// Every trust list and .sgn of a TFTP tree, and what each phone (MAC) would trust.
    Audit(audit::AuditArgs),
    /// A virtual phone: boot it against a TFTP server and see what it trusts.
    #[command(subcommand)]
    Phone(phone::PhoneCommand),
    /// Sign a file as FILE.sgn.
    Sign(sign::SignArgs),
    /// Compare two files: records added, removed and changed, and header changes.
    Diff(diff::DiffArgs),
    /// Certificates of a trust list's records: export one as PEM.
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// The SHA-1 and SHA-512 hashes of a certificate, as configuration files name it.
    Certhash(cert::CertHashArgs),
    /// Write the payload of a .sgn (only if it is signed as it should be, with --cert or --trust).
    Extract(extract::ExtractArgs),
    /// PKCS#11 security tokens: list, info, change-pin, init (labs).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The cluster, from its CTL providers.
    #[command(subcommand)]
    Cluster(Box<cluster::ClusterCommand>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Write the man pages (ctl.1 and one per subcommand) into a directory.
    Man(docs::ManArgs),
}

/// The subcommands named on the command line, as `ctl cluster status`.
fn command_path() -> String {
    let mut cmd = Cli::command();
    let mut path = vec!["ctl".to_owned()];
    for arg in std::env::args_os().skip(1) {
        let Some(sub) = arg.to_str().and_then(|a| cmd.find_subcommand(a)).cloned() else {
            break;
        };
        path.push(sub.get_name().to_owned());
        cmd = sub;
    }
    path.join(" ")
}

/// Whether the command run was given `--json`.
fn wants_json(matches: &clap::ArgMatches) -> bool {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    m.try_get_one::<bool>("json")
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
}

fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (m, cli)));
    let (matches, cli) = match parsed {
        Ok(p) => p,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(
                e.kind(),
                K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            let failure = failure::Failure::usage(failure::usage_line(&e, &command_path()));
            // Scripts that asked for JSON get their one object even for a wrong call.
            if std::env::args_os().any(|a| a == "--json") {
                outln!("{}", failure.json());
            }
            errln!("ctl: {}", failure.message);
            return ExitCode::from(2);
        }
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
        Command::Provision(a) => provision::run(&a),
        Command::Phone(c) => phone::run(&c),
        Command::Audit(a) => audit::run(&a),
        Command::Migrate(a) => migrate::run(&a),
        Command::Sign(a) => sign::run(&a),
        Command::Diff(a) => diff::run(&a),
        Command::Extract(a) => extract::run(&a),
        Command::Cert(c) => cert::run(&c),
        Command::Certhash(a) => cert::certhash(&a),
        Command::Token(c) => token::run(&c),
        Command::Cluster(c) => cluster::run(&c),
        Command::Completions(a) => docs::completions(&a),
        Command::Man(a) => docs::man(&a),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if wants_json(&matches) && !terminal::wrote_stdout() {
                outln!("{}", f.json());
            }
            if !f.message.is_empty() {
                errln!("ctl: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
