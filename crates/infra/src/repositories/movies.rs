//! `MovieRepository` over SeaORM.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use movies_domain::events::{MovieCount, NewEvent};
use movies_domain::jobs::JobCredit;
use movies_domain::movies::{Movie, MovieFilter, MovieRepository, NewMovie, SortKey};
use movies_domain::paging::IdSpan;
use movies_domain::{Error, Listing, Page, RecordKind, Result};
use rand::Rng;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ActiveValue::Unchanged, ColumnTrait,
    Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, TransactionTrait, Value,
};

use super::IN_CHUNK;
use super::listing::{self, PageQuery, Search, Table, genre_counter};
use crate::db::{
    BulkInsert, Combined, Combiner, Database, Reference, db_error, is_foreign_key_violation,
    write_error,
};
use crate::entities::character;
use crate::entities::movie::{self, Column};
use crate::entities::positional;
use crate::jobs::record_progress;

/// `insert_many`'s statement: the name is the key, the editor the same for every row.
const INSERT_MOVIES: BulkInsert = BulkInsert {
    table: "movies",
    columns: &["name", "year", "duration", "genre", "description"],
    shared: "editor_id",
};

/// Movies in the `movies` table.
#[derive(Clone, Debug)]
pub struct SeaMovieRepository {
    db: Database,
    /// Single creates waiting for the writer, made together (`db/combine.rs`).
    creates: Arc<Combiner<Create, Movie>>,
}

/// A single create: the movie and its editor.
type Create = (NewMovie, Option<i64>);

impl SeaMovieRepository {
    pub fn new(db: Database) -> Self {
        Self { db, creates: Combiner::new() }
    }

    /// Creates the movies in one transaction, each answered or left to be made alone (its name
    /// taken, or an editor gone): for the outcome and the error it alone would have had.
    async fn insert_combined(&self, creates: Vec<Create>) -> Result<Vec<Combined<Create, Movie>>> {
        Ok(match self.insert_together(&creates).await? {
            Some(stored) => creates
                .into_iter()
                .zip(stored)
                .map(|(create, stored)| match stored {
                    Some(movie) => Combined::Done(Ok(movie)),
                    None => Combined::Alone(create),
                })
                .collect(),
            None => creates.into_iter().map(Combined::Alone).collect(),
        })
    }

    /// One transaction for all `creates`: a multi-row INSERT per editor, one counters update,
    /// an `add` event per movie stored. `None` for a movie it left out (its name taken); `None`
    /// for all when an editor is gone (nothing written).
    async fn insert_together(&self, creates: &[Create]) -> Result<Option<Vec<Option<Movie>>>> {
        let txn = self.db.write().await?;
        txn.one_batch_at_a_time().await?;
        let mut stored: Vec<Option<Movie>> = vec![None; creates.len()];
        let mut editors: Vec<Option<i64>> = creates.iter().map(|(_, e)| *e).collect();
        editors.sort_unstable();
        editors.dedup();
        for editor_id in editors {
            let (at, rows): (Vec<usize>, Vec<Vec<Value>>) = creates
                .iter()
                .enumerate()
                .filter(|(_, (_, e))| *e == editor_id)
                .map(|(i, (m, _))| (i, movie_row(m)))
                .unzip();
            let ids = match INSERT_MOVIES.run(&txn, Value::from(editor_id), rows).await {
                Ok(ids) => ids,
                // An editor deleted since their token was checked: which create's, each alone says.
                Err(e) if is_foreign_key_violation(&e) => return Ok(None),
                Err(e) => return Err(db_error(e)),
            };
            for (i, id) in at.into_iter().zip(ids) {
                stored[i] = id.map(|id| creates[i].0.stored(id, editor_id));
            }
        }
        let added: Vec<&Movie> = stored.iter().flatten().collect();
        if added.is_empty() {
            txn.rollback().await?;
            return Ok(Some(stored));
        }
        let genres = added.iter().map(|m| m.genre.as_str());
        listing::add_to_totals(&*txn, movie_counts(genres, 1)).await?;
        let events = added.into_iter().map(NewEvent::movie_added).collect();
        self.db.commit(txn, events).await?;
        Ok(Some(stored))
    }

    /// One movie in a transaction of its own.
    async fn insert_one(&self, m: &NewMovie, editor_id: Option<i64>) -> Result<Movie> {
        let txn = self.db.write().await?;
        let mut model = active(m);
        model.editor_id = Set(editor_id);
        let stored: Movie = model
            .insert(&*txn)
            .await
            .map_err(write_error(RecordKind::Movie, m.name.as_str(), Some(Reference::Editor)))?
            .into();
        listing::add_to_totals(&*txn, movie_counts([stored.genre.as_str()], 1)).await?;
        self.db.commit(txn, vec![NewEvent::movie_added(&stored)]).await?;
        Ok(stored)
    }
}

/// A movie's values for [`INSERT_MOVIES`], in its column order.
fn movie_row(m: &NewMovie) -> Vec<Value> {
    vec![
        Value::from(m.name.as_str()),
        Value::from(m.year.get()),
        Value::from(m.duration.as_str()),
        Value::from(m.genre.as_str()),
        Value::from(m.description.as_str()),
    ]
}

fn active(m: &NewMovie) -> movie::ActiveModel {
    movie::ActiveModel {
        id: NotSet,
        name: Set(m.name.to_string()),
        year: Set(m.year.get()),
        duration: Set(m.duration.as_str().to_owned()),
        genre: Set(m.genre.as_str().to_owned()),
        description: Set(m.description.as_str().to_owned()),
        nr_characters: NotSet,
        editor_id: NotSet,
    }
}

/// The filter's conditions but `q`, which is a [`Search`].
fn condition(f: &MovieFilter) -> Condition {
    let mut c = Condition::all();
    if let Some(genre) = &f.genre {
        c = c.add(Column::Genre.eq(genre.as_str()));
    }
    if let Some(year) = f.year {
        c = c.add(Column::Year.eq(year));
    }
    if let Some(from) = f.year_from {
        c = c.add(Column::Year.gte(from));
    }
    if let Some(to) = f.year_to {
        c = c.add(Column::Year.lte(to));
    }
    if let Some(editor) = f.editor_id {
        c = c.add(Column::EditorId.eq(editor));
    }
    c
}

#[async_trait]
impl MovieRepository for SeaMovieRepository {
    async fn list(&self, filter: &MovieFilter, page: Page) -> Result<Listing<Movie>> {
        let order = if filter.sort.descending { Order::Desc } else { Order::Asc };
        let query = PageQuery {
            table: Table::Movies,
            search: filter
                .q
                .as_deref()
                .filter(|q| !q.is_empty())
                .map(|q| Search::new(self.db.backend(), Column::Name.as_column_ref(), q)),
            condition: condition(filter),
            keys: match filter.sort.key {
                SortKey::Id => Vec::new(),
                SortKey::Name => vec![(Alias::new("name"), order)],
                SortKey::Year => vec![(Alias::new("year"), order)],
            },
            descending: filter.sort.descending,
        };
        let conn = self.db.conn();
        // The table's counter without a filter, the genre's with that one alone.
        let but_genre = condition(&MovieFilter { genre: None, ..filter.clone() });
        let total = match (&query.search, &filter.genre) {
            (None, None) if but_genre.is_empty() => listing::counter_query(Table::Movies.name()),
            (None, Some(genre)) if but_genre.is_empty() => {
                listing::counter_query(&genre_counter(genre))
            }
            _ => query.count_query(),
        };
        let (rows, total) = query.rows::<movie::Entity>(conn, page, total).await?;
        let items = rows.into_iter().map(Movie::from).collect();
        Ok(Listing { items, total })
    }

    async fn find(&self, id: i64) -> Result<Option<Movie>> {
        let found = movie::Entity::find_by_id(id).one(self.db.conn()).await.map_err(db_error)?;
        Ok(found.map(Movie::from))
    }

    async fn find_range(&self, start: i64, end: i64) -> Result<Vec<Movie>> {
        let range = movie::Entity::find()
            .filter(Column::Id.gte(start))
            .filter(Column::Id.lt(end))
            .order_by_asc(Column::Id)
            .into_query();
        let rows = self.db.conn().query_all(&range).await.map_err(db_error)?;
        rows.iter()
            .map(|row| positional::read::<movie::Model>(row).map(Movie::from))
            .collect::<std::result::Result<_, _>>()
            .map_err(db_error)
    }

    async fn id_span(&self) -> Result<IdSpan> {
        listing::id_span(self.db.conn(), Table::Movies).await
    }

    async fn find_by_name(&self, name: &str) -> Result<Option<Movie>> {
        let found = movie::Entity::find()
            .filter(Column::Name.eq(name))
            .one(self.db.conn())
            .await
            .map_err(db_error)?;
        Ok(found.map(Movie::from))
    }

    async fn find_refs(&self, ids: &[i64], names: &[String]) -> Result<Vec<(i64, String)>> {
        let mut found = Vec::new();
        let chunks = ids.chunks(IN_CHUNK).map(|ids| Column::Id.is_in(ids.iter().copied()));
        let name_chunks = names
            .chunks(IN_CHUNK)
            .map(|names| Column::Name.is_in(names.iter().map(String::as_str)));
        for condition in chunks.chain(name_chunks) {
            let rows: Vec<(i64, String)> = movie::Entity::find()
                .select_only()
                .columns([Column::Id, Column::Name])
                .filter(condition)
                .into_tuple()
                .all(self.db.conn())
                .await
                .map_err(db_error)?;
            found.extend(rows);
        }
        Ok(found)
    }

    async fn insert(&self, m: &NewMovie, editor_id: Option<i64>) -> Result<Movie> {
        let (this, alone) = (self.clone(), self.clone());
        let together = move |creates| {
            let this = this.clone();
            async move { this.insert_combined(creates).await }
        };
        let alone = move |(movie, editor_id): Create| {
            let this = alone.clone();
            async move { this.insert_one(&movie, editor_id).await }
        };
        self.creates.submit((m.clone(), editor_id), together, alone).await
    }

    async fn insert_many(
        &self,
        movies: &[NewMovie],
        editor_id: Option<i64>,
        credit: Option<JobCredit>,
    ) -> Result<Vec<Movie>> {
        let txn = self.db.write().await?;
        txn.one_batch_at_a_time().await?;
        let rows = movies.iter().map(movie_row).collect();
        let ids = match INSERT_MOVIES.run(&txn, Value::from(editor_id), rows).await {
            Ok(ids) => ids,
            Err(e) if is_foreign_key_violation(&e) => return Err(Reference::Editor.missing()),
            Err(e) => return Err(db_error(e)),
        };
        let added: Vec<Movie> =
            movies.iter().zip(ids).filter_map(|(m, id)| Some(m.stored(id?, editor_id))).collect();
        let mut ids: Vec<i64> = added.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        let genres = added.iter().map(|m| m.genre.as_str());
        listing::add_to_totals(&*txn, movie_counts(genres, 1)).await?;
        let mut events = Vec::new();
        if !ids.is_empty() {
            events.push(NewEvent::movies_added(&ids));
        }
        if let Some(credit) = &credit {
            let progress =
                record_progress(&txn, self.db.instance(), credit, ids.len() as u64).await?;
            if !ids.is_empty() {
                events.push(progress);
            }
        }
        self.db.commit(txn, events).await?;
        Ok(added)
    }

    async fn update(&self, id: i64, m: &NewMovie) -> Result<Movie> {
        let txn = self.db.write().await?;
        // The genre it leaves, for the genres' counters, and the name, for its characters',
        // read under the row's lock: on PostgreSQL another update committing in between would
        // make them stale (and the characters would keep the other update's name).
        let old: Option<(String, String)> = movie::Entity::find_by_id(id)
            .select_only()
            .columns([Column::Genre, Column::Name])
            .lock_exclusive()
            .into_tuple()
            .one(&*txn)
            .await
            .map_err(db_error)?;
        let Some((old_genre, old_name)) = old else {
            return Err(Error::NotFound(RecordKind::Movie));
        };
        let mut model = active(m);
        model.id = Unchanged(id);
        let stored: Movie = match model.update(&*txn).await {
            Ok(stored) => stored.into(),
            Err(DbErr::RecordNotUpdated) => return Err(Error::NotFound(RecordKind::Movie)),
            Err(e) => return Err(write_error(RecordKind::Movie, m.name.as_str(), None)(e)),
        };
        if old_genre != stored.genre {
            let moved = [(genre_counter(&old_genre), -1), (genre_counter(&stored.genre), 1)];
            listing::add_to_totals(&*txn, moved).await?;
        }
        if old_name != stored.name {
            character::Entity::update_many()
                .col_expr(character::Column::MovieName, Expr::value(stored.name.as_str()))
                .filter(character::Column::MovieId.eq(id))
                .exec(&*txn)
                .await
                .map_err(db_error)?;
        }
        self.db.commit(txn, vec![NewEvent::movie_updated(&stored)]).await?;
        Ok(stored)
    }

    async fn delete(&self, id: i64) -> Result<Option<Movie>> {
        let deleted = self.delete_where(Column::Id.eq(id).into()).await?;
        Ok(deleted.into_iter().next())
    }

    async fn delete_by_name(&self, name: &str) -> Result<Option<Movie>> {
        let deleted = self.delete_where(Column::Name.eq(name).into()).await?;
        Ok(deleted.into_iter().next())
    }

    async fn delete_range(&self, start: i64, end: i64) -> Result<Vec<i64>> {
        let range = Condition::all().add(Column::Id.gte(start)).add(Column::Id.lt(end));
        Ok(self.delete_where(range).await?.into_iter().map(|m| m.id).collect())
    }

    async fn names_after(&self, after: i64, limit: u64) -> Result<Vec<(i64, String)>> {
        let slice = movie::Entity::find()
            .select_only()
            .columns([Column::Id, Column::Name])
            .filter(Column::Id.gt(after))
            .order_by_asc(Column::Id)
            .limit(limit)
            .into_tuple();
        if self.db.backend() != DbBackend::Sqlite {
            return slice.all(self.db.conn()).await.map_err(db_error);
        }
        // Reading every name walks the whole table, and each reader that served a slice kept
        // its pages in its cache (2 MiB a connection, all 8 in turn): the slice hands them back
        // on the connection that read it, which only a transaction holds on to. Four streams on
        // a million movies: RSS right after 67 MB without, 43 MB with (idle 25).
        let txn = self.db.conn().begin().await.map_err(db_error)?;
        let names = slice.all(&txn).await.map_err(db_error)?;
        txn.execute_unprepared("PRAGMA shrink_memory").await.map_err(db_error)?;
        txn.commit().await.map_err(db_error)?;
        Ok(names)
    }

    async fn sample_ids(&self, n: u64) -> Result<Vec<i64>> {
        let bounds: Option<(Option<i64>, Option<i64>)> = movie::Entity::find()
            .select_only()
            .expr(Func::min(Expr::col(Column::Id)))
            .expr(Func::max(Expr::col(Column::Id)))
            .into_tuple()
            .one(self.db.conn())
            .await
            .map_err(db_error)?;
        let Some((Some(min), Some(max))) = bounds else { return Ok(Vec::new()) };
        // Sample ids in the range and keep those that exist: no full scan of a big table.
        let mut found = Vec::new();
        for _ in 0..4 {
            let wanted = (n as usize).saturating_sub(found.len()).min(IN_CHUNK);
            if wanted == 0 {
                break;
            }
            let candidates: Vec<i64> = {
                let mut rng = rand::rng();
                (0..wanted * 2).map(|_| rng.random_range(min..=max)).collect()
            };
            let existing: Vec<i64> = movie::Entity::find()
                .select_only()
                .column(Column::Id)
                .filter(Column::Id.is_in(candidates))
                .limit(wanted as u64)
                .into_tuple()
                .all(self.db.conn())
                .await
                .map_err(db_error)?;
            found.extend(existing);
        }
        if found.is_empty() {
            // Very sparse ids: ask the database to pick.
            found = movie::Entity::find()
                .select_only()
                .column(Column::Id)
                .order_by_asc(Expr::cust("RANDOM()"))
                .limit(Ord::min(n, IN_CHUNK as u64))
                .into_tuple()
                .all(self.db.conn())
                .await
                .map_err(db_error)?;
        }
        Ok(found)
    }

    async fn count(&self) -> Result<u64> {
        listing::total(self.db.conn(), Table::Movies.name()).await
    }

    async fn recount_characters(&self) -> Result<()> {
        movie::Entity::update_many()
            .col_expr(
                Column::NrCharacters,
                Expr::cust(
                    "(SELECT COUNT(*) FROM characters WHERE characters.movie_id = movies.id)",
                ),
            )
            .exec(self.db.conn())
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

impl SeaMovieRepository {
    /// Deletes the movies matching `which` with their characters (through the foreign key's ON
    /// DELETE CASCADE), and reports both: one `delete` for a single movie, else one
    /// `delete_bulk`, plus a `delete_bulk` of the characters that went with them.
    async fn delete_where(&self, which: Condition) -> Result<Vec<Movie>> {
        let txn = self.db.write().await?;
        let doomed: Vec<i64> = movie::Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(which)
            .into_tuple()
            .all(&*txn)
            .await
            .map_err(db_error)?;
        if doomed.is_empty() {
            return Ok(Vec::new());
        }
        let mut characters = Vec::new();
        for ids in doomed.chunks(IN_CHUNK) {
            let found: Vec<i64> = character::Entity::find()
                .select_only()
                .column(character::Column::Id)
                .filter(character::Column::MovieId.is_in(ids.iter().copied()))
                .into_tuple()
                .all(&*txn)
                .await
                .map_err(db_error)?;
            characters.extend(found);
        }
        let mut deleted = Vec::with_capacity(doomed.len());
        for ids in doomed.chunks(IN_CHUNK) {
            let rows = movie::Entity::delete_many()
                .filter(Column::Id.is_in(ids.iter().copied()))
                .exec_with_returning(&*txn)
                .await
                .map_err(db_error)?;
            deleted.extend(rows.into_iter().map(Movie::from));
        }
        deleted.sort_by_key(|m| m.id);
        characters.sort_unstable();
        listing::add_to_totals(&*txn, movie_counts(deleted.iter().map(|m| m.genre.as_str()), -1))
            .await?;
        listing::add_to_total(&*txn, Table::Characters, -(characters.len() as i64)).await?;
        let mut events = match deleted.as_slice() {
            [one] => vec![NewEvent::movie_deleted(one)],
            many => vec![NewEvent::movies_deleted(&many.iter().map(|m| m.id).collect::<Vec<_>>())],
        };
        if !characters.is_empty() {
            events.push(NewEvent::characters_deleted_with_movies(&characters));
        }
        self.db.commit(txn, events).await?;
        Ok(deleted)
    }
}

/// What adding (`sign` 1) or removing (-1) movies of these genres does to the counters: the
/// table's, and each genre's.
fn movie_counts<'a>(genres: impl IntoIterator<Item = &'a str>, sign: i64) -> Vec<(String, i64)> {
    let mut counts = vec![(Table::Movies.name().to_owned(), 0)];
    for genre in genres {
        counts[0].1 += sign;
        counts.push((genre_counter(genre), sign));
    }
    counts
}

/// Adds `delta` to the character count of each movie, in id order so that concurrent
/// transactions on PostgreSQL lock rows in the same order.
/// Returns the new counts of the movies that changed, for the character's event, and their
/// names, for the characters a write puts in them: read under the row's lock that the count took,
/// so that a rename cannot commit between the read and the write's commit (the rename writes the
/// new name into the movie's characters, which then include this write's).
/// A movie that is not there has neither (a write of characters then refuses them).
pub(super) async fn bump_counts(
    txn: &sea_orm::DatabaseTransaction,
    mut deltas: Vec<(i64, i64)>,
) -> Result<(Vec<MovieCount>, BTreeMap<i64, String>)> {
    deltas.sort_unstable();
    deltas.retain(|(_, d)| *d != 0);
    for (movie_id, delta) in &deltas {
        movie::Entity::update_many()
            .col_expr(Column::NrCharacters, Expr::col(Column::NrCharacters).add(*delta))
            .filter(Column::Id.eq(*movie_id))
            .exec(txn)
            .await
            .map_err(db_error)?;
    }
    let mut counts = Vec::with_capacity(deltas.len());
    let mut names = BTreeMap::new();
    for chunk in deltas.chunks(IN_CHUNK) {
        let rows: Vec<(i64, i64, String)> = movie::Entity::find()
            .select_only()
            .columns([Column::Id, Column::NrCharacters, Column::Name])
            .filter(Column::Id.is_in(chunk.iter().map(|(id, _)| *id)))
            .order_by_asc(Column::Id)
            .into_tuple()
            .all(txn)
            .await
            .map_err(db_error)?;
        for (id, nr_characters, name) in rows {
            counts.push(MovieCount { id, nr_characters });
            names.insert(id, name);
        }
    }
    Ok((counts, names))
}
