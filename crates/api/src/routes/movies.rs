//! `/movies` routes.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use movies_domain::movies::{MovieInput, MovieService, MovieSort};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::{BULK_BODY_LIMIT, created, listed, page};
use crate::dto::characters::CharacterJson;
use crate::dto::lax::Int;
use crate::dto::movies::{BulkMoviesJson, DeletedMoviesJson, MovieBody, MovieJson, MovieParams};
use crate::dto::{Count, DeletedRangeJson, IdRange, Message, PageParams};
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{ApiJson, ApiPath, ApiQuery, CurrentUser};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(names))
        .routes(routes!(count))
        .routes(routes!(create_many).layer(DefaultBodyLimit::max(BULK_BODY_LIMIT)))
        .routes(routes!(delete_range))
        .routes(routes!(delete_by_name))
        .routes(routes!(recount_characters))
        .routes(routes!(delete_duplicates))
        .routes(routes!(get_one, update, delete_one))
        .routes(routes!(characters_of))
        .routes(routes!(by_editor))
}

/// List movies
///
/// Public. Filtered, sorted and paged; the number of matches is in `X-Total-Count`.
#[utoipa::path(get, path = "/movies", tag = "movies", params(MovieParams), responses(
    (status = 200, description = "A page of movies", body = [MovieJson],
        headers(("X-Total-Count" = u64, description = "Movies matching, in all pages"))),
))]
async fn list(
    State(s): State<AppState>,
    ApiQuery(params): ApiQuery<MovieParams>,
) -> Result<Response, ApiError> {
    let (filter, page) = params.into_domain()?;
    let listing = s.movies.list(&filter, page).await?;
    let next = listing.next_after(page).filter(|_| filter.sort == MovieSort::default());
    Ok(listed(listing, next, MovieJson::from))
}

/// Get a movie
///
/// Public, as in the original (its web front end opens details without a token).
#[utoipa::path(get, path = "/movies/{id}", tag = "movies",
    params(("id" = i64, Path, description = "Movie id")),
    responses(
        (status = 200, description = "The movie", body = MovieJson),
        (status = 404, description = "No such movie", body = ErrorBody),
))]
async fn get_one(
    State(s): State<AppState>,
    ApiPath(Int(id)): ApiPath<Int>,
) -> Result<Json<MovieJson>, ApiError> {
    Ok(Json(s.movies.get(id).await?.into()))
}

/// Create a movie
///
/// 200 (as the original answered) with the movie and its `Location`; the caller is its editor.
#[utoipa::path(post, path = "/movies", tag = "movies", security(("bearer" = [])),
    request_body = MovieBody,
    responses(
        (status = 200, description = "The movie as stored", body = MovieJson,
            headers(("Location" = String, description = "`/movies/{id}`"))),
        (status = 409, description = "A movie of that name exists", body = ErrorBody),
))]
async fn create(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiJson(body): ApiJson<MovieBody>,
) -> Result<Response, ApiError> {
    let movie = s.movies.create(MovieInput::from(body), &by).await?;
    let location = format!("/movies/{}", movie.id);
    Ok(created(location, MovieJson::from(movie)))
}

/// Replace a movie
///
/// Its editor or an admin.
#[utoipa::path(put, path = "/movies/{id}", tag = "movies", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Movie id")),
    request_body = MovieBody,
    responses(
        (status = 200, description = "The movie as stored", body = MovieJson),
        (status = 403, description = "Not the movie's editor nor an admin", body = ErrorBody),
        (status = 404, description = "No such movie", body = ErrorBody),
        (status = 409, description = "Another movie has that name", body = ErrorBody),
))]
async fn update(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(Int(id)): ApiPath<Int>,
    ApiJson(body): ApiJson<MovieBody>,
) -> Result<Json<MovieJson>, ApiError> {
    Ok(Json(s.movies.update(id, body.into(), &by).await?.into()))
}

/// Delete a movie
///
/// Its editor or an admin; its characters go with it.
#[utoipa::path(delete, path = "/movies/{id}", tag = "movies", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Movie id")),
    responses(
        (status = 200, description = "Deleted", body = Message,
            example = json!({ "message": "Movie deleted successfully" })),
        (status = 403, description = "Not the movie's editor nor an admin", body = ErrorBody),
        (status = 404, description = "No such movie", body = ErrorBody),
))]
async fn delete_one(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(Int(id)): ApiPath<Int>,
) -> Result<Json<Message>, ApiError> {
    s.movies.delete(id, &by).await?;
    Ok(Json(Message { message: "Movie deleted successfully" }))
}

/// Delete a movie by name
///
/// Its editor or an admin; the name is compared exactly.
#[utoipa::path(delete, path = "/movies/by_name/{name}", tag = "movies", security(("bearer" = [])),
    params(("name" = String, Path, description = "Movie name")),
    responses(
        (status = 200, description = "Deleted", body = Message,
            example = json!({ "message": "Movie deleted successfully" })),
        (status = 403, description = "Not the movie's editor nor an admin", body = ErrorBody),
        (status = 404, description = "No such movie", body = ErrorBody),
))]
async fn delete_by_name(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Message>, ApiError> {
    s.movies.delete_by_name(&name, &by).await?;
    Ok(Json(Message { message: "Movie deleted successfully" }))
}

/// Create many movies
///
/// Up to 10,000 in one request (16 MiB), stored in one transaction: the movies whose name is
/// taken come back in `not_added_movies`; any invalid item rejects the whole request with a 422
/// naming its index.
#[utoipa::path(post, path = "/movies/bulk", tag = "movies", security(("bearer" = [])),
    request_body = Vec<MovieBody>,
    responses((status = 200, description = "What was stored and what was not", body = BulkMoviesJson)),
)]
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

/// Delete a range of movies
///
/// Admins only. The ids from `start_id` up to, not including, `end_id` (at most 100,000).
#[utoipa::path(delete, path = "/movies/bulk/{start_id}/{end_id}", tag = "movies",
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
        .movies
        .delete_range(range.start_id, range.end_id, &by)
        .await
        .map_err(ApiError::from_domain("path"))?;
    Ok(Json(outcome.into()))
}

/// List every movie name
#[utoipa::path(get, path = "/movies/names", tag = "movies", security(("bearer" = [])),
    responses((status = 200, description = "Every name, by id", body = [String],
        example = json!(["Alien", "Heat"]))),
)]
async fn names(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
) -> Result<Response, ApiError> {
    // The first slice is read before the answer starts, so that a database that is down still
    // gets its 503; a failure further on can only cut the body short, and is logged.
    let first = s.movies.names_after(i64::MIN, NAMES_SLICE).await?;
    // The body streams after the request's scope has answered: its failure is logged in the
    // request's span all the same.
    let body = Body::from_stream(names_json(s.movies.clone(), first, tracing::Span::current()));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Names read and sent per slice: about 50 KB of JSON, whatever the table's size. Four streams
/// on a million movies: RSS right after 43 MB with slices of 5,000, 33 MB with 1,000 (idle 25),
/// each stream 2.4 and 2.3-2.7 s.
pub(super) const NAMES_SLICE: u64 = 1000;

/// The JSON array of every name, one chunk per slice read after `first`.
pub(super) fn names_json(
    movies: MovieService,
    first: Vec<(i64, String)>,
    span: tracing::Span,
) -> impl Stream<Item = Result<Bytes, movies_domain::Error>> {
    futures_util::stream::try_unfold(Some((first, true)), move |state| {
        let (movies, span) = (movies.clone(), span.clone());
        async move {
            let Some((slice, opening)) = state else { return Ok(None) };
            let mut chunk = String::from(if opening { "[" } else { "" });
            for (i, (_, name)) in slice.iter().enumerate() {
                if !opening || i > 0 {
                    chunk.push(',');
                }
                // A `String` always serialises.
                chunk.push_str(&serde_json::to_string(name).unwrap_or_default());
            }
            let next = match slice.last() {
                Some(&(last, _)) if slice.len() as u64 == NAMES_SLICE => {
                    let next = movies.names_after(last, NAMES_SLICE).await.inspect_err(|e| {
                        let _entered = span.enter();
                        tracing::error!(error = %e, "GET /movies/names stopped part way");
                    })?;
                    Some((next, false))
                }
                _ => {
                    chunk.push(']');
                    None
                }
            };
            Ok(Some((Bytes::from(chunk), next)))
        }
    })
}

/// Count movies
///
/// Public.
#[utoipa::path(get, path = "/movies/count", tag = "movies",
    responses((status = 200, description = "How many movies are stored", body = Count)),
)]
async fn count(State(s): State<AppState>) -> Result<Json<Count>, ApiError> {
    Ok(Json(Count { count: s.movies.count().await? }))
}

/// List a movie's characters
///
/// All of them (up to 1,000) unless the client pages them; the total is in `X-Total-Count`.
#[utoipa::path(get, path = "/movies/{id}/characters", tag = "movies", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Movie id"), PageParams),
    responses(
        (status = 200, description = "The movie's characters", body = [CharacterJson],
            headers(("X-Total-Count" = u64, description = "The movie's characters, in all pages"))),
        (status = 404, description = "No such movie", body = ErrorBody),
))]
async fn characters_of(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(Int(id)): ApiPath<Int>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Response, ApiError> {
    // A movie's characters come whole unless the client pages them.
    let limit = params.limit.or(Some(movies_domain::paging::MAX_LIMIT as i64));
    let page = page(params.skip, limit, params.after)?;
    let listing = s.characters.list_for_movie(id, page).await?;
    let next = listing.next_after(page);
    Ok(listed(listing, next, CharacterJson::from))
}

/// Recount every movie's characters
///
/// Admins only. `nrCharacters` is kept up to date on every write; this recounts from scratch.
#[utoipa::path(put, path = "/movies/update_nr_characters", tag = "movies",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Recounted", body = Message,
            example = json!({ "message": "Aggregated column updated successfully" })),
        (status = 403, description = "Not an admin", body = ErrorBody),
))]
async fn recount_characters(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
) -> Result<Json<Message>, ApiError> {
    s.movies.recount_characters(&by).await?;
    Ok(Json(Message { message: "Aggregated column updated successfully" }))
}

/// Delete duplicate movies
///
/// Admins only. Names are unique, so there is never a duplicate to delete; kept for old clients.
#[utoipa::path(delete, path = "/movies/delete_duplicates", tag = "movies",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Always an empty list", body = DeletedMoviesJson),
        (status = 403, description = "Not an admin", body = ErrorBody),
))]
async fn delete_duplicates(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
) -> Result<Json<DeletedMoviesJson>, ApiError> {
    let deleted = s.movies.delete_duplicates(&by)?.into_iter().map(MovieJson::from).collect();
    Ok(Json(DeletedMoviesJson { deleted_movies: deleted }))
}

/// List the movies a user created
#[utoipa::path(get, path = "/movies/username/{username}", tag = "movies",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The editor's username"), PageParams),
    responses(
        (status = 200, description = "A page of that user's movies", body = [MovieJson],
            headers(("X-Total-Count" = u64, description = "That user's movies, in all pages"))),
        (status = 404, description = "No such user", body = ErrorBody),
))]
async fn by_editor(
    State(s): State<AppState>,
    CurrentUser(_): CurrentUser,
    ApiPath(username): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Response, ApiError> {
    let page = page(params.skip, params.limit, params.after)?;
    let listing = s.movies.list_by_editor(&username, page).await?;
    let next = listing.next_after(page);
    Ok(listed(listing, next, MovieJson::from))
}
