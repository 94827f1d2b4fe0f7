//! The authentication adapters: argon2id password hashing and HMAC-signed JWTs.

mod hasher;
mod tokens;

pub use hasher::Argon2Hasher;
pub use tokens::{JwtAlgorithm, JwtTokens};
