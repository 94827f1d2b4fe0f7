//! `GET /health`: the process is up and the database answers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
        example = json!({ "status": "unavailable", "database": "unavailable" })),
))]
async fn health(State(s): State<AppState>) -> (StatusCode, Json<Health>) {
    match s.readiness.check().await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "ok", database: "ok" })),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database does not answer");
            let body = Health { status: "unavailable", database: "unavailable" };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}
