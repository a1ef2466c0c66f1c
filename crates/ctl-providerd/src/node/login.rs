//! Logins: password checks on a few dedicated threads (argon2id), back-off after a
//! failure, lockout after several.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use ctl_provider::message::{ErrorCode, Password, Response};
use ctl_provider::net::PeerInfo;

use super::{Node, Refusal};

/// Failed logins of one user from one address.
#[derive(Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Option<Instant>,
}

/// The failed logins the node remembers, per user and address: bounded (an unauthenticated
/// client may invent any number of keys) and forgetting what is older than the lockout.
#[derive(Default)]
pub(super) struct FailureBook {
    entries: std::collections::HashMap<String, Failures>,
}

/// How many keys the book holds at most.
const MAX_FAILURE_KEYS: usize = 4096;

impl FailureBook {
    /// Whether `key` is locked out at `now`.
    pub(super) fn locked(&self, key: &str, now: Instant) -> bool {
        self.entries
            .get(key)
            .and_then(|f| f.locked_until)
            .is_some_and(|t| t > now)
    }

    /// Forgets `key` (a successful login).
    pub(super) fn clear(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Counts a failure of `key` at `now`: (failures so far, locked out). Keys idle for
    /// `forget` are dropped first when the book is full, then the longest idle one that is
    /// not locked out; a full book of locked-out keys counts the failure without keeping it.
    pub(super) fn record(
        &mut self,
        key: String,
        now: Instant,
        lockout_after: u32,
        lockout: Duration,
        forget: Duration,
    ) -> (u32, bool) {
        self.record_in(key, now, (lockout_after, lockout, forget), MAX_FAILURE_KEYS)
    }

    fn record_in(
        &mut self,
        key: String,
        now: Instant,
        (lockout_after, lockout, forget): (u32, Duration, Duration),
        cap: usize,
    ) -> (u32, bool) {
        self.make_room(&key, now, forget, cap);
        if self.entries.len() >= cap && !self.entries.contains_key(&key) {
            // Every key is locked out: this failure is counted (backed off), not kept.
            return (1, false);
        }
        let f = self.entries.entry(key).or_default();
        if f.last.is_some_and(|l| now.duration_since(l) > forget)
            && f.locked_until.is_none_or(|t| t <= now)
        {
            *f = Failures::default();
        }
        f.count = f.count.saturating_add(1);
        f.last = Some(now);
        if f.count >= lockout_after {
            f.locked_until = Some(now + lockout);
        }
        (f.count, f.locked_until.is_some_and(|t| t > now))
    }

    fn make_room(&mut self, key: &str, now: Instant, forget: Duration, cap: usize) {
        if self.entries.len() < cap || self.entries.contains_key(key) {
            return;
        }
        let live = |f: &Failures| f.locked_until.is_some_and(|t| t > now);
        self.entries
            .retain(|_, f| live(f) || f.last.is_some_and(|l| now.duration_since(l) <= forget));
        if self.entries.len() < cap {
            return;
        }
        let oldest = self
            .entries
            .iter()
            .filter(|(_, f)| !live(f))
            .min_by_key(|(_, f)| f.last)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.entries.remove(&k);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The longest user name a LOGIN may give.
const MAX_USER_NAME: usize = 256;

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

impl Node {
    /// LOGIN: a user of the configuration with the right password, unless its user and
    /// address are locked out; failures back off and lock out after a few.
    pub(super) async fn check_login(
        &self,
        peer: &PeerInfo,
        user: &str,
        password: &Password,
    ) -> Result<Response, Refusal> {
        let limits = &self.config.limits;
        if user.len() > MAX_USER_NAME {
            // No configured user has such a name: refused before any password check,
            // logged with at most MAX_USER_NAME bytes of it, nothing remembered.
            let end = user.floor_char_boundary(MAX_USER_NAME);
            self.audit(
                &format!("{}…", &user[..end]),
                "login-failed",
                format!(
                    "from {}: a user name of {} bytes, over {MAX_USER_NAME}",
                    peer.addr.ip(),
                    user.len()
                ),
            );
            tokio::time::sleep(Duration::from_millis(limits.login_backoff_ms)).await;
            return Err(Refusal::new(
                ErrorCode::LoginRefused,
                format!("a user name over {MAX_USER_NAME} bytes"),
            ));
        }
        let key = format!("{user}@{}", peer.addr.ip());
        if self.inner().failures.locked(&key, Instant::now()) {
            return Err(Refusal::new(
                ErrorCode::LockedOut,
                "too many failed logins; try again later",
            ));
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
            self.inner().failures.clear(&key);
            self.audit(user, "login", format!("from {}", peer.addr.ip()));
            return Ok(Response::LoginOk(u.role));
        }
        let (count, locked) = {
            let lockout = Duration::from_secs(limits.lockout_secs);
            // Forgotten after a quiet lockout period (at least a minute).
            let forget = lockout.max(Duration::from_secs(60));
            self.inner()
                .failures
                .record(key, Instant::now(), limits.lockout_after, lockout, forget)
        };
        self.audit(
            user,
            "login-failed",
            format!("from {} (failure {count})", peer.addr.ip()),
        );
        if locked {
            return Err(Refusal::new(
                ErrorCode::LockedOut,
                "too many failed logins; try again later",
            ));
        }
        // Back off: 1, 2, 4 ... times the base delay, at most 30 s.
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

    const RULES: (u32, Duration, Duration) = (3, Duration::from_secs(60), Duration::from_secs(60));

    /// Issue 11, finding 2 (memory): fresh keys from an unauthenticated client could grow
    /// the failure map without end. It holds at most its cap; locked-out keys are kept
    /// over idle ones; a key quiet for longer than `forget` starts again from zero.
    #[test]
    fn the_failure_book_is_bounded_and_forgets() {
        let t0 = Instant::now();
        let mut book = FailureBook::default();
        for _ in 0..3 {
            book.record_in("admin@10.0.0.1".into(), t0, RULES, 4);
        }
        assert!(book.locked("admin@10.0.0.1", t0));
        for i in 0..100 {
            let at = t0 + Duration::from_millis(i);
            book.record_in(format!("u{i}@10.0.0.9"), at, RULES, 4);
            assert!(book.len() <= 4);
        }
        assert!(book.locked("admin@10.0.0.1", t0 + Duration::from_secs(1)));
        // After the lockout and a quiet period, the key starts again.
        let later = t0 + Duration::from_secs(200);
        assert!(!book.locked("admin@10.0.0.1", later));
        assert_eq!(
            book.record_in("admin@10.0.0.1".into(), later, RULES, 4),
            (1, false)
        );
        // A book full of locked-out keys keeps them and counts the newcomer without it.
        let mut full = FailureBook::default();
        for k in ["a", "b"] {
            for _ in 0..3 {
                full.record_in(k.into(), t0, RULES, 2);
            }
        }
        assert_eq!(full.record_in("c".into(), t0, RULES, 2), (1, false));
        assert_eq!(full.len(), 2);
        assert!(full.locked("a", t0) && full.locked("b", t0));
    }

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
