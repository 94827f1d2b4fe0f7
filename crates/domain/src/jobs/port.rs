//! What jobs need from outside: storage for the jobs themselves, and a source of rows to make.

use async_trait::async_trait;

use super::{Job, JobKind, JobStatus};
use crate::characters::CharacterRecord;
use crate::error::Result;
use crate::movies::NewMovie;

/// Stores jobs: their bookkeeping only. The rows a job makes go through the movie and character
/// repositories (`insert_many` with a [`JobCredit`](super::JobCredit)), which count them towards
/// the job in the same transaction.
///
/// # Errors
/// Unless a method says otherwise, `Error::Unavailable` when the store is down, busy or too
/// slow, `Error::Internal` when it fails otherwise (a stored job of an unknown kind or status),
/// and nothing else.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobStore: Send + Sync {
    /// A new `queued` job; wakes whoever waits for queued jobs in this process.
    async fn create(&self, kind: JobKind, requested: u64, owner_id: Option<i64>) -> Result<Job>;

    /// The job with this id, if any, with its progress as committed.
    async fn get(&self, id: &str) -> Result<Option<Job>>;

    /// Jobs, newest first: those of `owner_id`, or all when `None`.
    async fn list(&self, owner_id: Option<i64>) -> Result<Vec<Job>>;

    /// Cancels a job: a queued one at once (recording `NewEvent::job_done`), a running one after
    /// its current batch (its runner sees `cancel_requested`). Returns the job as it is now, or
    /// `None` if absent.
    async fn cancel(&self, id: &str) -> Result<Option<Job>>;

    /// Marks the oldest job that is queued, or running under a lease that has expired (its
    /// server died), `running` for this server, and returns it; `None` when there is none. Two
    /// servers sharing the store never claim the same job.
    async fn claim_next(&self) -> Result<Option<Job>>;

    /// Marks the queued job `id` `running` for this server and returns it; `None` if it is not
    /// queued.
    async fn claim(&self, id: &str) -> Result<Option<Job>>;

    /// Puts jobs left `running` by a stopped server back in the queue, keeping their progress,
    /// but never one that another running server holds; returns how many.
    async fn requeue_interrupted(&self) -> Result<u64>;

    /// Ends a job this server runs with `status` (and `error`), recording `NewEvent::job_done`
    /// of the ended job in the same transaction; returns it.
    ///
    /// # Errors
    /// `Error::NotFound(Job)` when there is no such job, or this server no longer runs it
    /// (another took it over).
    async fn finish(&self, id: &str, status: JobStatus, error: Option<String>) -> Result<Job>;
}

/// Makes the rows a job stores: valid, realistic-looking, not necessarily distinct.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait RowGenerator: Send + Sync {
    /// `n` valid movies. Names may repeat, within the batch and with stored movies.
    fn movies(&self, n: usize) -> Vec<NewMovie>;

    /// `n` characters, each in a movie of `movie_ids` (not empty).
    fn characters(&self, n: usize, movie_ids: &[i64]) -> Vec<CharacterRecord>;
}
