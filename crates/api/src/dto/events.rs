//! Event JSON, the same over `/ws` and `GET /events`: the original's `operation` and `data`, plus
//! `entity`, `seq`, `at`, and the `message` the original's web front end listens for.

use movies_domain::events::Event;
use serde_json::{Value, json};

/// What the original's front end waits for before refetching its lists.
pub const REFRESH_MESSAGE: &str = "New data is available. Please refresh.";

pub fn event_json(event: &Event) -> Value {
    json!({
        "operation": event.operation.as_str(),
        "entity": event.entity.as_str(),
        "data": event.data,
        "seq": event.seq,
        "at": event.at,
        "message": REFRESH_MESSAGE,
    })
}

/// A control message (`subscribed`, `lagged`, `reset`, `error`): no `message` key, so the front
/// end does not refetch for it.
pub fn control_json(operation: &str, data: Value) -> Value {
    json!({ "operation": operation, "data": data })
}
