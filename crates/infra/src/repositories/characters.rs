//! `CharacterRepository` over SeaORM. Every write adjusts the touched movies' `nr_characters`
//! by increments in the same transaction: increments stay exact under concurrent writers, where
//! a recount could miss a row another transaction has not committed yet.

use std::collections::BTreeMap;

use async_trait::async_trait;
use movies_domain::characters::{Character, CharacterFilter, CharacterRecord, CharacterRepository};
use movies_domain::events::NewEvent;
use movies_domain::jobs::JobCredit;
use movies_domain::{Error, Listing, Page, RecordKind, Result};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ActiveValue::Unchanged, ColumnTrait,
    Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
};

use super::listing::{self, PageQuery, Search, Table};
use super::movies::bump_counts;
use super::{IN_CHUNK, INSERT_CHUNK};
use crate::db::{Database, Reference, WriteTxn, db_error, write_error};
use crate::entities::character::{self, Column};
use crate::entities::{movie, user};
use crate::jobs::record_progress;

/// Characters in the `characters` table.
#[derive(Clone, Debug)]
pub struct SeaCharacterRepository {
    db: Database,
}

impl SeaCharacterRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

async fn find_one(conn: &impl ConnectionTrait, id: i64) -> Result<Option<Character>> {
    let found = character::Entity::find_by_id(id).one(conn).await.map_err(db_error)?;
    Ok(found.map(Character::from))
}

/// The movie the character `id` is in, read without locking the character. A write to a
/// character locks its movies first (through [`bump_counts`]) and the character after, as a
/// rename and a movie's delete do (the movie, then its characters): on PostgreSQL, the other
/// order deadlocked with a rename. A write that then finds the character in another movie (moved
/// by a write that committed in between) starts again.
async fn movie_of(conn: &impl ConnectionTrait, id: i64) -> Result<Option<i64>> {
    character::Entity::find_by_id(id)
        .select_only()
        .column(Column::MovieId)
        .into_tuple()
        .one(conn)
        .await
        .map_err(db_error)
}

/// Makes sure the editor `editor_id` stays until the write commits, before the write locks any
/// movie: a user's delete locks the user, then (through its foreign keys) the user's movies,
/// and on PostgreSQL a character's insert that locked a movie before its editor's row (as its
/// foreign key check does) could deadlock with it. An editor deleted since its token was checked
/// is `Unauthorized`, as the foreign key would have said.
async fn hold_editor(txn: &WriteTxn, editor_id: Option<i64>) -> Result<()> {
    let Some(id) = editor_id else { return Ok(()) };
    let found: Option<i64> = user::Entity::find_by_id(id)
        .select_only()
        .column(user::Column::Id)
        .lock(LockType::KeyShare)
        .into_tuple()
        .one(&**txn)
        .await
        .map_err(db_error)?;
    match found {
        Some(_) => Ok(()),
        None => Err(Reference::Editor.missing()),
    }
}

/// The row of `r`, in the movie named `movie_name`: none when the movie is not there (its foreign
/// key then refuses the row) or when an update keeps the character in its movie.
fn active(r: &CharacterRecord, movie_name: Option<&String>) -> character::ActiveModel {
    character::ActiveModel {
        id: NotSet,
        name: Set(r.name.clone()),
        movie_id: Set(r.movie_id),
        description: Set(r.description.clone()),
        editor_id: NotSet,
        movie_name: movie_name.map_or(NotSet, |name| Set(name.clone())),
    }
}

/// `NotFound(Movie)` unless every one of `movie_ids` has its name in `names`, which
/// [`bump_counts`] read from the movies it locked: those stay until the write commits, and with
/// the editor held by [`hold_editor`] the rows then written break no foreign key.
fn all_there(
    names: &BTreeMap<i64, String>,
    movie_ids: impl IntoIterator<Item = i64>,
) -> Result<()> {
    match movie_ids.into_iter().all(|id| names.contains_key(&id)) {
        true => Ok(()),
        false => Err(Reference::Movie.missing()),
    }
}

/// How many characters each movie gains (or loses, with `sign` -1).
fn tally(movie_ids: impl IntoIterator<Item = i64>, sign: i64) -> Vec<(i64, i64)> {
    let mut counts = BTreeMap::new();
    for id in movie_ids {
        *counts.entry(id).or_insert(0) += sign;
    }
    counts.into_iter().collect()
}

#[async_trait]
impl CharacterRepository for SeaCharacterRepository {
    async fn list(&self, filter: &CharacterFilter, page: Page) -> Result<Listing<Character>> {
        let conn = self.db.conn();
        let mut movie_id = filter.movie_id;
        if let Some(name) = &filter.movie_name {
            // The movie's id from its unique name, then the characters by their own index: no
            // join over the characters table.
            let found: Option<i64> = movie::Entity::find()
                .select_only()
                .column(movie::Column::Id)
                .filter(movie::Column::Name.eq(name.as_str()))
                .into_tuple()
                .one(conn)
                .await
                .map_err(db_error)?;
            match found {
                Some(id) if movie_id.is_none_or(|wanted| wanted == id) => movie_id = Some(id),
                _ => return Ok(Listing { items: Vec::new(), total: 0 }),
            }
        }
        let mut condition = Condition::all();
        if let Some(id) = movie_id {
            condition = condition.add(Column::MovieId.eq(id));
        }
        if let Some(editor) = filter.editor_id {
            condition = condition.add(Column::EditorId.eq(editor));
        }
        let query = PageQuery {
            table: Table::Characters,
            search: filter
                .q
                .as_deref()
                .filter(|q| !q.is_empty())
                .map(|q| Search::new(self.db.backend(), Column::Name.as_column_ref(), q)),
            condition,
            keys: Vec::new(),
            descending: false,
        };
        let total = match (&query.search, movie_id, filter.editor_id) {
            (None, None, None) => listing::counter_query(Table::Characters.name()),
            // A movie's `nr_characters`, which every write keeps exact.
            (None, Some(movie), None) => movie::Entity::find_by_id(movie)
                .select_only()
                .column(movie::Column::NrCharacters)
                .into_query(),
            _ => query.count_query(),
        };
        let (rows, total) = query.rows::<character::Entity>(conn, page, total).await?;
        let items = rows.into_iter().map(Character::from).collect();
        Ok(Listing { items, total })
    }

    async fn find(&self, id: i64) -> Result<Option<Character>> {
        find_one(self.db.conn(), id).await
    }

    async fn insert(&self, r: &CharacterRecord, editor_id: Option<i64>) -> Result<Character> {
        let txn = self.db.write().await?;
        hold_editor(&txn, editor_id).await?;
        // The count first: the movie's name comes with it.
        let (counts, names) = bump_counts(&txn, vec![(r.movie_id, 1)]).await?;
        all_there(&names, [r.movie_id])?;
        let mut model = active(r, names.get(&r.movie_id));
        model.editor_id = Set(editor_id);
        let character: Character = match model.insert(&*txn).await {
            Ok(stored) => stored.into(),
            Err(e) => return Err(write_error(RecordKind::Character, &r.name, None)(e)),
        };
        listing::add_to_total(&*txn, Table::Characters, 1).await?;
        self.db.commit(txn, vec![NewEvent::character_added(&character, &counts)]).await?;
        Ok(character)
    }

    async fn insert_many(
        &self,
        records: &[CharacterRecord],
        editor_id: Option<i64>,
        credit: Option<JobCredit>,
    ) -> Result<Vec<Character>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db.write().await?;
        txn.one_batch_at_a_time().await?;
        hold_editor(&txn, editor_id).await?;
        // The counts first: the movies' names come with them.
        let (counts, names) =
            bump_counts(&txn, tally(records.iter().map(|r| r.movie_id), 1)).await?;
        all_there(&names, records.iter().map(|r| r.movie_id))?;
        let mut stored = Vec::with_capacity(records.len());
        for chunk in records.chunks(INSERT_CHUNK) {
            let models = chunk.iter().map(|r| {
                let mut model = active(r, names.get(&r.movie_id));
                model.editor_id = Set(editor_id);
                model
            });
            let inserted = character::Entity::insert_many(models).exec_with_returning(&*txn).await;
            stored.extend(inserted.map_err(db_error)?);
        }
        stored.sort_by_key(|c| c.id);
        let ids: Vec<i64> = stored.iter().map(|c| c.id).collect();
        listing::add_to_total(&*txn, Table::Characters, ids.len() as i64).await?;
        let mut events = vec![NewEvent::characters_added(&ids, &counts)];
        if let Some(credit) = &credit {
            events.push(record_progress(&txn, self.db.instance(), credit, ids.len() as u64).await?);
        }
        self.db.commit(txn, events).await?;
        Ok(stored.into_iter().map(Character::from).collect())
    }

    async fn update(&self, id: i64, r: &CharacterRecord) -> Result<Character> {
        loop {
            let txn = self.db.write().await?;
            let Some(was_in) = movie_of(&*txn, id).await? else {
                return Err(Error::NotFound(RecordKind::Character));
            };
            // A character that moves takes its new movie's name, read with the counts.
            let (counts, names) = if was_in != r.movie_id {
                bump_counts(&txn, vec![(was_in, -1), (r.movie_id, 1)]).await?
            } else {
                (Vec::new(), BTreeMap::new())
            };
            let old = character::Entity::find_by_id(id)
                .lock_exclusive()
                .one(&*txn)
                .await
                .map_err(db_error)?
                .ok_or(Error::NotFound(RecordKind::Character))?;
            if old.movie_id != was_in {
                txn.rollback().await?;
                continue;
            }
            let mut model = active(r, names.get(&r.movie_id));
            model.id = Unchanged(id);
            let character: Character = match model.update(&*txn).await {
                Ok(stored) => stored.into(),
                Err(DbErr::RecordNotUpdated) => return Err(Error::NotFound(RecordKind::Character)),
                Err(e) => {
                    let references = Some(Reference::Movie);
                    return Err(write_error(RecordKind::Character, &r.name, references)(e));
                }
            };
            self.db.commit(txn, vec![NewEvent::character_updated(&character, &counts)]).await?;
            return Ok(character);
        }
    }

    async fn delete(&self, id: i64) -> Result<Option<Character>> {
        loop {
            let txn = self.db.write().await?;
            let Some(was_in) = movie_of(&*txn, id).await? else {
                return Ok(None);
            };
            let (counts, _) = bump_counts(&txn, vec![(was_in, -1)]).await?;
            let deleted = character::Entity::delete_by_id(id)
                .exec_with_returning(&*txn)
                .await
                .map_err(db_error)?;
            let Some(deleted) = deleted else {
                return Ok(None);
            };
            if deleted.movie_id != was_in {
                txn.rollback().await?;
                continue;
            }
            let character = Character::from(deleted);
            listing::add_to_total(&*txn, Table::Characters, -1).await?;
            self.db.commit(txn, vec![NewEvent::character_deleted(&character, &counts)]).await?;
            return Ok(Some(character));
        }
    }

    async fn delete_range(&self, start: i64, end: i64) -> Result<Vec<i64>> {
        let range = Condition::all().add(Column::Id.gte(start)).add(Column::Id.lt(end));
        loop {
            let txn = self.db.write().await?;
            let mut were: Vec<(i64, i64)> = character::Entity::find()
                .select_only()
                .columns([Column::Id, Column::MovieId])
                .filter(range.clone())
                .into_tuple()
                .all(&*txn)
                .await
                .map_err(db_error)?;
            were.sort_unstable();
            let movie_ids = were.iter().map(|(_, movie_id)| *movie_id);
            let (counts, _) = bump_counts(&txn, tally(movie_ids, -1)).await?;
            // The rows read, not the range again: one added since counts as after the delete.
            let mut gone: Vec<(i64, i64)> = Vec::with_capacity(were.len());
            for chunk in were.chunks(IN_CHUNK) {
                let deleted = character::Entity::delete_many()
                    .filter(Column::Id.is_in(chunk.iter().map(|(id, _)| *id)))
                    .exec_with_returning(&*txn)
                    .await
                    .map_err(db_error)?;
                gone.extend(deleted.iter().map(|c| (c.id, c.movie_id)));
            }
            gone.sort_unstable();
            // One moved or deleted since it was read: the counts moved the wrong movies.
            if gone != were {
                txn.rollback().await?;
                continue;
            }
            let ids: Vec<i64> = gone.into_iter().map(|(id, _)| id).collect();
            listing::add_to_total(&*txn, Table::Characters, -(ids.len() as i64)).await?;
            let events = if ids.is_empty() {
                Vec::new()
            } else {
                vec![NewEvent::characters_deleted(&ids, &counts)]
            };
            self.db.commit(txn, events).await?;
            return Ok(ids);
        }
    }

    async fn count(&self) -> Result<u64> {
        listing::total(self.db.conn(), Table::Characters.name()).await
    }
}
