//! The one source of time: every timestamp the service writes or checks (token issue and expiry,
//! revocations, events, jobs, pruning) is read here, so they all agree on what "now" is.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the system clock is set before it).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Whole seconds since the Unix epoch, as JWT claims count them.
pub fn now_secs() -> i64 {
    now_ms().div_euclid(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_milliseconds_agree() {
        let (ms, secs) = (now_ms(), now_secs());
        assert!(ms > 1_700_000_000_000);
        assert!((secs - ms / 1000).abs() <= 1);
    }
}
