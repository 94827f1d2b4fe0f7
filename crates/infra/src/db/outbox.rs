//! The outbox: writing events inside the transaction of the change they describe, for the
//! dispatcher (`events/dispatcher.rs`) to publish after the commit.

use movies_domain::Result;
use movies_domain::clock::now_ms;
use movies_domain::events::NewEvent;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, Statement,
};

use super::db_error;
use crate::entities::event;

/// Any fixed number: the PostgreSQL advisory lock that orders event writers.
const EVENTS_LOCK: i64 = 0x6d6f76696573;
/// The PostgreSQL channel told of every commit that wrote events (its payload: the last `seq`
/// written), on which every instance's dispatcher listens.
pub(crate) const EVENTS_CHANNEL: &str = "movies_events";

/// Appends `events` to the log inside `txn`. Call it last, just before commit.
///
/// On PostgreSQL it first takes a transaction-scoped advisory lock, so that transactions writing
/// events commit in the order of their `seq`: a reader that has seen `seq` n can never later
/// find a smaller one committed. (SQLite writers are serialised by `BEGIN IMMEDIATE` already.)
/// Taken last, after every row lock, the lock cannot deadlock with them. It then queues a
/// `NOTIFY` on [`EVENTS_CHANNEL`], which PostgreSQL sends to every listening instance when (and
/// only if) the transaction commits.
///
/// Returns, on PostgreSQL, the `seq` of the last event written.
pub(crate) async fn record(
    txn: &DatabaseTransaction,
    events: Vec<NewEvent>,
) -> Result<Option<i64>> {
    if events.is_empty() {
        return Ok(None);
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({EVENTS_LOCK})"))
            .await
            .map_err(db_error)?;
    }
    let at_ms = now_ms();
    let rows = events.into_iter().map(|e| event::ActiveModel {
        seq: NotSet,
        entity: Set(e.entity.as_str().to_owned()),
        operation: Set(e.operation.as_str().to_owned()),
        data: Set(e.data.to_string()),
        at_ms: Set(at_ms),
    });
    event::Entity::insert_many(rows).exec_without_returning(txn).await.map_err(db_error)?;
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    // Under the lock, the largest `seq` is this transaction's last.
    let notify = format!(
        "SELECT last, pg_notify('{EVENTS_CHANNEL}', last::text) \
         FROM (SELECT MAX(seq) AS last FROM events) written"
    );
    let row = txn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, notify))
        .await
        .map_err(db_error)?;
    Ok(row.and_then(|row| row.try_get::<i64>("", "last").ok()))
}
