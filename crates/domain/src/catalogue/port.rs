//! What the catalogue service needs from the outside movie catalogue.

use async_trait::async_trait;
use serde_json::Value;

use super::OutsideGenre;
use crate::error::Result;

/// Reads an outside movie catalogue (The Movie Database). Movies come as the catalogue writes
/// them (TMDB's movie objects), for clients to read unchanged; lists are the catalogue's first
/// page of results.
///
/// # Errors
/// Every method returns only `Error::Upstream`, with
/// - `UpstreamError::NotConfigured` when the adapter has no credentials (the catalogue is then
///   never called),
/// - `UpstreamError::RateLimited` when the catalogue refuses more calls for now, with the
///   seconds it says to wait, if it says,
/// - `UpstreamError::Failed` for anything else: the catalogue down, too slow, refusing the
///   credentials, answering an error or something unreadable (the source says which, and never
///   holds a credential),
///
/// and, where a method says so, `UpstreamError::NotFound`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MovieCatalogue: Send + Sync {
    /// The movies popular today.
    async fn popular(&self) -> Result<Vec<Value>>;

    /// One movie, in full (with `genres` and `runtime`).
    ///
    /// # Errors
    /// `UpstreamError::NotFound(OutsideItem::Movie)` when the catalogue has no movie of that id.
    async fn movie(&self, id: i64) -> Result<Value>;

    /// The movies whose title matches `query`.
    async fn search(&self, query: &str) -> Result<Vec<Value>>;

    /// Every movie genre the catalogue knows, in its order.
    async fn genres(&self) -> Result<Vec<OutsideGenre>>;

    /// The popular movies of the genre with this id.
    async fn by_genre(&self, genre_id: i64) -> Result<Vec<Value>>;
}
