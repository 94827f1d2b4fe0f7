//! `/moviesTMDB` routes: The Movie Database's movies, passed through as TMDB writes them (public,
//! as in the original), and `POST /movies/import/tmdb/{tmdbId}`, which adds one of them to the
//! catalogue. Every operation here is tagged `tmdb`, which gives it the 502 and TMDB's 503 in
//! `openapi::finish`.

use std::borrow::Cow;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::created;
use crate::dto::lax::Int;
use crate::dto::movies::MovieJson;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{ApiPath, CurrentUser};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(popular))
        .routes(routes!(search))
        .routes(routes!(by_genre))
        .routes(routes!(get_one))
        .routes(routes!(import))
}

/// A movie as TMDB writes it. The server passes it through unchanged, so the document names
/// only the fields every TMDB movie has; TMDB's own reference describes the rest.
pub struct TmdbMovie;

impl PartialSchema for TmdbMovie {
    fn schema() -> RefOr<Schema> {
        let text = || ObjectBuilder::new().schema_type(Type::String);
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A movie of The Movie Database, exactly as TMDB sends it (its other fields \
                 included; see TMDB's API reference)",
            ))
            .property("id", ObjectBuilder::new().schema_type(Type::Integer))
            .required("id")
            .property("title", text())
            .property("overview", text())
            .property("release_date", text().description(Some("`YYYY-MM-DD`, or empty")))
            .examples([json!({
                "id": 348, "title": "Alien", "release_date": "1979-05-25",
                "overview": "During its return to the earth, commercial spaceship Nostromo \
                             intercepts a distress signal from a distant planet.",
                "genre_ids": [27, 878], "popularity": 41.3, "vote_average": 8.2
            })])
            .into()
    }
}

impl ToSchema for TmdbMovie {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TmdbMovie")
    }
}

/// List TMDB's popular movies
///
/// Public. TMDB's `results` of its popular movies (the first page), as TMDB writes them;
/// answers are cached for 10 minutes.
#[utoipa::path(get, path = "/moviesTMDB", tag = "tmdb", responses(
    (status = 200, description = "TMDB's popular movies", body = [TmdbMovie]),
))]
async fn popular(State(s): State<AppState>) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(s.catalogue.popular().await?))
}

/// Get a TMDB movie
///
/// Public. The whole movie as TMDB writes it (with `genres` and `runtime`).
#[utoipa::path(get, path = "/moviesTMDB/{id}", tag = "tmdb",
    params(("id" = i64, Path, description = "TMDB's movie id", example = 348)),
    responses(
        (status = 200, description = "The movie", body = TmdbMovie),
        (status = 404, description = "TMDB has no such movie", body = ErrorBody,
            example = json!({ "detail": "Movie not found on TMDB" })),
))]
async fn get_one(
    State(s): State<AppState>,
    ApiPath(Int(id)): ApiPath<Int>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(s.catalogue.movie(id).await?))
}

/// Search TMDB's movies by title
///
/// Public. TMDB's `results` for the name (the first page); a blank name finds nothing.
#[utoipa::path(get, path = "/moviesTMDB/search/{name}", tag = "tmdb",
    params(("name" = String, Path, description = "Words of the title", example = "alien")),
    responses((status = 200, description = "The movies TMDB finds", body = [TmdbMovie])),
)]
async fn search(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(s.catalogue.search(&name).await?))
}

/// List TMDB's popular movies of a genre
///
/// Public. The genre by its name in TMDB's list (`Action`, `Science Fiction`, ...; any case).
/// The original declared this at `/moviesTMDB/search/{genre}`, where the name search shadowed it.
#[utoipa::path(get, path = "/moviesTMDB/genre/{genre}", tag = "tmdb",
    params(("genre" = String, Path, description = "A genre name of TMDB's list",
        example = "Science Fiction")),
    responses(
        (status = 200, description = "TMDB's popular movies of that genre", body = [TmdbMovie]),
        (status = 404, description = "TMDB has no genre of that name", body = ErrorBody,
            example = json!({ "detail": "Genre not found on TMDB" })),
))]
async fn by_genre(
    State(s): State<AppState>,
    ApiPath(genre): ApiPath<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(s.catalogue.by_genre(&genre).await?))
}

/// Import a TMDB movie
///
/// Adds TMDB's movie to the catalogue, as `POST /movies` would add it (the caller is its
/// editor): name from `title`, year from `release_date`, duration from `runtime` (`1h 47m`),
/// genre from `genres` joined with `, `, description from `overview`. A TMDB movie that breaks
/// a movie rule (no release date, so no year) is a 422 whose `loc` starts with `tmdb`.
#[utoipa::path(post, path = "/movies/import/tmdb/{tmdbId}", tag = "tmdb",
    security(("bearer" = [])),
    params(("tmdbId" = i64, Path, description = "TMDB's movie id", example = 348)),
    responses(
        (status = 200, description = "The movie as stored", body = MovieJson,
            headers(("Location" = String, description = "`/movies/{id}`"))),
        (status = 404, description = "TMDB has no such movie", body = ErrorBody,
            example = json!({ "detail": "Movie not found on TMDB" })),
        (status = 409, description = "A movie of that name exists", body = ErrorBody),
))]
async fn import(
    State(s): State<AppState>,
    CurrentUser(by): CurrentUser,
    ApiPath(Int(tmdb_id)): ApiPath<Int>,
) -> Result<Response, ApiError> {
    let movie = s.catalogue.import(tmdb_id, &by).await.map_err(ApiError::from_domain("tmdb"))?;
    let location = format!("/movies/{}", movie.id);
    Ok(created(location, MovieJson::from(movie)))
}
