//! Adapters that implement the domain's ports with SeaORM, over SQLite (the embedded default) or
//! PostgreSQL through the same code, and the outside movie catalogue over HTTPS (`catalogue`).
//!
//! Depends on `movies-domain` and the `migration` crate; must not depend on the HTTP layer. Library
//! errors never leave this crate: every `DbErr` (and `reqwest::Error`) becomes a domain `Error`,
//! keeping its source.

pub mod auth;
pub mod catalogue;
mod db;
mod entities;
pub mod events;
pub mod jobs;
mod readiness;
mod repositories;

// What the wiring needs: the adapters (here and in the public modules above), the pool and how
// to open it. Entities, transactions, signals and tuning constants stay inside.
pub use db::{
    CommitHook, DEFAULT_ACQUIRE_TIMEOUT, Database, DbErr, PoolUsage, connect, connect_with,
};
pub use readiness::SeaReadiness;
pub use repositories::{
    CachedCharacters, CachedMovies, DEFAULT_READ_CACHE_MB, ReadCache, SeaCharacterRepository,
    SeaMovieRepository, SeaTokenRevocations, SeaUserRepository,
};
