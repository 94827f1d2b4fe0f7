//! Opening the database (SQLite or PostgreSQL, chosen by the URL), running the migrations, and
//! the two helpers every repository shares: write transactions and error mapping.

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use movies_domain::events::NewEvent;
use movies_domain::{Entity, Error};
pub use sea_orm::DbErr;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, DatabaseConnection, DatabaseTransaction, DbBackend, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

/// How long a SQLite writer waits for another to finish before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Measured fastest for a file database on a 2-core machine (see docs/operations.md).
const SQLITE_POOL_SIZE: u32 = 8;
const POSTGRES_POOL_SIZE: u32 = 16;

/// A shared handle on the database: a connection pool, cheap to clone.
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
    /// SQLite only: one writer at a time, first come first served, so that a long series of
    /// write transactions (a generation job) lets a waiting single write in between its batches
    /// instead of winning SQLite's busy-wait race every time.
    write_gate: Option<Arc<Mutex<()>>>,
    /// Woken after every commit that wrote events, for the event dispatcher.
    committed: Arc<Notify>,
}

/// Opens the database named by `url` and brings its schema up to date.
///
/// `sqlite://FILE` creates the file if missing and uses WAL, foreign keys, a busy timeout and a
/// pool of [`SQLITE_POOL_SIZE`]; `sqlite::memory:` gets a single connection (each connection
/// would otherwise see its own empty database); `postgres://...` a pool of [`POSTGRES_POOL_SIZE`].
pub async fn connect(url: &str) -> Result<Database, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        options.max_connections(if in_memory { 1 } else { SQLITE_POOL_SIZE });
        options.map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    } else {
        options.max_connections(POSTGRES_POOL_SIZE);
    }
    let sqlite = url.starts_with("sqlite:");
    let conn = sea_orm::Database::connect(options).await?;
    Migrator::up(&conn, None).await?;
    let write_gate = sqlite.then(|| Arc::new(Mutex::new(())));
    Ok(Database { conn, write_gate, committed: Arc::new(Notify::new()) })
}

impl Database {
    /// The pool, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Starts a transaction that will write. On SQLite it first waits its turn at this process's
    /// write gate (first come, first served), then takes the write lock at `BEGIN`
    /// (`BEGIN IMMEDIATE`), so a transaction that reads before it writes waits for other writers
    /// (another process's too) instead of failing with "database is locked" when it upgrades.
    pub async fn write(&self) -> Result<WriteTxn, Error> {
        let turn = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = self.conn.begin_with_options(options).await.map_err(unavailable)?;
        Ok(WriteTxn { txn, _turn: turn })
    }

    /// Writes `events` into `txn`, commits, and wakes the event dispatcher: the one way every
    /// repository ends a write.
    pub(crate) async fn commit(&self, txn: WriteTxn, events: Vec<NewEvent>) -> Result<(), Error> {
        let wrote_events = !events.is_empty();
        crate::events::outbox::record(&txn, events).await?;
        txn.txn.commit().await.map_err(unavailable)?;
        if wrote_events {
            self.committed.notify_one();
        }
        Ok(())
    }

    /// What the event dispatcher waits on.
    pub fn committed_signal(&self) -> Arc<Notify> {
        self.committed.clone()
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

/// A write transaction, holding this process's SQLite write turn until it ends.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// Any store failure a client cannot act on.
pub(crate) fn unavailable(e: DbErr) -> Error {
    Error::unavailable(e)
}

/// Maps a failed write of `entity` named `name`: a unique violation is a duplicate name, a
/// foreign-key violation a missing movie, anything else the store's failure.
pub(crate) fn write_error(entity: Entity, name: &str) -> impl FnOnce(DbErr) -> Error + '_ {
    move |e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            Error::DuplicateName { entity, name: name.to_owned() }
        }
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => Error::NotFound(Entity::Movie),
        _ => unavailable(e),
    }
}
