//! The WebSocket adapter: `/ws` streams every committed change to listeners, in `seq` order,
//! resuming from `?since=SEQ` with no gap and no duplicate.

mod listeners;
mod session;

pub use listeners::Listeners;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::error::{ApiError, STOPPING, TOO_MANY_LISTENERS};
use crate::extractors::ApiQuery;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

#[derive(Debug, Deserialize)]
struct WsParams {
    /// Resume after this `seq`: first the missed events from the log, then live ones.
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    since: Option<i64>,
    /// Optional: absent, the listener is anonymous; present, it must be valid.
    token: Option<String>,
}

async fn upgrade(
    State(s): State<AppState>,
    ApiQuery(params): ApiQuery<WsParams>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if let Some(token) = &params.token {
        s.auth.authenticate(token).await?;
    }
    let upgrade = upgrade.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    // Over the limit (or stopping), refused at once: a 503 the client retries after a while.
    let place = s.listeners.admit().ok_or_else(|| {
        ApiError::Overloaded(if s.listeners.is_stopping() { STOPPING } else { TOO_MANY_LISTENERS })
    })?;
    // Subscribe and read the log's end before answering the handshake: a change committed once
    // the client is connected is then either in the log after that end, or on the receiver.
    let live = s.feed.subscribe();
    let bounds = s.events.bounds().await?;
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_READ)
        .max_frame_size(MAX_READ)
        .on_upgrade(move |socket| async move {
            session::run(socket, s, live, bounds, params.since).await;
            drop(place);
        }))
}

// A listener mostly receives, and tungstenite's buffers (128 KiB each by default, the read one
// allocated and filled at the first read) were most of the memory of an idle listener.

/// What a client sends is small (`{"subscribe": [...]}`, pongs, a close: under 200 bytes), so
/// 1 KiB reads it in one go; anything bigger still arrives, in 1 KiB reads.
const READ_BUFFER: usize = 1024;
/// Writes wait for this much only while the session queues a backlog of events (see
/// `session::forward`), so that a busy server writes about ten typical events per system call.
/// The buffer keeps its largest size for the connection's life: larger would cost memory on
/// every listener. No cap (`max_write_buffer_size`): the sink flushes before it takes more, so
/// the buffer never holds more than this and one message, and an event may be megabytes (a bulk
/// delete's ids).
const WRITE_BUFFER: usize = 4 * 1024;
/// Messages and frames up to 1 MiB are read (and answered with 1009 over 64 KiB); larger ones
/// fail the read, which also closes with 1009. A frame's length is refused from its header,
/// before a buffer of that size is reserved.
const MAX_READ: usize = 1024 * 1024;
