//! What authentication needs from the outside world: a password hasher, a token signer and a
//! store of revoked tokens.

use async_trait::async_trait;

use super::{Claims, IssuedToken, Password};
use crate::error::Result;
use crate::users::User;

/// Hashes and verifies passwords. Implementations must not block the async runtime.
///
/// # Errors
/// `Error::Internal` when hashing cannot run at all (parameters refused, the hashing task
/// lost); `Error::Overloaded` when the adapter bounds how many hashes may wait and that many
/// already do (it answers at once instead of queueing); a wrong password is `Ok(false)`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A self-describing hash (PHC string) with a fresh salt.
    async fn hash(&self, password: &Password) -> Result<String>;

    /// Whether `password` matches `hash`. With `None` it verifies against a built-in dummy hash
    /// and returns `false`, taking as long as a real check, so that an unknown username cannot be
    /// told from a wrong password by the time the answer takes.
    async fn verify(&self, password: &Password, hash: Option<String>) -> Result<bool>;
}

/// Signs and checks access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenService: Send + Sync {
    /// A token for `user`, with a fresh `jti`, expiring after the configured lifetime.
    ///
    /// # Errors
    /// `Error::Internal` if signing fails (a key the algorithm refuses).
    fn issue(&self, user: &User) -> Result<IssuedToken>;

    /// The claims of a token that is well-formed, signed with our key and algorithm, and not
    /// expired.
    ///
    /// # Errors
    /// `Error::Unauthorized` for anything else (altered, expired, another key or algorithm,
    /// `alg: none`, garbage).
    fn verify(&self, token: &str) -> Result<Claims>;
}

/// Remembers revoked tokens until they would have expired anyway.
///
/// # Errors
/// `Error::Unavailable` when the store is down, busy or too slow; `Error::Internal` when it
/// fails otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TokenRevocations: Send + Sync {
    /// Revokes the token `jti`, which expires at `expires_at` (seconds since the epoch); from
    /// when it returns, `is_revoked(jti)` is true on this instance. Records
    /// `NewEvent::token_revoked` in the same transaction, so other instances learn it.
    async fn revoke(&self, jti: &str, expires_at: i64) -> Result<()>;

    async fn is_revoked(&self, jti: &str) -> Result<bool>;

    /// Forgets revocations of tokens that expired before `now`; returns how many.
    async fn prune(&self, now: i64) -> Result<u64>;

    /// Every revocation of a token that expires at or after `now`, as `(jti, expires_at)`: for a
    /// cache to load at start or after it missed events.
    async fn unexpired(&self, now: i64) -> Result<Vec<(String, i64)>>;
}
