//! Hostile clients of a provider: what anyone who can reach its port does before any
//! login (issue 11). Each runs in a loop until a deadline, reconnecting whenever the node
//! cuts it, from a loopback address of its own (`127.0.0.N`), and counts what happened.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ctl_provider::message::{Password, Request};
use ctl_provider::net::{Session, rustls};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpSocket;
use tokio::time::Instant;

/// What a hostile client does with each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Behaviour {
    /// Finishes the TLS handshake, then says nothing.
    Silent,
    /// Sends bytes that are not frames, after the handshake.
    Garbage,
    /// Sends HELLO, then requests without ever reading an answer.
    NotReading,
    /// Sends HELLO, then LOGINs with fresh 64 KiB user names (reading the answers).
    LongNames,
    /// Sends HELLO, then LOGINs of `admin` with wrong passwords.
    WrongPasswords,
}

/// What one hostile client got done.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    /// Connections that got through the TLS handshake.
    pub sessions: u64,
    /// Connections closed or refused before or during the handshake.
    pub refused: u64,
    /// Bytes written after the handshake.
    pub written: u64,
}

impl std::ops::Add for Tally {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            sessions: self.sessions + other.sessions,
            refused: self.refused + other.refused,
            written: self.written + other.written,
        }
    }
}

/// Where and how hostile clients connect.
#[derive(Clone, Debug)]
pub struct Target {
    /// The node's address.
    pub addr: SocketAddr,
    /// A client configuration that trusts the node (an attacker can always get that far).
    pub tls: Arc<rustls::ClientConfig>,
}

async fn tcp_from(local: IpAddr, addr: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(addr).await
}

/// Runs `behaviour` against `target` from `local` until `until`.
pub async fn run(target: Target, local: IpAddr, behaviour: Behaviour, until: Instant) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < until {
        let left = until.saturating_duration_since(Instant::now());
        let got = tokio::time::timeout(left, once(&target, local, behaviour, &mut tally)).await;
        if !matches!(got, Ok(true)) {
            tally.refused += 1;
        }
        // A pause between reconnects, so the flood measures the node rather than spinning
        // the machine the test runs on.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tally
}

/// One connection of `behaviour`, for as long as the node keeps it.
pub async fn hold(target: Target, local: IpAddr, behaviour: Behaviour) -> Tally {
    let mut tally = Tally::default();
    if !once(&target, local, behaviour, &mut tally).await {
        tally.refused += 1;
    }
    tally
}

/// One connection; false when it did not get through the handshake.
async fn once(target: &Target, local: IpAddr, behaviour: Behaviour, tally: &mut Tally) -> bool {
    match behaviour {
        Behaviour::Silent | Behaviour::Garbage | Behaviour::NotReading => {
            let Ok(tcp) = tcp_from(local, target.addr).await else {
                return false;
            };
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(&target.tls));
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("a DNS name");
            let Ok(mut tls) = connector.connect(name, tcp).await else {
                return false;
            };
            tally.sessions += 1;
            match behaviour {
                Behaviour::Garbage => {
                    let junk = vec![0x5a_u8; 4096];
                    while tls.write_all(&junk).await.is_ok() {
                        tally.written += junk.len() as u64;
                    }
                }
                Behaviour::NotReading => {
                    let hello = Request::Hello {
                        versions: vec![1],
                        software: "not reading".into(),
                    };
                    let (Ok(hello), Ok(ask)) = (
                        hello.to_frame(1).encode(),
                        Request::NodeInfo.to_frame(2).encode(),
                    ) else {
                        return true;
                    };
                    let mut batch = hello;
                    batch.extend(ask.repeat(256));
                    while tls.write_all(&batch).await.is_ok() {
                        tally.written += batch.len() as u64;
                        batch = ask.repeat(256);
                    }
                }
                _ => {
                    let mut buf = [0u8; 1024];
                    while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
                }
            }
            true
        }
        Behaviour::LongNames | Behaviour::WrongPasswords => {
            let Ok(mut s) = Session::connect_from(
                local,
                target.addr,
                "localhost",
                Arc::clone(&target.tls),
                Duration::from_secs(30),
            )
            .await
            else {
                return false;
            };
            tally.sessions += 1;
            let mut n = 0u64;
            loop {
                let user = if behaviour == Behaviour::LongNames {
                    format!("{n:08}{}", "u".repeat(64 * 1024))
                } else {
                    "admin".to_owned()
                };
                n += 1;
                tally.written += user.len() as u64;
                match s.login(&user, &Password::new("guess")).await {
                    Err(e) if e.code().is_some() => {}
                    _ => return true,
                }
            }
        }
    }
}
