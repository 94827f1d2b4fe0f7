//! The dispatcher: after each commit that wrote events, reads the new rows from the log and
//! publishes them in `seq` order. Reading back from the table (rather than publishing from the
//! writer) keeps the order true when two writers finish at once, never publishes an event whose
//! transaction rolled back, and serves events written by other instances just the same.
//!
//! What wakes it: this process's own commits, on PostgreSQL a `NOTIFY` from any instance's
//! commit (`db/outbox.rs`) heard on a `LISTEN` connection, and on both a catch-up read every
//! [`CATCH_UP`]. A notification lost with its connection only delays delivery until the next
//! wake: what is read is always everything after the last `seq` delivered. On SQLite the
//! catch-up read is how events written by another process on the same file (`movies-api
//! generate` beside a running server) reach this one's listeners and its read cache.

use std::sync::Arc;
use std::time::Duration;

use movies_domain::Result;
use movies_domain::events::{Event, EventLog, EventPublisher};
use sea_orm::DbBackend;
use sea_orm::sqlx::postgres::{PgListener, PgPool};
use sea_orm::sqlx::{self};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::SeaEventLog;
use crate::db::{Database, EVENTS_CHANNEL, changes_access};

const BATCH: u64 = 1000;
/// How often the dispatcher reads the log whether told of a commit or not.
const CATCH_UP: Duration = Duration::from_secs(1);
/// The first and the longest wait before connecting the `LISTEN` connection again.
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// Told each event the dispatcher delivers, before any listener hears of it: how a cache in
/// memory forgets what another instance changed before this instance's listeners learn of it.
pub type Invalidation = Arc<dyn Fn(&Event) + Send + Sync>;

/// Starts publishing every event committed after this call returns, each after telling
/// `invalidations`. The log's current end is read before returning, so no event committed
/// afterwards can be taken for an old one.
///
/// # Errors
/// As [`movies_domain::events::EventLog`]: `Unavailable` when the log cannot be read for now,
/// `Internal` when a row cannot be read at all.
pub async fn spawn_dispatcher(
    db: Database,
    publisher: Arc<dyn EventPublisher>,
    invalidations: Vec<Invalidation>,
) -> Result<JoinHandle<()>> {
    let log = SeaEventLog::new(db.clone());
    let wake = db.committed_signal();
    let mut last = log.bounds().await?.map(|(_, max)| max).unwrap_or(0);
    let pool = match db.backend() {
        DbBackend::Postgres => Some(db.conn().get_postgres_connection_pool().clone()),
        _ => None,
    };
    let shared = pool.is_some();
    if shared {
        db.announce(last).await?;
    }
    let mut catch_up = tokio::time::interval(CATCH_UP);
    let dispatch = {
        let wake = wake.clone();
        async move {
            loop {
                // Whether to tell the other instances how far this one has got: at every
                // catch-up tick (a heartbeat), and at once after a change of access, for
                // which its writer waits (`Database::await_delivery`).
                let mut announce = false;
                tokio::select! {
                    () = wake.notified() => {}
                    _ = catch_up.tick() => announce = shared,
                }
                loop {
                    let batch = match log.since(last, BATCH).await {
                        Ok(batch) => batch,
                        Err(e) => {
                            // The next wake tries again; nothing is lost, the rows stay.
                            tracing::warn!(error = %e, "event dispatcher could not read the log");
                            break;
                        }
                    };
                    let full = batch.len() as u64 == BATCH;
                    for event in batch {
                        last = event.seq;
                        announce |= shared && changes_access(event.entity);
                        for invalidate in &invalidations {
                            invalidate(&event);
                        }
                        publisher.publish(event);
                    }
                    if !full {
                        break;
                    }
                }
                if announce && let Err(e) = db.announce(last).await {
                    tracing::warn!(error = %e, "could not tell other instances how far this one got");
                }
            }
        }
    };
    // One task, so that aborting the dispatcher stops its listener too.
    Ok(tokio::spawn(async move {
        match pool {
            Some(pool) => tokio::join!(dispatch, listen(pool, wake)).0,
            None => dispatch.await,
        }
    }))
}

/// Wakes the dispatcher at every notification on [`EVENTS_CHANNEL`], and once more after each
/// (re)connection to read what was committed while it was not listening. Ends when the pool
/// closes.
async fn listen(pool: PgPool, wake: Arc<Notify>) {
    let mut pause = RECONNECT_FIRST;
    loop {
        match connect(&pool).await {
            Ok(mut listener) => {
                pause = RECONNECT_FIRST;
                wake.notify_one();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => wake.notify_one(),
                        // Lost, and already connected again: read what may have been missed.
                        Ok(None) => {
                            tracing::warn!("the event LISTEN connection was lost; reconnected");
                            wake.notify_one();
                        }
                        Err(sqlx::Error::PoolClosed) => return,
                        Err(e) => {
                            tracing::warn!(error = %e, "the event LISTEN connection failed");
                            break;
                        }
                    }
                }
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => tracing::warn!(error = %e, retry_in = ?pause, "cannot LISTEN for events"),
        }
        // Meanwhile the catch-up reads go on: events are late, never lost.
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RECONNECT_MAX);
    }
}

async fn connect(pool: &PgPool) -> std::result::Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(EVENTS_CHANNEL).await?;
    Ok(listener)
}
