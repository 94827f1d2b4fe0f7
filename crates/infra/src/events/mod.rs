//! The event log adapters: reading the events back (`SeaEventLog`), publishing them to live
//! listeners in `seq` order through an in-process broadcast (the dispatcher and `EventHub`), and
//! pruning old ones. Events are written by the repositories' transactions through `db`'s outbox;
//! this module depends on `db`, never the reverse.

mod dispatcher;
mod hub;
mod log;
mod pruner;

pub use dispatcher::{Invalidation, spawn_dispatcher};
pub use hub::{EVENT_LISTENERS, EVENTS_LAGGED, EVENTS_PUBLISHED, EventHub};
pub use log::SeaEventLog;
pub use pruner::{prune_once, spawn_pruner};
