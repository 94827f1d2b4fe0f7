//! `/auth` routes: register, login (JSON and OAuth2 form), who am I, logout. The routes that
//! hash a password (login, the form login, register) pass the login throttle first
//! (`crate::throttle`): 429 with `Retry-After` when it holds the client back, and 503 with
//! `Retry-After` when too many hashes wait already.

use axum::Json;
use axum::extract::State;
use movies_domain::Error;
use movies_domain::users::User;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::Message;
use crate::dto::auth::{CredentialsBody, LoginJson, MeJson, TokenForm};
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{ApiForm, ApiJson, ClientIp, CurrentUser};
use crate::metrics::{HASHING_REFUSED, LOGINS_FAILED, LOGINS_THROTTLED};
use crate::state::AppState;
use crate::throttle::{Throttled, retry_after_secs};

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
    responses(
        (status = 200, description = "Whether the account was created", body = bool,
            content_type = "application/json"),
        (status = 429, description = THROTTLED_DESCRIPTION, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = OVERLOADED_DESCRIPTION, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
async fn register(
    State(s): State<AppState>,
    client: ClientIp,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Json<bool>, ApiError> {
    let (username, password, field) = body.password();
    // Each registration that hashes a password costs the address an attempt, as a failed
    // login does; the username is not throttled (there is no account to guess at yet).
    let attempt = s.edge.logins.begin(client.throttle_key(), None).map_err(throttled)?;
    match s.auth.register(username, password, field).await {
        Ok(true) => Ok(Json(true)),
        outcome => {
            s.edge.logins.cancelled(attempt);
            Ok(Json(outcome.map_err(counted)?))
        }
    }
}

const THROTTLED_DESCRIPTION: &str =
    "Too many failed attempts from this address, or on this username from this address";
const OVERLOADED_DESCRIPTION: &str = "Too many passwords are being checked right now";

/// Logs in under the throttle, and tells it how the login ended.
async fn throttled_login(
    s: &AppState,
    client: ClientIp,
    username: Option<String>,
    password: Option<String>,
    field: &'static str,
) -> Result<Json<LoginJson>, ApiError> {
    let logins = &s.edge.logins;
    let attempt = logins.begin(client.throttle_key(), username.as_deref()).map_err(throttled)?;
    match s.auth.login(username, password, field).await {
        Ok(login) => {
            logins.succeeded(attempt);
            Ok(Json(login.into()))
        }
        Err(e @ Error::Unauthorized(_)) => {
            logins.failed(attempt);
            metrics::counter!(LOGINS_FAILED).increment(1);
            Err(e.into())
        }
        Err(e) => {
            logins.cancelled(attempt);
            Err(counted(e))
        }
    }
}

/// The 429 of a throttled attempt, counted.
fn throttled(why: Throttled) -> ApiError {
    metrics::counter!(LOGINS_THROTTLED, "by" => why.by()).increment(1);
    let detail = match why {
        Throttled::Address(_) => {
            "Too many failed logins from this address; try again after Retry-After seconds"
        }
        Throttled::Username(_) => {
            "Too many failed logins on this username; try again after Retry-After seconds"
        }
    };
    ApiError::Throttled { detail, retry_after_secs: retry_after_secs(why.retry_after()) }
}

/// `e` as an `ApiError`, a full hashing queue counted on the way.
fn counted(e: Error) -> ApiError {
    if matches!(e, Error::Overloaded(_)) {
        metrics::counter!(HASHING_REFUSED).increment(1);
    }
    e.into()
}

/// Log in
///
/// The same answer for an unknown user and a wrong password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = CredentialsBody,
    responses(
        (status = 200, description = "A bearer token", body = LoginJson),
        (status = 401, description = "Incorrect username or password", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 429, description = THROTTLED_DESCRIPTION, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = OVERLOADED_DESCRIPTION, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
async fn login(
    State(s): State<AppState>,
    client: ClientIp,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Json<LoginJson>, ApiError> {
    let (username, password, field) = body.password();
    throttled_login(&s, client, username, password, field).await
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
        (status = 429, description = THROTTLED_DESCRIPTION, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = OVERLOADED_DESCRIPTION, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
async fn token(
    State(s): State<AppState>,
    client: ClientIp,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Json<LoginJson>, ApiError> {
    throttled_login(&s, client, form.username, form.password, "password").await
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
