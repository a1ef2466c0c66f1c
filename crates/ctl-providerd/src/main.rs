//! `ctl-providerd`: the CTL provider service of one cluster node.
//!
//! `init` writes a node's configuration, certificates and user; `run` serves the provider
//! protocol (`docs/protocol.md`) over TLS. The flags live here; the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ctl_provider::message::Password;
use ctl_providerd::log::LogFormat;
use ctl_providerd::{DaemonError, Endpoint, Setup, run};

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
    Init(Box<InitArgs>),
    /// Serve the provider protocol.
    Run {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// How log lines on stderr look: journald (priority prefix, no timestamp) or json.
        #[arg(long, value_enum, default_value_t = LogFormat::Journald)]
        log_format: LogFormat,
    },
}

/// Arguments of `init`.
#[derive(clap::Args, Debug)]
struct InitArgs {
    /// Directory for provider.toml, certificates, keys, tftp/ and state/.
    #[arg(long)]
    dir: PathBuf,
    /// Node name (also the CallManager certificate's common name).
    #[arg(long)]
    node: String,
    /// Address and port to listen on (port 0: any free port, printed at start).
    #[arg(long)]
    listen: std::net::SocketAddr,
    /// This is the first node (publisher).
    #[arg(long)]
    first_node: bool,
    /// Services, comma-separated: callmanager, tftp, capf, tvs, provider.
    #[arg(
        long,
        default_value = "callmanager,tftp,provider",
        value_delimiter = ','
    )]
    services: Vec<String>,
    /// A cluster member, NAME=HOST:PORT (first node; repeatable).
    #[arg(long, value_name = "NAME=HOST:PORT", value_parser = Endpoint::parse)]
    member: Vec<Endpoint>,
    /// An off-cluster alternate TFTP server, NAME=HOST:PORT (repeatable).
    #[arg(long, value_name = "NAME=HOST:PORT", value_parser = Endpoint::parse)]
    alternate_tftp: Vec<Endpoint>,
    /// A firewall, NAME=HOST:PORT (repeatable).
    #[arg(long, value_name = "NAME=HOST:PORT", value_parser = Endpoint::parse)]
    firewall: Vec<Endpoint>,
    /// The application user (super-user role).
    #[arg(long)]
    user: String,
    /// A file holding the user's password (only its argon2id hash is written).
    #[arg(long)]
    password_file: PathBuf,
    /// Every change needs a TLS client certificate that is a SAST of the CTL (the default).
    #[arg(long, conflicts_with = "password_only")]
    require_sast_client_certificate: bool,
    /// Let a password alone change the node (no client certificate): for labs and
    /// clients that cannot authenticate with the token.
    #[arg(long)]
    password_only: bool,
    /// Replace a node already in --dir (refused otherwise): its configuration, keys and
    /// certificates move to a dated backup-* directory beside them; tftp/ and state/ stay.
    #[arg(long)]
    force: bool,
}

/// The password: the first line of the file, never empty.
fn password(path: &std::path::Path) -> Result<Password, DaemonError> {
    let text = std::fs::read_to_string(path).map_err(|source| DaemonError::File {
        path: path.to_owned(),
        source,
    })?;
    let first = text.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(DaemonError::EmptyPasswordFile {
            path: path.to_owned(),
        });
    }
    Ok(Password::new(first))
}

fn init(a: &InitArgs) -> Result<PathBuf, DaemonError> {
    let mut setup = Setup::new(
        &a.dir,
        &a.node,
        a.listen,
        &a.user,
        password(&a.password_file)?,
    );
    setup
        .first_node(a.first_node)
        .services(&a.services)
        .require_sast_client_certificate(a.require_sast_client_certificate || !a.password_only)
        .force(a.force);
    for m in &a.member {
        setup.member(m.clone());
    }
    for t in &a.alternate_tftp {
        setup.alternate_tftp(t.clone());
    }
    for f in &a.firewall {
        setup.firewall(f.clone());
    }
    setup.write()
}

/// A command-line error on one line (as `ctl` prints its own): clap's message and tips,
/// and which `--help` to read.
fn usage_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage: ") && !l.starts_with("For more"))
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .map(|l| l.strip_prefix("tip: ").unwrap_or(l))
        .collect();
    format!("{} (see 'ctl-providerd --help')", parts.join("; "))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(
                e.kind(),
                K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            eprintln!("ctl-providerd: {}", ctl_format::printable(&usage_line(&e)));
            return ExitCode::from(2);
        }
    };
    // The node key, the password hashes and every LOGIN's password live in this process:
    // no core file, no debugger of another process of the same user.
    if let Err(e) = ctl_provider::net::protect_secrets() {
        eprintln!("ctl-providerd: cannot keep secrets out of core files: {e}");
        return ExitCode::from(1);
    }
    let result = match cli.command {
        Command::Init(a) => init(&a).map(|p| println!("wrote {}", p.display())),
        Command::Run { config, log_format } => {
            ctl_providerd::log::init(log_format);
            run(&config)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctl-providerd: {}", ctl_format::printable(&e.to_string()));
            ExitCode::from(1)
        }
    }
}
