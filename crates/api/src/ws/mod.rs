//! The WebSocket adapter: `/ws` streams every committed change to listeners, in `seq` order,
//! resuming from `?since=SEQ` with no gap and no duplicate.

mod session;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::error::ApiError;
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
    // Subscribe and read the log's end before answering the handshake: a change committed once
    // the client is connected is then either in the log after that end, or on the receiver.
    let live = s.feed.subscribe();
    let bounds = s.events.bounds().await?;
    // Frames up to 1 MiB are read (and answered with 1009 over 64 KiB); larger ones fail the
    // read, which also closes with 1009.
    Ok(upgrade
        .max_message_size(1024 * 1024)
        .on_upgrade(move |socket| session::run(socket, s, live, bounds, params.since)))
}
