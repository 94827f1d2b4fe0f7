//! `GET /health`: the process is up and the database answers.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::RETRY_AFTER_SECS;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// `{"status", "database"}`: each `ok` or `unavailable`.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    #[schema(schema_with = state_schema, example = "ok")]
    status: &'static str,
    #[schema(schema_with = state_schema, example = "ok")]
    database: &'static str,
}

fn state_schema() -> ObjectBuilder {
    crate::dto::one_of(&["ok", "unavailable"])
}

/// Check health
///
/// For load balancers and orchestrators: 200 when the database answers, 503 when it does not.
#[utoipa::path(get, path = "/health", tag = "health", responses(
    (status = 200, description = "Up, and the database answers", body = Health),
    (status = 503, description = "The database does not answer", body = Health,
        headers(("Retry-After" = u64, description = "Seconds to wait before asking again")),
        example = json!({ "status": "unavailable", "database": "unavailable" })),
))]
async fn health(State(s): State<AppState>) -> Response {
    match s.readiness.check().await {
        Ok(()) => Json(Health { status: "ok", database: "ok" }).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database does not answer");
            let body = Health { status: "unavailable", database: "unavailable" };
            // Like every 503 of this server, it says when to look again.
            let retry = [(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string())];
            (StatusCode::SERVICE_UNAVAILABLE, retry, Json(body)).into_response()
        }
    }
}
