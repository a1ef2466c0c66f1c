//! Logins: password checks on a few dedicated threads (argon2id), back-off after a
//! failure, lockout after several (the counts are in `throttle`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use ctl_provider::message::{ErrorCode, Password, Response};
use ctl_provider::net::PeerInfo;

use ctl_provider::message::cut_text;
use ctl_provider::net::Source;

use super::throttle::{Failure, Key, Rule};
use super::{Node, Refusal};

use crate::config::MAX_USER_NAME;

type HashJob = (Password, String, tokio::sync::oneshot::Sender<bool>);

/// A few threads that check passwords against argon2 PHC strings.
pub(super) struct Hasher {
    jobs: std::sync::mpsc::SyncSender<HashJob>,
}

/// What a password check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The password matches.
    Match,
    /// It does not.
    NoMatch,
    /// Not checked: every check thread is busy and the queue is full. Not a failure of
    /// the user: the client is asked to try again, nothing is counted against it.
    Busy,
}

impl Hasher {
    pub(super) fn start(threads: usize) -> Self {
        Self::with_queue(threads.max(1), 1024)
    }

    /// `threads` check threads behind a queue of `queue` waiting checks.
    fn with_queue(threads: usize, queue: usize) -> Self {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<HashJob>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..threads {
            let rx = Arc::clone(&rx);
            std::thread::spawn(move || {
                // Each thread keeps its argon2 memory for the next check: allocating 19 MiB
                // per login would fragment the heap and grow the process with every login.
                let mut blocks: Vec<argon2::Block> = Vec::new();
                loop {
                    let job = rx
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .recv();
                    let Ok((password, hash, reply)) = job else {
                        return;
                    };
                    let _ = reply.send(verify_with(
                        &mut blocks,
                        password.expose().as_bytes(),
                        &hash,
                    ));
                }
            });
        }
        Self { jobs }
    }

    /// Whether `password` matches `hash`; [`Verdict::Busy`] when the queue is full.
    pub(super) async fn verify(&self, password: Password, hash: String) -> Verdict {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.jobs.try_send((password, hash, tx)).is_err() {
            return Verdict::Busy;
        }
        match rx.await {
            Ok(true) => Verdict::Match,
            Ok(false) => Verdict::NoMatch,
            // The check thread is gone: not the user's failure either.
            Err(_) => Verdict::Busy,
        }
    }
}

/// Checks a password against an argon2 PHC string, computing into `blocks` (grown as needed).
fn verify_with(blocks: &mut Vec<argon2::Block>, password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        argon2::Params::try_from(&parsed),
        argon2::Algorithm::try_from(parsed.algorithm.as_str()),
    ) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let needed = params.block_count();
    if blocks.len() < needed {
        blocks.resize(needed, argon2::Block::default());
    }
    let expected = expected.as_bytes();
    let mut out = vec![0u8; expected.len()];
    let Some(memory) = blocks.get_mut(..needed) else {
        return false;
    };
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt.as_ref(), &mut out, memory)
        .is_err()
    {
        return false;
    }
    // Constant time: every byte is compared whatever the first difference.
    out.iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// The LOCKED_OUT answer, saying how long to wait.
fn locked_out(left: Duration) -> Refusal {
    Refusal::new(
        ErrorCode::LockedOut,
        format!(
            "too many failed logins; try again in {} s",
            left.as_secs().max(1)
        ),
    )
}

/// What the audit log says of a lockout key.
fn locked_text(key: &Key) -> String {
    match key {
        Key::Pair(user, source) => format!("user {user} from {source}"),
        Key::User(user) => format!("user {user} from any address"),
        Key::Source(source) => format!("every user from {source}"),
    }
}

impl Node {
    /// The lockout rule of each kind of key.
    fn rule(&self, key: &Key) -> Rule {
        let limits = &self.config.limits;
        let lockout = Duration::from_secs(limits.lockout_secs);
        Rule {
            after: match key {
                Key::Pair(..) => limits.lockout_after,
                Key::User(_) => limits.user_lockout_after,
                Key::Source(_) => limits.source_lockout_after,
            },
            lockout,
            // Forgotten after a quiet lockout period (at least a minute).
            forget: lockout.max(Duration::from_secs(60)),
        }
    }

    /// Whether the client's TLS certificate is a SAST of the current CTL: TLS proved the
    /// client holds its key, so a lockout (which a neighbour behind the same address can
    /// cause) does not apply to it. Only a node that asks for client certificates
    /// (`require_sast_client_certificate`, the default) gets one.
    fn presents_sast(&self, peer: &PeerInfo) -> bool {
        let Some(cert) = &peer.client_certificate else {
            return false;
        };
        let Ok(Some((_, ctl))) = self.current() else {
            return false;
        };
        ctl_format::parse_trust_list(&ctl).is_ok_and(|doc| super::commit::is_sast_of(&doc, cert))
    }

    /// Writes the failure summaries whose interval is over.
    pub(super) fn write_due_failures(&self) {
        let every = Duration::from_secs(self.config.limits.failure_audit_interval_secs);
        let due = self.inner().digest.due(Instant::now(), every);
        for r in due {
            self.audit(&r.user, r.action, r.message);
        }
    }

    /// Counts a failed login in the digest, writing what it asks for.
    fn note_failure(&self, source: Source, user: &str, how: Failure) {
        let every = Duration::from_secs(self.config.limits.failure_audit_interval_secs);
        let lines = self
            .inner()
            .digest
            .failed(source, user, how, Instant::now(), every);
        for r in lines {
            self.audit(&r.user, r.action, r.message);
        }
    }

    /// How long a login of `user` from `source` stays locked out by one of `keys` (its
    /// own pair, its source, or the user from any address unless `source` is one the user
    /// logged in from lately), if it is.
    fn locked(&self, keys: &[Key], user: &str, source: Source) -> Option<Duration> {
        let (inner, now) = (self.inner(), Instant::now());
        keys.iter()
            .filter(|k| !(matches!(k, Key::User(_)) && inner.known.knows(user, source, now)))
            .filter_map(|k| inner.failures.locked_for(k, now))
            .max()
    }

    /// Counts a failure against `keys`; true when one of them is now locked out.
    fn record_failure(&self, keys: Vec<Key>) -> bool {
        let now = Instant::now();
        let mut newly = Vec::new();
        let mut locked = false;
        {
            let mut inner = self.inner();
            for key in keys {
                let rule = self.rule(&key);
                let (count, now_locked) = inner.failures.record(key.clone(), now, rule);
                if now_locked {
                    newly.push((key.clone(), count, rule.lockout));
                }
                locked |= inner.failures.locked(&key, now);
            }
        }
        for (key, count, lockout) in newly {
            let user = match &key {
                Key::Pair(u, _) | Key::User(u) => u.clone(),
                Key::Source(_) => String::new(),
            };
            self.audit(
                &user,
                "lockout",
                format!(
                    "{} locked out for {} s after {count} failed logins",
                    locked_text(&key),
                    lockout.as_secs()
                ),
            );
        }
        locked
    }

    /// LOGIN: a user of the configuration with the right password, unless locked out;
    /// failures back off and lock out after a few, counted per user and source, per user
    /// from any source, and per source for any user. A client whose TLS certificate is a
    /// SAST of the current CTL is never locked out.
    pub(super) async fn check_login(
        &self,
        peer: &PeerInfo,
        user: &str,
        password: &Password,
    ) -> Result<Response, Refusal> {
        let limits = &self.config.limits;
        let source = peer.source();
        self.write_due_failures();
        if user.len() > MAX_USER_NAME {
            // No configured user has such a name: refused before any password check,
            // counted against its source, logged with at most MAX_USER_NAME bytes of it.
            self.record_failure(vec![Key::Source(source)]);
            self.note_failure(source, &cut_text(user, MAX_USER_NAME), Failure::Refused);
            tokio::time::sleep(Duration::from_millis(limits.login_backoff_ms)).await;
            return Err(Refusal::new(
                ErrorCode::LoginRefused,
                format!("a user name over {MAX_USER_NAME} bytes"),
            ));
        }
        let sast = self.presents_sast(peer);
        let keys = Key::all(user, source);
        if let (Some(left), false) = (self.locked(&keys, user, source), sast) {
            // Refused unchecked: a locked-out guesser costs no password check.
            self.note_failure(source, user, Failure::LockedOut);
            return Err(locked_out(left));
        }
        let found = self.users.iter().find(|u| u.name == user);
        // Unknown users cost the same as wrong passwords.
        let hash = found.map_or_else(
            || {
                self.users
                    .first()
                    .map(|u| u.hash.clone())
                    .unwrap_or_default()
            },
            |u| u.hash.clone(),
        );
        let verdict = self.hasher.verify(password.clone(), hash).await;
        if verdict == Verdict::Busy {
            return Err(Refusal::new(
                ErrorCode::Busy,
                "too many logins being checked; try again in a moment",
            ));
        }
        let ok = verdict == Verdict::Match && found.is_some();
        if let (true, Some(u)) = (ok, found) {
            let [pair, ..] = keys;
            {
                let mut inner = self.inner();
                inner.failures.clear(&pair);
                inner.known.remember(user, source, Instant::now());
            }
            let how = if sast { " with a SAST certificate" } else { "" };
            self.audit(user, "login", format!("from {}{how}", peer.addr.ip()));
            return Ok(Response::LoginOk(u.role));
        }
        let count_key = keys[0].clone();
        self.record_failure(keys.clone().into());
        let locked = self.locked(&keys, user, source);
        self.note_failure(source, user, Failure::Refused);
        if let (Some(left), false) = (locked, sast) {
            return Err(locked_out(left));
        }
        // Back off: 1, 2, 4 ... times the base delay, at most 30 s.
        let count = self.inner().failures.count(&count_key);
        let factor = 1u64 << count.saturating_sub(1).min(5);
        tokio::time::sleep(
            Duration::from_millis(limits.login_backoff_ms.saturating_mul(factor))
                .min(Duration::from_secs(30)),
        )
        .await;
        Err(Refusal::new(
            ErrorCode::LoginRefused,
            "wrong user or password",
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use argon2::PasswordHasher as _;

    use super::*;

    /// Issue 11, finding 9 (a suspicion from reading, confirmed): a full queue answered
    /// "no match", so a correct password counted as a failure and could lock the admin
    /// out during a flood. A check that cannot be made is `Busy`, never `NoMatch`.
    #[tokio::test]
    async fn a_check_that_cannot_be_made_is_busy_not_a_wrong_password() {
        let hash = Argon2::default()
            .hash_password(b"s3cret")
            .unwrap()
            .to_string();
        let checks = Hasher::with_queue(1, 1);
        assert_eq!(
            checks.verify(Password::new("s3cret"), hash.clone()).await,
            Verdict::Match
        );
        assert_eq!(
            checks.verify(Password::new("nope"), hash.clone()).await,
            Verdict::NoMatch
        );
        // No thread left to check (all of them taken): the right password is not refused.
        let none = Hasher::with_queue(0, 1);
        assert_eq!(
            none.verify(Password::new("s3cret"), hash).await,
            Verdict::Busy
        );
    }
}
