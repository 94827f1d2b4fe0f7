//! `/characters` routes.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use movies_domain::characters::{CharacterFilter, CharacterInput};
use movies_domain::text::nfc;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::{BULK_BODY_LIMIT, created, listed, page};
use crate::dto::characters::{CharacterBody, CharacterJson, CharacterParams};
use crate::dto::lax::Int;
use crate::dto::{Count, DeletedRangeJson, IdRange, Message, PageParams};
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{ApiJson, ApiPath, ApiQuery, CurrentUser};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(count))
        .routes(routes!(create_many).layer(DefaultBodyLimit::max(BULK_BODY_LIMIT)))
        .routes(routes!(delete_range))
        .routes(routes!(get_one, update, delete_one))
        .routes(routes!(by_editor))
}

/// List characters
///
/// Filtered and paged; the number of matches is in `X-Total-Count`.
#[utoipa::path(get, path = "/characters", tag = "characters", security(("bearer" = [])),
    params(CharacterParams),
    responses((status = 200, description = "A page of characters", body = [CharacterJson],
        headers(("X-Total-Count" = u64, description = "Characters matching, in all pages")))),
)]
async fn list(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiQuery(params): ApiQuery<CharacterParams>,
) -> Result<Response, ApiError> {
    let page = page(params.skip, params.limit, params.after)?;
    let filter = CharacterFilter {
        q: params.q.as_deref().map(nfc),
        movie_name: params.movie_name.as_deref().map(nfc),
        movie_id: params.movie_id,
        editor_id: None,
    };
    let listing = s.characters.list(&filter, page).await?;
    let next = listing.next_after(page);
    Ok(listed(listing, next, CharacterJson::from))
}

/// Get a character
#[utoipa::path(get, path = "/characters/{id}", tag = "characters", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Character id")),
    responses(
        (status = 200, description = "The character", body = CharacterJson),
        (status = 404, description = "No such character", body = ErrorBody),
))]
async fn get_one(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(Int(id)): ApiPath<Int>,
) -> Result<Json<CharacterJson>, ApiError> {
    Ok(Json(s.characters.get(id).await?.into()))
}

/// Create a character
///
/// 200 (as the original answered) with the character and its `Location`; the caller is its
/// editor. The movie is named by `movieName` or `movieId`; an unknown movie is a 422.
#[utoipa::path(post, path = "/characters", tag = "characters", security(("bearer" = [])),
    request_body = CharacterBody,
    responses((status = 200, description = "The character as stored", body = CharacterJson,
        headers(("Location" = String, description = "`/characters/{id}`")))),
)]
async fn create(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiJson(body): ApiJson<CharacterBody>,
) -> Result<Response, ApiError> {
    let character = s.characters.create(CharacterInput::from(body), &by).await?;
    let location = format!("/characters/{}", character.id);
    Ok(created(location, CharacterJson::from(character)))
}

/// Replace a character
///
/// Its editor or an admin.
#[utoipa::path(put, path = "/characters/{id}", tag = "characters", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Character id")),
    request_body = CharacterBody,
    responses(
        (status = 200, description = "The character as stored", body = CharacterJson),
        (status = 403, description = "Not the character's editor nor an admin", body = ErrorBody),
        (status = 404, description = "No such character", body = ErrorBody),
))]
async fn update(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(Int(id)): ApiPath<Int>,
    ApiJson(body): ApiJson<CharacterBody>,
) -> Result<Json<CharacterJson>, ApiError> {
    Ok(Json(s.characters.update(id, body.into(), &by).await?.into()))
}

/// Delete a character
///
/// Its editor or an admin.
#[utoipa::path(delete, path = "/characters/{id}", tag = "characters", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Character id")),
    responses(
        (status = 200, description = "Deleted", body = Message,
            example = json!({ "message": "Character deleted successfully" })),
        (status = 403, description = "Not the character's editor nor an admin", body = ErrorBody),
        (status = 404, description = "No such character", body = ErrorBody),
))]
async fn delete_one(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(Int(id)): ApiPath<Int>,
) -> Result<Json<Message>, ApiError> {
    s.characters.delete(id, &by).await?;
    Ok(Json(Message { message: "Character deleted successfully" }))
}

/// Create many characters
///
/// Up to 10,000 in one request (16 MiB), all or nothing: any invalid item rejects the whole
/// request with a 422 naming its index.
#[utoipa::path(post, path = "/characters/bulk", tag = "characters", security(("bearer" = [])),
    request_body = Vec<CharacterBody>,
    responses((status = 200, description = "The characters as stored", body = [CharacterJson])),
)]
async fn create_many(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiJson(body): ApiJson<Vec<CharacterBody>>,
) -> Result<Json<Vec<CharacterJson>>, ApiError> {
    let inputs = body.into_iter().map(CharacterInput::from).collect();
    let added = s.characters.create_many(inputs, &by).await?;
    Ok(Json(added.into_iter().map(Into::into).collect()))
}

/// Delete a range of characters
///
/// Admins only. The ids from `start_id` up to, not including, `end_id` (at most 100,000).
#[utoipa::path(delete, path = "/characters/bulk/{start_id}/{end_id}", tag = "characters",
    security(("bearer" = [])),
    params(IdRange),
    responses(
        (status = 200, description = "What was deleted and what was not there", body = DeletedRangeJson),
        (status = 403, description = "Not an admin", body = ErrorBody),
))]
async fn delete_range(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(range): ApiPath<IdRange>,
) -> Result<Json<DeletedRangeJson>, ApiError> {
    let outcome = s
        .characters
        .delete_range(range.start_id, range.end_id, &by)
        .await
        .map_err(ApiError::from_domain("path"))?;
    Ok(Json(outcome.into()))
}

/// Count characters
///
/// Public.
#[utoipa::path(get, path = "/characters/count", tag = "characters",
    responses((status = 200, description = "How many characters are stored", body = Count)),
)]
async fn count(State(s): State<AppState>) -> Result<Json<Count>, ApiError> {
    Ok(Json(Count { count: s.characters.count().await? }))
}

/// List the characters a user created
#[utoipa::path(get, path = "/characters/username/{username}", tag = "characters",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The editor's username"), PageParams),
    responses(
        (status = 200, description = "A page of that user's characters", body = [CharacterJson],
            headers(("X-Total-Count" = u64, description = "That user's characters, in all pages"))),
        (status = 404, description = "No such user", body = ErrorBody),
))]
async fn by_editor(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(username): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Response, ApiError> {
    let page = page(params.skip, params.limit, params.after)?;
    let listing = s.characters.list_by_editor(&username, page).await?;
    let next = listing.next_after(page);
    Ok(listed(listing, next, CharacterJson::from))
}
