//! `/auth` routes: register, login (JSON and OAuth2 form), who am I, logout.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use movies_domain::FieldError;
use movies_domain::users::User;

use crate::dto::Message;
use crate::dto::auth::{CredentialsBody, LoginJson, MeJson, TokenForm};
use crate::error::ApiError;
use crate::extractors::{ApiForm, ApiJson, CurrentUser};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/token", post(token))
        .route("/auth/me", get(me))
        .route("/auth/logout", post(logout))
}

/// 200 `true`, or 200 `false` when the name is taken, as the original answered.
async fn register(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Json<bool>, ApiError> {
    let (username, password, field) = body.password();
    Ok(Json(s.auth.register(username, password, field).await?))
}

async fn login(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Json<LoginJson>, ApiError> {
    let (username, password, field) = body.password();
    log_in(&s, username, password, field).await
}

/// The OAuth2 password flow, for the API docs' Authorize button.
async fn token(
    State(s): State<AppState>,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Json<LoginJson>, ApiError> {
    log_in(&s, form.username, form.password, "password").await
}

async fn log_in(
    s: &AppState,
    username: Option<String>,
    password: Option<String>,
    field: &'static str,
) -> Result<Json<LoginJson>, ApiError> {
    match (username, password) {
        (Some(username), Some(password)) => {
            Ok(Json(s.auth.login(&username, password).await?.into()))
        }
        (username, _) => {
            let mut missing = Vec::new();
            if username.is_none() {
                missing.push(FieldError::missing("username"));
            }
            missing.push(FieldError::missing(field));
            Err(ApiError::invalid("body", missing))
        }
    }
}

async fn me(CurrentUser(p): CurrentUser) -> Json<MeJson> {
    Json(User { id: p.user_id, username: p.username, role: p.role }.into())
}

/// Revokes the token used for this request until it would have expired.
async fn logout(
    State(s): State<AppState>,
    CurrentUser(p): CurrentUser,
) -> Result<Json<Message>, ApiError> {
    s.auth.logout(&p).await?;
    Ok(Json(Message { message: "Logged out" }))
}
