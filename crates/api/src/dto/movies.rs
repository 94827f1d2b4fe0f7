//! Movie JSON: `id, name, year, duration, genre, description, nrCharacters, editorId`.

use movies_domain::movies::{Movie, MovieFilter, MovieInput, MovieSort, NewMovie};
use movies_domain::text::nfc;
use movies_domain::{FieldError, Page};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// A movie as clients send it. Fields the server owns (`id`, `nrCharacters`, `editorId`), which
/// old clients still send, are ignored like any unknown field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = MovieInput)]
pub struct MovieBody {
    /// Unique; trimmed.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, example = "Alien")]
    pub name: Option<String>,
    #[schema(value_type = i64, required = true, minimum = 1878, maximum = 2100, example = 1979)]
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub year: Option<i64>,
    /// Free text; empty when left out.
    #[schema(max_length = 50, example = "1h 57m")]
    pub duration: Option<String>,
    /// Empty when left out.
    #[schema(max_length = 100, example = "Science fiction")]
    pub genre: Option<String>,
    /// Empty when left out.
    #[schema(
        max_length = 5000,
        example = "The crew of a commercial space tug meets a deadly lifeform."
    )]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Movie, example = json!({
    "id": 1, "name": "Alien", "year": 1979, "duration": "1h 57m", "genre": "Science fiction",
    "description": "The crew of a commercial space tug meets a deadly lifeform.",
    "nrCharacters": 2, "editorId": 1
}))]
pub struct MovieJson {
    pub id: i64,
    pub name: String,
    pub year: i32,
    pub duration: String,
    pub genre: String,
    pub description: String,
    /// How many characters the movie has.
    pub nr_characters: i64,
    /// The user who created it; null once that user is deleted.
    #[schema(required = true)]
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
#[derive(Debug, Clone, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BulkMoviesResult)]
pub struct BulkMoviesJson {
    pub added_movies: Vec<MovieJson>,
    pub not_added_movies: Vec<NotAddedMovie>,
}

/// `{"deleted_movies": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeletedMovies)]
pub struct DeletedMoviesJson {
    pub deleted_movies: Vec<MovieJson>,
}

/// The filters and order of `GET /movies`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MovieParams {
    /// How many matches to pass over; default 0.
    #[param(minimum = 0)]
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub skip: Option<i64>,
    /// How many to return; default 50.
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub limit: Option<i64>,
    /// A cursor: only records with ids above this one, in id order (so
    /// `sort` must be left out or be `id`). The next page's cursor
    /// comes in the `X-Next-After` header.
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub after: Option<i64>,
    /// A part of the name, ignoring case.
    pub q: Option<String>,
    /// The genre, exactly.
    pub genre: Option<String>,
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub year: Option<i64>,
    /// The earliest year, included.
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub year_from: Option<i64>,
    /// The latest year, included.
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub year_to: Option<i64>,
    /// `id`, `name` or `year`, with `-` first for descending; default `id`.
    #[param(pattern = "^-?(id|name|year)$", example = "-year")]
    pub sort: Option<String>,
}

impl MovieParams {
    /// The filter and page these parameters ask for, or a 422 naming every bad one.
    pub(crate) fn into_domain(self) -> Result<(MovieFilter, Page), ApiError> {
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
        if self.after.is_some() && sort.is_some_and(|s| s != MovieSort::default()) {
            errors.push(FieldError::new(
                "after",
                "value_error",
                "The cursor `after` pages in id order: leave `sort` out or set it to `id`",
            ));
        }
        match (page, sort) {
            (Some(page), Some(sort)) if errors.is_empty() => {
                let filter = MovieFilter {
                    q: self.q.as_deref().map(nfc),
                    genre: self.genre,
                    year: y,
                    year_from: from,
                    year_to: to,
                    editor_id: None,
                    sort,
                };
                Ok((filter, page.starting_after(self.after)))
            }
            _ => Err(ApiError::invalid("query", errors)),
        }
    }
}
