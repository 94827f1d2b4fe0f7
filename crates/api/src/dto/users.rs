//! User JSON: `{id, username, role, nrMovies, nrCharacters}`; never a password hash.

use movies_domain::users::{Role, UserSummary};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserJson {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub nr_movies: u64,
    pub nr_characters: u64,
}

impl From<UserSummary> for UserJson {
    fn from(u: UserSummary) -> Self {
        Self {
            id: u.id,
            username: u.username,
            role: u.role,
            nr_movies: u.nr_movies,
            nr_characters: u.nr_characters,
        }
    }
}
