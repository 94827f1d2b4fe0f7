//! Movie JSON: `id, name, year, duration, genre, description, nrCharacters, editorId`.

use movies_domain::movies::{Movie, MovieInput, NewMovie};
use serde::{Deserialize, Serialize};

/// A movie as clients send it. Fields the server owns (`id`, `nrCharacters`, `editorId`), which
/// old clients still send, are ignored like any unknown field.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MovieBody {
    pub name: Option<String>,
    pub year: Option<i64>,
    pub duration: Option<String>,
    pub genre: Option<String>,
    pub description: Option<String>,
}

impl From<MovieBody> for MovieInput {
    fn from(b: MovieBody) -> Self {
        Self {
            name: b.name,
            year: b.year,
            duration: b.duration,
            genre: b.genre,
            description: b.description,
        }
    }
}

/// A stored movie.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MovieJson {
    pub id: i64,
    pub name: String,
    pub year: i32,
    pub duration: String,
    pub genre: String,
    pub description: String,
    pub nr_characters: i64,
    pub editor_id: Option<i64>,
}

impl From<Movie> for MovieJson {
    fn from(m: Movie) -> Self {
        Self {
            id: m.id,
            name: m.name,
            year: m.year,
            duration: m.duration,
            genre: m.genre,
            description: m.description,
            nr_characters: m.nr_characters,
            editor_id: m.editor_id,
        }
    }
}

/// A movie a bulk request did not store, as it was sent (after trimming).
#[derive(Debug, Clone, Serialize)]
pub struct NotAddedMovie {
    pub name: String,
    pub year: i32,
    pub duration: String,
    pub genre: String,
    pub description: String,
}

impl From<NewMovie> for NotAddedMovie {
    fn from(m: NewMovie) -> Self {
        Self {
            name: m.name.into_inner(),
            year: m.year.get(),
            duration: m.duration.into_inner(),
            genre: m.genre.into_inner(),
            description: m.description.into_inner(),
        }
    }
}

/// `{"added_movies": [...], "not_added_movies": [...]}`, the original's bulk answer.
#[derive(Debug, Serialize)]
pub struct BulkMoviesJson {
    pub added_movies: Vec<MovieJson>,
    pub not_added_movies: Vec<NotAddedMovie>,
}

/// The filters and order of `GET /movies`.
#[derive(Debug, Default, Deserialize)]
pub struct MovieParams {
    pub skip: Option<i64>,
    pub limit: Option<i64>,
    pub q: Option<String>,
    pub genre: Option<String>,
    pub year: Option<i64>,
    pub year_from: Option<i64>,
    pub year_to: Option<i64>,
    pub sort: Option<String>,
}
