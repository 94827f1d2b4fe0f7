//! `/characters` routes.

use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use movies_domain::characters::{CharacterFilter, CharacterInput};

use super::{BULK_BODY_LIMIT, created, listed, page};
use crate::dto::characters::{CharacterBody, CharacterJson, CharacterParams};
use crate::dto::{Count, DeletedRangeJson, Message, PageParams};
use crate::error::ApiError;
use crate::extractors::{ApiJson, ApiPath, ApiQuery, CurrentUser};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/characters", get(list).post(create))
        .route("/characters/count", get(count))
        .route("/characters/bulk", post(create_many).layer(DefaultBodyLimit::max(BULK_BODY_LIMIT)))
        .route("/characters/bulk/{start_id}/{end_id}", delete(delete_range))
        .route("/characters/{id}", get(get_one).put(update).delete(delete_one))
        .route("/characters/username/{username}", get(by_editor))
}

async fn list(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiQuery(params): ApiQuery<CharacterParams>,
) -> Result<Response, ApiError> {
    let page = page(params.skip, params.limit)?;
    let filter = CharacterFilter {
        q: params.q,
        movie_name: params.movie_name,
        movie_id: params.movie_id,
        editor_id: None,
    };
    let listing = s.characters.list(&filter, page).await?;
    Ok(listed(listing.total, listing.items.into_iter().map(CharacterJson::from).collect()))
}

async fn get_one(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CharacterJson>, ApiError> {
    Ok(Json(s.characters.get(id).await?.into()))
}

/// 200 (as the original answered) with a `Location` header.
async fn create(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiJson(body): ApiJson<CharacterBody>,
) -> Result<Response, ApiError> {
    let character = s.characters.create(CharacterInput::from(body), &by).await?;
    let location = format!("/characters/{}", character.id);
    Ok(created(location, CharacterJson::from(character)))
}

async fn update(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CharacterBody>,
) -> Result<Json<CharacterJson>, ApiError> {
    Ok(Json(s.characters.update(id, body.into(), &by).await?.into()))
}

async fn delete_one(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Message>, ApiError> {
    s.characters.delete(id, &by).await?;
    Ok(Json(Message { message: "Character deleted successfully" }))
}

/// All or nothing; 200 with the characters added, as the original answered.
async fn create_many(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiJson(body): ApiJson<Vec<CharacterBody>>,
) -> Result<Json<Vec<CharacterJson>>, ApiError> {
    let inputs = body.into_iter().map(CharacterInput::from).collect();
    let added = s.characters.create_many(inputs, &by).await?;
    Ok(Json(added.into_iter().map(Into::into).collect()))
}

async fn delete_range(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath((start, end)): ApiPath<(i64, i64)>,
) -> Result<Json<DeletedRangeJson>, ApiError> {
    let outcome =
        s.characters.delete_range(start, end, &by).await.map_err(ApiError::from_domain("path"))?;
    Ok(Json(outcome.into()))
}

async fn count(State(s): State<AppState>) -> Result<Json<Count>, ApiError> {
    Ok(Json(Count { count: s.characters.count().await? }))
}

/// The characters a user created.
async fn by_editor(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(username): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Response, ApiError> {
    let page = page(params.skip, params.limit)?;
    let editor = s.users.by_username(&username).await?;
    let filter = CharacterFilter { editor_id: Some(editor.id), ..Default::default() };
    let listing = s.characters.list(&filter, page).await?;
    Ok(listed(listing.total, listing.items.into_iter().map(CharacterJson::from).collect()))
}
