//! `CharacterRepository` over SeaORM. Every write adjusts the touched movies' `nr_characters`
//! by increments in the same transaction: increments stay exact under concurrent writers, where
//! a recount could miss a row another transaction has not committed yet.

use std::collections::BTreeMap;

use async_trait::async_trait;
use movies_domain::characters::{Character, CharacterFilter, CharacterRecord, CharacterRepository};
use movies_domain::events::NewEvent;
use movies_domain::{Entity, Error, Listing, Page, Result};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ActiveValue::Unchanged, ColumnTrait,
    Condition, ConnectionTrait, DbErr, EntityTrait, JoinType, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait, Select,
};

use super::movies::bump_counts;
use super::{INSERT_CHUNK, contains_ci};
use crate::db::{Database, unavailable, write_error};
use crate::entities::character::{self, Column, WithMovieName};
use crate::entities::movie;

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

/// Characters joined with their movie's name.
fn joined() -> Select<character::Entity> {
    character::Entity::find()
        .select_only()
        .columns([Column::Id, Column::Name, Column::MovieId, Column::Description, Column::EditorId])
        .column_as(movie::Column::Name, "movie_name")
        .join(JoinType::InnerJoin, character::Relation::Movie.def())
}

async fn find_joined(conn: &impl ConnectionTrait, id: i64) -> Result<Option<Character>> {
    let found = joined()
        .filter(Column::Id.eq(id))
        .into_model::<WithMovieName>()
        .one(conn)
        .await
        .map_err(unavailable)?;
    Ok(found.map(Character::from))
}

fn active(r: &CharacterRecord) -> character::ActiveModel {
    character::ActiveModel {
        id: NotSet,
        name: Set(r.name.clone()),
        movie_id: Set(r.movie_id),
        description: Set(r.description.clone()),
        editor_id: NotSet,
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
        let mut c = Condition::all();
        if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
            c = c.add(contains_ci(Column::Name, q));
        }
        if let Some(name) = &filter.movie_name {
            c = c.add(movie::Column::Name.eq(name.as_str()));
        }
        if let Some(id) = filter.movie_id {
            c = c.add(Column::MovieId.eq(id));
        }
        if let Some(editor) = filter.editor_id {
            c = c.add(Column::EditorId.eq(editor));
        }
        let select = joined().filter(c);
        let total = select.clone().count(self.db.conn()).await.map_err(unavailable)?;
        let items = select
            .order_by_asc(Column::Id)
            .offset(page.skip())
            .limit(page.limit())
            .into_model::<WithMovieName>()
            .all(self.db.conn())
            .await
            .map_err(unavailable)?;
        Ok(Listing { items: items.into_iter().map(Character::from).collect(), total })
    }

    async fn find(&self, id: i64) -> Result<Option<Character>> {
        find_joined(self.db.conn(), id).await
    }

    async fn insert(&self, r: &CharacterRecord, editor_id: Option<i64>) -> Result<Character> {
        let txn = self.db.write().await?;
        let mut model = active(r);
        model.editor_id = Set(editor_id);
        let stored = model.insert(&*txn).await.map_err(write_error(Entity::Character, &r.name))?;
        let counts = bump_counts(&txn, vec![(r.movie_id, 1)]).await?;
        let character =
            find_joined(&*txn, stored.id).await?.ok_or(Error::NotFound(Entity::Movie))?;
        self.db.commit(txn, vec![NewEvent::character_added(&character, &counts)]).await?;
        Ok(character)
    }

    async fn insert_many(
        &self,
        records: &[CharacterRecord],
        editor_id: Option<i64>,
    ) -> Result<Vec<Character>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db.write().await?;
        let mut stored = Vec::with_capacity(records.len());
        for chunk in records.chunks(INSERT_CHUNK) {
            let models = chunk.iter().map(|r| {
                let mut model = active(r);
                model.editor_id = Set(editor_id);
                model
            });
            let rows = character::Entity::insert_many(models)
                .exec_with_returning(&*txn)
                .await
                .map_err(write_error(Entity::Character, ""))?;
            stored.extend(rows);
        }
        let counts = bump_counts(&txn, tally(records.iter().map(|r| r.movie_id), 1)).await?;
        let movie_ids: Vec<i64> = counts.iter().map(|c| c.id).collect();
        let names: BTreeMap<i64, String> = movie::Entity::find()
            .select_only()
            .columns([movie::Column::Id, movie::Column::Name])
            .filter(movie::Column::Id.is_in(movie_ids))
            .into_tuple::<(i64, String)>()
            .all(&*txn)
            .await
            .map_err(unavailable)?
            .into_iter()
            .collect();
        stored.sort_by_key(|c| c.id);
        let ids: Vec<i64> = stored.iter().map(|c| c.id).collect();
        self.db.commit(txn, vec![NewEvent::characters_added(&ids, &counts)]).await?;
        Ok(stored
            .into_iter()
            .map(|c| Character {
                movie_name: names.get(&c.movie_id).cloned().unwrap_or_default(),
                id: c.id,
                name: c.name,
                movie_id: c.movie_id,
                description: c.description,
                editor_id: c.editor_id,
            })
            .collect())
    }

    async fn update(&self, id: i64, r: &CharacterRecord) -> Result<Character> {
        let txn = self.db.write().await?;
        let old = character::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&*txn)
            .await
            .map_err(unavailable)?
            .ok_or(Error::NotFound(Entity::Character))?;
        let mut model = active(r);
        model.id = Unchanged(id);
        match model.update(&*txn).await {
            Ok(_) => {}
            Err(DbErr::RecordNotUpdated) => return Err(Error::NotFound(Entity::Character)),
            Err(e) => return Err(write_error(Entity::Character, &r.name)(e)),
        }
        let counts = if old.movie_id != r.movie_id {
            bump_counts(&txn, vec![(old.movie_id, -1), (r.movie_id, 1)]).await?
        } else {
            Vec::new()
        };
        let character = find_joined(&*txn, id).await?.ok_or(Error::NotFound(Entity::Character))?;
        self.db.commit(txn, vec![NewEvent::character_updated(&character, &counts)]).await?;
        Ok(character)
    }

    async fn delete(&self, id: i64) -> Result<Option<Character>> {
        let txn = self.db.write().await?;
        let Some(character) = find_joined(&*txn, id).await? else {
            return Ok(None);
        };
        let deleted = character::Entity::delete_by_id(id)
            .exec_with_returning(&*txn)
            .await
            .map_err(unavailable)?;
        let Some(deleted) = deleted else {
            return Ok(None);
        };
        let counts = bump_counts(&txn, vec![(deleted.movie_id, -1)]).await?;
        self.db.commit(txn, vec![NewEvent::character_deleted(&character, &counts)]).await?;
        Ok(Some(character))
    }

    async fn delete_range(&self, start: i64, end: i64) -> Result<Vec<i64>> {
        let txn = self.db.write().await?;
        let deleted = character::Entity::delete_many()
            .filter(Column::Id.gte(start))
            .filter(Column::Id.lt(end))
            .exec_with_returning(&*txn)
            .await
            .map_err(unavailable)?;
        let counts = bump_counts(&txn, tally(deleted.iter().map(|c| c.movie_id), -1)).await?;
        let mut ids: Vec<i64> = deleted.into_iter().map(|c| c.id).collect();
        ids.sort_unstable();
        let events = if ids.is_empty() {
            Vec::new()
        } else {
            vec![NewEvent::characters_deleted(&ids, &counts)]
        };
        self.db.commit(txn, events).await?;
        Ok(ids)
    }

    async fn count(&self) -> Result<u64> {
        character::Entity::find().count(self.db.conn()).await.map_err(unavailable)
    }
}
