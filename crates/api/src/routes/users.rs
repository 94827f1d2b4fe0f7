//! `/users` routes: the admins' view of accounts.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::Message;
use crate::dto::lax::Int;
use crate::dto::users::UserJson;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{ApiPath, CurrentUser};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(non_admins))
        .routes(routes!(basic_users))
        .routes(routes!(get_one))
        .routes(routes!(delete_one))
}

/// List the users who are not admins
///
/// Admins only.
#[utoipa::path(get, path = "/users/nonAdmin", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every non-admin user", body = [UserJson]),
        (status = 403, description = "Not an admin", body = ErrorBody),
))]
async fn non_admins(
    State(s): State<AppState>,
    CurrentUser(p): CurrentUser,
) -> Result<Json<Vec<UserJson>>, ApiError> {
    Ok(Json(s.users.non_admins(&p).await?.into_iter().map(UserJson::from).collect()))
}

/// List the users who are not admins, for any signed-in user
#[utoipa::path(get, path = "/users/basicUsers", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "Every non-admin user", body = [UserJson])),
)]
async fn basic_users(
    State(s): State<AppState>,
    CurrentUser(p): CurrentUser,
) -> Result<Json<Vec<UserJson>>, ApiError> {
    Ok(Json(s.users.basic_users(&p).await?.into_iter().map(UserJson::from).collect()))
}

/// Get a user
#[utoipa::path(get, path = "/users/userId/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserJson),
        (status = 404, description = "No such user", body = ErrorBody),
))]
async fn get_one(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(Int(id)): ApiPath<Int>,
) -> Result<Json<UserJson>, ApiError> {
    Ok(Json(s.users.get(id).await?.into()))
}

/// Delete a user
///
/// Admins only, and not themselves. The user's movies and characters stay, with `editorId` null.
#[utoipa::path(delete, path = "/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "Deleted", body = Message,
            example = json!({ "message": "User deleted successfully" })),
        (status = 403, description = "Not an admin, or the caller itself", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
))]
async fn delete_one(
    State(s): State<AppState>,
    CurrentUser(p): CurrentUser,
    ApiPath(Int(id)): ApiPath<Int>,
) -> Result<Json<Message>, ApiError> {
    s.users.delete(id, &p).await?;
    Ok(Json(Message { message: "User deleted successfully" }))
}
