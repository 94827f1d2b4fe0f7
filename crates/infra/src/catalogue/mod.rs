//! The outside movie catalogue: The Movie Database (TMDB) over HTTPS with reqwest and rustls,
//! its answers cached in memory. `http.rs` makes one call and sorts out its answer; `tmdb.rs`
//! is the port's adapter and its cache.

mod http;
mod tmdb;

pub use tmdb::{TmdbCatalogue, TmdbCredentials, TmdbSettings};
