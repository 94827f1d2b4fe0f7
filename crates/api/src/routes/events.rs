//! `GET /events?since=SEQ&limit=N`: the change events after `since`, as `/ws` sends them.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::page;
use crate::dto::events::{EventJson, event_json};
use crate::error::ApiError;
use crate::extractors::ApiQuery;
use crate::state::AppState;

const X_OLDEST_SEQ: HeaderName = HeaderName::from_static("x-oldest-seq");
const X_LATEST_SEQ: HeaderName = HeaderName::from_static("x-latest-seq");

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventParams {
    /// The last `seq` the client has; default 0 (from the oldest kept).
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    since: Option<i64>,
    /// How many to return; default 100.
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    limit: Option<i64>,
}

/// List the change events after `since`
///
/// Public, like `/ws`. `X-Oldest-Seq` and `X-Latest-Seq` say what the log still holds: a
/// `since` below `X-Oldest-Seq - 1` means events were pruned and the client should reload.
#[utoipa::path(get, path = "/events", tag = "events", params(EventParams), responses(
    (status = 200, description = "The events after `since`, oldest first", body = [EventJson],
        headers(
            ("X-Oldest-Seq" = i64, description = "The oldest event kept (absent when none)"),
            ("X-Latest-Seq" = i64, description = "The latest event (absent when none)"),
        )),
))]
async fn list(
    State(s): State<AppState>,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Response, ApiError> {
    let page = page(None, params.limit.or(Some(100)), None)?;
    let limit = page.limit();
    let mut after = params.since.unwrap_or(0);
    let mut body: Vec<Value> = Vec::new();
    // Internal events are for the servers only: skipped, and the page filled from further on.
    loop {
        let events = s.events.since(after, limit - body.len() as u64).await?;
        let full = events.len() as u64 == limit - body.len() as u64;
        after = events.last().map_or(after, |e| e.seq);
        body.extend(events.iter().filter(|e| !e.is_internal()).map(event_json));
        if !full || body.len() as u64 >= limit {
            break;
        }
    }
    let mut response = Json(body).into_response();
    if let Some((oldest, latest)) = s.events.bounds().await? {
        let headers = response.headers_mut();
        headers.insert(X_OLDEST_SEQ, oldest.into());
        headers.insert(X_LATEST_SEQ, latest.into());
    }
    Ok(response)
}
