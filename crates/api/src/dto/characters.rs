//! Character JSON: `id, name, movieId, movieName, description, editorId`.

use movies_domain::characters::{Character, CharacterInput};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A character as clients send it: the movie by `movieName` or `movieId` (or both, agreeing).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CharacterInput)]
pub struct CharacterBody {
    /// Trimmed.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, example = "Ellen Ripley")]
    pub name: Option<String>,
    /// The movie's name; this or `movieId` is required (an unknown movie is a 422).
    #[schema(example = "Alien")]
    pub movie_name: Option<String>,
    /// The movie's id; this or `movieName` is required.
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub movie_id: Option<i64>,
    /// Empty when left out.
    #[schema(max_length = 5000, example = "Warrant officer of the Nostromo")]
    pub description: Option<String>,
}

impl From<CharacterBody> for CharacterInput {
    fn from(b: CharacterBody) -> Self {
        Self {
            name: b.name,
            movie_id: b.movie_id,
            movie_name: b.movie_name,
            description: b.description,
        }
    }
}

/// A stored character.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Character, example = json!({
    "id": 1, "name": "Ellen Ripley", "movieId": 1, "movieName": "Alien",
    "description": "Warrant officer of the Nostromo", "editorId": 1
}))]
pub struct CharacterJson {
    pub id: i64,
    pub name: String,
    pub movie_id: i64,
    pub movie_name: String,
    pub description: String,
    /// The user who created it; null once that user is deleted.
    #[schema(required = true)]
    pub editor_id: Option<i64>,
}

impl From<Character> for CharacterJson {
    fn from(c: Character) -> Self {
        Self {
            id: c.id,
            name: c.name,
            movie_id: c.movie_id,
            movie_name: c.movie_name,
            description: c.description,
            editor_id: c.editor_id,
        }
    }
}

/// The filters of `GET /characters`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CharacterParams {
    /// How many matches to pass over; default 0.
    #[param(minimum = 0)]
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub skip: Option<i64>,
    /// How many to return; default 50.
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub limit: Option<i64>,
    /// A part of the name, ignoring case.
    pub q: Option<String>,
    /// The movie's name, exactly.
    pub movie_name: Option<String>,
    /// The movie's id.
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub movie_id: Option<i64>,
    /// A cursor: only records with ids above this one, in id order. The next page's cursor
    /// comes in the `X-Next-After` header.
    #[serde(default, deserialize_with = "crate::dto::lax::opt_int")]
    pub after: Option<i64>,
}
