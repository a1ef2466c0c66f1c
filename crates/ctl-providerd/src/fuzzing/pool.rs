//! The fixture of the node harness: a pool of CTLs signed with the vector keys (built once
//! per process), the client certificates of the session slots, where runs go.

use std::path::{Path, PathBuf};

use std::sync::OnceLock;

use ctl_format::{Certificate, Layout, RecordSpec, Role, TrustListBuilder};
use ctl_provider::ctl_hash;

/// A file of the vectors' keys, in the binary.
macro_rules! vector {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../ctl-format/tests/vectors/keys/",
            $name
        ))
    };
}
pub(super) use vector;

/// The vector keys the pool is signed with, and their certificates.
fn identity(name: &str) -> (&'static [u8], &'static [u8]) {
    match name {
        "sast1" => (vector!("sast1.key.pem"), vector!("sast1.crt.der")),
        "sast2" => (vector!("sast2.key.pem"), vector!("sast2.crt.der")),
        "capf" => (vector!("capf.key.pem"), vector!("capf.crt.der")),
        "tvs" => (vector!("tvs.key.pem"), vector!("tvs.crt.der")),
        "tftp" => (vector!("tftp.key.pem"), vector!("tftp.crt.der")),
        _ => (vector!("ccm.key.pem"), vector!("ccm.crt.der")),
    }
}

fn certificate(name: &str) -> Certificate {
    Certificate::from_der(identity(name).1).expect("a vector certificate")
}

/// A CTL of SAST records `sasts` and `others`, signed by `signer`, made at `timestamp`.
fn list(signer: &str, sasts: &[&str], others: &[(&str, Role)], timestamp: u32) -> Vec<u8> {
    let mut b = TrustListBuilder::new();
    b.layout(Layout::Cucm).timestamp(timestamp);
    for s in sasts {
        b.push(RecordSpec::new(certificate(s), Role::SAST));
    }
    for (name, role) in others {
        b.push(RecordSpec::new(certificate(name), *role));
    }
    let (key, cert) = identity(signer);
    let signer = ctl_token::SoftwareSigner::from_pem_key(key, cert, signer).expect("a vector key");
    b.build(&signer).expect("a pool CTL")
}

pub(super) struct Fixture {
    /// The pool of signed CTLs, and their hashes.
    pub(super) files: Vec<Vec<u8>>,
    pub(super) hashes: Vec<[u8; 32]>,
    /// The client certificate of each session slot (the last presents none).
    pub(super) clients: [Option<Vec<u8>>; SESSIONS],
    pub(super) capf: Vec<u8>,
    /// Where each run's directory goes (`/dev/shm` where there is one: the node syncs
    /// every write).
    pub(super) root: PathBuf,
}

/// Session slots.
pub(super) const SESSIONS: usize = 4;

pub(super) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let ccm = [("ccm", Role::CCM_TFTP)];
        let files = vec![
            list("sast1", &["sast1", "sast2"], &ccm, 1_000),
            list("sast2", &["sast1", "sast2"], &ccm, 2_000),
            list(
                "sast1",
                &["sast1", "sast2"],
                &[("ccm", Role::CCM_TFTP), ("tftp", Role::TFTP)],
                3_000,
            ),
            // A stranger's list: its own tokens, signed by one of them.
            list("capf", &["capf", "tvs"], &ccm, 4_000),
            // A hand-over from the vector tokens to capf.
            list("sast1", &["sast1", "capf"], &ccm, 5_000),
            list("capf", &["capf", "tvs"], &ccm, 6_000),
            // One token only.
            list("sast1", &["sast1"], &ccm, 7_000),
            // Older than every other.
            list("sast2", &["sast1", "sast2"], &ccm, 500),
            // A new token that signs its own introduction.
            list("tftp", &["sast1", "tftp"], &ccm, 9_000),
            list(
                "sast2",
                &["sast1", "sast2"],
                &[("ccm", Role::CCM_TFTP), ("tvs", Role::TVS)],
                10_000,
            ),
        ];
        let hashes = files.iter().map(|f| ctl_hash(f)).collect();
        let shm = Path::new("/dev/shm");
        let root = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        Fixture {
            files,
            hashes,
            clients: [
                Some(identity("sast1").1.to_vec()),
                Some(identity("sast2").1.to_vec()),
                Some(identity("capf").1.to_vec()),
                None,
            ],
            capf: identity("capf").1.to_vec(),
            root,
        }
    })
}
