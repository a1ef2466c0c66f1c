//! Harnesses for the fuzz targets in `fuzz/`. Not a stable API.

use std::time::Instant;

use crate::frame::FrameReader;
use crate::{ClientConn, Request, Response, ServerConfig, ServerConn, ServerEvent};

/// Any bytes: decode as frames and messages both ways, and drive a server session
/// (answering every request with an error) and a client session.
///
/// # Panics
/// Never on any input: a panic is a bug for the fuzzer to report.
pub fn any_input(data: &[u8]) {
    let mut reader = FrameReader::new();
    reader.push(data);
    while let Ok(Some(frame)) = reader.next_frame() {
        let _ = Request::from_frame(&frame);
        let _ = Response::from_frame(&frame);
    }
    let now = Instant::now();
    let mut server = ServerConn::new(ServerConfig::default(), now);
    for chunk in data.chunks(7) {
        server.handle_input(chunk, now);
        while let Some(ev) = server.poll_event() {
            match ev {
                ServerEvent::Login { id, .. } | ServerEvent::Request { id, .. } => {
                    server.respond(
                        id,
                        &Response::LoginOk(crate::message::UserRole::ReadOnly),
                        now,
                    );
                }
                _ => {}
            }
        }
        let _ = server.poll_transmit();
    }
    server.handle_timeout(now);
    let mut client = ClientConn::new("fuzz");
    client.handle_input(data);
    while client.poll_event().is_some() {}
}
