//! Whether this instance can do its work now: the port the health check asks, so that the HTTP
//! layer never talks to the database itself.

use async_trait::async_trait;

use crate::error::Result;

/// Answers whether the stores this instance depends on are reachable.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Readiness: Send + Sync {
    /// `Ok` when the database answers a trivial query.
    ///
    /// # Errors
    /// `Error::Unavailable` when it does not (down, unreachable, out of connections), and nothing
    /// else.
    async fn check(&self) -> Result<()>;
}
