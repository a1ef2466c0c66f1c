//! An in-memory client/server pair drives sessions (login, roles, pipelining, conflicts,
//! timeouts), and malformed input closes the session with an error and nothing else.

use std::time::{Duration, Instant};

use bytes::Bytes;

use ctl_provider::frame::{Frame, FrameReader};
use ctl_provider::message::{NodeInfo, Password, SecurityMode, UserRole};
use ctl_provider::{
    ClientConn, ClientEvent, ErrorCode, Request, Response, ServerConfig, ServerConn, ServerEvent,
};
use proptest::prelude::*;

/// A toy node: one super-user and one read-only user, a CTL store with stage and commit.
struct Node {
    current: Option<([u8; 32], Bytes)>,
    staged: Vec<([u8; 32], Bytes)>,
}

impl Node {
    fn answer(&mut self, request: &Request) -> Response {
        let hash = |f: &[u8]| {
            let mut h = [0u8; 32];
            for (i, b) in f.iter().enumerate() {
                h[i % 32] ^= *b;
            }
            h[0] = u8::try_from(f.len() % 251).unwrap();
            h
        };
        match request {
            Request::GetCtl => Response::Ctl(self.current.clone()),
            Request::NodeInfo => Response::NodeInfo(NodeInfo {
                name: "n1".into(),
                ..NodeInfo::default()
            }),
            Request::Stage { base, file, .. } => {
                if *base != self.current.as_ref().map(|c| c.0) {
                    return Response::error(ErrorCode::Conflict, "stale base");
                }
                let h = hash(file);
                self.staged.push((h, file.clone()));
                Response::Staged(h)
            }
            Request::Commit { hash } => match self.staged.iter().position(|s| s.0 == *hash) {
                Some(i) => {
                    self.current = Some(self.staged.remove(i));
                    Response::Committed {
                        hash: *hash,
                        hook: None,
                    }
                }
                None => Response::error(ErrorCode::UnknownHash, "not staged"),
            },
            _ => Response::error(ErrorCode::Internal, "not in this toy"),
        }
    }
}

/// Moves bytes both ways and lets the server application answer, until quiet.
fn pump(
    client: &mut ClientConn,
    server: &mut ServerConn,
    node: &mut Node,
    now: Instant,
) -> Vec<ServerEvent> {
    let mut closed = Vec::new();
    for _ in 0..100 {
        let mut moved = false;
        if let Some(bytes) = client.poll_transmit() {
            server.handle_input(&bytes.to_vec(), now);
            moved = true;
        }
        while let Some(ev) = server.poll_event() {
            moved = true;
            match ev {
                ServerEvent::Login { id, user, password } => {
                    let r = match (user.as_str(), password.expose()) {
                        ("admin", "s3cret") => Response::LoginOk(UserRole::SuperUser),
                        ("viewer", "s3cret") => Response::LoginOk(UserRole::ReadOnly),
                        _ => Response::error(ErrorCode::LoginRefused, "wrong user or password"),
                    };
                    server.respond(id, &r, now);
                }
                ServerEvent::Request { id, request, .. } => {
                    let r = node.answer(&request);
                    server.respond(id, &r, now);
                }
                other => closed.push(other),
            }
        }
        if let Some(bytes) = server.poll_transmit() {
            // The client reads straight into its frame buffer, as the network shell does.
            let bytes = bytes.to_vec();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let space = client.input_space();
                let n = space.len().min(rest.len());
                if n == 0 {
                    break; // closed: what follows is not read
                }
                space[..n].copy_from_slice(&rest[..n]);
                client.input_filled(n);
                rest = &rest[n..];
            }
            moved = true;
        }
        if !moved {
            break;
        }
    }
    closed
}

fn responses_of(client: &mut ClientConn) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some(ev) = client.poll_event() {
        match ev {
            ClientEvent::Response { response, .. } => out.push(response),
            ClientEvent::Closed { reason } => {
                out.push(Response::error(ErrorCode::Other(0), reason.to_string()))
            }
            other => panic!("{other:?}"),
        }
    }
    out
}

fn config() -> ServerConfig {
    ServerConfig {
        node_name: "n1".into(),
        ..ServerConfig::default()
    }
}

#[test]
fn a_session_from_hello_to_bye() {
    let now = Instant::now();
    let mut node = Node {
        current: None,
        staged: Vec::new(),
    };
    let mut client = ClientConn::new("test");
    let mut server = ServerConn::new(config(), now);
    // A request before login is refused, the session stays.
    client.send(&Request::GetCtl);
    client.send(&Request::Login {
        user: "admin".into(),
        password: Password::new("wrong"),
    });
    client.send(&Request::Login {
        user: "admin".into(),
        password: Password::new("s3cret"),
    });
    pump(&mut client, &mut server, &mut node, now);
    let r = responses_of(&mut client);
    assert!(
        matches!(&r[0], Response::HelloOk { version: 1, node, .. } if node == "n1"),
        "{r:?}"
    );
    assert!(
        matches!(
            &r[1],
            Response::Error {
                code: ErrorCode::NotLoggedIn,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(
        matches!(
            &r[2],
            Response::Error {
                code: ErrorCode::LoginRefused,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(r[3], Response::LoginOk(UserRole::SuperUser));
    assert_eq!(client.version(), Some(1));
    // Stage against no CTL, commit, then a stale stage is a conflict.
    client.send(&Request::Stage {
        base: None,
        file: vec![1; 100].into(),
        peers: None,
    });
    pump(&mut client, &mut server, &mut node, now);
    let Response::Staged(h) = responses_of(&mut client).remove(0) else {
        panic!()
    };
    client.send(&Request::Commit { hash: h });
    client.send(&Request::Stage {
        base: None,
        file: vec![2; 100].into(),
        peers: None,
    });
    client.send(&Request::GetCtl);
    pump(&mut client, &mut server, &mut node, now);
    let r = responses_of(&mut client);
    assert_eq!(
        r[0],
        Response::Committed {
            hash: h,
            hook: None
        }
    );
    assert!(
        matches!(
            &r[1],
            Response::Error {
                code: ErrorCode::Conflict,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(r[2], Response::Ctl(Some((h, vec![1; 100].into()))));
    client.send(&Request::Bye);
    let closed = pump(&mut client, &mut server, &mut node, now);
    assert!(server.is_closed());
    assert!(matches!(closed.as_slice(), [ServerEvent::Closed { .. }]));
    assert_eq!(
        responses_of(&mut client).last(),
        Some(&Response::error(ErrorCode::Other(0), "BYE"))
    );
}

#[test]
fn a_read_only_user_may_read_but_not_change() {
    let now = Instant::now();
    let mut node = Node {
        current: None,
        staged: Vec::new(),
    };
    let mut client = ClientConn::new("test");
    let mut server = ServerConn::new(config(), now);
    client.send(&Request::Login {
        user: "viewer".into(),
        password: Password::new("s3cret"),
    });
    client.send(&Request::GetCtl);
    client.send(&Request::Stage {
        base: None,
        file: vec![1].into(),
        peers: None,
    });
    client.send(&Request::SetMode(SecurityMode::Mixed));
    pump(&mut client, &mut server, &mut node, now);
    let r = responses_of(&mut client);
    assert_eq!(r[1], Response::LoginOk(UserRole::ReadOnly));
    assert_eq!(r[2], Response::Ctl(None));
    assert!(
        matches!(
            &r[3],
            Response::Error {
                code: ErrorCode::Forbidden,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(
        matches!(
            &r[4],
            Response::Error {
                code: ErrorCode::Forbidden,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(!server.is_closed());
}

fn hello_bytes() -> Vec<u8> {
    Request::Hello {
        versions: vec![1],
        software: String::new(),
    }
    .to_frame(1)
    .encode()
    .unwrap()
}

/// Feeds bytes to a fresh server and returns its error frame, if it closed.
fn server_reply(bytes: &[u8]) -> (bool, Vec<Response>) {
    let now = Instant::now();
    let mut server = ServerConn::new(config(), now);
    server.handle_input(bytes, now);
    let mut out = Vec::new();
    let mut reader = FrameReader::new();
    if let Some(b) = server.poll_transmit() {
        reader.push(&b.to_vec());
    }
    while let Ok(Some(f)) = reader.next_frame() {
        out.push(Response::from_frame(&f).unwrap());
    }
    (server.is_closed(), out)
}

#[test]
fn malformed_input_closes_only_that_session_with_an_error() {
    // Garbage.
    let (closed, r) = server_reply(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(closed);
    assert!(
        matches!(&r[..], [Response::Error { code: ErrorCode::BadMessage, message }] if message.contains("\"CT\"")),
        "{r:?}"
    );
    // An oversized frame header: refused before its body arrives.
    let (closed, r) = server_reply(&[b'C', b'T', 1, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff]);
    assert!(closed);
    assert!(
        matches!(&r[..], [Response::Error { message, .. }] if message.contains("over the limit")),
        "{r:?}"
    );
    // A truncated frame: nothing happens yet.
    let hello = hello_bytes();
    let (closed, r) = server_reply(&hello[..hello.len() - 1]);
    assert!(!closed && r.is_empty());
    // A request before HELLO.
    let (closed, r) = server_reply(&Request::GetCtl.to_frame(1).encode().unwrap());
    assert!(
        closed && matches!(&r[..], [Response::Error { message, .. }] if message.contains("HELLO")),
        "{r:?}"
    );
    // No version in common.
    let (closed, r) = server_reply(
        &Request::Hello {
            versions: vec![9],
            software: String::new(),
        }
        .to_frame(1)
        .encode()
        .unwrap(),
    );
    assert!(
        closed
            && matches!(
                &r[..],
                [Response::Error {
                    code: ErrorCode::UnsupportedVersion,
                    ..
                }]
            ),
        "{r:?}"
    );
    // An element that runs past its frame.
    let mut bad = hello.clone();
    let n = bad.len();
    bad[n - 1] = 0xff;
    let mut frame = Frame {
        version: 1,
        kind: 1,
        id: 1,
        body: vec![0x01, 0x00, 0x09, 1].into(),
    };
    let (closed, _) = server_reply(&frame.encode().unwrap());
    assert!(closed);
    // An unknown message type after HELLO is answered, and the session goes on.
    frame = Frame {
        version: 1,
        kind: 0x3e,
        id: 2,
        body: vec![].into(),
    };
    let mut bytes = hello;
    bytes.extend_from_slice(&frame.encode().unwrap());
    let (closed, r) = server_reply(&bytes);
    assert!(!closed);
    assert!(
        matches!(
            &r[1],
            Response::Error {
                code: ErrorCode::UnknownMessage,
                ..
            }
        ),
        "{r:?}"
    );
}

#[test]
fn login_and_idle_timeouts() {
    let t0 = Instant::now();
    let mut server = ServerConn::new(config(), t0);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    server.handle_timeout(t0 + Duration::from_secs(9));
    assert!(!server.is_closed());
    server.handle_timeout(t0 + Duration::from_secs(10));
    assert!(server.is_closed());
    // Idle: after login, 60 s without a request.
    let mut node = Node {
        current: None,
        staged: Vec::new(),
    };
    let mut client = ClientConn::new("t");
    let mut server = ServerConn::new(config(), t0);
    client.send(&Request::Login {
        user: "admin".into(),
        password: Password::new("s3cret"),
    });
    pump(&mut client, &mut server, &mut node, t0);
    assert_eq!(server.role(), Some(UserRole::SuperUser));
    server.handle_timeout(t0 + Duration::from_secs(59));
    assert!(!server.is_closed());
    server.handle_timeout(t0 + Duration::from_secs(60));
    assert!(server.is_closed());
}

proptest! {
    #[test]
    fn any_bytes_never_panic_and_byte_by_byte_equals_whole(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let now = Instant::now();
        let mut input = hello_bytes();
        input.extend_from_slice(&bytes);
        let mut whole = ServerConn::new(config(), now);
        whole.handle_input(&input, now);
        let mut split = ServerConn::new(config(), now);
        for b in &input {
            split.handle_input(std::slice::from_ref(b), now);
        }
        prop_assert_eq!(whole.is_closed(), split.is_closed());
        prop_assert_eq!(whole.poll_transmit(), split.poll_transmit());
        let mut client = ClientConn::new("t");
        client.handle_input(&bytes);
    }
}
