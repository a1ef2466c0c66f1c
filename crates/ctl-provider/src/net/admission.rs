//! Who may open a session before logging in: a few unauthenticated sessions per source
//! and in total, and a bounded rate of new ones per source. Decided at accept time,
//! before any TLS work, so a flood costs the server a closed socket per connection.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a client comes from, as the limits count it: an IPv4 address, or the /64 of an
/// IPv6 address (one host is usually given a whole /64, so its addresses count as one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    /// The source of a client at `ip` (an IPv4-mapped IPv6 address is its IPv4 address).
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "{a}/64"),
        }
    }
}

/// The admission limits.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub(super) per_source: usize,
    pub(super) total: usize,
    /// New sessions per source per second, on average; twice as many in a burst.
    pub(super) rate: u32,
}

struct Entry {
    open: usize,
    /// New-session allowance (a token bucket).
    tokens: f64,
    refilled: Instant,
}

struct Book {
    sources: HashMap<Source, Entry>,
    open: usize,
}

/// Sources remembered for their rate at most (entries with open sessions are always kept).
const MAX_SOURCES: usize = 4096;

/// The unauthenticated sessions open now, per source.
pub(super) struct Admission {
    limits: Limits,
    book: Mutex<Book>,
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Turned {
    /// Its source has as many unauthenticated sessions as it may.
    SourceFull,
    /// The server has as many unauthenticated sessions as it takes.
    Full,
    /// Its source opens sessions faster than allowed.
    TooFast,
}

impl fmt::Display for Turned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SourceFull => "too many sessions not logged in from this source",
            Self::Full => "too many sessions not logged in",
            Self::TooFast => "new sessions from this source too fast",
        })
    }
}

/// An admitted unauthenticated session; dropping it (at login or at the end) frees its place.
pub(super) struct Ticket {
    admission: Arc<Admission>,
    source: Source,
}

impl Admission {
    pub(super) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            book: Mutex::new(Book {
                sources: HashMap::new(),
                open: 0,
            }),
        })
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a new session from `source` at `now`, or says why not.
    pub(super) fn admit(self: &Arc<Self>, source: Source, now: Instant) -> Result<Ticket, Turned> {
        let limits = self.limits;
        let burst = f64::from(limits.rate.max(1)) * 2.0;
        let mut book = self.book();
        if !book.sources.contains_key(&source) && book.sources.len() >= MAX_SOURCES {
            // Forget the sources with nothing open whose allowance is back to full.
            book.sources
                .retain(|_, e| e.open > 0 || refill(e, now, limits.rate, burst) < burst);
        }
        if book.open >= limits.total {
            return Err(Turned::Full);
        }
        if !book.sources.contains_key(&source) && book.sources.len() >= MAX_SOURCES {
            // Still full: a source not yet seen counts as busy rather than unbounded memory.
            return Err(Turned::Full);
        }
        let entry = book.sources.entry(source).or_insert(Entry {
            open: 0,
            tokens: burst,
            refilled: now,
        });
        if entry.open >= limits.per_source {
            return Err(Turned::SourceFull);
        }
        if refill(entry, now, limits.rate, burst) < 1.0 {
            return Err(Turned::TooFast);
        }
        entry.tokens -= 1.0;
        entry.open += 1;
        book.open += 1;
        Ok(Ticket {
            admission: Arc::clone(self),
            source,
        })
    }

    #[cfg(test)]
    fn open(&self) -> usize {
        self.book().open
    }
}

/// Tops up `e`'s allowance for the time since its last refill; returns it.
fn refill(e: &mut Entry, now: Instant, rate: u32, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(e.refilled);
    e.tokens = elapsed
        .as_secs_f64()
        .mul_add(f64::from(rate.max(1)), e.tokens)
        .min(burst);
    e.refilled = now;
    e.tokens
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut book = self.admission.book();
        book.open = book.open.saturating_sub(1);
        if let Some(e) = book.sources.get_mut(&self.source) {
            e.open = e.open.saturating_sub(1);
        }
    }
}

/// Refused connections as the log tells them: the first from a source at once, then one
/// event with the count per interval, so a flood of refusals is a few lines, not a flood
/// of lines.
#[derive(Default)]
pub(super) struct RefusalLog {
    sources: HashMap<Source, (Instant, u32)>,
}

/// How often a source's refusals are reported at most.
const REFUSAL_REPORT_EVERY: Duration = Duration::from_secs(10);

impl RefusalLog {
    /// Counts a refusal; `Some(n)` when `n` refusals (this one included) are to be
    /// reported now.
    pub(super) fn refused(&mut self, source: Source, now: Instant) -> Option<u32> {
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&source) {
            self.sources
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < REFUSAL_REPORT_EVERY);
            if self.sources.len() >= MAX_SOURCES {
                return None;
            }
        }
        match self.sources.get_mut(&source) {
            Some((at, n)) if now.saturating_duration_since(*at) < REFUSAL_REPORT_EVERY => {
                *n = n.saturating_add(1);
                None
            }
            Some((at, n)) => {
                let count = n.saturating_add(1);
                *at = now;
                *n = 0;
                Some(count)
            }
            None => {
                self.sources.insert(source, (now, 0));
                Some(1)
            }
        }
    }
}

/// Back-off after a failed accept (out of descriptors, most often): 10 ms doubling to 1 s,
/// back to the start after a success, so the loop neither spins nor stalls for long.
#[derive(Debug, Default)]
pub(super) struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    /// The pause after one more failure.
    pub(super) fn failed(&mut self) -> Duration {
        let pause = Duration::from_millis(10 << self.failures.min(7)).min(Duration::from_secs(1));
        self.failures = self.failures.saturating_add(1);
        pause
    }

    /// A connection was accepted.
    pub(super) fn succeeded(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_sources_are_their_64_and_mapped_addresses_are_ipv4() {
        assert_eq!(
            Source::of(ip("2001:db8:1:2:aaaa::1")),
            Source::of(ip("2001:db8:1:2:ffff:1:2:3"))
        );
        assert_ne!(
            Source::of(ip("2001:db8:1:2::1")),
            Source::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            Source::of(ip("::ffff:10.0.0.1")),
            Source::of(ip("10.0.0.1"))
        );
        assert_eq!(
            Source::of(ip("2001:db8:1:2:aaaa::1")).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(Source::of(ip("10.0.0.1")).to_string(), "10.0.0.1");
    }

    #[test]
    fn each_source_gets_a_few_places_and_the_total_is_capped() {
        let a = Admission::new(Limits {
            per_source: 2,
            total: 3,
            rate: 100,
        });
        let t = Instant::now();
        let (x, y) = (Source::of(ip("10.0.0.1")), Source::of(ip("10.0.0.2")));
        let x1 = a.admit(x, t).unwrap();
        let _x2 = a.admit(x, t).unwrap();
        assert_eq!(a.admit(x, t).err(), Some(Turned::SourceFull));
        let _y1 = a.admit(y, t).unwrap();
        assert_eq!(a.admit(y, t).err(), Some(Turned::Full));
        drop(x1);
        assert_eq!(a.open(), 2);
        assert!(a.admit(y, t).is_ok());
    }

    #[test]
    fn a_source_opening_sessions_too_fast_is_slowed_to_its_rate() {
        let a = Admission::new(Limits {
            per_source: 100,
            total: 100,
            rate: 5,
        });
        let t = Instant::now();
        let x = Source::of(ip("10.0.0.1"));
        // A burst of twice the rate, then nothing until time passes.
        for _ in 0..10 {
            drop(a.admit(x, t).unwrap());
        }
        assert_eq!(a.admit(x, t).err(), Some(Turned::TooFast));
        assert!(a.admit(Source::of(ip("10.0.0.2")), t).is_ok());
        assert!(a.admit(x, t + Duration::from_millis(250)).is_ok());
        assert_eq!(a.open(), 0, "every ticket was dropped");
    }

    #[test]
    fn refusals_are_reported_once_then_counted_per_interval() {
        let mut log = RefusalLog::default();
        let t = Instant::now();
        let x = Source::of(ip("10.0.0.1"));
        assert_eq!(log.refused(x, t), Some(1));
        for i in 0..1000 {
            assert_eq!(log.refused(x, t + Duration::from_millis(i)), None);
        }
        assert_eq!(log.refused(x, t + Duration::from_secs(11)), Some(1001));
        assert_eq!(log.refused(Source::of(ip("10.0.0.2")), t), Some(1));
    }

    #[test]
    fn the_accept_back_off_grows_to_a_second_and_starts_again() {
        let mut b = AcceptBackoff::default();
        assert_eq!(b.failed(), Duration::from_millis(10));
        assert_eq!(b.failed(), Duration::from_millis(20));
        for _ in 0..20 {
            assert!(b.failed() <= Duration::from_secs(1));
        }
        assert_eq!(b.failed(), Duration::from_secs(1));
        b.succeeded();
        assert_eq!(b.failed(), Duration::from_millis(10));
    }
}
