//! Reading the event log back, and publishing new events to live listeners.

use std::sync::Arc;

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

/// Turns an event into the message its listeners receive (the api's JSON). A feed given one
/// renders each event once, for all its listeners, instead of each listener rendering its own.
pub type Render = fn(&Event) -> String;

/// An event as the live feed hands it out: made once, shared by every listener.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEvent {
    pub event: Event,
    /// The event's message for listeners, from the feed's [`Render`]: `None` when the feed has
    /// none, and for internal events, which no listener receives.
    pub text: Option<Arc<str>>,
}

impl LiveEvent {
    /// `event` with the text `render` makes of it, if listeners may see it.
    pub fn rendered(event: Event, render: Option<Render>) -> Self {
        let text = render.filter(|_| !event.is_internal()).map(|render| render(&event).into());
        Self { event, text }
    }
}

/// A live event reads as its event.
impl std::ops::Deref for LiveEvent {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

/// What a live listener hears next.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// The next event, in `seq` order; shared by every listener, so it is made once.
    Event(Arc<LiveEvent>),
    /// The listener fell too far behind and events were dropped for it: it must resume from the
    /// log (`?since=`).
    Lagged,
    /// No more events will come (the server is stopping).
    Closed,
}

/// One listener's subscription: every event published after it was made, in order.
#[async_trait]
pub trait Subscription: Send {
    /// Waits for the next delivery. Dropping the future before it completes loses nothing, so
    /// it can race other work in a `select!`.
    async fn next(&mut self) -> Delivery;
}

/// Live events for listeners (the other side of [`EventPublisher`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventFeed: Send + Sync {
    /// A subscription to every event published from now on.
    fn subscribe(&self) -> Box<dyn Subscription>;
}
