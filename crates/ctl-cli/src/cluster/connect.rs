//! Reaching the cluster: the connection flags, the password, the trust placed in
//! providers (the known-providers file, fingerprints, a CTL), and the client.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use ctl_client::{Client, Event, Password, TrustPolicy};

use crate::failure::Failure;
use crate::progress::Progress;

/// How to reach and trust the cluster's providers.
#[derive(clap::Args, Debug)]
pub(crate) struct ConnectArgs {
    /// The first node's provider: HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) publisher: String,
    /// Application user.
    #[arg(long)]
    pub(crate) user: String,
    /// A file holding the password (default: asked on the terminal).
    #[arg(long, value_name = "FILE")]
    pub(crate) password_file: Option<PathBuf>,
    /// Trust providers seen for the first time, and pin them in the known-providers file.
    #[arg(long)]
    pub(crate) trust_on_first_use: bool,
    /// The known-providers file (default: ~/.config/ctl/known_providers).
    #[arg(long, value_name = "FILE")]
    pub(crate) known_providers: Option<PathBuf>,
    /// Trust this SHA-256 certificate fingerprint (repeatable).
    #[arg(long, value_name = "SHA256")]
    pub(crate) fingerprint: Vec<String>,
    /// Your copy of the cluster's CTL: it vouches for the providers its server records name
    /// (at the hosts they name), and the current CTL is trusted only if a phone holding
    /// it would take it. Without it, the CTL held from the last run is used.
    #[arg(long, value_name = "CTL")]
    pub(crate) trust_ctl: Option<PathBuf>,
    /// Trust the current CTL with this SHA-256 (after seeing it, e.g. with `ctl cluster
    /// status --json`), when no CTL is held for the cluster and it is not signed by the
    /// token presented.
    #[arg(long, value_name = "SHA256")]
    pub(crate) accept_ctl: Option<String>,
    /// Seconds to wait for each node.
    #[arg(long, default_value_t = 10)]
    pub(crate) timeout: u64,
}

fn default_known_providers() -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".ctl_known_providers"),
        |h| PathBuf::from(h).join(".config/ctl/known_providers"),
    )
}

pub(crate) fn password(args: &ConnectArgs) -> Result<Password, Failure> {
    match &args.password_file {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?;
            let first = text.lines().next().unwrap_or("");
            if first.is_empty() {
                return Err(Failure::usage(format!(
                    "{}: the first line (the password) is empty",
                    p.display()
                )));
            }
            Ok(Password::new(first))
        }
        None => {
            use std::io::IsTerminal as _;
            if !std::io::stdin().is_terminal() {
                return Err(Failure::usage(
                    "no password: give --password-file, or run on a terminal to be asked",
                ));
            }
            let p = ctl_token::pkcs11::pin::prompt(&format!("Password for {}: ", args.user))
                .map_err(|e| Failure::failed(e.to_string()))?;
            use secrecy::ExposeSecret as _;
            Ok(Password::new(p.expose_secret()))
        }
    }
}

fn parse_fp(text: &str) -> Result<[u8; 32], Failure> {
    ctl_provider::trust::parse_fingerprint(text)
        .ok_or_else(|| Failure::usage(format!("--fingerprint {text}: expected 64 hex digits")))
}

/// The first node's host and port.
pub(crate) fn publisher(args: &ConnectArgs) -> Result<(String, u16), Failure> {
    args.publisher
        .rsplit_once(':')
        .and_then(|(h, p)| {
            Some((
                h.trim_matches(['[', ']']).to_owned(),
                p.parse::<u16>().ok()?,
            ))
        })
        .ok_or_else(|| {
            Failure::usage(format!(
                "--publisher {}: expected HOST:PORT",
                args.publisher
            ))
        })
}

/// The known-providers file the connection flags name.
pub(crate) fn known_path(args: &ConnectArgs) -> PathBuf {
    args.known_providers
        .clone()
        .unwrap_or_else(default_known_providers)
}

/// The trust policy the connection flags describe.
pub(crate) fn trust_policy(args: &ConnectArgs) -> Result<TrustPolicy, Failure> {
    Ok(TrustPolicy {
        known: ctl_client::known::load(&known_path(args))
            .map_err(|e| Failure::usage(e.to_string()))?,
        fingerprints: args
            .fingerprint
            .iter()
            .map(|f| parse_fp(f))
            .collect::<Result<_, _>>()?,
        ctl_identities: match &args.trust_ctl {
            Some(path) => {
                let bytes =
                    crate::files::read_document(path, crate::files::ReadOptions::default())?;
                let doc = ctl_format::parse_trust_list(&bytes)
                    .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
                ctl_provider::trust::CtlIdentity::of(&doc)
            }
            None => Vec::new(),
        },
        trust_on_first_use: args.trust_on_first_use,
    })
}

/// A client that reports no progress (discovery prints its own table).
pub(crate) fn quiet_client(connect: &ConnectArgs) -> Result<Client, Failure> {
    let (host, port) = publisher(connect)?;
    Ok(
        Client::builder(&host, port, &connect.user, password(connect)?)
            .trust(trust_policy(connect)?)
            .timeout(Duration::from_secs(connect.timeout))
            .build(),
    )
}

/// The client, and the progress it reports to: a live line per node on a terminal,
/// plain lines on stderr otherwise (none with `--json` off a terminal: the JSON report
/// stays alone).
pub(crate) fn client(
    connect: &ConnectArgs,
    json: bool,
    password_only: bool,
    confirm: Option<super::workflow::Ask>,
) -> Result<(Client, Option<Progress>), Failure> {
    let (host, port) = publisher(connect)?;
    let mut builder = Client::builder(&host, port, &connect.user, password(connect)?)
        .trust(trust_policy(connect)?)
        .timeout(Duration::from_secs(connect.timeout));
    if password_only {
        builder = builder.password_only();
    }
    if let Some(ask) = confirm {
        builder = builder.confirm(ask);
    }
    if let Some(held) = held_ctl(connect)? {
        builder = builder.anchor(held);
    }
    if let Some(text) = &connect.accept_ctl {
        let hash = ctl_provider::trust::parse_fingerprint(text).ok_or_else(|| {
            Failure::usage(format!("--accept-ctl {text}: expected 64 hex digits"))
        })?;
        builder = builder.accept_ctl(hash);
    }
    let terminal = std::io::stderr().is_terminal();
    if json && !terminal {
        return Ok((builder.build(), None));
    }
    let progress = Progress::for_stderr(terminal);
    let sink = progress.clone();
    Ok((
        builder.on_event(move |e: Event| sink.event(e)).build(),
        Some(progress),
    ))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Runtime::new().map_err(|e| Failure::failed(e.to_string()))
}

/// Where the CTL held for the cluster is kept (beside the known-providers file).
fn anchor_path(connect: &ConnectArgs) -> Result<PathBuf, Failure> {
    let (host, port) = publisher(connect)?;
    Ok(ctl_client::known::anchor_path(
        &known_path(connect),
        &host,
        port,
    ))
}

/// The CTL the client holds for the cluster: `--trust-ctl`, else the one kept from the
/// last run.
fn held_ctl(connect: &ConnectArgs) -> Result<Option<Vec<u8>>, Failure> {
    if let Some(path) = &connect.trust_ctl {
        return Ok(Some(crate::files::read_document(
            path,
            crate::files::ReadOptions::default(),
        )?));
    }
    ctl_client::known::load_anchor(&anchor_path(connect)?)
        .map_err(|e| Failure::usage(e.to_string()))
}

/// Writes back the known-providers file with what the run pinned, and the CTL the client
/// now holds for the cluster.
pub(crate) fn save_trust(client: &Client, connect: &ConnectArgs) -> Result<(), Failure> {
    ctl_client::known::save(&known_path(connect), &client.trust().known)
        .map_err(|e| Failure::failed(e.to_string()))?;
    if let Some(held) = client.anchor() {
        ctl_client::known::save_anchor(&anchor_path(connect)?, &held)
            .map_err(|e| Failure::failed(e.to_string()))?;
    }
    Ok(())
}
