//! Change events: what every successful write tells listeners, the ports through which events
//! are read back and published, and the builders that decide each write's message.
//!
//! Events are written by the repository adapters in the same transaction as the change they
//! describe (a transactional outbox), so an event exists exactly when its change committed.

mod model;
mod ports;

pub use model::{Event, EventEntity, MovieCount, NewEvent, Operation};
pub use ports::{EventLog, EventPublisher};
#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockEventLog, MockEventPublisher};
