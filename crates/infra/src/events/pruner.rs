//! The pruner: keeps the event log to a retention time and a number of events, pruning at start
//! and every [`PRUNE_EVERY`]. A listener that asks for pruned events gets a `reset`.

use std::sync::Arc;
use std::time::Duration;

use movies_domain::Result;
use movies_domain::clock::now_ms;
use movies_domain::events::EventLog;
use tokio::task::JoinHandle;

/// How often old events are pruned.
pub(crate) const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Deletes the events older than `retention` and all but the newest `max`; returns how many
/// went.
///
/// # Errors
/// As [`EventLog::prune`].
pub async fn prune_once(log: &dyn EventLog, retention: Duration, max: u64) -> Result<u64> {
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    log.prune(now_ms().saturating_sub(retention_ms), max).await
}

/// Runs [`prune_once`] now and every [`PRUNE_EVERY`] until aborted, logging what it pruned and
/// what failed (the next round tries again).
pub fn spawn_pruner(log: Arc<dyn EventLog>, retention: Duration, max: u64) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        loop {
            tick.tick().await;
            match prune_once(log.as_ref(), retention, max).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "old change events pruned"),
                Err(e) => tracing::warn!(error = %e, "could not prune change events"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use movies_domain::events::MockEventLog;

    use super::*;

    #[tokio::test]
    async fn a_round_prunes_what_is_older_than_the_retention_and_beyond_the_newest_max() {
        let retention = Duration::from_secs(3600);
        let earliest = now_ms() - 3_600_000;
        let mut log = MockEventLog::new();
        log.expect_prune()
            .withf(move |before, keep| {
                *before >= earliest && *before <= now_ms() - 3_600_000 && *keep == 2
            })
            .times(1)
            .returning(|_, _| Ok(3));
        assert_eq!(prune_once(&log, retention, 2).await.unwrap(), 3);
    }
}
