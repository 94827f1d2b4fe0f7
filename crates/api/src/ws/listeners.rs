//! `Listeners`: how many WebSocket listeners may be connected (`WS_MAX_CONNECTIONS`), and the
//! count of those still connected that a stopping server waits for.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// The WebSocket listeners of this server. Clones share the count.
#[derive(Clone, Debug)]
pub struct Listeners {
    slots: Arc<Semaphore>,
    sessions: TaskTracker,
}

/// One listener's place, held for as long as its session runs.
pub(crate) struct Place {
    _slot: OwnedSemaphorePermit,
    _session: TaskTrackerToken,
}

impl Listeners {
    /// Room for `max` listeners at once.
    pub fn new(max: usize) -> Self {
        Self { slots: Arc::new(Semaphore::new(max.max(1))), sessions: TaskTracker::new() }
    }

    /// A place for one more listener, or `None` when `max` are connected or the server is
    /// stopping: the upgrade is then refused at once rather than queued.
    pub(crate) fn admit(&self) -> Option<Place> {
        if self.sessions.is_closed() {
            return None;
        }
        let slot = self.slots.clone().try_acquire_owned().ok()?;
        Some(Place { _slot: slot, _session: self.sessions.token() })
    }

    /// Whether the server is stopping (no listener is admitted any more).
    pub(crate) fn is_stopping(&self) -> bool {
        self.sessions.is_closed()
    }

    /// Admits no more listeners and waits until every session has ended. Each ends once the
    /// event hub is closed: it is sent what was published before, then a 1001 close frame.
    pub async fn close(&self) {
        self.sessions.close();
        self.sessions.wait().await;
    }

    /// Listeners connected now.
    pub fn connected(&self) -> usize {
        self.sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listeners_beyond_the_limit_or_after_closing_are_refused() {
        let listeners = Listeners::new(2);
        let (first, second) = (listeners.admit(), listeners.admit());
        assert!(first.is_some() && second.is_some());
        assert!(listeners.admit().is_none());
        drop(first);
        let third = listeners.admit();
        assert!(third.is_some());
        assert_eq!(listeners.connected(), 2);
        drop((second, third));
        listeners.close().await;
        assert!(listeners.is_stopping());
        assert!(listeners.admit().is_none());
    }
}
