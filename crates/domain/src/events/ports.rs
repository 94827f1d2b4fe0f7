//! Reading the event log back, and publishing new events to live listeners.

use async_trait::async_trait;

use super::Event;
use crate::error::Result;

/// The stored events, in `seq` order.
///
/// # Errors
/// `Error::Unavailable` when the store is down, busy or too slow; `Error::Internal` when it
/// fails otherwise (an event of an unknown entity, a payload that is not JSON).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventLog: Send + Sync {
    /// At most `limit` events with `seq > after`, in order.
    async fn since(&self, after: i64, limit: u64) -> Result<Vec<Event>>;

    /// The smallest and largest `seq` retained, or `None` when the log is empty.
    async fn bounds(&self) -> Result<Option<(i64, i64)>>;

    /// Deletes events written before `before_ms` (milliseconds since the epoch) and all but the
    /// newest `keep` events; returns how many went.
    async fn prune(&self, before_ms: i64, keep: u64) -> Result<u64>;
}

/// Hands committed events, in `seq` order, to whoever listens live.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventPublisher: Send + Sync {
    fn publish(&self, event: Event);
}
