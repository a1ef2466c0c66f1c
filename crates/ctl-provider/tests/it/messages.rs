//! Every message round-trips through its frame, passwords never show, and the worked
//! examples of the specification match the encoder byte for byte.

use ctl_provider::frame::FrameReader;
use ctl_provider::message::{
    AuditEntry, HookOutcome, Member, Members, NodeInfo, OffCluster, Password, Peer, PeerSource,
    RoleCertificate, SecurityMode, UserRole, service,
};
use ctl_provider::{ErrorCode, Request, Response};

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
            file: vec![1, 2, 3].into(),
            peers: None,
        },
        Request::Stage {
            base: Some([7; 32]),
            file: vec![9; 65_536].into(),
            peers: None,
        },
        Request::Stage {
            base: Some([8; 32]),
            file: vec![0x30; 100].into(),
            peers: Some(OffCluster::default()),
        },
        Request::Stage {
            base: None,
            file: vec![0x31; 10].into(),
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
            certificate: vec![0x30, 0x82, 1, 2].into(),
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
                        der: vec![0x30, 1].into(),
                    },
                    RoleCertificate {
                        role: 4,
                        der: vec![0x30, 2].into(),
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
        (5, Response::Ctl(Some(([3; 32], vec![4; 65_536].into())))),
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
        let back = frame.clone();
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

/// Issue 11, finding 8: `Debug` of the frame and session types showed a LOGIN's bytes,
/// password included. They show lengths and states only: not the password as text, not
/// as the list of byte values a derived `Debug` prints.
#[test]
fn no_frame_or_session_type_shows_a_login_in_debug() {
    let secret = "hunter2";
    let as_bytes = format!("{:?}", secret.as_bytes());
    let as_bytes = as_bytes.trim_matches(|c| c == '[' || c == ']');
    let shows = |text: String| text.contains(secret) || text.contains(as_bytes);
    let login = Request::Login {
        user: "admin".into(),
        password: Password::new(secret),
    };
    let frame = login.to_frame(2);
    assert!(!shows(format!("{frame:?}")), "{frame:?}");
    let bytes = frame.encode().unwrap();
    // Half a frame waiting in a reader, then all of it in a server session.
    let mut reader = FrameReader::new();
    reader.push(&bytes[..bytes.len() - 3]);
    assert!(!shows(format!("{reader:?}")), "{reader:?}");
    let mut client = ctl_provider::ClientConn::new("test");
    client.send(&login);
    assert!(!shows(format!("{client:?}")), "{client:?}");
    let now = std::time::Instant::now();
    let mut server = ctl_provider::ServerConn::new(ctl_provider::ServerConfig::default(), now);
    let hello = Request::Hello {
        versions: vec![1],
        software: "t".into(),
    };
    server.handle_input(&hello.to_frame(1).encode().unwrap(), now);
    server.handle_input(&bytes[..bytes.len() - 3], now);
    assert!(!shows(format!("{server:?}")), "{server:?}");
    server.handle_input(&bytes[bytes.len() - 3..], now);
    assert!(!shows(format!("{server:?}")), "{server:?}");
}

/// Issue 11, finding 8, and issue 16: the reader reads each frame into a buffer of its
/// own, zeroized when the frame's last slice goes (which safe code cannot observe); what
/// follows a frame in the same input must reach the next frame's buffer intact.
#[test]
fn a_reader_yields_what_follows_a_frame_it_zeroed() {
    let login = Request::Login {
        user: "admin".into(),
        password: Password::new("hunter2"),
    };
    let mut bytes = login.to_frame(2).encode().unwrap();
    let next = Request::NodeInfo.to_frame(3).encode().unwrap();
    bytes.extend_from_slice(&next[..5]);
    let mut reader = FrameReader::new();
    reader.push(&bytes);
    let frame = reader.next_frame().unwrap().unwrap();
    assert_eq!(frame.id, 2);
    assert_eq!(reader.buffered(), 5);
    reader.push(&next[5..]);
    assert_eq!(reader.next_frame().unwrap().unwrap().id, 3);
    assert_eq!(reader.buffered(), 0);
}

/// Issue 16: a STAGE's file is not copied on the way out (the frame's segments include
/// the caller's buffer itself) nor on the way in (the decoded file is a slice of the
/// received body), and the segments carry the same bytes as the one-buffer encoding.
#[test]
fn a_file_travels_without_a_copy() {
    use bytes::{Buf as _, Bytes};
    for size in [44_160, 65_535] {
        let file = Bytes::from(vec![0x42u8; size]);
        let stage = Request::Stage {
            base: Some([1; 32]),
            file: file.clone(),
            peers: None,
        };
        let mut client = ctl_provider::ClientConn::new("t");
        let _ = client.poll_transmit();
        client.send(&stage);
        let out = client.poll_transmit().unwrap();
        let mut slices = [std::io::IoSlice::new(&[]); 16];
        let n = out.chunks_vectored(&mut slices);
        assert_eq!(n, out.segments());
        assert!(
            slices[..n]
                .iter()
                .any(|s| s.as_ptr() == file.as_ptr() && s.len() == size),
            "the file is one of the segments, not a copy"
        );
        let bytes = out.to_vec();
        assert_eq!(*bytes, stage.to_frame(2).encode().unwrap());

        let mut reader = FrameReader::new();
        reader.push(&bytes);
        let frame = reader.next_frame().unwrap().unwrap();
        let [body] = frame.body.parts() else {
            panic!("a received body is one buffer");
        };
        let Request::Stage { file: got, .. } = Request::from_frame(&frame).unwrap() else {
            panic!("not a STAGE");
        };
        assert_eq!(got, file);
        let inside = body.as_ptr_range();
        assert!(inside.contains(&got.as_ptr()) && got.as_ptr_range().end == inside.end);
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
            file: b"ABCDE".to_vec().into(),
            peers: None,
        }
        .to_frame(4),
        Response::error(ErrorCode::Conflict, "stale base").to_frame(4),
        Request::Stage {
            base: None,
            file: b"ABCDE".to_vec().into(),
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

/// Issue 11, finding 9 (a suspicion from reading): an audit entry over 65,535 bytes (a
/// 64 KiB user name from a failed login) was split into two AUDIT_ENTRY elements, and the
/// whole AUDIT answer no longer decoded. Long texts are cut (at a character boundary,
/// marked), the other entries come through whole.
#[test]
fn an_audit_entry_with_a_huge_user_name_does_not_break_the_answer() {
    let entry = |user: String, message: String| AuditEntry {
        time: 1,
        user,
        action: "login-failed".into(),
        message,
    };
    let answer = Response::Audit(vec![
        entry("é".repeat(40_000), "m".repeat(100_000)),
        entry("admin".into(), "ok".into()),
    ]);
    let back = Response::from_frame(&answer.to_frame(7)).unwrap();
    let Response::Audit(entries) = back else {
        panic!("{back:?}")
    };
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1], entry("admin".into(), "ok".into()));
    assert!(entries[0].user.len() <= 260 && entries[0].user.ends_with('…'));
    assert!(entries[0].user.starts_with("éé"));
    assert!(entries[0].message.len() <= 4100 && entries[0].message.ends_with('…'));
}
