//! Failed-login throttling: a plain state machine over caller-supplied instants, shared by the
//! REST login and the broker's CONNECT check (each keeps one per kind of key: username,
//! client address). No I/O, no clock of its own.
//!
//! [`LoginGuard`] pairs two of them (by username, by client address) for a sign-in path.
//!
//! A key may fail `max_failures` times within `window`; the next failure locks it for
//! `lockout`, doubling with each further failure while locked-out attempts keep coming (up to
//! `max_lockout`). A success clears the key. At most `capacity` keys are remembered: when
//! full, expired keys are dropped first, then the oldest.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Limits of a [`Throttle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures allowed within `window` before a lockout.
    pub max_failures: u32,
    /// How long failures are remembered.
    pub window: Duration,
    /// First lockout.
    pub lockout: Duration,
    /// Longest lockout.
    pub max_lockout: Duration,
    /// Keys remembered at most.
    pub capacity: usize,
}

impl Default for ThrottleLimits {
    /// 5 failures per 5 minutes, then 1 minute locked, doubling up to 15 minutes (a longer
    /// lockout would let anyone lock a teacher out for long); 10 000 keys.
    fn default() -> Self {
        ThrottleLimits {
            max_failures: 5,
            window: Duration::from_secs(300),
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(900),
            capacity: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    first_failure: Instant,
    locked_until: Option<Instant>,
    lockout: Duration,
}

/// Failed attempts per key.
#[derive(Debug, Clone)]
pub struct Throttle {
    limits: ThrottleLimits,
    entries: HashMap<String, Entry>,
}

impl Throttle {
    /// An empty throttle.
    pub fn new(limits: ThrottleLimits) -> Self {
        Throttle {
            limits,
            entries: HashMap::new(),
        }
    }

    /// `Err(retry_after)` while `key` is locked out at `now`.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        match self.entries.get(key).and_then(|e| e.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt of `key` at `now`; answers the lockout it starts, if any.
    pub fn failure(&mut self, key: &str, now: Instant) -> Option<Duration> {
        if !self.entries.contains_key(key) && self.entries.len() >= self.limits.capacity {
            self.evict(now);
        }
        let limits = self.limits;
        let entry = self.entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            first_failure: now,
            locked_until: None,
            lockout: limits.lockout,
        });
        match entry.locked_until {
            // Locked before (now or earlier): every further failure doubles the lockout; the
            // escalation is only forgotten on a success.
            Some(_) => entry.lockout = (entry.lockout * 2).min(limits.max_lockout),
            None => {
                if now - entry.first_failure > limits.window {
                    entry.failures = 0;
                    entry.first_failure = now;
                }
                entry.failures += 1;
                if entry.failures <= limits.max_failures {
                    return None;
                }
            }
        }
        entry.locked_until = Some(now + entry.lockout);
        Some(entry.lockout)
    }

    /// Clears `key` after a successful attempt.
    pub fn success(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn evict(&mut self, now: Instant) {
        let window = self.limits.window;
        self.entries.retain(|_, e| match e.locked_until {
            Some(until) => until > now,
            None => now - e.first_failure <= window,
        });
        if self.entries.len() >= self.limits.capacity
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.first_failure)
                .map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
    }
}

/// Failed sign-ins of one entry point (REST login, MQTT CONNECT) by username and by client
/// address, shared by its concurrent requests.
#[derive(Debug)]
pub struct LoginGuard {
    users: std::sync::Mutex<Throttle>,
    addresses: std::sync::Mutex<Throttle>,
}

impl LoginGuard {
    /// A guard with these limits per username and per client address.
    pub fn new(users: ThrottleLimits, addresses: ThrottleLimits) -> Self {
        LoginGuard {
            users: std::sync::Mutex::new(Throttle::new(users)),
            addresses: std::sync::Mutex::new(Throttle::new(addresses)),
        }
    }

    fn users(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn addresses(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.addresses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(retry_after)` while the username or the address is locked out.
    pub fn check(
        &self,
        username: &str,
        address: Option<&str>,
        now: Instant,
    ) -> Result<(), Duration> {
        let user = self.users().check(username, now);
        let addr = address.map_or(Ok(()), |a| self.addresses().check(a, now));
        match (user, addr) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(a), Err(b)) => Err(a.max(b)),
            (Err(a), _) | (_, Err(a)) => Err(a),
        }
    }

    /// Records a failed sign-in.
    pub fn failed(&self, username: &str, address: Option<&str>, now: Instant) {
        self.users().failure(username, now);
        if let Some(a) = address {
            self.addresses().failure(a, now);
        }
    }

    /// Clears the username after a successful sign-in. The address keeps its failures, so
    /// signing in to one's own account between guesses does not reset them.
    pub fn succeeded(&self, username: &str) {
        self.users().success(username);
    }
}

impl Default for LoginGuard {
    /// [`ThrottleLimits::default`] per username; per address 50 failures per 5 minutes (a
    /// school's users often share one NAT address, so one typo-prone user must not lock
    /// everybody out; a guesser cycling through usernames is still stopped).
    fn default() -> Self {
        LoginGuard::new(
            ThrottleLimits::default(),
            ThrottleLimits {
                max_failures: 50,
                ..ThrottleLimits::default()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ThrottleLimits {
        ThrottleLimits {
            max_failures: 3,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(10),
            max_lockout: Duration::from_secs(40),
            capacity: 2,
        }
    }

    #[test]
    fn a_key_is_locked_after_too_many_failures_and_freed_by_time() {
        let t0 = Instant::now();
        let mut t = Throttle::new(limits());
        for i in 0..3 {
            assert_eq!(t.check("alice", t0), Ok(()));
            assert_eq!(t.failure("alice", t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(
            t.failure("alice", t0 + Duration::from_secs(3)),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            t.check("alice", t0 + Duration::from_secs(4)),
            Err(Duration::from_secs(9))
        );
        assert_eq!(t.check("bob", t0 + Duration::from_secs(4)), Ok(()));
        assert_eq!(t.check("alice", t0 + Duration::from_secs(14)), Ok(()));
    }

    #[test]
    fn attempts_while_locked_double_the_lockout_up_to_the_maximum() {
        let t0 = Instant::now();
        let mut t = Throttle::new(limits());
        for _ in 0..4 {
            t.failure("k", t0);
        }
        assert_eq!(t.failure("k", t0), Some(Duration::from_secs(20)));
        assert_eq!(t.failure("k", t0), Some(Duration::from_secs(40)));
        assert_eq!(t.failure("k", t0), Some(Duration::from_secs(40)));
        // After the lockout, one more failure locks again at once (escalation kept).
        let later = t0 + Duration::from_secs(41);
        assert_eq!(t.check("k", later), Ok(()));
        assert!(t.failure("k", later).is_some());
    }

    #[test]
    fn success_clears_and_old_failures_expire() {
        let t0 = Instant::now();
        let mut t = Throttle::new(limits());
        for _ in 0..3 {
            t.failure("k", t0);
        }
        t.success("k");
        assert_eq!(t.failure("k", t0), None);
        // Three failures spread over more than the window never lock.
        let mut t = Throttle::new(limits());
        for i in 0..6 {
            assert_eq!(t.failure("k", t0 + Duration::from_secs(61 * i)), None);
        }
    }

    #[test]
    fn the_guard_locks_by_username_or_by_address() {
        let t0 = Instant::now();
        let roomy = ThrottleLimits {
            capacity: 100,
            ..limits()
        };
        let guard = LoginGuard::new(roomy, roomy);
        for i in 0..4 {
            guard.failed("alice", Some("10.0.0.1"), t0);
            guard.failed(&format!("user-{i}"), Some("10.0.0.2"), t0);
        }
        // alice is locked from any address; 10.0.0.2 for any username (it tried 4 of them).
        assert!(guard.check("alice", Some("10.0.0.9"), t0).is_err());
        assert!(guard.check("bob", Some("10.0.0.2"), t0).is_err());
        assert!(guard.check("bob", Some("10.0.0.9"), t0).is_ok());
        assert!(guard.check("bob", None, t0).is_ok());
        // A success clears the username but not the address.
        guard.succeeded("alice");
        assert!(guard.check("alice", Some("10.0.0.9"), t0).is_ok());
        assert!(guard.check("alice", Some("10.0.0.1"), t0).is_err());
    }

    #[test]
    fn memory_is_bounded_by_capacity() {
        let t0 = Instant::now();
        let mut t = Throttle::new(limits());
        for i in 0..100 {
            t.failure(&format!("key-{i}"), t0 + Duration::from_millis(i));
        }
        assert!(t.len() <= 2);
    }
}
