//! A read-through cache in front of the movie and character repositories: `find(id)` answers
//! from memory after the first read, and so does a page of every movie in id order (the plain
//! `GET /movies?skip=..` and `?after=..`) while the table's ids have no gap. Decorators over the
//! ports, so nothing else changes.
//!
//! Movies are cached by blocks of [`BLOCK`] consecutive ids, each block read whole: a page is a
//! few blocks, and a block answers `find` for every id in it, missing ones included. The page's
//! ids come from the table's [`IdSpan`] (its count and its lowest and highest id, cached too):
//! without a gap, the movie `skip` places in is the one with id `lowest + skip`.
//!
//! It never answers a record older than a write whose response has been sent: every write
//! ends in `Database::commit`, which hands its events to [`ReadCache::forget`] before the
//! write returns, and the events name every record the write touched (a character's write
//! names the movies whose count moved). A read that raced a write does not store what it read
//! (see `epoch`). Another instance's writes (several instances on PostgreSQL), or another
//! process's on the same SQLite file, arrive as events from the log: the dispatcher hands each
//! to [`ReadCache::forget_event`] before this instance's listeners hear of it, a few
//! milliseconds after the write's commit on PostgreSQL, within a second on SQLite (its
//! catch-up read).

use std::ops::{Range, RangeInclusive};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use moka::sync::Cache;
use movies_domain::characters::{Character, CharacterFilter, CharacterRecord, CharacterRepository};
use movies_domain::events::{Event, EventSubject, NewEvent, Operation};
use movies_domain::jobs::JobCredit;
use movies_domain::movies::{Movie, MovieFilter, MovieRepository, NewMovie};
use movies_domain::paging::IdSpan;
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

/// How many consecutive ids a cached block of movies covers: a page of 50 is four or five
/// blocks, and a `find` that misses reads 16 rows where it needs one, which costs it about the
/// same (a statement's round trip is most of a read). A block's entry costs what one movie's
/// did, shared by its movies.
const BLOCK: i64 = 16;

/// The movies with ids in one block, in id order. An id of the block with no movie has none:
/// a cached block also answers that a movie does not exist.
type Block = Arc<[Packed]>;

/// A movie as a block holds it: its four strings in one allocation, 80 bytes and the text
/// against a `Movie`'s 136 and four strings, each rounded up by the allocator. The bench's
/// 100,000 movies weighed 30 MB as `Movie`s, close to the 32 MiB the cache gives movies by
/// default: some runs of random pages of them missed, and read 15,000-19,000 req/s against
/// 26,000-27,500 (wrk, 64 connections).
#[derive(Debug, Clone, PartialEq)]
struct Packed {
    id: i64,
    nr_characters: i64,
    editor_id: Option<i64>,
    year: i32,
    /// Where the name, the duration and the genre end in `text`; the description follows.
    ends: [usize; 3],
    text: Box<str>,
}

impl Packed {
    fn new(m: &Movie) -> Self {
        let mut text = String::with_capacity(
            m.name.len() + m.duration.len() + m.genre.len() + m.description.len(),
        );
        let mut ends = [0; 3];
        for (end, part) in ends.iter_mut().zip([&m.name, &m.duration, &m.genre]) {
            text.push_str(part);
            *end = text.len();
        }
        text.push_str(&m.description);
        Self {
            id: m.id,
            nr_characters: m.nr_characters,
            editor_id: m.editor_id,
            year: m.year,
            ends,
            text: text.into_boxed_str(),
        }
    }

    fn movie(&self) -> Movie {
        let [name, duration, genre] = self.ends;
        let part = |range: Range<usize>| self.text.get(range).unwrap_or_default().to_owned();
        Movie {
            id: self.id,
            name: part(0..name),
            year: self.year,
            duration: part(name..duration),
            genre: part(duration..genre),
            description: part(genre..self.text.len()),
            nr_characters: self.nr_characters,
            editor_id: self.editor_id,
        }
    }

    /// What it weighs in the cache, in bytes.
    fn weight(&self) -> u32 {
        u32::try_from(std::mem::size_of::<Self>() + self.text.len()).unwrap_or(u32::MAX)
    }
}

/// What a cached entry (a character, or a block of movies) costs besides its records' bytes:
/// the cache's entry (key, hash, its place in the LRU lists) and the allocator's rounding.
const ENTRY_OVERHEAD: usize = 256;

/// The cached movies and characters, shared by both decorators and the commit hook.
pub struct ReadCache {
    /// Blocks of movies by their number (an id's is `id / BLOCK`, rounded down).
    movies: Cache<i64, Block>,
    /// The movies' [`IdSpan`]; dropped by every write that adds or removes a movie.
    span: RwLock<Option<IdSpan>>,
    /// The blocks that missed lately: only those are read whole and kept.
    missed: Doorkeeper,
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
                .weigher(|_, block: &Block| {
                    block
                        .iter()
                        .map(Packed::weight)
                        .fold(ENTRY_OVERHEAD as u32, u32::saturating_add)
                })
                .build(),
            characters: Cache::builder()
                .time_to_idle(idle)
                .max_capacity(max_bytes - movie_bytes)
                .weigher(|_, c: &Character| {
                    let bytes = weight::<Character>(&[&c.name, &c.movie_name, &c.description]);
                    bytes.saturating_add(ENTRY_OVERHEAD as u32)
                })
                .build(),
            span: RwLock::new(None),
            missed: Doorkeeper::new(),
            epoch: AtomicU64::new(0),
            gate: RwLock::new(()),
        }
    }

    /// The movies' cached [`IdSpan`], if any.
    fn span(&self) -> Option<IdSpan> {
        *self.span.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets (or drops, with `None`) the movies' cached span.
    fn set_span(&self, span: Option<IdSpan>) {
        *self.span.write().unwrap_or_else(PoisonError::into_inner) = span;
    }

    /// Drops every block of movies and the movies' span.
    fn forget_movies(&self) {
        self.movies.invalidate_all();
        self.set_span(None);
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
                    self.movies.invalidate(&block_of(id));
                }
                // Characters carry their movie's name; any other write adds or removes movies.
                if operation == Operation::Update {
                    self.characters.invalidate_all();
                } else {
                    self.set_span(None);
                }
            }
            EventSubject::Character => {
                for id in ids(data) {
                    self.characters.invalidate(&id);
                }
                // The movies whose character count moved.
                let movies = data.get("movies").and_then(Value::as_array);
                for id in movies.into_iter().flatten().filter_map(|m| m["id"].as_i64()) {
                    self.movies.invalidate(&block_of(id));
                }
            }
            // A deleted user's records lose their editor.
            EventSubject::User => {
                self.forget_movies();
                self.characters.invalidate_all();
            }
            _ => {}
        }
    }

    /// The epoch a read starts at, for [`ReadCache::store`].
    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Stores what was read at `epoch` (`store` does), unless a write committed since.
    fn store(&self, epoch: u64, store: impl FnOnce()) {
        let _gate = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        if self.epoch.load(Ordering::SeqCst) == epoch {
            store();
        }
    }
}

/// Which blocks of movies missed the cache lately: a slot per hash of a block's number, holding
/// the last block that missed there (128 KiB). A block is read whole and kept only when it
/// misses again while it still holds its slot; the first miss reads just what it needs.
///
/// Without it, on a table larger than the cache (a million movies, random pages or ids),
/// nearly every read missed and paid for its whole blocks and their place in the cache:
/// random pages 6,356 and 6,724 req/s against 7,536 and 7,876 without the cache of pages,
/// random `find`s 16,038 against 22,131 req/s with the cache of single movies (both load
/// threads drew the same ids then, which flattered the cache of single movies), RSS 111
/// against 54 MB (wrk, 64 connections). With it, threads seeded apart: pages 7,419-7,503
/// against 7,743-7,946, `find`s 17,725-18,766 against 18,182-18,521. A table that fits, or the part of one that is read again, is
/// let in on its second miss.
struct Doorkeeper {
    slots: Box<[AtomicI64]>,
}

impl Doorkeeper {
    /// 2^14 slots: one each for the blocks of 100,000 movies (6,250), mostly.
    const BITS: u32 = 14;

    fn new() -> Self {
        // No block has the number i64::MIN (an id's block is its id / BLOCK).
        Self { slots: (0..1 << Self::BITS).map(|_| AtomicI64::new(i64::MIN)).collect() }
    }

    /// Whether `block` missed lately (and still holds its slot); marks it as missing now.
    fn again(&self, block: i64) -> bool {
        // Fibonacci hashing: consecutive blocks land far apart.
        let slot = (block as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::BITS);
        self.slots[slot as usize].swap(block, Ordering::Relaxed) == block
    }
}

/// The number of the block that holds `id`.
fn block_of(id: i64) -> i64 {
    id.div_euclid(BLOCK)
}

/// The ids of the blocks `blocks`, `None` past the last id a block can hold whole.
fn block_ids(blocks: RangeInclusive<i64>) -> Option<Range<i64>> {
    let start = blocks.start().checked_mul(BLOCK)?;
    let end = blocks.end().checked_add(1)?.checked_mul(BLOCK)?;
    Some(start..end)
}

/// The movie `id` in its block.
fn in_block(block: &[Packed], id: i64) -> Option<Movie> {
    block.binary_search_by_key(&id, |m| m.id).ok().map(|i| block[i].movie())
}

/// What a record of type `T` with these strings weighs in the cache, in bytes, besides its
/// entry's [`ENTRY_OVERHEAD`].
fn weight<T>(strings: &[&String]) -> u32 {
    let bytes = std::mem::size_of::<T>();
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

/// [`MovieRepository`] with `find`, `id_span` and the plain list (no filter, id order) cached.
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
        let block = block_of(id);
        match self.blocks(block..=block).await? {
            Some(blocks) => Ok(blocks.first().and_then(|b| in_block(b, id))),
            None => self.inner.find(id).await,
        }
    }

    async fn list(&self, filter: &MovieFilter, page: Page) -> Result<Listing<Movie>> {
        if *filter == MovieFilter::default()
            && let Some(listing) = self.cached_page(page).await?
        {
            return Ok(listing);
        }
        self.inner.list(filter, page).await
    }

    async fn find_range(&self, start: i64, end: i64) -> Result<Vec<Movie>> {
        self.inner.find_range(start, end).await
    }

    async fn id_span(&self) -> Result<IdSpan> {
        if let Some(span) = self.cache.span() {
            return Ok(span);
        }
        let epoch = self.cache.epoch();
        let span = self.inner.id_span().await?;
        self.cache.store(epoch, || self.cache.set_span(Some(span)));
        Ok(span)
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
        self.cache.after_write(|| self.cache.forget_movies());
        recounted
    }
}

impl CachedMovies {
    /// The blocks numbered `blocks`, each from the cache or, for those it lacks, read together
    /// in one statement and kept, if each of those missed lately too ([`Doorkeeper`]). `None`
    /// for the caller to read what it needs alone: a block it lacks missed for the first time,
    /// or the blocks' ids do not fit an `i64`.
    async fn blocks(&self, blocks: RangeInclusive<i64>) -> Result<Option<Vec<Block>>> {
        let first = *blocks.start();
        let mut found: Vec<Option<Block>> = blocks.map(|b| self.cache.movies.get(&b)).collect();
        let missing =
            found.iter().position(Option::is_none).zip(found.iter().rposition(Option::is_none));
        let Some((low, high)) = missing else {
            return Ok(Some(found.into_iter().flatten().collect()));
        };
        // Every missing block marked (no short cut), so that each is let in when asked again.
        let lacking = found.iter().zip(first..).filter(|(b, _)| b.is_none());
        let again = lacking.fold(true, |all, (_, block)| self.cache.missed.again(block) & all);
        if !again {
            return Ok(None);
        }
        let (low, high) = (first + low as i64, first + high as i64);
        let Some(ids) = block_ids(low..=high) else { return Ok(None) };
        let epoch = self.cache.epoch();
        let mut rows = self.inner.find_range(ids.start, ids.end).await?.into_iter().peekable();
        let mut read = Vec::new();
        for block in low..=high {
            let mut movies = Vec::new();
            while let Some(movie) = rows.next_if(|m| block_of(m.id) == block) {
                movies.push(Packed::new(&movie));
            }
            read.push((block, Block::from(movies)));
        }
        self.cache.store(epoch, || {
            for (block, movies) in &read {
                self.cache.movies.insert(*block, movies.clone());
            }
        });
        for (block, movies) in read {
            found[(block - first) as usize] = Some(movies);
        }
        Ok(Some(found.into_iter().flatten().collect()))
    }

    /// `page` of every movie in id order, from the cached blocks, when the movies' span says
    /// which ids it holds (no gap); `None` for the database to answer.
    async fn cached_page(&self, page: Page) -> Result<Option<Listing<Movie>>> {
        let span = self.id_span().await?;
        let Some(ids) = span.page_ids(page) else { return Ok(None) };
        if ids.is_empty() {
            return Ok(Some(Listing { items: Vec::new(), total: span.count }));
        }
        let Some(blocks) = self.blocks(block_of(*ids.start())..=block_of(*ids.end())).await? else {
            return Ok(None);
        };
        let items: Vec<Movie> = blocks
            .iter()
            .flat_map(|b| b.iter())
            .filter(|m| ids.contains(&m.id))
            .map(Packed::movie)
            .collect();
        // A write between the span's read and the blocks' (a movie deleted meanwhile) leaves a
        // hole: the database answers that page.
        if items.len() as u64 != ids.end().abs_diff(*ids.start()) + 1 {
            return Ok(None);
        }
        Ok(Some(Listing { items, total: span.count }))
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
        let epoch = self.cache.epoch();
        let found = self.inner.find(id).await?;
        if let Some(character) = &found {
            self.cache.store(epoch, || self.cache.characters.insert(id, character.clone()));
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
    use movies_domain::movies::{MockMovieRepository, MovieSort, SortKey};

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

    /// The block of `id` holding that movie alone.
    fn cache_alone(cache: &ReadCache, id: i64) {
        cache.movies.insert(block_of(id), Block::from(vec![Packed::new(&movie(id))]));
    }

    fn cached(cache: &ReadCache, id: i64) -> bool {
        cache.movies.get(&block_of(id)).is_some()
    }

    /// How often each read reached the store.
    #[derive(Default)]
    struct Calls {
        ranges: AtomicU64,
        spans: AtomicU64,
        finds: AtomicU64,
        lists: AtomicU64,
    }

    impl Calls {
        /// `[find_range, id_span, find, list]` so far.
        fn seen(&self) -> [u64; 4] {
            [&self.ranges, &self.spans, &self.finds, &self.lists].map(|c| c.load(Ordering::SeqCst))
        }
    }

    /// A store whose movies are `ids` (ascending), answering as the database does, each read
    /// counted in `calls`.
    fn store_of(ids: Vec<i64>, calls: Arc<Calls>) -> MockMovieRepository {
        let mut store = MockMovieRepository::new();
        let (ranges, c) = (ids.clone(), calls.clone());
        store.expect_find_range().returning(move |start, end| {
            c.ranges.fetch_add(1, Ordering::SeqCst);
            Ok(ranges.iter().filter(|id| (start..end).contains(*id)).map(|id| movie(*id)).collect())
        });
        let (spans, c) = (ids.clone(), calls.clone());
        store.expect_id_span().returning(move || {
            c.spans.fetch_add(1, Ordering::SeqCst);
            let bounds = spans.first().copied().zip(spans.last().copied());
            Ok(IdSpan { count: spans.len() as u64, bounds })
        });
        let (finds, c) = (ids.clone(), calls.clone());
        store.expect_find().returning(move |id| {
            c.finds.fetch_add(1, Ordering::SeqCst);
            Ok(finds.contains(&id).then(|| movie(id)))
        });
        store.expect_list().returning(move |_, page| {
            calls.lists.fetch_add(1, Ordering::SeqCst);
            let after = page.after().unwrap_or(i64::MIN);
            let window = ids.iter().filter(|id| **id > after).skip(page.skip() as usize);
            let items = window.take(page.limit() as usize).map(|id| movie(*id)).collect();
            Ok(Listing { items, total: ids.len() as u64 })
        });
        store
    }

    fn page(skip: i64, limit: i64, after: Option<i64>) -> Page {
        Page::new(Some(skip), Some(limit)).unwrap().starting_after(after)
    }

    fn ids_of(listing: &Listing<Movie>) -> Vec<i64> {
        listing.items.iter().map(|m| m.id).collect()
    }

    #[test]
    fn a_write_forgets_the_records_its_events_name_and_no_other() {
        let cache = ReadCache::new(1 << 20);
        // One movie a block.
        let [a, b, c, d] = [1, 1 + BLOCK, 1 + 2 * BLOCK, 1 + 3 * BLOCK];
        for (n, id) in [a, b, c, d].into_iter().enumerate() {
            cache_alone(&cache, id);
            cache.characters.insert(n as i64 + 1, character(n as i64 + 1, a));
        }
        let counts = [MovieCount { id: b, nr_characters: 1 }];
        cache.forget(&[
            NewEvent::movies_deleted(&[a]),
            NewEvent::character_added(&character(3, b), &counts),
            NewEvent::characters_deleted_with_movies(&[4]),
        ]);
        assert!(!cached(&cache, a) && !cached(&cache, b));
        assert!(cached(&cache, c) && cached(&cache, d));
        assert!(cache.characters.get(&3).is_none() && cache.characters.get(&4).is_none());
        assert!(cache.characters.get(&1).is_some());

        cache.forget(&[NewEvent::movie_updated(&movie(c))]);
        assert!(!cached(&cache, c));
        assert!(cache.characters.get(&1).is_none(), "characters carry the movie's name");
    }

    #[test]
    fn only_a_write_that_adds_or_removes_movies_forgets_their_span() {
        let cache = ReadCache::new(1 << 20);
        let span = Some(IdSpan { count: 1, bounds: Some((1, 1)) });
        let set = |cache: &ReadCache| *cache.span.write().unwrap() = span;
        set(&cache);
        cache.forget(&[NewEvent::movie_updated(&movie(1))]);
        assert_eq!(cache.span(), span);
        cache.forget(&[NewEvent::movie_added(&movie(2))]);
        assert_eq!(cache.span(), None);
        set(&cache);
        cache.forget(&[NewEvent::movies_deleted(&[1])]);
        assert_eq!(cache.span(), None);
    }

    #[test]
    fn the_cache_holds_no_more_bytes_than_it_is_given() {
        let cache = ReadCache::new(30_000);
        for id in 1..=1_000 {
            cache_alone(&cache, id * BLOCK);
        }
        cache.movies.run_pending_tasks();
        let one = u64::from(Packed::new(&movie(1)).weight()) + ENTRY_OVERHEAD as u64;
        assert!(cache.movies.weighted_size() <= 20_000, "{}", cache.movies.weighted_size());
        assert!(cache.movies.entry_count() >= 20_000 / one / 2, "{}", cache.movies.entry_count());
        assert!(ReadCache::new(0).movies.policy().max_capacity() == Some(0));
    }

    #[test]
    fn a_packed_movie_is_the_movie_it_was_made_from() {
        let whole = Movie {
            name: "Amélie".into(),
            duration: "2h 2m".into(),
            genre: String::new(),
            description: "Une fille, un nain de jardin.".into(),
            editor_id: Some(9),
            nr_characters: 3,
            ..movie(77)
        };
        for m in [whole, movie(1), Movie { name: String::new(), ..movie(2) }] {
            assert_eq!(Packed::new(&m).movie(), m);
        }
    }

    #[test]
    fn a_block_weighs_its_movies_and_one_entry() {
        let cache = ReadCache::new(1 << 20);
        let block: Vec<Packed> = (0..BLOCK).map(|id| Packed::new(&movie(id))).collect();
        let movies: u64 = block.iter().map(|m| u64::from(m.weight())).sum::<u64>();
        cache.movies.insert(0, Block::from(block));
        cache.movies.run_pending_tasks();
        assert_eq!(cache.movies.weighted_size(), movies + ENTRY_OVERHEAD as u64);
    }

    #[test]
    fn a_record_unread_for_its_idle_time_is_dropped_by_tidy_alone() {
        let cache = ReadCache::with_idle(1 << 20, Duration::from_secs(1));
        cache_alone(&cache, 1);
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
        let epoch = cache.epoch();
        cache.forget(&[NewEvent::movie_updated(&movie(1))]);
        cache.store(epoch, || cache_alone(&cache, 1));
        assert!(!cached(&cache, 1));
        let epoch = cache.epoch();
        cache.store(epoch, || cache_alone(&cache, 1));
        assert!(cached(&cache, 1));
    }

    #[tokio::test]
    async fn a_block_missed_twice_is_read_whole_and_then_knows_every_id_of_it() {
        let calls = Arc::new(Calls::default());
        let store = store_of(vec![1, 2, 5, BLOCK + 1], calls.clone());
        let movies = CachedMovies::new(Arc::new(store), Arc::new(ReadCache::new(1 << 20)));
        assert_eq!(movies.find(2).await.unwrap(), Some(movie(2)));
        assert_eq!(calls.seen(), [0, 0, 1, 0], "a first miss reads its movie alone");
        assert_eq!(movies.find(5).await.unwrap(), Some(movie(5)));
        assert_eq!(calls.seen(), [1, 0, 1, 0], "a second reads its block");
        assert_eq!(movies.find(3).await.unwrap(), None, "absent from a cached block");
        assert_eq!(movies.find(1).await.unwrap(), Some(movie(1)));
        assert_eq!(calls.seen(), [1, 0, 1, 0]);
        assert_eq!(movies.find(-7).await.unwrap(), None);
        assert_eq!(movies.find(-7).await.unwrap(), None);
        assert_eq!(movies.find(-7).await.unwrap(), None);
        assert_eq!(calls.seen(), [2, 0, 2, 0]);
    }

    #[test]
    fn the_doorkeeper_lets_in_a_block_on_its_second_miss_unless_another_took_its_slot() {
        let missed = Doorkeeper::new();
        assert!(!missed.again(7) && missed.again(7) && missed.again(7));
        // A block with the same slot.
        let slot =
            |b: i64| (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Doorkeeper::BITS);
        let other = (8..).find(|b| slot(*b) == slot(7)).unwrap();
        assert!(!missed.again(other));
        assert!(!missed.again(7), "its slot was taken");
        assert!(!missed.again(8) && missed.again(7), "a block of another slot leaves it be");
    }

    #[tokio::test]
    async fn pages_in_id_order_come_from_the_blocks_and_the_span() {
        let calls = Arc::new(Calls::default());
        let ids: Vec<i64> = (3..=102).collect();
        let cache = Arc::new(ReadCache::new(1 << 20));
        let movies = CachedMovies::new(Arc::new(store_of(ids, calls.clone())), cache);
        let first = movies.list(&MovieFilter::default(), page(10, 20, None)).await.unwrap();
        assert_eq!((ids_of(&first), first.total), ((13..=32).collect(), 100));
        assert_eq!(calls.seen(), [0, 1, 0, 1], "the span; the page from the store");
        let again = movies.list(&MovieFilter::default(), page(10, 20, None)).await.unwrap();
        assert_eq!(again, first);
        assert_eq!(calls.seen(), [1, 1, 0, 1], "the two blocks it spans, in one read");
        let listing = movies.list(&MovieFilter::default(), page(2, 5, Some(20))).await.unwrap();
        assert_eq!((ids_of(&listing), listing.total), ((23..=27).collect(), 100));
        assert_eq!(calls.seen(), [1, 1, 0, 1], "all cached");
        for _ in 0..2 {
            let listing = movies.list(&MovieFilter::default(), page(95, 50, None)).await.unwrap();
            assert_eq!(ids_of(&listing), (98..=102).collect::<Vec<_>>());
        }
        let listing = movies.list(&MovieFilter::default(), page(100, 50, None)).await.unwrap();
        assert_eq!((ids_of(&listing), listing.total), (vec![], 100));
        assert_eq!(movies.find(96).await.unwrap(), Some(movie(96)));
        assert_eq!(calls.seen(), [2, 1, 0, 2]);
    }

    #[tokio::test]
    async fn a_filter_an_order_or_a_gap_sends_the_page_to_the_database() {
        let calls = Arc::new(Calls::default());
        let store = store_of(vec![1, 2, 4], calls.clone());
        let movies = CachedMovies::new(Arc::new(store), Arc::new(ReadCache::new(1 << 20)));
        let genre = MovieFilter { genre: Some("Drama".into()), ..Default::default() };
        let by_name = MovieFilter {
            sort: MovieSort { key: SortKey::Name, descending: false },
            ..Default::default()
        };
        for filter in [genre, by_name, MovieFilter::default()] {
            for _ in 0..2 {
                assert_eq!(movies.list(&filter, page(0, 2, None)).await.unwrap().total, 3);
            }
        }
        assert_eq!(calls.seen(), [0, 1, 0, 6]);
    }

    #[tokio::test]
    async fn a_write_between_the_span_and_the_blocks_sends_the_page_to_the_database() {
        // The span read before movie 3's delete; its block after.
        let mut store = MockMovieRepository::new();
        store.expect_id_span().returning(|| Ok(IdSpan { count: 4, bounds: Some((1, 4)) }));
        store.expect_find_range().returning(|_, _| Ok(vec![movie(1), movie(2), movie(4)]));
        store
            .expect_list()
            .times(2)
            .returning(|_, _| Ok(Listing { items: vec![movie(1)], total: 3 }));
        let movies = CachedMovies::new(Arc::new(store), Arc::new(ReadCache::new(1 << 20)));
        // The first miss, then the block's read.
        for _ in 0..2 {
            let listing = movies.list(&MovieFilter::default(), page(0, 4, None)).await.unwrap();
            assert_eq!((ids_of(&listing), listing.total), (vec![1], 3));
        }
    }

    #[tokio::test]
    async fn a_committed_write_is_in_the_next_page() {
        let calls = Arc::new(Calls::default());
        let cache = Arc::new(ReadCache::new(1 << 20));
        let movies =
            CachedMovies::new(Arc::new(store_of(vec![1, 2], calls.clone())), cache.clone());
        for _ in 0..3 {
            let listing = movies.list(&MovieFilter::default(), page(0, 50, None)).await.unwrap();
            assert_eq!(ids_of(&listing), [1, 2]);
        }
        assert_eq!(calls.seen(), [1, 1, 0, 1], "cached");
        // Movie 3 added: the store now holds it, and its event reaches the cache.
        let movies =
            CachedMovies::new(Arc::new(store_of(vec![1, 2, 3], calls.clone())), cache.clone());
        cache.forget(&[NewEvent::movie_added(&movie(3))]);
        let listing = movies.list(&MovieFilter::default(), page(0, 50, None)).await.unwrap();
        assert_eq!((ids_of(&listing), listing.total), (vec![1, 2, 3], 3));
        // The span again, and the block, which the doorkeeper still knows as missed.
        assert_eq!(calls.seen(), [2, 2, 0, 1]);
    }
}
