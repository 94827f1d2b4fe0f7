//! Generation jobs: `POST /movies/generate/{number}`, `POST /characters/generate/{number}`,
//! `GET /jobs`, `GET /jobs/{id}`, `DELETE /jobs/{id}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use movies_domain::jobs::JobKind;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::jobs::{JobAccepted, JobJson};
use crate::dto::lax::Int;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{ApiPath, CurrentUser};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate_movies))
        .routes(routes!(generate_characters))
        .routes(routes!(list))
        .routes(routes!(get_one, cancel))
}

async fn generate(
    s: &AppState,
    kind: JobKind,
    number: i64,
    by: &movies_domain::auth::Principal,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    let job = s.jobs.submit(kind, number, by).await.map_err(ApiError::from_domain("path"))?;
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}

/// Generate movies in the background
///
/// 1 to 1,000,000 fake movies, stored in batches by a job; watch it at `/jobs/{id}` or on `/ws`.
#[utoipa::path(post, path = "/movies/generate/{number}", tag = "jobs", security(("bearer" = [])),
    params(("number" = i64, Path, minimum = 1, maximum = 1_000_000, description = "How many")),
    responses(
        (status = 202, description = "The job is queued", body = JobAccepted),
        (status = 429, description = "The caller already has 4 jobs queued or running",
            body = ErrorBody),
    ),
)]
async fn generate_movies(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(Int(number)): ApiPath<Int>,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    generate(&s, JobKind::Movies, number, &by).await
}

/// Generate characters in the background
///
/// 1 to 1,000,000 fake characters of existing movies, stored in batches by a job.
#[utoipa::path(post, path = "/characters/generate/{number}", tag = "jobs",
    security(("bearer" = [])),
    params(("number" = i64, Path, minimum = 1, maximum = 1_000_000, description = "How many")),
    responses(
        (status = 202, description = "The job is queued", body = JobAccepted),
        (status = 429, description = "The caller already has 4 jobs queued or running",
            body = ErrorBody),
    ),
)]
async fn generate_characters(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(Int(number)): ApiPath<Int>,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    generate(&s, JobKind::Characters, number, &by).await
}

/// List jobs
///
/// The caller's jobs, newest first; an admin sees everyone's.
#[utoipa::path(get, path = "/jobs", tag = "jobs", security(("bearer" = [])),
    responses((status = 200, description = "The jobs", body = [JobJson])),
)]
async fn list(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
) -> Result<Json<Vec<JobJson>>, ApiError> {
    Ok(Json(s.jobs.list(&by).await?.into_iter().map(JobJson::from).collect()))
}

/// Get a job
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobJson),
        (status = 404, description = "No such job of the caller's", body = ErrorBody),
))]
async fn get_one(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<JobJson>, ApiError> {
    Ok(Json(s.jobs.get(&id, &by).await?.into()))
}

/// Cancel a job
///
/// A queued job at once, a running one after its current batch (what it stored stays).
#[utoipa::path(delete, path = "/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job, cancelled or already finished", body = JobJson),
        (status = 404, description = "No such job of the caller's", body = ErrorBody),
))]
async fn cancel(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<JobJson>, ApiError> {
    Ok(Json(s.jobs.cancel(&id, &by).await?.into()))
}
