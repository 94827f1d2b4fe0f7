//! `GET /health`: the process is up (it touches nothing, so it is the server's own ceiling);
//! `GET /ready`: the database answers too, for load balancers that should stop sending traffic.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready))
}

/// `{"status": "alive"}`.
#[derive(Debug, Serialize, ToSchema)]
struct Alive {
    #[schema(example = "alive")]
    status: &'static str,
}

/// `{"status", "database"}`: each `ok` or `unavailable`.
#[derive(Debug, Serialize, ToSchema)]
struct Ready {
    #[schema(schema_with = state_schema, example = "ok")]
    status: &'static str,
    #[schema(schema_with = state_schema, example = "ok")]
    database: &'static str,
}

fn state_schema() -> ObjectBuilder {
    crate::dto::one_of(&["ok", "unavailable"])
}

/// Check the process is alive
///
/// For liveness probes: 200 whenever the process serves requests; it asks nothing of the
/// database (see `/ready`).
#[utoipa::path(get, path = "/health", tag = "health", responses(
    (status = 200, description = "The process serves requests", body = Alive,
        example = json!({ "status": "alive" })),
))]
async fn health() -> Json<Alive> {
    Json(Alive { status: "alive" })
}

/// The same answer as `/health`, for the route outside the middleware that only benchmarks
/// enable (`super::app_with`).
pub(super) async fn bare_health() -> Response {
    health().await.into_response()
}

/// Check the service is ready
///
/// For load balancers and readiness probes: 200 when the database answers, 503 when it does not.
#[utoipa::path(get, path = "/ready", tag = "health", responses(
    (status = 200, description = "Up, and the database answers", body = Ready),
    (status = 503, description = "The database does not answer", body = Ready,
        headers(("Retry-After" = u64, description = "Seconds to wait before asking again")),
        example = json!({ "status": "unavailable", "database": "unavailable" })),
))]
async fn ready(State(s): State<AppState>) -> Response {
    match s.readiness.check().await {
        Ok(()) => Json(Ready { status: "ok", database: "ok" }).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database does not answer");
            let body = Ready { status: "unavailable", database: "unavailable" };
            // Like every 503 of this server, it gets a `Retry-After` on the way out
            // (`super::limits::retry_after`).
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
