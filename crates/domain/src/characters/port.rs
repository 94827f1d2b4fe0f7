//! What the character service needs from storage.

use async_trait::async_trait;

use super::{Character, CharacterFilter, CharacterRecord};
use crate::error::Result;
use crate::jobs::JobCredit;
use crate::paging::{Listing, Page};

/// Stores characters. Every write updates the `nr_characters` of each movie it touches (both
/// movies when a character moves) in the same transaction, and records there the event its
/// method names (built by `NewEvent`, with the new counts of those movies); a write that fails or
/// changes nothing records none.
///
/// # Errors
/// Unless a method says otherwise, an implementation returns `Error::Unavailable` (with its
/// own error as the source) when the store is down, busy or too slow, `Error::Internal` when it
/// fails for any other reason (a row it cannot read, a query it refuses), and nothing else.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CharacterRepository: Send + Sync {
    /// The characters matching `filter`, ordered by id, windowed by `page`, and how many match.
    async fn list(&self, filter: &CharacterFilter, page: Page) -> Result<Listing<Character>>;

    /// The character with this id, if any.
    async fn find(&self, id: i64) -> Result<Option<Character>>;

    /// Stores a new character; records `NewEvent::character_added`.
    ///
    /// # Errors
    /// `Error::Unauthorized` when the editor `editor_id` no longer exists (deleted since its
    /// token was checked: the client can only log in again); else `Error::NotFound(Movie)` when
    /// its movie no longer exists.
    async fn insert(
        &self,
        character: &CharacterRecord,
        editor_id: Option<i64>,
    ) -> Result<Character>;

    /// Stores every character in one transaction, all or nothing, and returns them in order;
    /// records `NewEvent::characters_added`.
    ///
    /// With `credit`, in the same transaction, adds the number stored to that job's `done` and
    /// records `NewEvent::job_progress` of the job after it, so the batch and the job's progress
    /// commit together or not at all.
    ///
    /// # Errors
    /// As [`CharacterRepository::insert`]: `Error::Unauthorized` when the editor is gone, else
    /// `Error::NotFound(Movie)` when one of the movies is (the job runner relies on this to
    /// sample movies again); `Error::NotFound(Job)` when the credited job does not exist.
    /// Nothing is stored then.
    async fn insert_many(
        &self,
        characters: &[CharacterRecord],
        editor_id: Option<i64>,
        credit: Option<JobCredit>,
    ) -> Result<Vec<Character>>;

    /// Replaces the fields of the character `id`, keeping its id and editor; records
    /// `NewEvent::character_updated`.
    ///
    /// # Errors
    /// `Error::NotFound(Character)` when there is no such character; `Error::NotFound(Movie)`
    /// when its new movie no longer exists.
    async fn update(&self, id: i64, character: &CharacterRecord) -> Result<Character>;

    /// Deletes the character; returns it as it was, or `None` if absent. Records
    /// `NewEvent::character_deleted`.
    async fn delete(&self, id: i64) -> Result<Option<Character>>;

    /// Deletes the characters with ids in `start..end`; returns the ids deleted. Records
    /// `NewEvent::characters_deleted` when it deleted any.
    async fn delete_range(&self, start: i64, end: i64) -> Result<Vec<i64>>;

    /// How many characters there are.
    async fn count(&self) -> Result<u64>;
}
