//! `/users` routes: the admins' view of accounts.

use axum::extract::State;
use axum::routing::{delete, get};
use axum::{Json, Router};

use crate::dto::Message;
use crate::dto::users::UserJson;
use crate::error::ApiError;
use crate::extractors::{AdminUser, ApiPath, CurrentUser};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users/nonAdmin", get(non_admins))
        .route("/users/basicUsers", get(basic_users))
        .route("/users/userId/{id}", get(get_one))
        .route("/users/{id}", delete(delete_one))
}

async fn list(s: &AppState) -> Result<Json<Vec<UserJson>>, ApiError> {
    Ok(Json(s.users.non_admins().await?.into_iter().map(UserJson::from).collect()))
}

/// Admin only.
async fn non_admins(
    State(s): State<AppState>,
    AdminUser(_): AdminUser,
) -> Result<Json<Vec<UserJson>>, ApiError> {
    list(&s).await
}

/// The same list, for any signed-in user.
async fn basic_users(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
) -> Result<Json<Vec<UserJson>>, ApiError> {
    list(&s).await
}

async fn get_one(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<UserJson>, ApiError> {
    Ok(Json(s.users.get(id).await?.into()))
}

async fn delete_one(
    State(s): State<AppState>,
    CurrentUser(p): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Message>, ApiError> {
    s.users.delete(id, &p).await?;
    Ok(Json(Message { message: "User deleted successfully" }))
}
