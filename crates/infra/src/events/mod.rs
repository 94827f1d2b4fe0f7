//! The event log adapters: writing events in the change's transaction (the outbox), reading them
//! back, and publishing them to live listeners in `seq` order through an in-process broadcast.

mod dispatcher;
mod hub;
mod log;
pub(crate) mod outbox;

pub use dispatcher::spawn_dispatcher;
pub use hub::EventHub;
pub use log::SeaEventLog;
