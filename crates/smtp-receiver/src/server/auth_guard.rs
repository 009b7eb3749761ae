//! AUTH guessing across connections: failures counted per client (an
//! IPv4 address or an IPv6 /64) and per user name over a window, replies
//! to failures delayed as they accumulate, AUTH refused for a while past a
//! threshold.
//!
//! The session limits failures within one connection
//! ([`Limits::auth_failures`](crate::Limits::auth_failures), 3 then 421);
//! an attacker simply opens more connections (70 connections × 3 guesses
//! took 0.14 s before this). The guard is the server's memory across
//! them. It decides from the instants it is given, so it is tested without
//! waiting; the driver sleeps the delays.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::AuthThrottle;

/// Keys tracked at most (clients and user names together): an attacker
/// cycling through addresses or names cannot grow the table without bound.
/// Expired entries are dropped first; past this, new keys go uncounted
/// until old ones expire (the per-session limit still holds for them).
const MAX_ENTRIES: usize = 65_536;
/// User names are compared on at most this many bytes (a guess's user
/// name is the client's to choose, and kept in memory for the window).
const MAX_USER_KEY: usize = 256;

/// What one failure is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(IpAddr),
    User(String),
}

#[derive(Debug, Clone, Copy)]
struct Record {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

/// The server's count of AUTH failures (see the module documentation).
#[derive(Debug)]
pub(crate) struct AuthGuard {
    throttle: AuthThrottle,
    records: Mutex<HashMap<Key, Record>>,
}

/// What the guard says after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Failures counted for the client within the window, this one included.
    pub(crate) client_failures: u32,
    /// How long to wait before the reply.
    pub(crate) delay: Duration,
}

impl AuthGuard {
    pub(crate) fn new(throttle: AuthThrottle) -> AuthGuard {
        AuthGuard {
            throttle,
            records: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Record>> {
        // A panic elsewhere while holding the lock leaves counts that are
        // still valid numbers.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// May `client` try to authenticate as `user` at `now`? `Err` with the
    /// end of the lockout when the client or the user name is locked out.
    pub(crate) fn admit(&self, client: IpAddr, user: &str, now: Instant) -> Result<(), Instant> {
        let records = self.lock();
        let locked = [Key::Client(client), user_key(user)]
            .iter()
            .filter_map(|key| records.get(key)?.locked_until)
            .filter(|&until| until > now)
            .max();
        match locked {
            Some(until) => Err(until),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt by `client` as `user` at `now`.
    pub(crate) fn failed(&self, client: IpAddr, user: &str, now: Instant) -> Failure {
        let throttle = self.throttle;
        let mut records = self.lock();
        if records.len() >= MAX_ENTRIES {
            records.retain(|_, record| !expired(record, &throttle, now));
        }
        let mut count = |key: Key| -> u32 {
            let full = records.len() >= MAX_ENTRIES;
            let record = match records.get_mut(&key) {
                Some(record) => record,
                None if full => return 1,
                None => records.entry(key).or_insert(Record {
                    window_start: now,
                    failures: 0,
                    locked_until: None,
                }),
            };
            if now.saturating_duration_since(record.window_start) > throttle.window {
                record.window_start = now;
                record.failures = 0;
            }
            record.failures = record.failures.saturating_add(1);
            if record.failures >= throttle.failures {
                record.locked_until = Some(now + throttle.lockout);
            }
            record.failures
        };
        let client_failures = count(Key::Client(client));
        let user_failures = count(user_key(user));
        // The first failure of a window is a typo, answered at once; each
        // one after adds a step.
        let worst = client_failures.max(user_failures);
        let delay = throttle
            .delay_step
            .saturating_mul(worst.saturating_sub(1))
            .min(throttle.max_delay);
        Failure {
            client_failures,
            delay,
        }
    }
}

/// A record whose window and lockout are both over counts nothing.
fn expired(record: &Record, throttle: &AuthThrottle, now: Instant) -> bool {
    let window_over = now.saturating_duration_since(record.window_start) > throttle.window;
    let unlocked = record.locked_until.is_none_or(|until| until <= now);
    window_over && unlocked
}

/// User names are case-insensitive for most back-ends; `Bob` and `bob`
/// are one target.
fn user_key(user: &str) -> Key {
    let mut end = user.len().min(MAX_USER_KEY);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    Key::User(user[..end].to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn guard() -> AuthGuard {
        AuthGuard::new(AuthThrottle::default())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn delays_grow_with_failures_and_the_threshold_locks_the_client_out() {
        let guard = guard();
        let t0 = Instant::now();
        let client = ip("192.0.2.7");
        let mut delays = Vec::new();
        for (n, user) in (0..10).zip(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]) {
            assert_eq!(guard.admit(client, user, t0 + n * SEC), Ok(()));
            delays.push(guard.failed(client, user, t0 + n * SEC).delay.as_secs());
        }
        assert_eq!(delays, [0, 1, 2, 3, 4, 5, 5, 5, 5, 5]);
        let t = t0 + 10 * SEC;
        let until = guard.admit(client, "k", t).unwrap_err();
        assert_eq!(until, t0 + 9 * SEC + AuthThrottle::default().lockout);
        // Another client is not locked out by this one.
        assert_eq!(guard.admit(ip("192.0.2.8"), "k", t), Ok(()));
        // The lockout ends.
        assert_eq!(guard.admit(client, "k", until), Ok(()));
    }

    #[test]
    fn one_user_name_guessed_from_many_addresses_is_locked_out() {
        let guard = guard();
        let t0 = Instant::now();
        for n in 0..10u8 {
            let client = IpAddr::from([198, 51, 100, n]);
            guard.failed(client, if n % 2 == 0 { "Bob" } else { "bob" }, t0);
        }
        assert!(guard.admit(ip("203.0.113.1"), "BOB", t0).is_err());
        assert_eq!(guard.admit(ip("203.0.113.1"), "alice", t0), Ok(()));
    }

    #[test]
    fn failures_outside_the_window_start_the_count_again() {
        let guard = guard();
        let window = AuthThrottle::default().window;
        let t0 = Instant::now();
        let client = ip("192.0.2.7");
        for _ in 0..9 {
            guard.failed(client, "a", t0);
        }
        let later = t0 + window + SEC;
        let failure = guard.failed(client, "a", later);
        assert_eq!(failure.client_failures, 1);
        assert_eq!(failure.delay, Duration::ZERO);
        assert_eq!(guard.admit(client, "a", later), Ok(()));
    }

    #[test]
    fn the_table_stays_bounded() {
        let guard = guard();
        let t0 = Instant::now();
        for n in 0..(MAX_ENTRIES as u32) {
            guard.failed(IpAddr::from(n.to_be_bytes()), "x", t0);
        }
        assert!(guard.lock().len() <= MAX_ENTRIES);
        // Once the window is over, room is made again.
        let later = t0 + AuthThrottle::default().lockout + AuthThrottle::default().window + SEC;
        guard.failed(ip("192.0.2.1"), "y", later);
        assert!(guard.lock().len() < 10);
    }

    #[test]
    fn long_user_names_are_cut_at_a_character_boundary() {
        let name = "é".repeat(200);
        assert!(matches!(user_key(&name), Key::User(k) if k.len() <= MAX_USER_KEY));
    }
}
