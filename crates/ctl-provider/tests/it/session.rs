//! The sans-I/O core: every message round-trips, an in-memory client/server pair drives
//! a session, and malformed input closes the session with an error and nothing else.

use std::time::{Duration, Instant};

use ctl_provider::frame::{Frame, FrameReader};
use ctl_provider::message::{
    AuditEntry, HookOutcome, Member, Members, NodeInfo, OffCluster, Password, Peer, PeerSource,
    RoleCertificate, SecurityMode, UserRole, service,
};
use ctl_provider::{
    ClientConn, ClientEvent, ErrorCode, Request, Response, ServerConfig, ServerConn, ServerEvent,
};
use proptest::prelude::*;

fn requests() -> Vec<Request> {
    vec![
        Request::Hello {
            versions: vec![1, 2],
            software: "ctl 0.1".into(),
        },
        Request::Login {
            user: "admin".into(),
            password: Password::new("pässword"),
        },
        Request::NodeInfo,
        Request::Members,
        Request::GetCtl,
        Request::GetMode,
        Request::Stage {
            base: None,
            file: vec![1, 2, 3],
            peers: None,
        },
        Request::Stage {
            base: Some([7; 32]),
            file: vec![9; 65_536],
            peers: None,
        },
        Request::Stage {
            base: Some([8; 32]),
            file: vec![0x30; 100],
            peers: Some(OffCluster::default()),
        },
        Request::Stage {
            base: None,
            file: vec![0x31; 10],
            peers: Some(OffCluster {
                alternate_tftp: vec![Peer {
                    name: "tftp-dr".into(),
                    host: "tftp-dr.example.com".into(),
                    port: 2444,
                    source: PeerSource::Configured,
                }],
                firewalls: vec![
                    Peer {
                        name: "asa1".into(),
                        host: "192.0.2.50".into(),
                        port: 2445,
                        source: PeerSource::Configured,
                    },
                    Peer {
                        name: "asa2".into(),
                        host: "asa2".into(),
                        port: 1,
                        source: PeerSource::Configured,
                    },
                ],
            }),
        },
        Request::Commit { hash: [1; 32] },
        Request::Abort { hash: [2; 32] },
        Request::SetMode(SecurityMode::Mixed),
        Request::SetMode(SecurityMode::NonSecure),
        Request::PutCapf {
            certificate: vec![0x30, 0x82, 1, 2],
        },
        Request::Audit { limit: 50 },
        Request::Bye,
    ]
}

fn responses() -> Vec<(u8, Response)> {
    vec![
        (
            1,
            Response::HelloOk {
                version: 1,
                node: "cucm-pub".into(),
                software: "ctl-providerd".into(),
            },
        ),
        (2, Response::LoginOk(UserRole::SuperUser)),
        (2, Response::LoginOk(UserRole::ReadOnly)),
        (
            3,
            Response::NodeInfo(NodeInfo {
                name: "cucm-pub".into(),
                addresses: vec![
                    "192.0.2.10".parse().unwrap(),
                    "2001:db8::10".parse().unwrap(),
                ],
                services: service::CALLMANAGER | service::TFTP | service::CAPF | service::PROVIDER,
                first_node: true,
                certificates: vec![
                    RoleCertificate {
                        role: 2,
                        der: vec![0x30, 1],
                    },
                    RoleCertificate {
                        role: 4,
                        der: vec![0x30, 2],
                    },
                ],
            }),
        ),
        (
            4,
            Response::Members(Members {
                members: vec![Member {
                    name: "sub1".into(),
                    host: "sub1.example.com".into(),
                    addresses: vec!["192.0.2.11".parse().unwrap()],
                    services: service::CALLMANAGER,
                    port: 2444,
                }],
                alternate_tftp: vec![Peer {
                    name: "tftp2".into(),
                    host: "tftp2.example.com".into(),
                    port: 2444,
                    source: PeerSource::Configured,
                }],
                firewalls: vec![
                    Peer {
                        name: "asa".into(),
                        host: "asa.example.com".into(),
                        port: 2444,
                        source: PeerSource::Stored,
                    },
                    Peer {
                        name: "asa-b".into(),
                        host: "asa-b.example.com".into(),
                        port: 2444,
                        source: PeerSource::Configured,
                    },
                ],
            }),
        ),
        (5, Response::Ctl(None)),
        (5, Response::Ctl(Some(([3; 32], vec![4; 65_536])))),
        (6, Response::Mode(SecurityMode::Mixed)),
        (7, Response::Staged([5; 32])),
        (
            8,
            Response::Committed {
                hash: [6; 32],
                hook: None,
            },
        ),
        (
            8,
            Response::Committed {
                hash: [6; 32],
                hook: Some(HookOutcome {
                    exit_status: -1,
                    message: "timed out after 30 s".into(),
                }),
            },
        ),
        (9, Response::Aborted([7; 32])),
        (10, Response::ModeSet(SecurityMode::NonSecure)),
        (11, Response::CapfStored),
        (
            12,
            Response::Audit(vec![AuditEntry {
                time: 1_735_689_600,
                user: "admin".into(),
                action: "commit".into(),
                message: "hash ab".into(),
            }]),
        ),
        (13, Response::ByeOk),
        (
            7,
            Response::error(ErrorCode::Conflict, "base hash is not the current CTL's"),
        ),
        (7, Response::error(ErrorCode::Other(999), "")),
    ]
}

#[test]
fn every_message_round_trips_through_its_frame() {
    for (i, r) in requests().into_iter().enumerate() {
        let frame = r.to_frame(u32::try_from(i).unwrap() + 1);
        let bytes = frame.encode().unwrap();
        let mut reader = FrameReader::new();
        reader.push(&bytes);
        let back = reader.next_frame().unwrap().unwrap();
        assert_eq!(Request::from_frame(&back).unwrap(), r);
    }
    for (k, r) in responses() {
        assert!(r.answers(k), "{r:?} answers 0x{k:02x}");
        let frame = r.to_frame(42);
        let back = Frame { ..frame.clone() };
        assert_eq!(Response::from_frame(&back).unwrap(), r, "{r:?}");
    }
}

#[test]
fn passwords_never_show_in_debug() {
    let r = Request::Login {
        user: "admin".into(),
        password: Password::new("hunter2"),
    };
    assert!(!format!("{r:?}").contains("hunter2"));
}

/// A toy node: one super-user and one read-only user, a CTL store with stage and commit.
struct Node {
    current: Option<([u8; 32], Vec<u8>)>,
    staged: Vec<([u8; 32], Vec<u8>)>,
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
            server.handle_input(&bytes, now);
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
            client.handle_input(&bytes);
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
        file: vec![1; 100],
        peers: None,
    });
    pump(&mut client, &mut server, &mut node, now);
    let Response::Staged(h) = responses_of(&mut client).remove(0) else {
        panic!()
    };
    client.send(&Request::Commit { hash: h });
    client.send(&Request::Stage {
        base: None,
        file: vec![2; 100],
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
    assert_eq!(r[2], Response::Ctl(Some((h, vec![1; 100]))));
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
        file: vec![1],
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
        reader.push(&b);
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
        body: vec![0x01, 0x00, 0x09, 1],
    };
    let (closed, _) = server_reply(&frame.encode().unwrap());
    assert!(closed);
    // An unknown message type after HELLO is answered, and the session goes on.
    frame = Frame {
        version: 1,
        kind: 0x3e,
        id: 2,
        body: vec![],
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

/// The hex blocks of docs/protocol.md section 9, in order.
fn doc_examples() -> Vec<Vec<u8>> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .unwrap();
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```hex" {
            let mut bytes = Vec::new();
            for l in lines.by_ref().take_while(|l| l.trim() != "```") {
                for h in l.split_whitespace() {
                    bytes.push(u8::from_str_radix(h, 16).unwrap());
                }
            }
            out.push(bytes);
        }
    }
    out
}

#[test]
fn the_worked_examples_of_the_specification_match_the_encoder() {
    let ours: Vec<Vec<u8>> = vec![
        Request::Hello {
            versions: vec![1],
            software: "ctl 0.1.0".into(),
        }
        .to_frame(1),
        Response::HelloOk {
            version: 1,
            node: "cucm-pub".into(),
            software: "ctl-providerd 0.1.0".into(),
        }
        .to_frame(1),
        Request::Login {
            user: "admin".into(),
            password: Password::new("s3cret"),
        }
        .to_frame(2),
        Response::LoginOk(UserRole::SuperUser).to_frame(2),
        Request::GetMode.to_frame(3),
        Response::Mode(SecurityMode::Mixed).to_frame(3),
        Request::Stage {
            base: None,
            file: b"ABCDE".to_vec(),
            peers: None,
        }
        .to_frame(4),
        Response::error(ErrorCode::Conflict, "stale base").to_frame(4),
        Request::Stage {
            base: None,
            file: b"ABCDE".to_vec(),
            peers: Some(OffCluster {
                alternate_tftp: Vec::new(),
                firewalls: vec![Peer {
                    name: "asa".into(),
                    host: "asa".into(),
                    port: 2444,
                    source: PeerSource::Configured,
                }],
            }),
        }
        .to_frame(5),
        Response::Members(Members {
            members: Vec::new(),
            alternate_tftp: Vec::new(),
            firewalls: vec![Peer {
                name: "asa".into(),
                host: "asa".into(),
                port: 2444,
                source: PeerSource::Stored,
            }],
        })
        .to_frame(6),
    ]
    .into_iter()
    .map(|f| f.encode().unwrap())
    .collect();
    assert_eq!(doc_examples(), ours);
}
