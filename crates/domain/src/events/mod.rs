//! Change events: what every successful write tells listeners, the ports through which events
//! are read back and published, and the builders that decide each write's message.
//!
//! Every event's payload is built here, by the `NewEvent` constructors; each write method of a
//! repository port names the constructor its adapter records. The adapters write events in the
//! same transaction as the change they describe (a transactional outbox), so an event exists
//! exactly when its change committed.

mod model;
mod port;

pub use model::{Event, EventSubject, MovieCount, NewEvent, Operation};
pub use port::{Delivery, EventFeed, EventLog, EventPublisher, LiveEvent, Render, Subscription};
#[cfg(any(test, feature = "mocks"))]
pub use port::{MockEventFeed, MockEventLog, MockEventPublisher};
