//! What jobs need from storage.

use async_trait::async_trait;

use super::{BatchOutcome, Job, JobKind, JobStatus};
use crate::characters::CharacterRecord;
use crate::error::Result;
use crate::movies::NewMovie;

/// Stores jobs, and stores their batches together with their progress, so that a job stopped at
/// any point (even by a crash) knows exactly how many rows it has made.
///
/// # Errors
/// Unless a method says otherwise, `Error::Unavailable` when the store is down, busy or too
/// slow, `Error::Internal` when it fails otherwise (a stored job of an unknown kind or status).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobStore: Send + Sync {
    /// A new `queued` job.
    async fn create(&self, kind: JobKind, requested: u64, owner_id: Option<i64>) -> Result<Job>;

    async fn get(&self, id: &str) -> Result<Option<Job>>;

    /// Jobs, newest first: those of `owner_id`, or all when `None`.
    async fn list(&self, owner_id: Option<i64>) -> Result<Vec<Job>>;

    /// Cancels a job: a queued one at once, a running one after its current batch. Returns the
    /// job as it is now, or `None` if absent.
    async fn cancel(&self, id: &str) -> Result<Option<Job>>;

    /// Marks the oldest queued job `running` and returns it.
    async fn claim_next(&self) -> Result<Option<Job>>;

    /// Marks the queued job `id` `running` and returns it; `None` if it is not queued.
    async fn claim(&self, id: &str) -> Result<Option<Job>>;

    /// Puts jobs left `running` by a stopped server back in the queue, keeping their progress;
    /// returns how many.
    async fn requeue_interrupted(&self) -> Result<u64>;

    /// Stores `movies` for job `id`, giving a name that is taken a unique suffix, adds their
    /// number to the job's `done` and writes the batch's events, in one transaction.
    ///
    /// # Errors
    /// `Error::Unauthorized` when the editor `editor_id` no longer exists; `Error::Internal`
    /// when no free name was found for some movies after a few suffixes.
    async fn store_movies(
        &self,
        id: &str,
        movies: Vec<NewMovie>,
        editor_id: Option<i64>,
    ) -> Result<BatchOutcome>;

    /// As [`JobStore::store_movies`], for characters (whose movies exist).
    ///
    /// # Errors
    /// `Error::Unauthorized` when the editor `editor_id` no longer exists; else
    /// `Error::NotFound(Movie)` when one of the movies was deleted meanwhile (nothing is stored).
    async fn store_characters(
        &self,
        id: &str,
        characters: Vec<CharacterRecord>,
        editor_id: Option<i64>,
    ) -> Result<BatchOutcome>;

    /// Up to `n` random ids of existing movies (fewer if there are fewer movies).
    async fn random_movie_ids(&self, n: u64) -> Result<Vec<i64>>;

    /// Ends a job with `status` (and `error`), writing its `generate_done` event.
    async fn finish(&self, id: &str, status: JobStatus, error: Option<String>) -> Result<Job>;
}
