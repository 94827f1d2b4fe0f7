//! Character JSON: `id, name, movieId, movieName, description, editorId`.

use movies_domain::characters::{Character, CharacterInput};
use serde::{Deserialize, Serialize};

/// A character as clients send it: the movie by `movieName` or `movieId` (or both, agreeing).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CharacterBody {
    pub name: Option<String>,
    pub movie_name: Option<String>,
    pub movie_id: Option<i64>,
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CharacterJson {
    pub id: i64,
    pub name: String,
    pub movie_id: i64,
    pub movie_name: String,
    pub description: String,
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
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CharacterParams {
    pub skip: Option<i64>,
    pub limit: Option<i64>,
    pub q: Option<String>,
    pub movie_name: Option<String>,
    pub movie_id: Option<i64>,
}
