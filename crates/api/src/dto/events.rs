//! Event JSON, the same over `/ws` and `GET /events`: the original's `operation` and `data`, plus
//! `entity`, `seq`, `at`, and the `message` the original's web front end listens for.

use movies_domain::events::{Event, EventSubject, Operation};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::schema::ObjectBuilder;

use super::one_of;

/// What the original's front end waits for before refetching its lists.
pub const REFRESH_MESSAGE: &str = "New data is available. Please refresh.";

/// One change, as `/ws` pushes it and `GET /events` lists it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Event, example = json!({
    "operation": "add", "entity": "movie", "seq": 7, "at": "2026-11-25T12:00:00Z",
    "data": { "id": 1, "name": "Alien", "year": 1979, "duration": "1h 57m",
              "genre": "Science fiction", "description": "...", "nrCharacters": 0, "editorId": 1 },
    "message": "New data is available. Please refresh."
}))]
pub struct EventJson<'a> {
    #[schema(schema_with = operation_schema)]
    pub operation: &'static str,
    #[schema(schema_with = entity_schema)]
    pub entity: &'static str,
    /// The record as the matching REST route answers it (for a delete, what was deleted).
    pub data: &'a Value,
    /// Increasing; resume after it with `GET /events?since=` or `/ws?since=`.
    pub seq: i64,
    /// When it was written, RFC 3339 in UTC.
    pub at: &'a str,
    #[schema(example = "New data is available. Please refresh.")]
    pub message: &'static str,
}

fn operation_schema() -> ObjectBuilder {
    one_of(Operation::PUBLIC_NAMES)
}

fn entity_schema() -> ObjectBuilder {
    one_of(EventSubject::PUBLIC_NAMES)
}

impl<'a> From<&'a Event> for EventJson<'a> {
    fn from(e: &'a Event) -> Self {
        Self {
            operation: e.operation.as_str(),
            entity: e.entity.as_str(),
            data: &e.data,
            seq: e.seq,
            at: &e.at,
            message: REFRESH_MESSAGE,
        }
    }
}

pub fn event_json(event: &Event) -> Value {
    json!(EventJson::from(event))
}

/// [`event_json`] as the text `/ws` sends; the hub renders each live event with it once, for
/// every listener.
pub fn event_text(event: &Event) -> String {
    event_json(event).to_string()
}

/// A control message (`subscribed`, `lagged`, `reset`, `error`): no `message` key, so the front
/// end does not refetch for it.
pub fn control_json(operation: &str, data: Value) -> Value {
    json!({ "operation": operation, "data": data })
}
