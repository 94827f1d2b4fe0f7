//! What the movie service needs from storage.

use async_trait::async_trait;

use super::{Movie, MovieFilter, NewMovie};
use crate::error::Result;
use crate::paging::{Listing, Page};

/// Stores movies. Every write keeps each movie's `nr_characters` true in the same transaction,
/// and deleting a movie deletes its characters with it.
///
/// # Errors
/// Unless a method says otherwise, an implementation returns `Error::Unavailable` (with its
/// own error as the source) when the store is down, busy or too slow, `Error::Internal` when it
/// fails for any other reason (a row it cannot read, a query it refuses), and nothing else.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MovieRepository: Send + Sync {
    /// The movies matching `filter`, in its order, windowed by `page`, and how many match.
    async fn list(&self, filter: &MovieFilter, page: Page) -> Result<Listing<Movie>>;

    /// The movie with this id, if any.
    async fn find(&self, id: i64) -> Result<Option<Movie>>;

    /// The movie with exactly this name, if any.
    async fn find_by_name(&self, name: &str) -> Result<Option<Movie>>;

    /// The `(id, name)` of every movie whose id is in `ids` or whose name is in `names`, in no
    /// given order: how characters find the movies they name.
    async fn find_refs(&self, ids: &[i64], names: &[String]) -> Result<Vec<(i64, String)>>;

    /// Stores a new movie with `nr_characters` 0.
    ///
    /// # Errors
    /// `Error::DuplicateName` when a movie already has this name; `Error::Unauthorized` when the
    /// editor `editor_id` no longer exists (deleted since its token was checked).
    async fn insert(&self, movie: &NewMovie, editor_id: Option<i64>) -> Result<Movie>;

    /// Stores every movie whose name is not taken yet, in one transaction, and returns those it
    /// stored, in input order. The names in `movies` are distinct.
    ///
    /// # Errors
    /// `Error::Unauthorized` when the editor `editor_id` no longer exists.
    async fn insert_many(&self, movies: &[NewMovie], editor_id: Option<i64>) -> Result<Vec<Movie>>;

    /// Replaces the fields of the movie `id`, keeping its id, editor and character count.
    ///
    /// # Errors
    /// `Error::NotFound(Movie)` when there is no such movie; `Error::DuplicateName` when another
    /// movie has the new name.
    async fn update(&self, id: i64, movie: &NewMovie) -> Result<Movie>;

    /// Deletes the movie and its characters; returns the movie as it was, or `None` if absent.
    async fn delete(&self, id: i64) -> Result<Option<Movie>>;

    /// Deletes the movie with this name and its characters, as [`MovieRepository::delete`].
    async fn delete_by_name(&self, name: &str) -> Result<Option<Movie>>;

    /// Deletes the movies with ids in `start..end` and their characters; returns the ids deleted.
    async fn delete_range(&self, start: i64, end: i64) -> Result<Vec<i64>>;

    /// Every movie's name, ordered by id.
    async fn names(&self) -> Result<Vec<String>>;

    /// How many movies there are.
    async fn count(&self) -> Result<u64>;

    /// Recomputes every movie's `nr_characters` from the characters table.
    async fn recount_characters(&self) -> Result<()>;
}
