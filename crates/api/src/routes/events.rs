//! `GET /events?since=SEQ&limit=N`: the change events after `since`, as `/ws` sends them.

use axum::extract::State;
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::page;
use crate::dto::events::event_json;
use crate::error::ApiError;
use crate::extractors::ApiQuery;
use crate::state::AppState;

const X_OLDEST_SEQ: HeaderName = HeaderName::from_static("x-oldest-seq");
const X_LATEST_SEQ: HeaderName = HeaderName::from_static("x-latest-seq");

pub fn routes() -> Router<AppState> {
    Router::new().route("/events", get(list))
}

#[derive(Debug, Deserialize)]
struct EventParams {
    since: Option<i64>,
    limit: Option<i64>,
}

/// Public, like `/ws`. `X-Oldest-Seq` and `X-Latest-Seq` say what the log still holds: a
/// `since` below `X-Oldest-Seq - 1` means events were pruned and the client should reload.
async fn list(
    State(s): State<AppState>,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Response, ApiError> {
    let page = page(None, params.limit.or(Some(100)))?;
    let events = s.events.since(params.since.unwrap_or(0), page.limit()).await?;
    let body: Vec<Value> = events.iter().map(event_json).collect();
    let mut response = Json(body).into_response();
    if let Some((oldest, latest)) = s.events.bounds().await? {
        let headers = response.headers_mut();
        headers.insert(X_OLDEST_SEQ, oldest.into());
        headers.insert(X_LATEST_SEQ, latest.into());
    }
    Ok(response)
}
