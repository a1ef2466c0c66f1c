//! A virtual phone: downloads what a Cisco phone downloads, in its order, over real TFTP
//! (and HTTP on 6970), keeps what it installed in a state directory as the phone keeps it
//! in flash, and applies the phone's rules at each step ([`rules`]).

mod http;
pub mod rules;
mod tftp;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ctl_format::Acceptance;

use crate::fsutil::{self, Found};
use crate::manifest::Mac;
use rules::{Family, Held, Kind, PhoneRefusal};
use tftp::Fetched;

/// A trust list is at most this large.
const MAX_LIST: usize = ctl_format::MAX_LEN;

/// A configuration file is at most this large.
const MAX_CONFIG: usize = 8 * 1024 * 1024;

/// Where a phone downloads from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Servers {
    /// The TFTP server (port 69 on a real site).
    pub tftp: SocketAddr,
    /// The HTTP server (port 6970), tried first when given.
    pub http: Option<SocketAddr>,
    /// How long one packet or connection may take.
    pub timeout: Duration,
}

impl Servers {
    /// TFTP only, one second per packet.
    pub const fn tftp(addr: SocketAddr) -> Self {
        Self {
            tftp: addr,
            http: None,
            timeout: Duration::from_secs(1),
        }
    }
}

/// What happened to one file of a boot.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The server has no such file; the phone asks for the next one.
    Absent,
    /// A trust list installed, and why.
    Installed(String),
    /// A configuration accepted, and why.
    Accepted(String),
    /// The same list as the one held: nothing to install.
    Unchanged,
    /// Refused, and why.
    Refused(String),
    /// The download failed (a timeout, a server error).
    Failed(String),
}

/// One file of a boot.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// The file asked for.
    pub name: String,
    /// How it came (`tftp`, `http`), when it came.
    pub via: Option<&'static str>,
    /// Its size, when it came.
    pub size: Option<usize>,
    /// What the phone made of it.
    pub outcome: Outcome,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.name)?;
        if let (Some(via), Some(size)) = (self.via, self.size) {
            write!(f, "fetched over {via} ({size} bytes), ")?;
        }
        match &self.outcome {
            Outcome::Absent => f.write_str("absent"),
            Outcome::Installed(why) => write!(f, "installed: {why}"),
            Outcome::Accepted(why) => write!(f, "accepted: {why}"),
            Outcome::Unchanged => f.write_str("the list the phone holds: kept"),
            Outcome::Refused(why) => f.write_str(why),
            Outcome::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// A boot's steps, and whether the phone ended with its configuration accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Boot {
    /// Every file asked for, in order.
    pub steps: Vec<Step>,
    /// Whether the configuration was accepted.
    pub config_accepted: bool,
}

/// Why a boot could not run (its state could not be read or written).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// The state directory.
    #[error("{}: {}", path.display(), ctl_format::io_words(source))]
    State {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A state file that is not a regular file.
    #[error("{}: {reason}", path.display())]
    Unsafe {
        /// The file.
        path: PathBuf,
        /// Why it was not read.
        reason: String,
    },
}

/// A phone: its MAC, family and flash (a directory).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Phone {
    /// The MAC address its file names carry.
    pub mac: Mac,
    /// The family whose rules apply.
    pub family: Family,
    /// The directory standing in for its flash.
    pub state: PathBuf,
}

const CTL_STATE: &str = "CTLFile.tlv";
const ITL_STATE: &str = "ITLFile.tlv";

impl Phone {
    /// A phone of the default family with flash in `state`.
    pub fn new(mac: Mac, state: PathBuf) -> Self {
        Self {
            mac,
            family: Family::default(),
            state,
        }
    }

    /// The lists this phone holds.
    ///
    /// # Errors
    /// An unreadable state directory, or a state file that is a link.
    pub fn held(&self) -> Result<Held, PhoneError> {
        Ok(Held {
            ctl: self.read_state(CTL_STATE)?,
            itl: self.read_state(ITL_STATE)?,
        })
    }

    fn read_state(&self, name: &str) -> Result<Option<Vec<u8>>, PhoneError> {
        let path = self.state.join(name);
        match fsutil::read_regular(&path, MAX_LIST as u64) {
            Ok(Found::File(b)) => Ok(Some(b)),
            Ok(Found::Absent) => Ok(None),
            Ok(Found::Other(what)) => Err(PhoneError::Unsafe {
                path,
                reason: format!("is {what}, not a list the phone installed"),
            }),
            Err(e) => Err(PhoneError::Unsafe {
                path,
                reason: e.to_string(),
            }),
        }
    }

    fn install(&self, name: &str, bytes: &[u8]) -> Result<(), PhoneError> {
        let state = |source| PhoneError::State {
            path: self.state.join(name),
            source,
        };
        create_private_dir(&self.state)?;
        let staged = fsutil::stage(&self.state.join(name), bytes, 0o600).map_err(|e| {
            PhoneError::Unsafe {
                path: self.state.join(name),
                reason: e.to_string(),
            }
        })?;
        fsutil::commit(&self.state, std::slice::from_ref(&staged), &[]).map_err(|e| match e {
            crate::ProvisionError::Io { source, .. } => state(source),
            other => PhoneError::Unsafe {
                path: self.state.join(name),
                reason: other.to_string(),
            },
        })
    }

    /// Boots: the CTL, the ITL, then the configuration, as the phone asks for them.
    ///
    /// # Errors
    /// Only the state directory's: every download and refusal is a [`Step`].
    pub fn boot(&self, servers: &Servers) -> Result<Boot, PhoneError> {
        let mut held = self.held()?;
        let mut steps = Vec::new();
        let mac = self.mac;
        for (kind, names, state) in [
            (
                Kind::Ctl,
                [format!("CTLSEP{mac}.tlv"), "CTLFile.tlv".to_owned()],
                CTL_STATE,
            ),
            (
                Kind::Itl,
                [format!("ITLSEP{mac}.tlv"), "ITLFile.tlv".to_owned()],
                ITL_STATE,
            ),
        ] {
            for name in names {
                let Some((bytes, step)) = fetch(servers, &name, MAX_LIST, &mut steps) else {
                    continue;
                };
                let current = match kind {
                    Kind::Ctl => &mut held.ctl,
                    Kind::Itl => &mut held.itl,
                };
                let outcome = if current.as_deref() == Some(&bytes) {
                    Outcome::Unchanged
                } else {
                    match held.judge_list(self.family, kind, &bytes) {
                        Ok(why) => {
                            self.install(state, &bytes)?;
                            match kind {
                                Kind::Ctl => held.ctl = Some(bytes),
                                Kind::Itl => held.itl = Some(bytes),
                            }
                            Outcome::Installed(acceptance(why))
                        }
                        Err(r) => Outcome::Refused(r.to_string()),
                    }
                };
                steps.push(Step { outcome, ..step });
                break;
            }
        }
        let config_accepted = self.config(servers, &held, &mut steps)?;
        Ok(Boot {
            steps,
            config_accepted,
        })
    }

    fn config(
        &self,
        servers: &Servers,
        held: &Held,
        steps: &mut Vec<Step>,
    ) -> Result<bool, PhoneError> {
        let plain = format!("SEP{}.cnf.xml", self.mac);
        if held.wants_signed_config() {
            let name = format!("{plain}.sgn");
            let Some((bytes, step)) = fetch(servers, &name, MAX_CONFIG, steps) else {
                steps.push(Step {
                    name: plain,
                    via: None,
                    size: None,
                    outcome: Outcome::Refused(PhoneRefusal::Unsigned.to_string()),
                });
                return Ok(false);
            };
            let (outcome, ok) = match held.judge_config(self.family, &bytes) {
                Ok(()) => {
                    self.install(&plain, payload(&bytes))?;
                    (
                        Outcome::Accepted(
                            "signed by a TFTP certificate of the lists the phone holds".into(),
                        ),
                        true,
                    )
                }
                Err(r) => (Outcome::Refused(r.to_string()), false),
            };
            steps.push(Step { outcome, ..step });
            return Ok(ok);
        }
        let Some((bytes, step)) = fetch(servers, &plain, MAX_CONFIG, steps) else {
            return Ok(false);
        };
        self.install(&plain, &bytes)?;
        steps.push(Step {
            outcome: Outcome::Accepted(
                "unsigned: the phone holds no list naming a TFTP signer".into(),
            ),
            ..step
        });
        Ok(true)
    }
}

/// The payload of a `.sgn` the phone accepted.
fn payload(sgn: &[u8]) -> &[u8] {
    ctl_format::parse_signed(sgn).map_or(&[][..], |d| d.body_unverified())
}

fn acceptance(a: Acceptance) -> String {
    match a {
        Acceptance::FirstList => "a first trust list, taken on trust (leap of faith)".into(),
        Acceptance::SignedByHeld => "signed by a SAST of a list the phone holds".into(),
        other => other.to_string(),
    }
}

/// Downloads `name` (HTTP first when there is a server, then TFTP). An absent file or a
/// failure becomes a step and `None`; a file comes back with its step to complete.
fn fetch(
    servers: &Servers,
    name: &str,
    limit: usize,
    steps: &mut Vec<Step>,
) -> Option<(Vec<u8>, Step)> {
    let mut failure = None;
    if let Some(http) = servers.http {
        match http::get(http, name, limit, servers.timeout) {
            Ok(Fetched::File(b)) => return Some(came(name, "http", b)),
            Ok(Fetched::Absent) => {}
            Err(e) => failure = Some(format!("over http: {e}")),
        }
    }
    match tftp::get(servers.tftp, name, limit, servers.timeout) {
        Ok(Fetched::File(b)) => return Some(came(name, "tftp", b)),
        Ok(Fetched::Absent) => {}
        Err(e) => failure = Some(format!("over tftp: {e}")),
    }
    steps.push(Step {
        name: name.to_owned(),
        via: None,
        size: None,
        outcome: failure.map_or(Outcome::Absent, Outcome::Failed),
    });
    None
}

fn came(name: &str, via: &'static str, bytes: Vec<u8>) -> (Vec<u8>, Step) {
    let step = Step {
        name: name.to_owned(),
        via: Some(via),
        size: Some(bytes.len()),
        outcome: Outcome::Absent,
    };
    (bytes, step)
}

fn create_private_dir(dir: &Path) -> Result<(), PhoneError> {
    use std::os::unix::fs::DirBuilderExt as _;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(source) => Err(PhoneError::State {
            path: dir.to_owned(),
            source,
        }),
    }
}
