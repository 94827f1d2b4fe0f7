//! `JobStore` over SeaORM: the `jobs` table, and each batch stored with its progress and events
//! in one transaction.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat};
use movies_domain::characters::CharacterRecord;
use movies_domain::clock::now_ms;
use movies_domain::events::{EventEntity, NewEvent, Operation};
use movies_domain::jobs::{BatchOutcome, Job, JobKind, JobStatus, JobStore};
use movies_domain::movies::NewMovie;
use movies_domain::{Entity, Error, Result};
use rand::Rng;
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use tokio::sync::Notify;

use crate::db::{Database, Reference, WriteTxn, db_error, is_foreign_key_violation};
use crate::entities::job::{self, Column};
use crate::entities::{character, movie};
use crate::repositories::{IN_CHUNK, bump_counts, missing_reference};

/// How many times a batch retries the names that collided, each time with a new suffix.
const NAME_ATTEMPTS: usize = 4;

#[derive(Clone, Debug)]
pub struct SeaJobStore {
    db: Database,
    /// Woken when a job is queued, for the runner.
    queued: Arc<Notify>,
}

impl SeaJobStore {
    pub fn new(db: Database) -> Self {
        Self { db, queued: Arc::new(Notify::new()) }
    }

    /// What the runner waits on.
    pub fn queued_signal(&self) -> Arc<Notify> {
        self.queued.clone()
    }

    async fn locked(&self, txn: &WriteTxn, id: &str) -> Result<job::Model> {
        job::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&**txn)
            .await
            .map_err(db_error)?
            .ok_or(Error::NotFound(Entity::Job))
    }

    /// Adds `n` to the job's progress and returns the outcome and the progress event.
    async fn progress(&self, txn: &WriteTxn, id: &str, n: u64) -> Result<(BatchOutcome, NewEvent)> {
        job::Entity::update_many()
            .col_expr(Column::Done, Expr::col(Column::Done).add(n as i64))
            .filter(Column::Id.eq(id))
            .exec(&**txn)
            .await
            .map_err(db_error)?;
        let job = self.locked(txn, id).await?;
        let event = NewEvent::other(
            EventEntity::Job,
            Operation::GenerateProgress,
            json!({ "jobId": id, "done": job.done, "requested": job.requested }),
        );
        Ok((BatchOutcome { done: job.done as u64, cancel_requested: job.cancel_requested }, event))
    }
}

fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn to_domain(m: job::Model) -> Result<Job> {
    let corrupt = || Error::internal(format!("job {} has an unknown kind or status", m.id));
    Ok(Job {
        kind: m.kind.parse().map_err(|_| corrupt())?,
        status: m.status.parse().map_err(|_| corrupt())?,
        requested: m.requested as u64,
        done: m.done as u64,
        owner_id: m.owner_id,
        cancel_requested: m.cancel_requested,
        created_at: rfc3339(m.created_at_ms),
        started_at: m.started_at_ms.map(rfc3339),
        finished_at: m.finished_at_ms.map(rfc3339),
        error: m.error,
        id: m.id,
    })
}

fn movie_row(m: &NewMovie, name: String, editor_id: Option<i64>) -> movie::ActiveModel {
    movie::ActiveModel {
        id: NotSet,
        name: Set(name),
        year: Set(m.year.get()),
        duration: Set(m.duration.as_str().to_owned()),
        genre: Set(m.genre.as_str().to_owned()),
        description: Set(m.description.as_str().to_owned()),
        nr_characters: NotSet,
        editor_id: Set(editor_id),
    }
}

/// The name for a generated movie whose title was taken: a suffix unique to the job, the row
/// and the attempt, cut so the whole stays within 200 characters.
fn suffixed(title: &str, job_id: &str, row: u64, attempt: usize) -> String {
    let suffix =
        format!(" ({}-{row}{})", &job_id[..Ord::min(8, job_id.len())], "'".repeat(attempt - 1));
    let keep = 200usize.saturating_sub(suffix.chars().count());
    format!("{}{suffix}", title.chars().take(keep).collect::<String>())
}

#[async_trait]
impl JobStore for SeaJobStore {
    async fn create(&self, kind: JobKind, requested: u64, owner_id: Option<i64>) -> Result<Job> {
        let row = job::ActiveModel {
            // Time-ordered (UUID v7), so ordering by (created_at, id) is first come, first served.
            id: Set(uuid::Uuid::now_v7().to_string()),
            kind: Set(kind.as_str().to_owned()),
            status: Set(JobStatus::Queued.as_str().to_owned()),
            requested: Set(requested as i64),
            done: Set(0),
            owner_id: Set(owner_id),
            cancel_requested: Set(false),
            created_at_ms: Set(now_ms()),
            started_at_ms: Set(None),
            finished_at_ms: Set(None),
            error: Set(None),
        };
        let stored =
            job::Entity::insert(row).exec_with_returning(self.db.conn()).await.map_err(db_error)?;
        self.queued.notify_one();
        to_domain(stored)
    }

    async fn get(&self, id: &str) -> Result<Option<Job>> {
        let found = job::Entity::find_by_id(id).one(self.db.conn()).await.map_err(db_error)?;
        found.map(to_domain).transpose()
    }

    async fn list(&self, owner_id: Option<i64>) -> Result<Vec<Job>> {
        let mut select = job::Entity::find()
            .order_by_desc(Column::CreatedAtMs)
            .order_by_desc(Column::Id)
            .limit(1000);
        if let Some(owner) = owner_id {
            select = select.filter(Column::OwnerId.eq(owner));
        }
        let rows = select.all(self.db.conn()).await.map_err(db_error)?;
        rows.into_iter().map(to_domain).collect()
    }

    async fn cancel(&self, id: &str) -> Result<Option<Job>> {
        let txn = self.db.write().await?;
        let Some(row) =
            job::Entity::find_by_id(id).lock_exclusive().one(&*txn).await.map_err(db_error)?
        else {
            return Ok(None);
        };
        let status: JobStatus = row
            .status
            .parse()
            .map_err(|_| Error::internal(format!("job {id} has an unknown status")))?;
        let mut events = Vec::new();
        let mut update = job::ActiveModel { id: Set(row.id.clone()), ..Default::default() };
        match status {
            JobStatus::Queued => {
                update.status = Set(JobStatus::Cancelled.as_str().to_owned());
                update.cancel_requested = Set(true);
                update.finished_at_ms = Set(Some(now_ms()));
                events.push(done_event(id, JobStatus::Cancelled, row.done as u64));
            }
            JobStatus::Running => update.cancel_requested = Set(true),
            _ => {}
        }
        let updated = job::Entity::update(update).exec(&*txn).await.map_err(db_error)?;
        self.db.commit(txn, events).await?;
        to_domain(updated).map(Some)
    }

    async fn claim_next(&self) -> Result<Option<Job>> {
        loop {
            let next: Option<String> = job::Entity::find()
                .select_only()
                .column(Column::Id)
                .filter(Column::Status.eq(JobStatus::Queued.as_str()))
                .order_by_asc(Column::CreatedAtMs)
                .order_by_asc(Column::Id)
                .into_tuple()
                .one(self.db.conn())
                .await
                .map_err(db_error)?;
            let Some(id) = next else { return Ok(None) };
            // Another runner (on another instance) may have taken it meanwhile: try the next.
            if let Some(job) = self.claim(&id).await? {
                return Ok(Some(job));
            }
        }
    }

    async fn claim(&self, id: &str) -> Result<Option<Job>> {
        let claimed = job::Entity::update_many()
            .col_expr(Column::Status, Expr::value(JobStatus::Running.as_str()))
            .col_expr(
                Column::StartedAtMs,
                Func::coalesce([Expr::col(Column::StartedAtMs), Expr::value(now_ms())]).into(),
            )
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(JobStatus::Queued.as_str()))
            .exec(self.db.conn())
            .await
            .map_err(db_error)?;
        if claimed.rows_affected == 0 {
            return Ok(None);
        }
        self.get(id).await
    }

    async fn requeue_interrupted(&self) -> Result<u64> {
        let requeued = job::Entity::update_many()
            .col_expr(Column::Status, Expr::value(JobStatus::Queued.as_str()))
            .filter(Column::Status.eq(JobStatus::Running.as_str()))
            .exec(self.db.conn())
            .await
            .map_err(db_error)?;
        if requeued.rows_affected > 0 {
            self.queued.notify_one();
        }
        Ok(requeued.rows_affected)
    }

    async fn store_movies(
        &self,
        id: &str,
        movies: Vec<NewMovie>,
        editor_id: Option<i64>,
    ) -> Result<BatchOutcome> {
        let txn = self.db.write().await?;
        let job = self.locked(&txn, id).await?;
        let mut ids = Vec::with_capacity(movies.len());
        // (row number within the job, movie), still to store.
        let mut pending: Vec<(u64, &NewMovie, String)> = movies
            .iter()
            .enumerate()
            .map(|(i, m)| (job.done as u64 + i as u64, m, m.name.to_string()))
            .collect();
        for attempt in 1..=NAME_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            let rows = pending.iter().map(|(_, m, name)| movie_row(m, name.clone(), editor_id));
            let stored: Vec<(i64, String)> = match movie::Entity::insert_many(rows)
                .on_conflict(OnConflict::column(movie::Column::Name).do_nothing().to_owned())
                .exec_with_returning(&*txn)
                .await
            {
                Ok(models) => models.into_iter().map(|m| (m.id, m.name)).collect(),
                Err(DbErr::RecordNotInserted) => Vec::new(),
                Err(e) if is_foreign_key_violation(&e) => return Err(Reference::Editor.missing()),
                Err(e) => return Err(db_error(e)),
            };
            let taken: HashSet<&str> = stored.iter().map(|(_, n)| n.as_str()).collect();
            // A name stored once: any later row with the same name in this batch collided.
            let mut seen = HashSet::new();
            pending = pending
                .into_iter()
                .filter(|(_, _, name)| {
                    !(taken.contains(name.as_str()) && seen.insert(name.clone()))
                })
                .map(|(row, m, _)| (row, m, suffixed(m.name.as_str(), id, row, attempt)))
                .collect();
            ids.extend(stored.into_iter().map(|(id, _)| id));
        }
        if !pending.is_empty() {
            return Err(Error::internal(format!(
                "could not find free names for {} generated movies",
                pending.len()
            )));
        }
        ids.sort_unstable();
        let (outcome, progress) = self.progress(&txn, id, ids.len() as u64).await?;
        self.db.commit(txn, vec![NewEvent::movies_added(&ids), progress]).await?;
        Ok(outcome)
    }

    async fn store_characters(
        &self,
        id: &str,
        characters: Vec<CharacterRecord>,
        editor_id: Option<i64>,
    ) -> Result<BatchOutcome> {
        let txn = self.db.write().await?;
        self.locked(&txn, id).await?;
        let rows = characters.iter().map(|c| character::ActiveModel {
            id: NotSet,
            name: Set(c.name.clone()),
            movie_id: Set(c.movie_id),
            description: Set(c.description.clone()),
            editor_id: Set(editor_id),
        });
        let stored = match character::Entity::insert_many(rows).exec_with_returning(&*txn).await {
            Ok(stored) => stored,
            // A movie deleted since it was sampled (the runner samples again), or the owner.
            Err(e) if is_foreign_key_violation(&e) => {
                let movie_ids = characters.iter().map(|c| c.movie_id);
                return Err(missing_reference(&self.db, txn, e, movie_ids, editor_id).await);
            }
            Err(e) => return Err(db_error(e)),
        };
        let mut deltas = std::collections::BTreeMap::new();
        for c in &stored {
            *deltas.entry(c.movie_id).or_insert(0) += 1;
        }
        let counts = bump_counts(&txn, deltas.into_iter().collect()).await?;
        let mut ids: Vec<i64> = stored.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        let (outcome, progress) = self.progress(&txn, id, ids.len() as u64).await?;
        self.db.commit(txn, vec![NewEvent::characters_added(&ids, &counts), progress]).await?;
        Ok(outcome)
    }

    async fn random_movie_ids(&self, n: u64) -> Result<Vec<i64>> {
        let bounds: Option<(Option<i64>, Option<i64>)> = movie::Entity::find()
            .select_only()
            .expr(Func::min(Expr::col(movie::Column::Id)))
            .expr(Func::max(Expr::col(movie::Column::Id)))
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
                .column(movie::Column::Id)
                .filter(movie::Column::Id.is_in(candidates))
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
                .column(movie::Column::Id)
                .order_by_asc(Expr::cust("RANDOM()"))
                .limit(Ord::min(n, IN_CHUNK as u64))
                .into_tuple()
                .all(self.db.conn())
                .await
                .map_err(db_error)?;
        }
        Ok(found)
    }

    async fn finish(&self, id: &str, status: JobStatus, error: Option<String>) -> Result<Job> {
        let txn = self.db.write().await?;
        let row = self.locked(&txn, id).await?;
        let update = job::ActiveModel {
            id: Set(row.id.clone()),
            status: Set(status.as_str().to_owned()),
            finished_at_ms: Set(Some(now_ms())),
            error: Set(error),
            ..Default::default()
        };
        let updated = job::Entity::update(update).exec(&*txn).await.map_err(db_error)?;
        self.db.commit(txn, vec![done_event(id, status, row.done as u64)]).await?;
        to_domain(updated)
    }
}

fn done_event(id: &str, status: JobStatus, done: u64) -> NewEvent {
    NewEvent::other(
        EventEntity::Job,
        Operation::GenerateDone,
        json!({ "jobId": id, "status": status.as_str(), "done": done }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffixed_name_stays_within_bounds_and_differs_per_attempt() {
        let long = "x".repeat(200);
        let a = suffixed(&long, "0123456789", 7, 1);
        let b = suffixed(&long, "0123456789", 7, 2);
        assert_eq!(a.chars().count(), 200);
        assert!(a.ends_with(" (01234567-7)"));
        assert_ne!(a, b);
    }
}
