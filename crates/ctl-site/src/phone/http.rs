//! The phones' other download path: HTTP on port 6970 (GET, HTTP/1.0, one file per
//! connection), with the same caps as TFTP.

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::tftp::Fetched;

/// Response headers are short; a server sending more is not a phone's server.
const MAX_HEAD: usize = 16 * 1024;

/// Why an HTTP download failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The connection failed or timed out.
    #[error("{}", ctl_format::io_words(.0))]
    Io(#[from] io::Error),
    /// Not an HTTP answer, or one the phone does not take.
    #[error("{0}")]
    Bad(String),
    /// Larger than any file of its kind.
    #[error("larger than {0} bytes, which no file of its kind is")]
    TooLarge(usize),
}

/// `GET /name` from `server`: the body of a 200, [`Fetched::Absent`] for a 404.
pub(crate) fn get(
    server: SocketAddr,
    name: &str,
    limit: usize,
    timeout: Duration,
) -> Result<Fetched, HttpError> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(HttpError::Bad(format!(
            "{name:?} is not a file name a phone asks for"
        )));
    }
    let mut stream = TcpStream::connect_timeout(&server, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /{name} HTTP/1.0\r\nHost: {server}\r\nUser-Agent: ctl-phone\r\nConnection: close\r\n\r\n"
    )?;
    // A deadline for the whole answer: a server dripping a byte per timeout must not
    // hold the phone forever.
    let budget = timeout * u32::try_from(limit / 65_536 + 2).unwrap_or(u32::MAX);
    let deadline = std::time::Instant::now() + budget;
    let cap = MAX_HEAD + limit + 1;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if std::time::Instant::now() > deadline {
            return Err(HttpError::Bad(format!(
                "the answer took longer than {} ms",
                budget.as_millis()
            )));
        }
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        raw.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if raw.len() >= cap {
            break;
        }
    }
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| HttpError::Bad("no end of the response headers".into()))?;
    if end > MAX_HEAD {
        return Err(HttpError::Bad(format!(
            "response headers over {MAX_HEAD} bytes"
        )));
    }
    let head = String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned();
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| HttpError::Bad("not an HTTP status line".into()))?;
    let body = raw.get(end + 4..).unwrap_or_default();
    match status {
        200 => {}
        404 => return Ok(Fetched::Absent),
        other => return Err(HttpError::Bad(format!("HTTP status {other}"))),
    }
    if body.len() > limit {
        return Err(HttpError::TooLarge(limit));
    }
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    if let Some(n) = length
        && n != body.len()
    {
        return Err(HttpError::Bad(format!(
            "Content-Length {n} but {} bytes arrived",
            body.len()
        )));
    }
    Ok(Fetched::File(body.to_vec()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn serve(answer: &'static [u8]) -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            // The whole request, so that closing sends no reset.
            let mut req = Vec::new();
            let mut byte = [0u8; 1];
            while !req.ends_with(b"\r\n\r\n") && s.read(&mut byte).is_ok_and(|n| n == 1) {
                req.push(byte[0]);
            }
            let _ = s.write_all(answer);
        });
        addr
    }

    const T: Duration = Duration::from_secs(2);

    #[test]
    fn a_200_gives_the_body_and_a_404_absent() {
        let a = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(
            get(a, "ITLFile.tlv", 100, T).unwrap(),
            Fetched::File(b"hello".to_vec())
        );
        let a = serve(b"HTTP/1.1 404 Not Found\r\n\r\n");
        assert_eq!(get(a, "ITLFile.tlv", 100, T).unwrap(), Fetched::Absent);
    }

    #[test]
    fn a_server_dripping_bytes_runs_into_the_deadline() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            for _ in 0..100 {
                if s.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(40));
            }
        });
        let started = std::time::Instant::now();
        let e = get(addr, "x", 10, Duration::from_millis(100)).unwrap_err();
        assert!(e.to_string().contains("took longer"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn short_bodies_large_bodies_and_odd_names_are_refused() {
        let a = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello");
        assert!(
            get(a, "x", 100, T)
                .unwrap_err()
                .to_string()
                .contains("Content-Length 9")
        );
        let a = serve(b"HTTP/1.1 200 OK\r\n\r\n0123456789");
        assert!(matches!(get(a, "x", 4, T), Err(HttpError::TooLarge(4))));
        let a = serve(b"HTTP/1.1 200 OK\r\n\r\n");
        assert!(get(a, "../etc/passwd", 4, T).is_err());
    }
}
