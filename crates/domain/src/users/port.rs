//! What the services need from the store of users.

use async_trait::async_trait;

use super::{Role, User, UserSummary};
use crate::auth::Username;
use crate::error::Result;

/// Stores users and their password hashes. Usernames are unique regardless of case.
/// [`UserRepository::delete`] and [`UserRepository::set_credentials`] record events (the latter
/// an internal one, for the auth caches of every instance).
///
/// # Errors
/// Unless a method says otherwise, an implementation returns `Error::Unavailable` (with its
/// own error as the source) when the store is down, busy or too slow, `Error::Internal` when it
/// fails for any other reason (a row it cannot read, a query it refuses), and nothing else.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user.
    ///
    /// # Errors
    /// `Error::DuplicateName(User)` when the name is taken, in any case.
    async fn create(&self, username: &Username, password_hash: &str, role: Role) -> Result<User>;

    /// The user with this id, if any.
    async fn find(&self, id: i64) -> Result<Option<User>>;

    /// The user with this name, compared case-insensitively, if any.
    async fn find_by_username(&self, username: &str) -> Result<Option<User>>;

    /// The user with this name (case-insensitively) and its password hash: for login only.
    async fn credentials(&self, username: &str) -> Result<Option<(User, String)>>;

    /// Replaces a user's password hash and role. Records `NewEvent::user_credentials_changed` in
    /// the same transaction.
    ///
    /// # Errors
    /// `Error::NotFound(User)` when there is no such user.
    async fn set_credentials(&self, id: i64, password_hash: &str, role: Role) -> Result<User>;

    /// Every user with `role`, by id, with how many movies and characters each edits.
    async fn summaries(&self, role: Role) -> Result<Vec<UserSummary>>;

    /// One user with its counts, if any.
    async fn summary(&self, id: i64) -> Result<Option<UserSummary>>;

    /// Deletes the user; the records it edited stay, without an editor. Returns the user as it
    /// was, or `None` if absent. Records `NewEvent::user_deleted` in the same transaction.
    async fn delete(&self, id: i64) -> Result<Option<User>>;
}
