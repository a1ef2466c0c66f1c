//! The CTL provider service of one cluster node, as a library: `ctl-providerd` is a thin
//! binary over it, and tests and examples run providers in-process with it.
//!
//! It does **not** build or sign CTL files: it serves the node's certificates, checks and
//! stores the files clients send, and keeps the node's state and audit log.
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub mod audit;
pub mod config;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod init;
pub mod log;
pub mod node;
pub mod store;

pub use error::{ConfigError, DaemonError};
pub use init::{Endpoint, Setup};

/// The DER of every `label` block of a PEM file.
///
/// # Errors
/// An unreadable file or no such block.
pub fn read_pem_blocks(path: &Path, label: &str) -> Result<Vec<Vec<u8>>, DaemonError> {
    let text = std::fs::read(path).map_err(DaemonError::file(path))?;
    let blocks =
        ctl_format::pem_decode_all(&text, label).map_err(|source| DaemonError::Certificate {
            path: path.to_owned(),
            source,
        })?;
    if blocks.is_empty() {
        return Err(DaemonError::NoPem {
            path: path.to_owned(),
            label: label.to_owned(),
        });
    }
    Ok(blocks)
}

/// A configured node, ready to serve: its TLS identity, settings and state.
struct Prepared {
    config: config::Config,
    tls: Arc<ctl_provider::net::rustls::ServerConfig>,
    serve: ctl_provider::net::ServeConfig,
}

fn prepare(path: &Path) -> Result<Prepared, DaemonError> {
    let config = config::Config::load(path)?;
    let chain = read_pem_blocks(&config.tls_certificate, "CERTIFICATE")?;
    let key = read_pem_blocks(&config.tls_key, "PRIVATE KEY")?
        .into_iter()
        .next()
        .unwrap_or_default();
    let tls = if config.require_sast_client_certificate {
        ctl_provider::net::server_tls_with_client_certificates(chain, key)
    } else {
        ctl_provider::net::server_tls(chain, key)
    }
    .map_err(DaemonError::Tls)?;
    let limits = &config.limits;
    let serve = ctl_provider::net::ServeConfig {
        session: ctl_provider::ServerConfig {
            node_name: config.node.clone(),
            login_timeout: Duration::from_secs(limits.login_timeout_secs),
            idle_timeout: Duration::from_secs(limits.idle_timeout_secs),
            ..ctl_provider::ServerConfig::default()
        },
        handshake_timeout: Duration::from_secs(limits.handshake_timeout_secs),
        write_timeout: Duration::from_secs(limits.write_timeout_secs),
        max_sessions: limits.max_sessions,
        max_unauthenticated: limits.max_unauthenticated,
        max_unauthenticated_per_source: limits.max_unauthenticated_per_source,
        new_sessions_per_source: limits.new_sessions_per_source,
    };
    Ok(Prepared { config, tls, serve })
}

/// Connections the kernel queues before they are accepted. A flood fills the queue
/// faster than any accept loop empties it; a full queue drops SYNs, which costs a
/// legitimate client a second (its first retransmission), so the queue is long.
const BACKLOG: u32 = 4096;

/// A listener on `addr` with a long accept queue ([`BACKLOG`]).
fn listen_on(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves the node configured at `path` until SIGTERM or Ctrl-C, printing
/// `ctl-providerd listening on ADDR` once it listens.
///
/// # Errors
/// A bad configuration, an unusable TLS identity, or an address it cannot listen on.
pub fn run(path: &Path) -> Result<(), DaemonError> {
    let p = prepare(path)?;
    // Under a flood, run out of sockets as late as the system allows.
    match ctl_provider::net::raise_descriptor_limit() {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
    }
    let listen = p.config.listen;
    let runtime = tokio::runtime::Runtime::new().map_err(DaemonError::Runtime)?;
    runtime.block_on(async move {
        let at = |source| DaemonError::Listen { addr: listen, source };
        let listener = listen_on(listen).map_err(at)?;
        let bound = listener.local_addr().map_err(at)?;
        let name = p.config.node.clone();
        let node = Arc::new(node::Node::new(p.config, bound)?);
        // Scripts and tests read this line to learn the port.
        println!("ctl-providerd listening on {bound}");
        tracing::info!(node = %name, addr = %bound, "listening");
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        };
        let served = ctl_provider::net::serve(listener, p.tls, p.serve, node, shutdown)
            .await
            .map_err(DaemonError::Serve);
        tracing::info!("stopped");
        served
    })
}

/// Starts the node configured at `path` on a thread of this process (for examples and
/// tests: an in-process cluster) and returns the address it listens on. It serves until
/// the process ends.
///
/// # Errors
/// A bad configuration, an unusable TLS identity, or an address it cannot listen on.
pub fn spawn(path: &Path) -> Result<std::net::SocketAddr, DaemonError> {
    spawn_wrapped(path, |node| node)
}

/// [`spawn`], with the node's request handling wrapped by `wrap` (tests put a node that
/// lies in front of a real one; benches one that answers late).
///
/// # Errors
/// A bad configuration, an unusable TLS identity, or an address it cannot listen on.
pub fn spawn_wrapped<H: ctl_provider::net::Handler>(
    path: &Path,
    wrap: impl FnOnce(node::Node) -> H,
) -> Result<std::net::SocketAddr, DaemonError> {
    let p = prepare(path)?;
    let listen = p.config.listen;
    let at = |source| DaemonError::Listen {
        addr: listen,
        source,
    };
    let listener = std::net::TcpListener::bind(listen).map_err(at)?;
    listener.set_nonblocking(true).map_err(at)?;
    let bound = listener.local_addr().map_err(at)?;
    let node = Arc::new(wrap(node::Node::new(p.config, bound)?));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let _ = ctl_provider::net::serve(
                    listener,
                    p.tls,
                    p.serve,
                    node,
                    std::future::pending(),
                )
                .await;
            }
        });
    });
    Ok(bound)
}
