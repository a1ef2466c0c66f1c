//! Harnesses for the fuzz targets in `fuzz/`. Not a stable API.

use std::time::Instant;

use crate::frame::FrameReader;
use crate::{ClientConn, Request, Response, ServerConfig, ServerConn, ServerEvent};

/// Answers what `server` raised (every request with a read-only login's answer) and
/// appends what it sends to `sent`.
fn answer_all(server: &mut ServerConn, now: Instant, sent: &mut Vec<u8>) {
    while let Some(ev) = server.poll_event() {
        match ev {
            ServerEvent::Login { id, .. } | ServerEvent::Request { id, .. } => {
                server.respond(
                    id,
                    &Response::LoginOk(crate::message::UserRole::ReadOnly),
                    now,
                );
            }
            ServerEvent::Closed { .. } => {}
        }
    }
    if let Some(out) = server.poll_transmit() {
        sent.extend_from_slice(&out.to_vec());
    }
}

/// Any bytes: decode as frames and messages both ways, and drive a server session
/// (answering every request) fed in 7-byte pieces, another fed the same pieces by reading
/// them straight into its frame buffer, and a client session.
///
/// # Panics
/// On no input but when the two servers send different bytes: a bug for the fuzzer to
/// report.
pub fn any_input(data: &[u8]) {
    let mut reader = FrameReader::new();
    reader.push(data);
    while let Ok(Some(frame)) = reader.next_frame() {
        let _ = Request::from_frame(&frame);
        let _ = Response::from_frame(&frame);
    }
    let now = Instant::now();
    let mut server = ServerConn::new(ServerConfig::default(), now);
    let mut sent = Vec::new();
    for chunk in data.chunks(7) {
        server.handle_input(chunk, now);
        answer_all(&mut server, now, &mut sent);
    }
    server.handle_timeout(now);
    let mut direct = ServerConn::new(ServerConfig::default(), now);
    let mut direct_sent = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        // The same 7-byte pieces: what arrives together decides what is answered first.
        let space = direct.input_space();
        let n = space.len().min(rest.len()).min(7);
        if n == 0 {
            break;
        }
        let (now_in, later) = rest.split_at(n);
        if let Some(dst) = space.get_mut(..n) {
            dst.copy_from_slice(now_in);
        }
        direct.input_filled(n, now);
        answer_all(&mut direct, now, &mut direct_sent);
        rest = later;
    }
    assert!(
        sent == direct_sent,
        "a server fed in pieces and one read into directly answered differently"
    );
    let mut client = ClientConn::new("fuzz");
    client.handle_input(data);
    while client.poll_event().is_some() {}
}

/// A session driven by a script the fuzzer writes: bytes fed to the server in chunks it
/// chooses, time moved forward by amounts it chooses (deadlines fire), logins answered as
/// a super-user, a read-only user or refused, requests answered with any kind of answer,
/// and the server's output fed to a client. Checked after every step: no request reaches
/// the handler before a login was accepted, a read-only user's changing requests never
/// do, a closed session raises nothing more, and the client only reports answers to what
/// it asked.
///
/// # Panics
/// When one of those rules breaks: a bug for the fuzzer to report.
pub fn session_script(data: &[u8]) {
    use crate::message::{SecurityMode, UserRole};
    use crate::{ClientEvent, ErrorCode};

    let mut bytes = data.iter().copied();
    let mut next = || bytes.next();
    let mut now = Instant::now();
    let mut server = ServerConn::new(ServerConfig::default(), now);
    let mut client = ClientConn::new("fuzz");
    let mut logged_in: Option<UserRole> = None;
    // The HELLO a new client sends first is its request 1.
    let mut asked = std::collections::HashSet::from([1]);
    let mut input = Vec::new();
    let mut closed_seen = false;
    while let Some(op) = next() {
        match op % 6 {
            // Raw bytes from a peer.
            0 => {
                let n = usize::from(next().unwrap_or(0));
                input.clear();
                input.extend((0..n).map_while(|_| next()));
                server.handle_input(&input, now);
            }
            // Time passes: up to 25.5 s in 100 ms steps.
            1 => {
                let step = u64::from(next().unwrap_or(1));
                now += std::time::Duration::from_millis(step * 100);
                server.handle_timeout(now);
            }
            // The client asks something, and its bytes reach the server.
            2 => {
                let request = match next().unwrap_or(0) % 8 {
                    0 => Request::Login {
                        user: "admin".into(),
                        password: crate::message::Password::new("pw"),
                    },
                    1 => Request::GetMode,
                    2 => Request::GetCtl,
                    3 => Request::Commit {
                        hash: [next().unwrap_or(0); 32],
                    },
                    4 => Request::Abort { hash: [0; 32] },
                    5 => Request::SetMode(SecurityMode::Mixed),
                    6 => Request::Bye,
                    _ => Request::NodeInfo,
                };
                asked.insert(client.send(&request));
                while let Some(out) = client.poll_transmit() {
                    server.handle_input(&out.to_vec(), now);
                }
            }
            // The server's output reaches the client.
            3 => {
                while let Some(out) = server.poll_transmit() {
                    client.handle_input(&out.to_vec());
                }
                while let Some(e) = client.poll_event() {
                    if let ClientEvent::Response { id, .. } = e {
                        assert!(
                            asked.contains(&id),
                            "an answer to request {id}, never asked"
                        );
                    }
                }
            }
            // Answer whatever the server raised.
            _ => {
                let choice = next().unwrap_or(0);
                while let Some(event) = server.poll_event() {
                    assert!(!closed_seen, "an event after the session closed");
                    match event {
                        ServerEvent::Login { id, .. } => {
                            let answer = match choice % 3 {
                                0 => Response::LoginOk(UserRole::SuperUser),
                                1 => Response::LoginOk(UserRole::ReadOnly),
                                _ => Response::error(ErrorCode::LoginRefused, "no"),
                            };
                            if let Response::LoginOk(role) = &answer {
                                logged_in = Some(*role);
                            }
                            server.respond(id, &answer, now);
                        }
                        ServerEvent::Request {
                            id, request, role, ..
                        } => {
                            let Some(granted) = logged_in else {
                                panic!(
                                    "a request reached the handler before any login was accepted"
                                );
                            };
                            assert_eq!(role, granted);
                            assert!(
                                role == UserRole::SuperUser || !request.needs_super_user(),
                                "a read-only user's changing request reached the handler"
                            );
                            let answer = match choice % 5 {
                                0 => Response::Mode(SecurityMode::NonSecure),
                                1 => Response::Ctl(None),
                                2 => Response::Staged([1; 32]),
                                3 => Response::ByeOk,
                                _ => Response::error(ErrorCode::Internal, "fuzz"),
                            };
                            server.respond(id, &answer, now);
                        }
                        ServerEvent::Closed { .. } => closed_seen = true,
                    }
                }
            }
        }
        if server.is_closed() {
            // What was raised before the close comes first, the close last...
            while let Some(e) = server.poll_event() {
                assert!(!closed_seen, "an event after the session closed");
                closed_seen = matches!(e, ServerEvent::Closed { .. });
            }
            // ... and nothing more is raised, whatever arrives.
            server.handle_input(b"CT\x01\x06\x00\x00\x00\x09\x00\x00\x00\x00", now);
            server.handle_timeout(now);
            assert!(
                server.poll_event().is_none(),
                "an event after the session closed"
            );
        }
    }
}
