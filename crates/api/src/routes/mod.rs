//! The HTTP adapter: one module per resource, and the router that puts them together with the
//! middleware every route shares.

mod auth;
mod characters;
mod docs;
mod events;
mod health;
mod jobs;
mod movies;
mod users;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::normalize_path::NormalizePath;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use movies_domain::Page;

use crate::config::CorsOrigins;
use crate::error::ApiError;
use crate::openapi;
use crate::state::AppState;

/// Body limit of every route but the bulk ones.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Body limit of the bulk routes (10,000 items).
pub const BULK_BODY_LIMIT: usize = 16 * 1024 * 1024;

const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The REST routes, each with its OpenAPI description.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(auth::routes())
        .merge(movies::routes())
        .merge(characters::routes())
        .merge(users::routes())
        .merge(events::routes())
        .merge(jobs::routes())
        .merge(health::routes())
}

/// The OpenAPI document of every REST route, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(api_routes().into_openapi())
}

/// The whole application: every route, answering with or without a trailing slash.
pub fn app(state: AppState, cors: &CorsOrigins) -> Router {
    let (api, doc) = api_routes().split_for_parts();
    let api = api
        .merge(crate::ws::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    // Trailing slashes are trimmed before routing, so `/movies/` and `/movies` are one route.
    Router::new()
        .merge(docs::routes(openapi::finish(doc)))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback_service(NormalizePath::trim_trailing_slash(api))
        .layer(CatchPanicLayer::custom(|_| internal_error()))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .layer(cors_layer(cors))
}

/// `skip` and `limit` from the query string, or a 422 naming them.
pub(crate) fn page(skip: Option<i64>, limit: Option<i64>) -> Result<Page, ApiError> {
    Page::new(skip, limit).map_err(|e| ApiError::invalid("query", e))
}

/// 200 (as the original answered a create) with the new record and its `Location`.
pub(crate) fn created<T: Serialize>(location: String, record: T) -> Response {
    ([(header::LOCATION, location)], Json(record)).into_response()
}

/// A page of a list, with the number of matches in `X-Total-Count`.
pub(crate) fn listed<T: Serialize>(total: u64, items: Vec<T>) -> Response {
    ([(X_TOTAL_COUNT, total.to_string())], Json(items)).into_response()
}

fn cors_layer(origins: &CorsOrigins) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([X_TOTAL_COUNT, header::LOCATION, X_REQUEST_ID])
        .max_age(Duration::from_secs(600));
    match origins {
        // Browsers refuse credentials with a wildcard origin, so `*` goes without them.
        CorsOrigins::Any => layer.allow_origin(AllowOrigin::any()),
        CorsOrigins::List(list) => {
            let list: Vec<HeaderValue> = list.clone();
            layer.allow_origin(list).allow_credentials(true)
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("Not Found".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn internal_error() -> Response {
    tracing::error!("a handler panicked");
    let body = Json(serde_json::json!({ "detail": "Internal Server Error" }));
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
}
