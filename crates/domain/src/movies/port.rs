//! What the movie service needs from storage.

use async_trait::async_trait;

use super::{Movie, MovieFilter, NewMovie};
use crate::error::Result;
use crate::jobs::JobCredit;
use crate::paging::{IdSpan, Listing, Page};

/// Stores movies. Every write keeps each movie's `nr_characters` true in the same transaction,
/// and deleting a movie deletes its characters with it. Every write that changes something
/// records, in its own transaction, the event its method names (built by `NewEvent`), and a
/// write that fails or changes nothing records none.
///
/// # Errors
/// Unless a method says otherwise, an implementation returns `Error::Unavailable` (with its
/// own error as the source) when the store is down, busy or too slow, `Error::Internal` when it
/// fails for any other reason (a row it cannot read, a query it refuses), and nothing else.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MovieRepository: Send + Sync {
    /// The movies matching `filter`, in its order, windowed by `page`, and how many match (not
    /// counting the window). With a cursor in `page` the order is by id, whatever `filter` says.
    async fn list(&self, filter: &MovieFilter, page: Page) -> Result<Listing<Movie>>;

    /// The movie with this id, if any.
    async fn find(&self, id: i64) -> Result<Option<Movie>>;

    /// The movies with ids in `start..end`, in id order.
    async fn find_range(&self, start: i64, end: i64) -> Result<Vec<Movie>>;

    /// How many movies there are, and their lowest and highest ids.
    async fn id_span(&self) -> Result<IdSpan>;

    /// The movie with exactly this name, if any.
    async fn find_by_name(&self, name: &str) -> Result<Option<Movie>>;

    /// The `(id, name)` of every movie whose id is in `ids` or whose name is in `names`, in no
    /// given order: how characters find the movies they name.
    async fn find_refs(&self, ids: &[i64], names: &[String]) -> Result<Vec<(i64, String)>>;

    /// Stores a new movie with `nr_characters` 0; records `NewEvent::movie_added`.
    ///
    /// # Errors
    /// `Error::DuplicateName` when a movie already has this name; `Error::Unauthorized` when the
    /// editor `editor_id` no longer exists (deleted since its token was checked).
    async fn insert(&self, movie: &NewMovie, editor_id: Option<i64>) -> Result<Movie>;

    /// Stores every movie whose name is not taken yet, in one transaction, and returns those it
    /// stored, in input order; records `NewEvent::movies_added` of their ids when there are any.
    /// The names in `movies` are distinct.
    ///
    /// With `credit`, in the same transaction, adds the number stored to that job's `done` and
    /// records `NewEvent::job_progress` of the job after the events above (when it stored any),
    /// so the batch and the job's progress commit together or not at all.
    ///
    /// # Errors
    /// `Error::Unauthorized` when the editor `editor_id` no longer exists; `Error::NotFound(Job)`
    /// when the credited job does not exist. Nothing is stored then.
    async fn insert_many(
        &self,
        movies: &[NewMovie],
        editor_id: Option<i64>,
        credit: Option<JobCredit>,
    ) -> Result<Vec<Movie>>;

    /// Replaces the fields of the movie `id`, keeping its id, editor and character count;
    /// records `NewEvent::movie_updated`.
    ///
    /// # Errors
    /// `Error::NotFound(Movie)` when there is no such movie; `Error::DuplicateName` when another
    /// movie has the new name.
    async fn update(&self, id: i64, movie: &NewMovie) -> Result<Movie>;

    /// Deletes the movie and its characters; returns the movie as it was, or `None` if absent.
    /// Records `NewEvent::movie_deleted` (`NewEvent::movies_deleted` when several went), then
    /// `NewEvent::characters_deleted_with_movies` when characters went with them.
    async fn delete(&self, id: i64) -> Result<Option<Movie>>;

    /// Deletes the movie with this name and its characters, as [`MovieRepository::delete`].
    async fn delete_by_name(&self, name: &str) -> Result<Option<Movie>>;

    /// Deletes the movies with ids in `start..end` and their characters; returns the ids deleted.
    /// Records events as [`MovieRepository::delete`] does.
    async fn delete_range(&self, start: i64, end: i64) -> Result<Vec<i64>>;

    /// The `(id, name)` of up to `limit` movies with ids above `after`, ordered by id: how the
    /// list of every name is read a slice at a time.
    async fn names_after(&self, after: i64, limit: u64) -> Result<Vec<(i64, String)>>;

    /// Up to `n` ids of existing movies picked at random (fewer when there are fewer movies,
    /// none when there is none), without reading the whole table: how generated characters find
    /// their movies.
    async fn sample_ids(&self, n: u64) -> Result<Vec<i64>>;

    /// How many movies there are.
    async fn count(&self) -> Result<u64>;

    /// Recomputes every movie's `nr_characters` from the characters table; records no event.
    async fn recount_characters(&self) -> Result<()>;
}
