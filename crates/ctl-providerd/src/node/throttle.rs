//! What the node remembers of failed logins, bounded whatever an unauthenticated client
//! invents: the failure counts that lead to lockouts ([`FailureBook`], keyed per user and
//! source, per user across sources, per source across users), and the digest that writes
//! them to the audit log as one line per source per interval ([`FailureDigest`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ctl_provider::message::cut_text;
use ctl_provider::net::Source;

/// What a failure count is kept for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Key {
    /// One user from one source: the admin's own typos.
    Pair(String, Source),
    /// One user from anywhere: guessing from rotating addresses.
    User(String),
    /// One source for any user: guessing many names from one place.
    Source(Source),
}

impl Key {
    /// The three keys a failure of `user` from `source` counts against.
    pub(super) fn all(user: &str, source: Source) -> [Self; 3] {
        [
            Self::Pair(user.to_owned(), source),
            Self::User(user.to_owned()),
            Self::Source(source),
        ]
    }
}

/// Failed logins counted under one key.
#[derive(Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Option<Instant>,
}

/// When a key locks out and for how long.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rule {
    /// Failures before the lockout.
    pub(super) after: u32,
    /// Its length.
    pub(super) lockout: Duration,
    /// A key quiet this long starts again from zero.
    pub(super) forget: Duration,
}

/// The failed logins the node remembers: bounded (an unauthenticated client may invent
/// any number of keys) and forgetting what is older than the lockout.
#[derive(Default)]
pub(super) struct FailureBook {
    entries: HashMap<Key, Failures>,
}

/// How many keys the book holds at most.
const MAX_FAILURE_KEYS: usize = 4096;

impl FailureBook {
    /// Whether `key` is locked out at `now`.
    pub(super) fn locked(&self, key: &Key, now: Instant) -> bool {
        self.locked_for(key, now).is_some()
    }

    /// How long `key` stays locked out from `now`, if it is.
    pub(super) fn locked_for(&self, key: &Key, now: Instant) -> Option<Duration> {
        self.entries
            .get(key)
            .and_then(|f| f.locked_until)
            .filter(|t| *t > now)
            .map(|t| t - now)
    }

    /// Forgets `key` (a successful login).
    pub(super) fn clear(&mut self, key: &Key) {
        self.entries.remove(key);
    }

    /// Counts a failure of `key` at `now`: (failures so far, locked out by this one).
    /// Keys idle for `forget` are dropped first when the book is full, then the longest
    /// idle one that is not locked out; a full book of locked-out keys counts the failure
    /// without keeping it.
    pub(super) fn record(&mut self, key: Key, now: Instant, rule: Rule) -> (u32, bool) {
        self.record_in(key, now, rule, MAX_FAILURE_KEYS)
    }

    fn record_in(&mut self, key: Key, now: Instant, rule: Rule, cap: usize) -> (u32, bool) {
        self.make_room(&key, now, rule.forget, cap);
        if self.entries.len() >= cap && !self.entries.contains_key(&key) {
            // Every key is locked out: this failure is counted (backed off), not kept.
            return (1, false);
        }
        let f = self.entries.entry(key).or_default();
        if f.last.is_some_and(|l| now.duration_since(l) > rule.forget)
            && f.locked_until.is_none_or(|t| t <= now)
        {
            *f = Failures::default();
        }
        f.count = f.count.saturating_add(1);
        f.last = Some(now);
        let was_locked = f.locked_until.is_some_and(|t| t > now);
        if f.count >= rule.after && !was_locked {
            f.locked_until = Some(now + rule.lockout);
            return (f.count, true);
        }
        (f.count, false)
    }

    fn make_room(&mut self, key: &Key, now: Instant, forget: Duration, cap: usize) {
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

    /// The failures counted under `key`.
    pub(super) fn count(&self, key: &Key) -> u32 {
        self.entries.get(key).map_or(0, |f| f.count)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The sources each user logged in from lately. A user locked out from any address (a
/// guesser elsewhere) is still let in from these: a stranger cannot lock the admin out of
/// the workstation the admin logged in from before. Only a correct password adds an
/// entry, so no unauthenticated client can grow it; bounded anyway, forgotten after a
/// while and at restart.
#[derive(Default)]
pub(super) struct KnownSources {
    entries: HashMap<(String, Source), Instant>,
}

/// How many (user, source) pairs are remembered at most.
const MAX_KNOWN: usize = 4096;
/// How long a source stays known after its last good login.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

impl KnownSources {
    /// `user` logged in from `source` at `now`.
    pub(super) fn remember(&mut self, user: &str, source: Source, now: Instant) {
        let key = (user.to_owned(), source);
        if self.entries.len() >= MAX_KNOWN && !self.entries.contains_key(&key) {
            self.entries
                .retain(|_, at| now.saturating_duration_since(*at) < KNOWN_FOR);
            if self.entries.len() >= MAX_KNOWN
                && let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone())
            {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, now);
    }

    /// Whether `user` logged in from `source` lately.
    pub(super) fn knows(&self, user: &str, source: Source, now: Instant) -> bool {
        self.entries
            .get(&(user.to_owned(), source))
            .is_some_and(|at| now.saturating_duration_since(*at) < KNOWN_FOR)
    }
}

/// How a failed login ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// A wrong password, an unknown user, or a name too long.
    Refused,
    /// Refused unchecked, being locked out.
    LockedOut,
}

/// The failures of one source in the current interval.
struct Window {
    started: Instant,
    refused: u32,
    locked_out: u32,
    /// A few of the user names tried (cut), for the summary.
    users: Vec<String>,
}

/// One audit line the digest asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Report {
    /// The user (the first failure's), empty for a summary.
    pub(super) user: String,
    /// The audit action.
    pub(super) action: &'static str,
    /// The text.
    pub(super) message: String,
}

/// Sources with a window open at most; the oldest is summed up and closed for a new one.
const MAX_WINDOWS: usize = 4096;
/// User names a summary lists at most, and the bytes of each.
const SUMMARY_USERS: usize = 3;
const SUMMARY_USER_BYTES: usize = 32;

/// Failed logins as the audit log tells them: the first failure from a source in an
/// interval is written at once; the rest of the interval as one summary line with counts,
/// written at the first failure or login after it ends. However fast a source fails, it
/// costs the log two lines per interval.
#[derive(Default)]
pub(super) struct FailureDigest {
    windows: HashMap<Source, Window>,
}

impl FailureDigest {
    /// Counts a failure; returns the lines to write now.
    pub(super) fn failed(
        &mut self,
        source: Source,
        user: &str,
        how: Failure,
        now: Instant,
        interval: Duration,
    ) -> Vec<Report> {
        let mut out = self.due(now, interval);
        if let Some(w) = self.windows.get_mut(&source) {
            match how {
                Failure::Refused => w.refused = w.refused.saturating_add(1),
                Failure::LockedOut => w.locked_out = w.locked_out.saturating_add(1),
            }
            let name = cut_text(user, SUMMARY_USER_BYTES).into_owned();
            if w.users.len() < SUMMARY_USERS && !w.users.contains(&name) {
                w.users.push(name);
            }
            return out;
        }
        if self.windows.len() >= MAX_WINDOWS
            && let Some(oldest) = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.started)
                .map(|(s, _)| *s)
            && let Some(w) = self.windows.remove(&oldest)
        {
            out.extend(summary(oldest, &w, now));
        }
        self.windows.insert(
            source,
            Window {
                started: now,
                refused: 0,
                locked_out: 0,
                users: Vec::new(),
            },
        );
        out.push(Report {
            user: user.to_owned(),
            action: "login-failed",
            message: match how {
                Failure::Refused => format!("from {source}"),
                Failure::LockedOut => format!("from {source}, refused: locked out"),
            },
        });
        out
    }

    /// Summaries of the windows that are over at `now` (they close).
    pub(super) fn due(&mut self, now: Instant, interval: Duration) -> Vec<Report> {
        let mut out = Vec::new();
        self.windows.retain(|source, w| {
            if now.saturating_duration_since(w.started) < interval {
                return true;
            }
            out.extend(summary(*source, w, now));
            false
        });
        out
    }
}

/// The summary line of a window, if anything happened after its first failure.
fn summary(source: Source, w: &Window, now: Instant) -> Option<Report> {
    let more = w.refused.saturating_add(w.locked_out);
    (more > 0).then(|| Report {
        user: String::new(),
        action: "login-failures",
        message: format!(
            "{more} more failed logins from {source} in {} s ({} refused, {} while locked out; users: {})",
            now.saturating_duration_since(w.started).as_secs(),
            w.refused,
            w.locked_out,
            w.users.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const RULE: Rule = Rule {
        after: 3,
        lockout: Duration::from_secs(60),
        forget: Duration::from_secs(60),
    };

    fn source(s: &str) -> Source {
        Source::of(s.parse().unwrap())
    }

    fn user(name: &str) -> Key {
        Key::User(name.to_owned())
    }

    /// Issue 11, finding 2 (memory): fresh keys from an unauthenticated client could grow
    /// the failure map without end. It holds at most its cap; locked-out keys are kept
    /// over idle ones; a key quiet for longer than `forget` starts again from zero.
    #[test]
    fn the_failure_book_is_bounded_and_forgets() {
        let t0 = Instant::now();
        let mut book = FailureBook::default();
        let admin = Key::Pair("admin".into(), source("10.0.0.1"));
        for _ in 0..3 {
            book.record_in(admin.clone(), t0, RULE, 4);
        }
        assert!(book.locked(&admin, t0));
        for i in 0..100 {
            let at = t0 + Duration::from_millis(i);
            book.record_in(user(&format!("u{i}")), at, RULE, 4);
            assert!(book.len() <= 4);
        }
        assert!(book.locked(&admin, t0 + Duration::from_secs(1)));
        // After the lockout and a quiet period, the key starts again.
        let later = t0 + Duration::from_secs(200);
        assert!(!book.locked(&admin, later));
        assert_eq!(book.record_in(admin, later, RULE, 4), (1, false));
        // A book full of locked-out keys keeps them and counts the newcomer without it.
        let mut full = FailureBook::default();
        for k in ["a", "b"] {
            for _ in 0..3 {
                full.record_in(user(k), t0, RULE, 2);
            }
        }
        assert_eq!(full.record_in(user("c"), t0, RULE, 2), (1, false));
        assert_eq!(full.len(), 2);
        assert!(full.locked(&user("a"), t0) && full.locked(&user("b"), t0));
    }

    #[test]
    fn known_sources_are_per_user_bounded_and_forgotten() {
        let t0 = Instant::now();
        let mut known = KnownSources::default();
        let (a, b) = (source("10.0.0.1"), source("10.0.0.2"));
        known.remember("admin", a, t0);
        assert!(known.knows("admin", a, t0));
        assert!(!known.knows("admin", b, t0));
        assert!(!known.knows("root", a, t0));
        assert!(!known.knows("admin", a, t0 + KNOWN_FOR));
        for i in 0..(MAX_KNOWN + 10) {
            known.remember(&format!("u{i}"), b, t0 + Duration::from_millis(i as u64));
        }
        assert!(known.entries.len() <= MAX_KNOWN);
    }

    #[test]
    fn a_lockout_is_reported_once_by_the_failure_that_caused_it() {
        let t0 = Instant::now();
        let mut book = FailureBook::default();
        let results: Vec<bool> = (0..5).map(|_| book.record(user("a"), t0, RULE).1).collect();
        assert_eq!(results, [false, false, true, false, false]);
    }

    /// Issue 11, finding 2 (disk): every failed login was a line. Per source and
    /// interval: the first at once, the rest as one summary with counts and a few names.
    #[test]
    fn failures_are_one_line_then_one_summary_per_source_and_interval() {
        let t0 = Instant::now();
        let every = Duration::from_secs(60);
        let mut d = FailureDigest::default();
        let (a, b) = (source("10.0.0.1"), source("10.0.0.2"));
        let first = d.failed(a, "admin", Failure::Refused, t0, every);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].message, "from 10.0.0.1");
        let mut lines = 0;
        for i in 0..1000u32 {
            let how = if i % 2 == 0 {
                Failure::Refused
            } else {
                Failure::LockedOut
            };
            let name = format!("user{i}{}", "x".repeat(100));
            lines += d
                .failed(a, &name, how, t0 + Duration::from_millis(i.into()), every)
                .len();
        }
        assert_eq!(lines, 0, "inside the interval nothing more is written");
        assert_eq!(d.failed(b, "root", Failure::Refused, t0, every).len(), 1);
        let due = d.due(t0 + every, every);
        assert_eq!(due.len(), 1, "b had nothing after its first line: {due:?}");
        let m = &due[0].message;
        assert!(
            m.starts_with("1000 more failed logins from 10.0.0.1 in 60 s (500 refused, 500 while locked out; users: user0xxx"),
            "{m}"
        );
        assert!(m.len() < 300, "{m}");
        // Both windows closed: the next failure is a first line again.
        assert_eq!(
            d.failed(b, "root", Failure::Refused, t0 + every, every)
                .len(),
            1
        );
    }
}
