//! The user entity and its role.

use serde::{Deserialize, Serialize};

use crate::names::wire_names;

/// What a user may do beyond editing its own records. Its wire name (in JSON, tokens and the
/// database) is `user` or `admin`:
///
/// ```
/// use movies_domain::users::Role;
///
/// assert_eq!(Role::Admin.as_str(), "admin");
/// assert_eq!("user".parse::<Role>(), Ok(Role::User));
/// assert!("root".parse::<Role>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Admin,
}

wire_names!(Role { User => "user", Admin => "admin" });

/// A registered user. The password hash never leaves the store through this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

/// A user with how many movies and characters it edits (computed by the store when read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub nr_movies: u64,
    pub nr_characters: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
