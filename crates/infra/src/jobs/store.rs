//! `JobStore` over SeaORM: the `jobs` table. The rows a job makes are stored by the repositories,
//! which call [`record_progress`] in their own transaction to credit the job.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat};
use movies_domain::clock::now_ms;
use movies_domain::events::NewEvent;
use movies_domain::jobs::{Job, JobCredit, JobKind, JobStatus, JobStore};
use movies_domain::{Error, RecordKind, Result};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tokio::sync::Notify;

use crate::db::{Database, db_error};
use crate::entities::job::{self, Column};

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
    pub(crate) fn queued_signal(&self) -> Arc<Notify> {
        self.queued.clone()
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
        let mut update = job::ActiveModel { id: Set(row.id.clone()), ..Default::default() };
        let status = to_domain(row)?.status;
        match status {
            JobStatus::Queued => {
                update.status = Set(JobStatus::Cancelled.as_str().to_owned());
                update.cancel_requested = Set(true);
                update.finished_at_ms = Set(Some(now_ms()));
            }
            JobStatus::Running => update.cancel_requested = Set(true),
            _ => {}
        }
        let updated = to_domain(job::Entity::update(update).exec(&*txn).await.map_err(db_error)?)?;
        // A queued job ends here; a running one when its runner sees the flag.
        let events = match status {
            JobStatus::Queued => vec![NewEvent::job_done(&updated)],
            _ => Vec::new(),
        };
        self.db.commit(txn, events).await?;
        Ok(Some(updated))
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

    async fn finish(&self, id: &str, status: JobStatus, error: Option<String>) -> Result<Job> {
        let txn = self.db.write().await?;
        let update = job::ActiveModel {
            id: Set(id.to_owned()),
            status: Set(status.as_str().to_owned()),
            finished_at_ms: Set(Some(now_ms())),
            error: Set(error),
            ..Default::default()
        };
        let ended = match job::Entity::update(update).exec(&*txn).await {
            Ok(row) => to_domain(row)?,
            Err(DbErr::RecordNotUpdated) => return Err(Error::NotFound(RecordKind::Job)),
            Err(e) => return Err(db_error(e)),
        };
        self.db.commit(txn, vec![NewEvent::job_done(&ended)]).await?;
        Ok(ended)
    }
}

/// Credits the job `credit` with `n` rows stored in `txn` (the batch's own transaction, so both
/// commit or neither does), and returns its progress event, for the caller to record with the
/// batch's events.
///
/// # Errors
/// `NotFound(Job)` when there is no such job; as [`db_error`] otherwise.
pub(crate) async fn record_progress(
    txn: &DatabaseTransaction,
    credit: &JobCredit,
    n: u64,
) -> Result<NewEvent> {
    let id = credit.job_id.as_str();
    job::Entity::update_many()
        .col_expr(Column::Done, Expr::col(Column::Done).add(n as i64))
        .filter(Column::Id.eq(id))
        .exec(txn)
        .await
        .map_err(db_error)?;
    let row = job::Entity::find_by_id(id)
        .one(txn)
        .await
        .map_err(db_error)?
        .ok_or(Error::NotFound(RecordKind::Job))?;
    Ok(NewEvent::job_progress(&to_domain(row)?))
}
