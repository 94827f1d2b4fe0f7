//! `CurrentUser`: the principal behind `Authorization: Bearer <token>`. A missing, malformed,
//! expired, altered or revoked token is a 401 with `WWW-Authenticate: Bearer`, never treated as
//! anonymous. What the principal may do is the services' business (`Principal::require_admin`).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use movies_domain::auth::Principal;

use crate::error::ApiError;
use crate::state::AppState;

/// Any authenticated user.
pub struct CurrentUser(pub Principal);

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("Not authenticated".into()))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("Could not validate credentials".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthorized("Not authenticated".into())),
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        Ok(CurrentUser(state.auth.authenticate(token).await?))
    }
}
