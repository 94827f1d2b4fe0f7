//! `Buckets`: one token bucket per key, kept as the instant it will be full again (GCRA's
//! "theoretical arrival time"), so a key costs one `Instant` however many tokens it holds. Unlike
//! `governor`'s keyed limiters it can give a token back (a login that succeeded was not a failed
//! one) and take one unconditionally (to measure how hard a username is being tried), which the
//! login policy needs. Time is a parameter, so tests move it instead of sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// `burst` tokens, given back one every `period / burst`: at most `burst` at once, and `burst`
/// per `period` in the long run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub burst: u32,
    pub period: Duration,
}

impl Quota {
    /// How long one token takes to come back.
    pub fn interval(&self) -> Duration {
        self.period / self.burst.max(1)
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.burst, humantime::format_duration(self.period))
    }
}

impl std::str::FromStr for Quota {
    type Err = String;

    /// `N/PERIOD`, e.g. `20/1m` or `5/30s`.
    fn from_str(raw: &str) -> Result<Self, String> {
        let usage = || format!("{raw:?}: write COUNT/PERIOD, e.g. 20/1m");
        let (count, period) = raw.trim().split_once('/').ok_or_else(usage)?;
        let burst: u32 = count.trim().parse().map_err(|_| usage())?;
        let period = humantime::parse_duration(period.trim()).map_err(|_| usage())?;
        if burst == 0 || burst > 1_000_000 {
            return Err(format!("{raw:?}: the count must be between 1 and 1000000"));
        }
        if period < Duration::from_secs(1) || period > Duration::from_secs(24 * 3600) {
            return Err(format!("{raw:?}: the period must be between 1s and 24h"));
        }
        Ok(Self { burst, period })
    }
}

/// The buckets of many keys, at most `max_keys` of them: past that, full buckets are forgotten,
/// and if none is, a new key goes untracked (it passes) rather than growing memory without end.
#[derive(Debug)]
pub struct Buckets<K> {
    quota: Quota,
    full_again: HashMap<K, Instant>,
    max_keys: usize,
}

impl<K: Hash + Eq> Buckets<K> {
    pub fn new(quota: Quota, max_keys: usize) -> Self {
        Self { quota, full_again: HashMap::new(), max_keys }
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// How long until `key`'s bucket is full again (zero: it is).
    pub fn debt(&self, key: &K, now: Instant) -> Duration {
        self.full_again.get(key).map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    /// Whether `key`'s bucket is empty: the next token would go over the quota.
    pub fn is_empty(&self, key: &K, now: Instant) -> bool {
        self.debt(key, now) + self.quota.interval() > self.quota.period
    }

    /// How long until `key`'s bucket holds a token again (zero: it does).
    pub fn wait(&self, key: &K, now: Instant) -> Duration {
        (self.debt(key, now) + self.quota.interval()).saturating_sub(self.quota.period)
    }

    /// Takes a token of `key`'s, or says how long until there is one.
    pub fn take(&mut self, key: K, now: Instant) -> Result<(), Duration> {
        let wait = self.wait(&key, now);
        if !wait.is_zero() {
            return Err(wait);
        }
        let debt = self.debt(&key, now) + self.quota.interval();
        self.set(key, now, debt);
        Ok(())
    }

    /// Takes a token of `key`'s even from an empty bucket, owing at most a `period`: the bucket
    /// stays empty for as long as it is drawn on, and has a token again an interval after the
    /// last draw.
    pub fn take_anyway(&mut self, key: K, now: Instant) {
        let debt = (self.debt(&key, now) + self.quota.interval()).min(self.quota.period);
        self.set(key, now, debt);
    }

    /// Gives a token back to `key`'s bucket.
    pub fn give_back(&mut self, key: &K, now: Instant) {
        let debt = self.debt(key, now).saturating_sub(self.quota.interval());
        if debt.is_zero() {
            self.full_again.remove(key);
        } else if let Some(t) = self.full_again.get_mut(key) {
            *t = now + debt;
        }
    }

    fn set(&mut self, key: K, now: Instant, debt: Duration) {
        if !self.full_again.contains_key(&key) && self.full_again.len() >= self.max_keys {
            self.full_again.retain(|_, t| *t > now);
            if self.full_again.len() >= self.max_keys {
                return;
            }
        }
        self.full_again.insert(key, now + debt);
    }

    /// How many keys are tracked.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.full_again.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIX_SECONDS: Duration = Duration::from_secs(6);

    fn ten_a_minute() -> Buckets<&'static str> {
        Buckets::new("10/1m".parse().unwrap(), 100)
    }

    #[test]
    fn a_quota_reads_as_count_slash_period() {
        let quota: Quota = "20/1m".parse().unwrap();
        assert_eq!(quota, Quota { burst: 20, period: Duration::from_secs(60) });
        assert_eq!(quota.interval(), Duration::from_secs(3));
        assert_eq!(quota.to_string(), "20/1m");
        for bad in ["20", "0/1m", "x/1m", "5/0s", "5/2days", "5/soon"] {
            assert!(bad.parse::<Quota>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_is_taken_then_one_token_comes_back_per_interval() {
        let mut buckets = ten_a_minute();
        let now = Instant::now();
        for _ in 0..10 {
            buckets.take("a", now).unwrap();
        }
        assert_eq!(buckets.take("a", now), Err(SIX_SECONDS));
        assert_eq!(buckets.take("a", now + Duration::from_secs(4)), Err(Duration::from_secs(2)));
        assert_eq!(buckets.take("a", now + SIX_SECONDS), Ok(()));
        assert!(buckets.take("b", now).is_ok(), "another key has its own bucket");
    }

    #[test]
    fn a_token_given_back_can_be_taken_again() {
        let mut buckets = ten_a_minute();
        let now = Instant::now();
        for _ in 0..10 {
            buckets.take("a", now).unwrap();
            buckets.give_back(&"a", now);
        }
        assert_eq!(buckets.len(), 0, "a full bucket is not kept");
        for _ in 0..10 {
            buckets.take("a", now).unwrap();
        }
        buckets.give_back(&"a", now);
        assert!(buckets.take("a", now).is_ok());
        assert!(buckets.take("a", now).is_err());
    }

    #[test]
    fn drawing_on_an_empty_bucket_keeps_it_empty_but_owes_little() {
        let mut buckets = ten_a_minute();
        let now = Instant::now();
        for _ in 0..1000 {
            buckets.take_anyway("a", now);
        }
        assert!(buckets.is_empty(&"a", now));
        assert!(buckets.is_empty(&"a", now + Duration::from_secs(5)));
        assert!(!buckets.is_empty(&"a", now + SIX_SECONDS), "back within an interval");
    }

    #[test]
    fn past_its_size_it_forgets_full_buckets_then_stops_tracking() {
        let mut buckets = Buckets::new("2/1m".parse().unwrap(), 2);
        let now = Instant::now();
        buckets.take(1, now).unwrap();
        buckets.take(2, now).unwrap();
        buckets.take(3, now).unwrap();
        assert_eq!(buckets.len(), 2, "a third key goes untracked while both are in debt");
        let later = now + Duration::from_secs(31);
        buckets.take(3, later).unwrap();
        assert_eq!(buckets.len(), 1, "the full buckets were forgotten to make room");
    }
}
