//! Generation jobs: `POST /movies/generate/{number}`, `POST /characters/generate/{number}`,
//! `GET /jobs`, `GET /jobs/{id}`, `DELETE /jobs/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use movies_domain::jobs::JobKind;

use crate::dto::jobs::{JobAccepted, JobJson};
use crate::error::ApiError;
use crate::extractors::{ApiPath, CurrentUser};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/movies/generate/{number}", post(generate_movies))
        .route("/characters/generate/{number}", post(generate_characters))
        .route("/jobs", get(list))
        .route("/jobs/{id}", get(get_one).delete(cancel))
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

async fn generate_movies(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(number): ApiPath<i64>,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    generate(&s, JobKind::Movies, number, &by).await
}

async fn generate_characters(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(number): ApiPath<i64>,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    generate(&s, JobKind::Characters, number, &by).await
}

/// The caller's jobs, newest first; an admin sees everyone's.
async fn list(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
) -> Result<Json<Vec<JobJson>>, ApiError> {
    Ok(Json(s.jobs.list(&by).await?.into_iter().map(JobJson::from).collect()))
}

async fn get_one(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<JobJson>, ApiError> {
    Ok(Json(s.jobs.get(&id, &by).await?.into()))
}

/// Cancels: a queued job at once, a running one after its current batch (what it stored stays).
async fn cancel(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<JobJson>, ApiError> {
    Ok(Json(s.jobs.cancel(&id, &by).await?.into()))
}
