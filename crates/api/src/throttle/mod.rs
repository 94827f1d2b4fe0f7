//! Login throttling, per client address and per username (docs/operations.md, "Logins").
//!
//! - Every address has a budget of attempts (`LOGIN_ADDRESS_LIMIT`, default 20 a minute): a
//!   login or registration takes one before its password is hashed, and a login that succeeds
//!   gives it back, so in effect an address is limited in failures. Out of budget, its attempts
//!   are refused (429) before any hashing.
//! - Every username has a budget of failures from all addresses together
//!   (`LOGIN_USERNAME_LIMIT`, default 10 a minute). Once it is spent the username is under
//!   attack, and attempts on it are refused, but only from addresses that failed on it within
//!   that period. An address that has not failed on it (the real user's, usually) is never held
//!   back by other addresses' failures; a failure of its own makes it one of the suspects.
//!
//! The state is in memory, per process, bounded in size ([`MAX_KEYS`]).

mod buckets;

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use buckets::Buckets;
pub use buckets::Quota;

/// At most this many addresses, usernames and (username, address) pairs are tracked each: about
/// 10 MB at most. Past that the oldest settled entries are forgotten, and if none is, new ones go
/// untracked.
pub const MAX_KEYS: usize = 100_000;

/// The default budget of an address: 20 attempts a minute.
pub const DEFAULT_ADDRESS_QUOTA: Quota = Quota { burst: 20, period: Duration::from_secs(60) };
/// The default budget of failures of a username: 10 a minute.
pub const DEFAULT_USERNAME_QUOTA: Quota = Quota { burst: 10, period: Duration::from_secs(60) };

/// Why an attempt is refused, and how long until it would not be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// The address has spent its budget.
    Address(Duration),
    /// The username is under attack and this address failed on it.
    Username(Duration),
}

impl Throttled {
    pub fn retry_after(self) -> Duration {
        match self {
            Throttled::Address(wait) | Throttled::Username(wait) => wait,
        }
    }

    /// The `by` label of the `logins_throttled_total` metric.
    pub fn by(self) -> &'static str {
        match self {
            Throttled::Address(_) => "address",
            Throttled::Username(_) => "username",
        }
    }
}

/// An attempt let through: report how it ended with [`LoginThrottle::failed`],
/// [`LoginThrottle::succeeded`] or [`LoginThrottle::cancelled`] (a registration that hashed
/// reports nothing: its token stays spent).
#[derive(Debug)]
pub struct Attempt {
    address: IpAddr,
    username: Option<String>,
}

/// The throttle shared by every login route of an application.
#[derive(Clone, Debug)]
pub struct LoginThrottle(Arc<Mutex<State>>);

#[derive(Debug)]
struct State {
    addresses: Buckets<IpAddr>,
    usernames: Buckets<String>,
    /// When each address last failed on each username.
    suspects: std::collections::HashMap<(String, IpAddr), Instant>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(DEFAULT_ADDRESS_QUOTA, DEFAULT_USERNAME_QUOTA)
    }
}

impl LoginThrottle {
    pub fn new(address: Quota, username: Quota) -> Self {
        Self(Arc::new(Mutex::new(State {
            addresses: Buckets::new(address, MAX_KEYS),
            usernames: Buckets::new(username, MAX_KEYS),
            suspects: std::collections::HashMap::new(),
        })))
    }

    /// Lets an attempt by `address` on `username` (when the request named one) through, taking
    /// a token of the address's, or says why not. `address` is the client's, as
    /// [`crate::extractors::ClientIp`] found it.
    pub fn begin(&self, address: IpAddr, username: Option<&str>) -> Result<Attempt, Throttled> {
        self.begin_at(address, username, Instant::now())
    }

    /// A login that failed (a wrong password or an unknown user).
    pub fn failed(&self, attempt: Attempt) {
        self.failed_at(attempt, Instant::now());
    }

    /// A login that succeeded: its token comes back, and the address is no suspect any more.
    pub fn succeeded(&self, attempt: Attempt) {
        self.succeeded_at(attempt, Instant::now());
    }

    /// An attempt that checked no password (refused as invalid, or before hashing): its token
    /// comes back, and nothing else changes.
    pub fn cancelled(&self, attempt: Attempt) {
        self.lock().addresses.give_back(&attempt.address, Instant::now());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn begin_at(
        &self,
        address: IpAddr,
        username: Option<&str>,
        now: Instant,
    ) -> Result<Attempt, Throttled> {
        let username = username.and_then(username_key);
        let mut state = self.lock();
        let by_username = username.as_ref().and_then(|name| state.suspect_wait(name, address, now));
        let by_address = state.addresses.wait(&address, now);
        match (by_address.is_zero(), by_username) {
            (false, other) => {
                let wait = other.map_or(by_address, |w| w.max(by_address));
                Err(Throttled::Address(wait))
            }
            (true, Some(wait)) => Err(Throttled::Username(wait)),
            (true, None) => {
                // Cannot fail: the wait was zero under the same lock.
                let _ = state.addresses.take(address, now);
                Ok(Attempt { address, username })
            }
        }
    }

    fn failed_at(&self, attempt: Attempt, now: Instant) {
        let Some(username) = attempt.username else { return };
        let mut state = self.lock();
        state.usernames.take_anyway(username.clone(), now);
        let period = state.usernames.quota().period;
        let suspects = &mut state.suspects;
        if suspects.len() >= MAX_KEYS {
            suspects.retain(|_, last| now.saturating_duration_since(*last) < period);
        }
        if suspects.len() < MAX_KEYS || suspects.contains_key(&(username.clone(), attempt.address))
        {
            suspects.insert((username, attempt.address), now);
        }
    }

    fn succeeded_at(&self, attempt: Attempt, now: Instant) {
        let mut state = self.lock();
        state.addresses.give_back(&attempt.address, now);
        if let Some(username) = attempt.username {
            state.suspects.remove(&(username, attempt.address));
        }
    }
}

impl State {
    /// How long `address` must wait before trying `username` again, if the username is under
    /// attack and the address failed on it lately.
    fn suspect_wait(&self, username: &str, address: IpAddr, now: Instant) -> Option<Duration> {
        if !self.usernames.is_empty(&username.to_owned(), now) {
            return None;
        }
        let last = self.suspects.get(&(username.to_owned(), address))?;
        let period = self.usernames.quota().period;
        let suspected_for = (*last + period).saturating_duration_since(now);
        if suspected_for.is_zero() {
            return None;
        }
        // Free again once it is no suspect, or once the username is no longer under attack.
        Some(suspected_for.min(self.usernames.wait(&username.to_owned(), now)))
    }
}

/// The key of a username: lower case (names are unique regardless of case), and only for names
/// an account could have (3 to 50 letters, digits, `_`, `.` or `-`); any other is no account's,
/// and counts only against the address.
fn username_key(raw: &str) -> Option<String> {
    movies_domain::auth::Username::new(raw).ok().map(|u| u.as_str().to_ascii_lowercase())
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn throttle() -> LoginThrottle {
        LoginThrottle::new("5/1m".parse().unwrap(), "3/1m".parse().unwrap())
    }

    /// `n` failed logins by `address` on `username` at `now`; panics if one is refused.
    fn fail(t: &LoginThrottle, address: IpAddr, username: &str, n: usize, now: Instant) {
        for _ in 0..n {
            let attempt = t.begin_at(address, Some(username), now).expect("let through");
            t.failed_at(attempt, now);
        }
    }

    #[test]
    fn an_address_that_spent_its_budget_is_refused_for_any_username() {
        let t = throttle();
        let now = Instant::now();
        for n in 0..5 {
            fail(&t, ip(1), &format!("user{n}"), 1, now);
        }
        let refused = t.begin_at(ip(1), Some("someone"), now).unwrap_err();
        assert_eq!(refused, Throttled::Address(Duration::from_secs(12)));
        assert!(t.begin_at(ip(2), Some("someone"), now).is_ok(), "another address is not");
    }

    #[test]
    fn successful_logins_cost_an_address_nothing() {
        let t = throttle();
        let now = Instant::now();
        for _ in 0..50 {
            let attempt = t.begin_at(ip(1), Some("ana"), now).unwrap();
            t.succeeded_at(attempt, now);
        }
        assert!(t.begin_at(ip(1), Some("ana"), now).is_ok());
    }

    #[test]
    fn attempts_in_flight_count_before_they_end() {
        let t = throttle();
        let now = Instant::now();
        let in_flight: Vec<_> = (0..5).map(|_| t.begin_at(ip(1), Some("ana"), now)).collect();
        assert!(in_flight.iter().all(Result::is_ok));
        assert!(t.begin_at(ip(1), Some("ana"), now).is_err());
    }

    #[test]
    fn a_username_under_attack_refuses_only_the_addresses_that_failed_on_it() {
        let t = throttle();
        let now = Instant::now();
        // Three addresses fail on ana: her budget of 3 is spent.
        for attacker in 1..=3 {
            fail(&t, ip(attacker), "Ana", 1, now);
        }
        let refused = t.begin_at(ip(1), Some("ana"), now).unwrap_err();
        assert!(matches!(refused, Throttled::Username(_)), "{refused:?}");
        // Her own address never failed on her: she gets in, and logs in.
        let hers = t.begin_at(ip(9), Some("ana"), now).expect("the real user is let through");
        t.succeeded_at(hers, now);
        // The attackers may still try other names, within their address's budget.
        assert!(t.begin_at(ip(1), Some("bob"), now).is_ok());
    }

    #[test]
    fn a_suspect_is_free_again_once_the_attack_stops_or_its_failure_is_old() {
        let t = throttle();
        let now = Instant::now();
        fail(&t, ip(1), "ana", 3, now);
        let wait = t.begin_at(ip(1), Some("ana"), now).unwrap_err().retry_after();
        // The budget of 3 a minute gives a token back every 20 s.
        assert_eq!(wait, Duration::from_secs(20));
        assert!(t.begin_at(ip(1), Some("ana"), now + wait).is_ok());
    }

    #[test]
    fn a_suspect_that_logs_in_is_no_suspect_any_more() {
        let t = throttle();
        let now = Instant::now();
        fail(&t, ip(1), "ana", 1, now);
        fail(&t, ip(2), "ana", 2, now);
        assert!(t.begin_at(ip(1), Some("ana"), now).is_err());
        let later = now + Duration::from_secs(20);
        let attempt = t.begin_at(ip(1), Some("ana"), later).unwrap();
        t.succeeded_at(attempt, later);
        fail(&t, ip(2), "ana", 1, later);
        assert!(t.begin_at(ip(1), Some("ana"), later).is_ok());
    }

    #[test]
    fn names_no_account_could_have_count_only_against_the_address() {
        let t = throttle();
        let now = Instant::now();
        for address in 1..=4 {
            fail(&t, ip(address), "x", 1, now);
        }
        assert!(t.begin_at(ip(1), Some("x"), now).is_ok());
        assert_eq!(t.lock().suspects.len(), 0);
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_never_zero() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(12)), 12);
        assert_eq!(retry_after_secs(Duration::from_millis(12_001)), 13);
    }
}
