//! What the services need to know about users from storage.

use async_trait::async_trait;

use super::User;
use crate::error::Result;

/// Looks users up.
///
/// # Errors
/// An implementation returns `Error::Unavailable` (with its own error as the source) when the
/// store fails, and nothing else.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// The user with this id, if any.
    async fn find(&self, id: i64) -> Result<Option<User>>;

    /// The user with this name, compared case-insensitively, if any.
    async fn find_by_username(&self, username: &str) -> Result<Option<User>>;
}
