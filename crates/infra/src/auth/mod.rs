//! The authentication adapters: argon2id password hashing, HMAC-signed JWTs, and the in-memory
//! caches that keep SQL off the authentication path.

mod cached;
mod hasher;
mod tokens;

pub use cached::{CachedRevocations, CachedUsers, auth_invalidation};
pub use hasher::{Argon2Hasher, DEFAULT_MAX_WAITING, HASHING_SATURATED};
pub use tokens::{JwtAlgorithm, JwtTokens};
