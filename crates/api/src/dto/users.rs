//! User JSON: `{id, username, role, nrMovies, nrCharacters}`; never a password hash.

use movies_domain::users::{Role, UserSummary};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::role_schema;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct UserJson {
    pub id: i64,
    pub username: String,
    #[schema(schema_with = role_schema)]
    pub role: Role,
    /// How many movies the user created.
    pub nr_movies: u64,
    /// How many characters the user created.
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
