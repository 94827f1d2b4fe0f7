//! `/auth` routes: register, login (JSON and OAuth2 form), who am I, logout.

use axum::Json;
use axum::extract::State;
use movies_domain::users::User;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::Message;
use crate::dto::auth::{CredentialsBody, LoginJson, MeJson, TokenForm};
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{ApiForm, ApiJson, CurrentUser};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(token))
        .routes(routes!(me))
        .routes(routes!(logout))
}

/// Register
///
/// 200 `true`, or 200 `false` when the name is taken in any case, as the original answered.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = CredentialsBody,
    responses((status = 200, description = "Whether the account was created", body = bool,
        content_type = "application/json")),
)]
async fn register(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Json<bool>, ApiError> {
    let (username, password, field) = body.password();
    Ok(Json(s.auth.register(username, password, field).await?))
}

/// Log in
///
/// The same answer for an unknown user and a wrong password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = CredentialsBody,
    responses(
        (status = 200, description = "A bearer token", body = LoginJson),
        (status = 401, description = "Incorrect username or password", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
))]
async fn login(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Json<LoginJson>, ApiError> {
    let (username, password, field) = body.password();
    Ok(Json(s.auth.login(username, password, field).await?.into()))
}

/// Log in with the OAuth2 password flow
///
/// What the API docs' Authorize button calls; the same answer as `/auth/login/`.
#[utoipa::path(post, path = "/auth/token", tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A bearer token", body = LoginJson),
        (status = 401, description = "Incorrect username or password", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
))]
async fn token(
    State(s): State<AppState>,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Json<LoginJson>, ApiError> {
    Ok(Json(s.auth.login(form.username, form.password, "password").await?.into()))
}

/// Who the token belongs to
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = MeJson)),
)]
async fn me(CurrentUser(p): CurrentUser) -> Json<MeJson> {
    Json(User { id: p.user_id, username: p.username, role: p.role }.into())
}

/// Log out
///
/// Revokes the token used for this request until it would have expired, across restarts.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The token is revoked", body = Message,
        example = json!({ "message": "Logged out" }))),
)]
async fn logout(
    State(s): State<AppState>,
    CurrentUser(p): CurrentUser,
) -> Result<Json<Message>, ApiError> {
    s.auth.logout(&p).await?;
    Ok(Json(Message { message: "Logged out" }))
}
