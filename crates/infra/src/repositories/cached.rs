//! A read-through cache in front of the movie and character repositories: `find(id)` answers
//! from memory after the first read. Decorators over the ports, so nothing else changes.
//!
//! It never answers a record older than a write whose response has been sent: every write
//! ends in `Database::commit`, which hands its events to [`ReadCache::forget`] before the
//! write returns, and the events name every record the write touched (a character's write
//! names the movies whose count moved). A read that raced a write does not store what it read
//! (see `epoch`). Another instance's writes (several instances on PostgreSQL) arrive as events
//! from the log: the dispatcher hands each to [`ReadCache::forget_event`] before this instance's
//! listeners hear of it, a few milliseconds after the write's commit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use moka::sync::Cache;
use movies_domain::characters::{Character, CharacterFilter, CharacterRecord, CharacterRepository};
use movies_domain::events::{Event, EventSubject, NewEvent, Operation};
use movies_domain::jobs::JobCredit;
use movies_domain::movies::{Movie, MovieFilter, MovieRepository, NewMovie};
use movies_domain::{Listing, Page, Result};
use serde_json::Value;

/// `READ_CACHE_MB`'s default: what the cache may hold, in MiB. Bounded by records instead
/// (100,000 of each), it held whatever they weighed: reading 20,000 movies with 5,000-character
/// descriptions took the server's RSS from 117 to 220 MB (to 146 MB with this bound).
pub const DEFAULT_READ_CACHE_MB: u64 = 48;

/// How long a record stays cached unread: the cache holds what is being read, and hands back
/// the rest once the traffic moves on or stops (with 100,000 movies read at random, 10 MB that
/// stayed after the reads had ended).
const READ_CACHE_IDLE: Duration = Duration::from_secs(60);

/// How often [`ReadCache::keep_tidy`] drops what has been unread for [`READ_CACHE_IDLE`].
const TIDY_EVERY: Duration = Duration::from_secs(10);

/// What a cached record costs besides its own bytes: the cache's entry (key, hash, the
/// record's place in the LRU lists) and the allocator's rounding of each string.
const ENTRY_OVERHEAD: usize = 256;

/// The cached movies and characters, shared by both decorators and the commit hook.
pub struct ReadCache {
    movies: Cache<i64, Movie>,
    characters: Cache<i64, Character>,
    /// Moves on at every write, under `gate`'s write side: a read stores what it read only if
    /// no write committed since before it asked the database (checked under the read side),
    /// so a value read before a write cannot land in the cache after that write's forget.
    epoch: AtomicU64,
    gate: RwLock<()>,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self::new(DEFAULT_READ_CACHE_MB << 20)
    }
}

impl ReadCache {
    /// A cache of `max_bytes` at most, as its records weigh (their strings and
    /// [`ENTRY_OVERHEAD`]): two thirds for movies, a third for characters; the least recently
    /// used go first.
    pub fn new(max_bytes: u64) -> Self {
        Self::with_idle(max_bytes, READ_CACHE_IDLE)
    }

    /// As [`ReadCache::new`], a record going after `idle` unread.
    fn with_idle(max_bytes: u64, idle: Duration) -> Self {
        let movie_bytes = max_bytes / 3 * 2;
        Self {
            movies: Cache::builder()
                .time_to_idle(idle)
                .max_capacity(movie_bytes)
                .weigher(|_, m: &Movie| {
                    weight::<Movie>(&[&m.name, &m.duration, &m.genre, &m.description])
                })
                .build(),
            characters: Cache::builder()
                .time_to_idle(idle)
                .max_capacity(max_bytes - movie_bytes)
                .weigher(|_, c: &Character| {
                    weight::<Character>(&[&c.name, &c.movie_name, &c.description])
                })
                .build(),
            epoch: AtomicU64::new(0),
            gate: RwLock::new(()),
        }
    }

    /// Frees the records gone unread for their idle time (and does the cache's other
    /// bookkeeping): moka does it only as the cache is used, so with no traffic at all
    /// [`ReadCache::keep_tidy`] calls this.
    fn tidy(&self) {
        self.movies.run_pending_tasks();
        self.characters.run_pending_tasks();
    }

    /// Tidies the cache every [`TIDY_EVERY`], on a task that ends once the cache is dropped.
    ///
    /// # Panics
    /// Outside a tokio runtime (it spawns the task).
    pub fn keep_tidy(self: &Arc<Self>) {
        let cache = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(TIDY_EVERY);
            loop {
                every.tick().await;
                match cache.upgrade() {
                    Some(cache) => cache.tidy(),
                    None => return,
                }
            }
        });
    }

    /// Drops every record `events` (one committed write's) may have changed.
    pub fn forget(&self, events: &[NewEvent]) {
        self.after_write(|| {
            for event in events {
                self.forget_one(event.entity, event.operation, &event.data);
            }
        });
    }

    /// Drops every record `event` may have changed: an event the dispatcher delivers, maybe
    /// another instance's write.
    pub fn forget_event(&self, event: &Event) {
        self.after_write(|| self.forget_one(event.entity, event.operation, &event.data));
    }

    /// Runs `forget` (what a write changed) under the gate's write side, moving the epoch on.
    fn after_write(&self, forget: impl FnOnce()) {
        let _gate = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        forget();
    }

    fn forget_one(&self, subject: EventSubject, operation: Operation, data: &Value) {
        match subject {
            EventSubject::Movie => {
                for id in ids(data) {
                    self.movies.invalidate(&id);
                }
                // Characters carry their movie's name.
                if operation == Operation::Update {
                    self.characters.invalidate_all();
                }
            }
            EventSubject::Character => {
                for id in ids(data) {
                    self.characters.invalidate(&id);
                }
                // The movies whose character count moved.
                let movies = data.get("movies").and_then(Value::as_array);
                for id in movies.into_iter().flatten().filter_map(|m| m["id"].as_i64()) {
                    self.movies.invalidate(&id);
                }
            }
            // A deleted user's records lose their editor.
            EventSubject::User => {
                self.movies.invalidate_all();
                self.characters.invalidate_all();
            }
            _ => {}
        }
    }

    /// Stores `value` read at `epoch`, unless a write committed since.
    fn store<V: Clone + Send + Sync + 'static>(
        &self,
        cache: &Cache<i64, V>,
        epoch: u64,
        id: i64,
        value: &V,
    ) {
        let _gate = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        if self.epoch.load(Ordering::SeqCst) == epoch {
            cache.insert(id, value.clone());
        }
    }
}

/// What a record of type `T` with these strings weighs in the cache, in bytes.
fn weight<T>(strings: &[&String]) -> u32 {
    let bytes = std::mem::size_of::<T>() + ENTRY_OVERHEAD;
    let bytes = strings.iter().fold(bytes, |sum, s| sum + s.capacity());
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The ids an event's data names: `id`, `ids` or `deleted`.
fn ids(data: &Value) -> impl Iterator<Item = i64> + '_ {
    let one = data.get("id").and_then(Value::as_i64);
    let many = ["ids", "deleted"]
        .into_iter()
        .filter_map(|key| data.get(key).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_i64);
    one.into_iter().chain(many)
}

/// [`MovieRepository`] with `find` cached.
pub struct CachedMovies {
    inner: Arc<dyn MovieRepository>,
    cache: Arc<ReadCache>,
}

impl CachedMovies {
    pub fn new(inner: Arc<dyn MovieRepository>, cache: Arc<ReadCache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl MovieRepository for CachedMovies {
    async fn find(&self, id: i64) -> Result<Option<Movie>> {
        if let Some(movie) = self.cache.movies.get(&id) {
            return Ok(Some(movie));
        }
        let epoch = self.cache.epoch.load(Ordering::SeqCst);
        let found = self.inner.find(id).await?;
        if let Some(movie) = &found {
            self.cache.store(&self.cache.movies, epoch, id, movie);
        }
        Ok(found)
    }

    async fn list(&self, filter: &MovieFilter, page: Page) -> Result<Listing<Movie>> {
        self.inner.list(filter, page).await
    }

    async fn find_by_name(&self, name: &str) -> Result<Option<Movie>> {
        self.inner.find_by_name(name).await
    }

    async fn find_refs(&self, ids: &[i64], names: &[String]) -> Result<Vec<(i64, String)>> {
        self.inner.find_refs(ids, names).await
    }

    async fn insert(&self, movie: &NewMovie, editor_id: Option<i64>) -> Result<Movie> {
        self.inner.insert(movie, editor_id).await
    }

    async fn insert_many(
        &self,
        movies: &[NewMovie],
        editor_id: Option<i64>,
        credit: Option<JobCredit>,
    ) -> Result<Vec<Movie>> {
        self.inner.insert_many(movies, editor_id, credit).await
    }

    async fn update(&self, id: i64, movie: &NewMovie) -> Result<Movie> {
        self.inner.update(id, movie).await
    }

    async fn delete(&self, id: i64) -> Result<Option<Movie>> {
        self.inner.delete(id).await
    }

    async fn delete_by_name(&self, name: &str) -> Result<Option<Movie>> {
        self.inner.delete_by_name(name).await
    }

    async fn delete_range(&self, start: i64, end: i64) -> Result<Vec<i64>> {
        self.inner.delete_range(start, end).await
    }

    async fn names_after(&self, after: i64, limit: u64) -> Result<Vec<(i64, String)>> {
        self.inner.names_after(after, limit).await
    }

    async fn sample_ids(&self, n: u64) -> Result<Vec<i64>> {
        self.inner.sample_ids(n).await
    }

    async fn count(&self) -> Result<u64> {
        self.inner.count().await
    }

    async fn recount_characters(&self) -> Result<()> {
        // It records no event: what it changed is forgotten here.
        let recounted = self.inner.recount_characters().await;
        self.cache.after_write(|| self.cache.movies.invalidate_all());
        recounted
    }
}

/// [`CharacterRepository`] with `find` cached.
pub struct CachedCharacters {
    inner: Arc<dyn CharacterRepository>,
    cache: Arc<ReadCache>,
}

impl CachedCharacters {
    pub fn new(inner: Arc<dyn CharacterRepository>, cache: Arc<ReadCache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl CharacterRepository for CachedCharacters {
    async fn find(&self, id: i64) -> Result<Option<Character>> {
        if let Some(character) = self.cache.characters.get(&id) {
            return Ok(Some(character));
        }
        let epoch = self.cache.epoch.load(Ordering::SeqCst);
        let found = self.inner.find(id).await?;
        if let Some(character) = &found {
            self.cache.store(&self.cache.characters, epoch, id, character);
        }
        Ok(found)
    }

    async fn list(&self, filter: &CharacterFilter, page: Page) -> Result<Listing<Character>> {
        self.inner.list(filter, page).await
    }

    async fn insert(&self, record: &CharacterRecord, editor_id: Option<i64>) -> Result<Character> {
        self.inner.insert(record, editor_id).await
    }

    async fn insert_many(
        &self,
        records: &[CharacterRecord],
        editor_id: Option<i64>,
        credit: Option<JobCredit>,
    ) -> Result<Vec<Character>> {
        self.inner.insert_many(records, editor_id, credit).await
    }

    async fn update(&self, id: i64, record: &CharacterRecord) -> Result<Character> {
        self.inner.update(id, record).await
    }

    async fn delete(&self, id: i64) -> Result<Option<Character>> {
        self.inner.delete(id).await
    }

    async fn delete_range(&self, start: i64, end: i64) -> Result<Vec<i64>> {
        self.inner.delete_range(start, end).await
    }

    async fn count(&self) -> Result<u64> {
        self.inner.count().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use movies_domain::events::MovieCount;

    fn movie(id: i64) -> Movie {
        Movie {
            id,
            name: format!("M{id}"),
            year: 2000,
            duration: String::new(),
            genre: String::new(),
            description: String::new(),
            nr_characters: 0,
            editor_id: None,
        }
    }

    fn character(id: i64, movie_id: i64) -> Character {
        Character {
            id,
            name: format!("C{id}"),
            movie_id,
            movie_name: format!("M{movie_id}"),
            description: String::new(),
            editor_id: None,
        }
    }

    #[test]
    fn a_write_forgets_the_records_its_events_name_and_no_other() {
        let cache = ReadCache::new(1 << 20);
        for id in 1..=4 {
            cache.movies.insert(id, movie(id));
            cache.characters.insert(id, character(id, 1));
        }
        let counts = [MovieCount { id: 2, nr_characters: 1 }];
        cache.forget(&[
            NewEvent::movies_deleted(&[1]),
            NewEvent::character_added(&character(3, 2), &counts),
            NewEvent::characters_deleted_with_movies(&[4]),
        ]);
        assert!(cache.movies.get(&1).is_none() && cache.movies.get(&2).is_none());
        assert!(cache.movies.get(&3).is_some() && cache.movies.get(&4).is_some());
        assert!(cache.characters.get(&3).is_none() && cache.characters.get(&4).is_none());
        assert!(cache.characters.get(&1).is_some());

        cache.forget(&[NewEvent::movie_updated(&movie(3))]);
        assert!(cache.movies.get(&3).is_none());
        assert!(cache.characters.get(&1).is_none(), "characters carry the movie's name");
    }

    #[test]
    fn the_cache_holds_no_more_bytes_than_it_is_given() {
        let cache = ReadCache::new(30_000);
        for id in 1..=1_000 {
            cache.movies.insert(id, movie(id));
        }
        cache.movies.run_pending_tasks();
        let one = u64::from(weight::<Movie>(&[&movie(1).name]));
        assert!(cache.movies.weighted_size() <= 20_000, "{}", cache.movies.weighted_size());
        assert!(cache.movies.entry_count() >= 20_000 / one / 2, "{}", cache.movies.entry_count());
        assert!(ReadCache::new(0).movies.policy().max_capacity() == Some(0));
    }

    #[test]
    fn a_record_unread_for_its_idle_time_is_dropped_by_tidy_alone() {
        let cache = ReadCache::with_idle(1 << 20, Duration::from_secs(1));
        cache.movies.insert(1, movie(1));
        cache.characters.insert(1, character(1, 1));
        cache.tidy();
        assert_eq!((cache.movies.entry_count(), cache.characters.entry_count()), (1, 1));
        // No use of the cache meanwhile: only `tidy` can drop them.
        std::thread::sleep(Duration::from_millis(1_200));
        cache.tidy();
        assert_eq!((cache.movies.entry_count(), cache.characters.entry_count()), (0, 0));
    }

    #[test]
    fn a_value_read_before_a_write_is_not_stored_after_it() {
        let cache = ReadCache::new(1 << 20);
        let epoch = cache.epoch.load(Ordering::SeqCst);
        cache.forget(&[NewEvent::movie_updated(&movie(1))]);
        cache.store(&cache.movies, epoch, 1, &movie(1));
        assert!(cache.movies.get(&1).is_none());
        let epoch = cache.epoch.load(Ordering::SeqCst);
        cache.store(&cache.movies, epoch, 1, &movie(1));
        assert!(cache.movies.get(&1).is_some());
    }
}
