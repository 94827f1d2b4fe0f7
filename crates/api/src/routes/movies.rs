//! `/movies` routes.

use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use movies_domain::movies::{MovieFilter, MovieInput, MovieSort};
use movies_domain::{FieldError, Page};
use serde_json::json;

use super::{BULK_BODY_LIMIT, created, listed, page};
use crate::dto::characters::CharacterJson;
use crate::dto::movies::{BulkMoviesJson, MovieBody, MovieJson, MovieParams};
use crate::dto::{Count, DeletedRangeJson, Message, PageParams};
use crate::error::ApiError;
use crate::extractors::{ApiJson, ApiPath, ApiQuery, CurrentUser};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/movies", get(list).post(create))
        .route("/movies/names", get(names))
        .route("/movies/count", get(count))
        .route("/movies/bulk", post(create_many).layer(DefaultBodyLimit::max(BULK_BODY_LIMIT)))
        .route("/movies/bulk/{start_id}/{end_id}", delete(delete_range))
        .route("/movies/by_name/{name}", delete(delete_by_name))
        .route("/movies/update_nr_characters", put(recount_characters))
        .route("/movies/delete_duplicates", delete(delete_duplicates))
        .route("/movies/{id}", get(get_one).put(update).delete(delete_one))
        .route("/movies/{id}/characters", get(characters_of))
        .route("/movies/username/{username}", get(by_editor))
}

impl MovieParams {
    fn into_domain(self) -> Result<(MovieFilter, Page), ApiError> {
        let mut errors = Vec::new();
        let page = Page::new(self.skip, self.limit).map_err(|e| errors.extend(e)).ok();
        let mut year = |field: &'static str, raw: Option<i64>| {
            raw.and_then(|y| {
                i32::try_from(y)
                    .map_err(|_| {
                        errors.push(FieldError::new(field, "int_parsing", "Year out of range"))
                    })
                    .ok()
            })
        };
        let (y, from, to) = (
            year("year", self.year),
            year("year_from", self.year_from),
            year("year_to", self.year_to),
        );
        let sort = match self.sort.as_deref() {
            Some(raw) => MovieSort::parse(raw).map_err(|e| errors.push(e)).ok(),
            None => Some(MovieSort::default()),
        };
        match (page, sort) {
            (Some(page), Some(sort)) if errors.is_empty() => {
                let filter = MovieFilter {
                    q: self.q,
                    genre: self.genre,
                    year: y,
                    year_from: from,
                    year_to: to,
                    editor_id: None,
                    sort,
                };
                Ok((filter, page))
            }
            _ => Err(ApiError::invalid("query", errors)),
        }
    }
}

async fn list(
    State(s): State<AppState>,
    ApiQuery(params): ApiQuery<MovieParams>,
) -> Result<Response, ApiError> {
    let (filter, page) = params.into_domain()?;
    let listing = s.movies.list(&filter, page).await?;
    Ok(listed(listing.total, listing.items.into_iter().map(MovieJson::from).collect()))
}

async fn get_one(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<MovieJson>, ApiError> {
    Ok(Json(s.movies.get(id).await?.into()))
}

/// 200 (as the original answered) with a `Location` header.
async fn create(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiJson(body): ApiJson<MovieBody>,
) -> Result<Response, ApiError> {
    let movie = s.movies.create(MovieInput::from(body), &by).await?;
    let location = format!("/movies/{}", movie.id);
    Ok(created(location, MovieJson::from(movie)))
}

async fn update(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<MovieBody>,
) -> Result<Json<MovieJson>, ApiError> {
    Ok(Json(s.movies.update(id, body.into(), &by).await?.into()))
}

async fn delete_one(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Message>, ApiError> {
    s.movies.delete(id, &by).await?;
    Ok(Json(Message { message: "Movie deleted successfully" }))
}

async fn delete_by_name(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Message>, ApiError> {
    s.movies.delete_by_name(&name, &by).await?;
    Ok(Json(Message { message: "Movie deleted successfully" }))
}

async fn create_many(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiJson(body): ApiJson<Vec<MovieBody>>,
) -> Result<Json<BulkMoviesJson>, ApiError> {
    let inputs = body.into_iter().map(MovieInput::from).collect();
    let outcome = s.movies.create_many(inputs, &by).await?;
    Ok(Json(BulkMoviesJson {
        added_movies: outcome.added.into_iter().map(Into::into).collect(),
        not_added_movies: outcome.not_added.into_iter().map(Into::into).collect(),
    }))
}

async fn delete_range(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath((start, end)): ApiPath<(i64, i64)>,
) -> Result<Json<DeletedRangeJson>, ApiError> {
    let outcome =
        s.movies.delete_range(start, end, &by).await.map_err(ApiError::from_domain("path"))?;
    Ok(Json(outcome.into()))
}

async fn names(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(s.movies.names().await?))
}

async fn count(State(s): State<AppState>) -> Result<Json<Count>, ApiError> {
    Ok(Json(Count { count: s.movies.count().await? }))
}

async fn characters_of(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Response, ApiError> {
    // A movie's characters come whole unless the client pages them.
    let limit = params.limit.or(Some(movies_domain::paging::MAX_LIMIT as i64));
    let page = page(params.skip, limit)?;
    let listing = s.characters.list_for_movie(id, page).await?;
    Ok(listed(listing.total, listing.items.into_iter().map(CharacterJson::from).collect()))
}

async fn recount_characters(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
) -> Result<Json<Message>, ApiError> {
    s.movies.recount_characters(&by).await?;
    Ok(Json(Message { message: "Aggregated column updated successfully" }))
}

/// Names are unique, so there is never a duplicate to delete; kept for old clients.
async fn delete_duplicates(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let deleted: Vec<MovieJson> =
        s.movies.delete_duplicates(&by)?.into_iter().map(MovieJson::from).collect();
    Ok(Json(json!({ "deleted_movies": deleted })))
}

/// The movies a user created.
async fn by_editor(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(username): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Response, ApiError> {
    let page = page(params.skip, params.limit)?;
    let editor = s.users.by_username(&username).await?;
    let filter = MovieFilter { editor_id: Some(editor.id), ..Default::default() };
    let listing = s.movies.list(&filter, page).await?;
    Ok(listed(listing.total, listing.items.into_iter().map(MovieJson::from).collect()))
}
