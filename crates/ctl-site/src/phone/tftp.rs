//! A TFTP client (RFC 1350, octet mode) that downloads as a phone does, and trusts the
//! server no more than a phone should: answers only from the server's address and the
//! transfer's port, a size cap, a timeout per packet and for the whole transfer.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const RRQ: u16 = 1;
const DATA: u16 = 3;
const ACK: u16 = 4;
const ERROR: u16 = 5;
/// RFC 1350 blocks (no options: every server speaks this).
const BLOCK: usize = 512;
/// Tries of a packet before giving up.
const TRIES: u32 = 5;

/// What a download gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// The file's bytes.
    File(Vec<u8>),
    /// The server has no such file (TFTP error 1).
    Absent,
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TftpError {
    /// The socket failed.
    #[error("{}", ctl_format::io_words(.0))]
    Io(#[from] io::Error),
    /// No answer after every retry, or the transfer took too long.
    #[error("no answer from the TFTP server ({0})")]
    Timeout(&'static str),
    /// The server answered with an error other than "file not found".
    #[error("the TFTP server refused: error {code}: {message}")]
    Server {
        /// The TFTP error code.
        code: u16,
        /// Its message (escaped).
        message: String,
    },
    /// The file is larger than any file of its kind.
    #[error("larger than {0} bytes, which no file of its kind is")]
    TooLarge(usize),
}

fn u16_at(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

fn send(socket: &UdpSocket, to: SocketAddr, op: u16, rest: &[u8]) -> io::Result<()> {
    let mut p = Vec::with_capacity(4 + rest.len());
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(rest);
    socket.send_to(&p, to).map(|_| ())
}

/// Downloads `name` from `server`: at most `limit` bytes, each packet within `timeout`
/// (tried [`TRIES`] times), the whole within `TRIES * timeout` per 64 KiB.
pub(crate) fn get(
    server: SocketAddr,
    name: &str,
    limit: usize,
    timeout: Duration,
) -> Result<Fetched, TftpError> {
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind)?;
    socket.set_read_timeout(Some(timeout))?;
    let mut request = Vec::with_capacity(name.len() + 8);
    request.extend_from_slice(name.as_bytes());
    request.push(0);
    request.extend_from_slice(b"octet\0");
    let budget = timeout * TRIES * u32::try_from(limit / 65_536 + 1).unwrap_or(u32::MAX);
    let deadline = Instant::now() + budget;

    // The transfer's port is the server's source port of its first answer (RFC 1350 TID).
    let mut peer: Option<SocketAddr> = None;
    let mut last: (u16, Vec<u8>) = (RRQ, request);
    let mut expected: u16 = 1;
    let mut out = Vec::new();
    let mut tries = 0;
    let mut buf = [0u8; BLOCK + 5];
    send(&socket, server, last.0, &last.1)?;
    loop {
        if Instant::now() > deadline {
            return Err(TftpError::Timeout("the transfer took too long"));
        }
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                tries += 1;
                if tries >= TRIES {
                    return Err(TftpError::Timeout("every retry timed out"));
                }
                send(&socket, peer.unwrap_or(server), last.0, &last.1)?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // Only the server's address; only the transfer's port once it is known.
        if from.ip() != server.ip() || peer.is_some_and(|p| p != from) {
            if from.ip() == server.ip() {
                let _ = send(&socket, from, ERROR, b"\x00\x05unknown transfer ID\0");
            }
            continue;
        }
        let packet = buf.get(..len).unwrap_or_default();
        if len > BLOCK + 4 {
            continue;
        }
        match u16_at(packet, 0) {
            Some(DATA) => {
                let Some(block) = u16_at(packet, 2) else {
                    continue;
                };
                peer = Some(from);
                let data = packet.get(4..).unwrap_or_default();
                if block == expected {
                    if out.len() + data.len() > limit {
                        let _ = send(&socket, from, ERROR, b"\x00\x03file too large\0");
                        return Err(TftpError::TooLarge(limit));
                    }
                    out.extend_from_slice(data);
                    last = (ACK, block.to_be_bytes().to_vec());
                    send(&socket, from, last.0, &last.1)?;
                    tries = 0;
                    if data.len() < BLOCK {
                        return Ok(Fetched::File(out));
                    }
                    // Block numbers wrap after 65,535 (files over 32 MiB).
                    expected = expected.wrapping_add(1);
                } else if block == expected.wrapping_sub(1) {
                    // Our ACK was lost: say it again.
                    send(&socket, from, ACK, &block.to_be_bytes())?;
                }
            }
            Some(ERROR) => {
                let code = u16_at(packet, 2).unwrap_or(0);
                if code == 1 {
                    return Ok(Fetched::Absent);
                }
                let text = packet.get(4..).unwrap_or_default();
                let text = text.split(|&b| b == 0).next().unwrap_or_default();
                let message = ctl_format::printable(&String::from_utf8_lossy(
                    text.get(..text.len().min(200)).unwrap_or_default(),
                ))
                .into_owned();
                return Err(TftpError::Server { code, message });
            }
            // Anything else from the server is not part of a read: ignored.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A server in a thread that answers the RRQ as `script` says, from a new port.
    fn server(script: impl FnOnce(&UdpSocket, SocketAddr) + Send + 'static) -> SocketAddr {
        let listen = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = listen.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 600];
            let (_, client) = listen.recv_from(&mut buf).unwrap();
            let transfer = UdpSocket::bind("127.0.0.1:0").unwrap();
            script(&transfer, client);
        });
        addr
    }

    fn data(block: u16, bytes: &[u8]) -> Vec<u8> {
        let mut p = vec![0, 3];
        p.extend_from_slice(&block.to_be_bytes());
        p.extend_from_slice(bytes);
        p
    }

    const T: Duration = Duration::from_millis(200);

    #[test]
    fn a_file_over_several_blocks_arrives_whole_and_absent_is_absent() {
        let body: Vec<u8> = (0..1300u32)
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        let expected = body.clone();
        let addr = server(move |s, c| {
            let mut ack = [0u8; 16];
            for (i, chunk) in body.chunks(512).enumerate() {
                s.send_to(&data(u16::try_from(i + 1).unwrap(), chunk), c)
                    .unwrap();
                s.recv_from(&mut ack).unwrap();
            }
        });
        assert_eq!(get(addr, "f", 4096, T).unwrap(), Fetched::File(expected));
        let addr = server(|s, c| {
            s.send_to(b"\x00\x05\x00\x01File not found\0", c).unwrap();
        });
        assert_eq!(get(addr, "f", 4096, T).unwrap(), Fetched::Absent);
    }

    #[test]
    fn a_server_sending_more_than_the_cap_is_cut_off() {
        let addr = server(|s, c| {
            let mut ack = [0u8; 16];
            for i in 1..=10u16 {
                if s.send_to(&data(i, &[0u8; 512]), c).is_err() {
                    return;
                }
                let _ = s.recv_from(&mut ack);
            }
        });
        assert!(matches!(
            get(addr, "f", 1024, T),
            Err(TftpError::TooLarge(1024))
        ));
    }

    #[test]
    fn a_silent_server_times_out_and_a_server_error_is_escaped() {
        let addr = server(|_, _| std::thread::sleep(Duration::from_secs(2)));
        assert!(matches!(
            get(addr, "f", 1024, Duration::from_millis(50)),
            Err(TftpError::Timeout(_))
        ));
        let addr = server(|s, c| {
            s.send_to(b"\x00\x05\x00\x02no \x1b[31maccess\0", c)
                .unwrap();
        });
        let e = get(addr, "f", 1024, T).unwrap_err().to_string();
        assert!(e.contains("error 2") && !e.contains('\x1b'), "{e}");
    }
}
