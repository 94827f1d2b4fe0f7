//! The servers sharing a PostgreSQL database (the `instances` table): each heartbeats and
//! records the last event `seq` it has taken in (its dispatcher calls [`Database::announce`]),
//! so that a write changing who may do what can wait until every live server has taken it in
//! ([`Database::await_delivery`]) before it answers: a token revoked through one instance is
//! then refused by all from the moment the logout answered.

use std::time::Duration;

use movies_domain::clock::now_ms;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{Database, db_error};

/// An instance not seen for this long is taken for dead, and no longer waited for.
pub const STALE: Duration = Duration::from_secs(3);
/// How often a waiting write looks at the table again.
const POLL: Duration = Duration::from_millis(2);

impl Database {
    /// Records that this instance is alive and has taken in every event up to `delivered`.
    ///
    /// # Errors
    /// As [`db_error`].
    pub(crate) async fn announce(&self, delivered: i64) -> movies_domain::Result<()> {
        let sql = "INSERT INTO instances (id, seen_ms, delivered_seq) VALUES ($1, $2, $3) \
                   ON CONFLICT (id) DO UPDATE \
                   SET seen_ms = EXCLUDED.seen_ms, delivered_seq = EXCLUDED.delivered_seq";
        let values = [self.instance().into(), now_ms().into(), delivered.into()];
        let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
        self.conn().execute_raw(statement).await.map_err(db_error)?;
        Ok(())
    }

    /// Removes this instance from the table, when it stops; and instances long dead.
    pub(crate) async fn retire(&self) {
        let sql = "DELETE FROM instances WHERE id = $1 OR seen_ms < $2";
        let long_ago = now_ms() - 100 * STALE.as_millis() as i64;
        let values = [self.instance().into(), long_ago.into()];
        let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
        if let Err(e) = self.conn().execute_raw(statement).await {
            tracing::warn!(error = %e, "could not remove this instance from the instances table");
        }
    }

    /// Waits until every other live instance has taken in the event `seq`, or for at most
    /// [`STALE`] (an instance that died meanwhile stops being waited for by then).
    pub(crate) async fn await_delivery(&self, seq: i64) {
        let sql = "SELECT COUNT(*) AS behind FROM instances \
                   WHERE id <> $1 AND seen_ms > $2 AND delivered_seq < $3";
        let deadline = tokio::time::Instant::now() + STALE;
        loop {
            let alive_since = now_ms() - STALE.as_millis() as i64;
            let values = [self.instance().into(), alive_since.into(), seq.into()];
            let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
            let behind = match self.conn().query_one_raw(statement).await {
                Ok(row) => row.and_then(|r| r.try_get::<i64>("", "behind").ok()).unwrap_or(0),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot tell whether other instances took in a write");
                    return;
                }
            };
            if behind == 0 {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    seq,
                    instances = behind,
                    "other instances have not taken in a write"
                );
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
