//! Account JSON: register and login bodies, the login answer, `/auth/me`.

use movies_domain::auth::Login;
use movies_domain::users::{Role, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::ObjectBuilder;

use super::one_of;

pub(crate) fn role_schema() -> ObjectBuilder {
    one_of(Role::NAMES)
}

/// `{"username", "hashedPassword"}` as the original's clients send it (the field carries the
/// plain password despite its name); `password` is accepted too.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = Credentials)]
pub struct CredentialsBody {
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9_.-]{3,50}$", example = "alice")]
    pub username: Option<String>,
    /// The plain password, hashed by the server; this or `password` is required.
    #[serde(rename = "hashedPassword")]
    #[schema(min_length = 8, max_length = 128, example = "correct-horse-battery")]
    pub hashed_password: Option<String>,
    /// The same, under its honest name.
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

impl CredentialsBody {
    /// The password and the name of the field it came in (for error locations).
    pub fn password(self) -> (Option<String>, Option<String>, &'static str) {
        match (self.hashed_password, self.password) {
            (Some(p), _) => (self.username, Some(p), "hashedPassword"),
            (None, Some(p)) => (self.username, Some(p), "password"),
            (None, None) => (self.username, None, "hashedPassword"),
        }
    }
}

/// The OAuth2 password flow's form (`POST /auth/token`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    #[schema(value_type = String, required = true)]
    pub username: Option<String>,
    #[schema(value_type = String, required = true)]
    pub password: Option<String>,
}

/// The login answer: the original's `token`, `token_type` and `user_id`, plus `access_token`
/// for OAuth2 clients, `username` and `role`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Login)]
pub struct LoginJson {
    /// A JWT to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// The same token, for OAuth2 clients.
    pub access_token: String,
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    pub user_id: i64,
    pub username: String,
    #[schema(schema_with = role_schema)]
    pub role: Role,
}

impl From<Login> for LoginJson {
    fn from(l: Login) -> Self {
        Self {
            access_token: l.token.token.clone(),
            token: l.token.token,
            token_type: "bearer",
            user_id: l.user.id,
            username: l.user.username,
            role: l.user.role,
        }
    }
}

/// `{id, username, role}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Me)]
pub struct MeJson {
    pub id: i64,
    pub username: String,
    #[schema(schema_with = role_schema)]
    pub role: Role,
}

impl From<User> for MeJson {
    fn from(u: User) -> Self {
        Self { id: u.id, username: u.username, role: u.role }
    }
}
