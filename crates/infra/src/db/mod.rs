//! Opening the database (SQLite or PostgreSQL, chosen by the URL), running the migrations, and
//! the two helpers every repository shares: write transactions, which end by writing their
//! events to the outbox (`outbox.rs`), and error mapping (an outage is `Unavailable`, a bug
//! `Internal`, a broken constraint what it means for the row written).
//!
//! `events/` (the log, dispatcher and pruner) depends on this module, never the reverse.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use movies_domain::auth::USER_GONE;
use movies_domain::events::{EventSubject, NewEvent};
use movies_domain::{Error, RecordKind};
pub use sea_orm::DbErr;
use sea_orm::sqlx;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    RuntimeErr, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

mod bulk;
mod combine;
mod instances;
mod outbox;
mod priority;

pub(crate) use bulk::BulkInsert;
pub(crate) use combine::{Combined, Combiner};
pub(crate) use outbox::EVENTS_CHANNEL;
use priority::WriterPriority;

/// How long a SQLite writer waits for another to finish before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a query waits for a pooled connection before failing (a 503), unless told
/// otherwise: with the database unreachable, what a request waits before it is answered. On
/// PostgreSQL a pooled connection is pinged before it is handed out, within this time too, so a
/// connection the network silently dropped fails here rather than hanging the query.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Measured fastest for a file database on a 2-core machine (see docs/operations.md).
const SQLITE_POOL_SIZE: u32 = 8;
const POSTGRES_POOL_SIZE: u32 = 16;
/// The SQLite write connection's page cache, in KiB. 64 MiB held up to 60 MB more RSS once a
/// few hundred thousand movies were written, and generated 1,000,000 movies no faster than 16
/// or 4 MiB (49.9-52.4 s against 52.9-53.2 s and 53.0 s, docs/operations.md).
const SQLITE_WRITER_CACHE_KIB: u32 = 16 * 1024;
/// After how many pages in the write-ahead log the writer copies them into the database file
/// (SQLite's `wal_autocheckpoint`, 1,000 by default: about 4 MB). A batch of 10,000 generated
/// movies writes about 25 MB of log, so by default every commit ended in a checkpoint, and
/// its `fsync`s were 23.6 s of the 82.6 s that 1,000,000 movies took. With 20,000 (about
/// 80 MB), alternating quick runs of `cargo xtask bench`: `bulk` 53,189 and 48,711 rows/s
/// against 42,273 and 43,430, `create_movie` 6,161 and 5,470 req/s against 5,292 and 4,805,
/// reads unchanged; `movies-api generate --movies 1000000` 72.0 s against 82.9. The log file
/// keeps the size it grew to, up to about 80 MB and one commit.
const SQLITE_WRITER_AUTOCHECKPOINT_PAGES: u32 = 20_000;
/// How many rows a SQLite connection's worker thread may hand over before the task reading them
/// has taken any: sqlx's default, 50, is one short of a default page and its statement's end, so
/// the worker stopped and was woken again once per page, and a page of 1,000 or a batch's
/// returned ids did so every 50 rows. The rows are held only until the task reads them.
const SQLITE_ROW_BUFFER: usize = 1024;
/// How long a pooled SQLite connection of a file database may sit unused before it is closed,
/// and its page cache (2 MiB a reader, [`SQLITE_WRITER_CACHE_KIB`] the writer) freed with it:
/// the memory a burst of traffic filled goes back once the traffic is over (or down to fewer
/// statements than one per connection every 10 s: the pool hands its connections out in
/// turn). sqlx's reaper looks this often, so an unused connection goes 10 to 20 s after its
/// last statement, and the reader pool then opens a fresh one, so that one is always open;
/// opening one takes about a millisecond.
const SQLITE_IDLE_CLOSE: Duration = Duration::from_secs(10);

/// A shared handle on the database: a connection pool, cheap to clone.
#[derive(Clone)]
pub struct Database {
    conn: DatabaseConnection,
    /// A SQLite file's write connection (write transactions run on `conn` otherwise).
    writer: Option<Writer>,
    /// SQLite only: one writer at a time, first come first served, so that a long series of
    /// write transactions (a generation job) lets a waiting single write in between its batches
    /// instead of winning SQLite's busy-wait race every time.
    write_gate: Option<Arc<Mutex<()>>>,
    /// Woken after every commit that wrote events, for the event dispatcher.
    committed: Arc<Notify>,
    /// Told each commit's events before the write returns (in-process caches).
    hooks: Arc<RwLock<Vec<CommitHook>>>,
    /// This process's name among the instances sharing the database: who holds a job's lease.
    instance: Arc<str>,
    /// How long a query waits for a pooled connection.
    acquire_timeout: Duration,
}

/// A SQLite file's write connection, and the priority of its threads (`priority.rs`).
#[derive(Clone)]
struct Writer {
    conn: DatabaseConnection,
    priority: Arc<WriterPriority>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("conn", &self.conn).finish_non_exhaustive()
    }
}

/// Called with a committed write's events before the write returns: how an in-process cache
/// forgets what a write changed before that write's response is sent.
pub type CommitHook = Arc<dyn Fn(&[NewEvent]) + Send + Sync>;

/// Opens the database named by `url` and brings its schema up to date.
///
/// `sqlite://FILE` creates the file if missing and uses WAL, foreign keys, a busy timeout and a
/// pool of [`SQLITE_POOL_SIZE`]; `sqlite::memory:` gets a single connection, never closed (the
/// database lives as long as a connection to it, and its writes and reads take turns on it);
/// `postgres://...` a pool of [`POSTGRES_POOL_SIZE`].
/// A query waits [`DEFAULT_ACQUIRE_TIMEOUT`] at most for a connection.
pub async fn connect(url: &str) -> Result<Database, DbErr> {
    connect_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
}

/// As [`connect`], with queries waiting `acquire_timeout` at most for a pooled connection.
pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<Database, DbErr> {
    let sqlite = url.starts_with("sqlite:");
    let in_memory = sqlite && (url.contains(":memory:") || url.contains("mode=memory"));
    let pool_size = match (sqlite, in_memory) {
        (false, _) => POSTGRES_POOL_SIZE,
        (true, true) => 1,
        (true, false) => SQLITE_POOL_SIZE,
    };
    let pool = options(url, pool_size, Role::Pool { in_memory }, acquire_timeout);
    let conn = sea_orm::Database::connect(pool).await?;
    migrate(&conn).await?;
    // A file database gets a connection of its own for writes, whose page cache stays warm
    // while writes come less than [`SQLITE_IDLE_CLOSE`] apart: SQLite drops a connection's
    // cache whenever another connection has written, so writes taking turns over the pool
    // read the pages they change from the file again each time.
    let writer = match sqlite && !in_memory {
        true => {
            let priority = Arc::new(WriterPriority::default());
            let role = Role::Writer(priority.clone());
            let conn = sea_orm::Database::connect(options(url, 1, role, acquire_timeout)).await?;
            Some(Writer { conn, priority })
        }
        false => None,
    };
    let write_gate = sqlite.then(|| Arc::new(Mutex::new(())));
    let hooks = Arc::new(RwLock::new(Vec::new()));
    let instance = uuid::Uuid::new_v4().to_string().into();
    let committed = Arc::new(Notify::new());
    Ok(Database { conn, writer, write_gate, committed, hooks, instance, acquire_timeout })
}

/// Any fixed number: the PostgreSQL advisory lock held while the schema is brought up to date.
const MIGRATIONS_LOCK: i64 = 0x6d6967726174;

/// Brings the schema up to date. On PostgreSQL, under an advisory lock held by a transaction of
/// its own: instances starting together against an empty database would otherwise all create
/// the same tables at once, and all but one fail. The others wait, then find nothing to do.
/// (SQLite has one server per file; its migrations run in transactions of their own.)
async fn migrate(conn: &DatabaseConnection) -> Result<(), DbErr> {
    let lock = match conn.get_database_backend() {
        DbBackend::Postgres => {
            let lock = conn.begin().await?;
            lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATIONS_LOCK})"))
                .await?;
            Some(lock)
        }
        _ => None,
    };
    let pending = Migrator::get_pending_migrations(conn).await?.len();
    Migrator::up(conn, None).await?;
    match pending {
        0 => tracing::info!("database schema is up to date"),
        n => tracing::info!(applied = n, "applied {n} database migrations"),
    }
    if let Some(lock) = lock {
        lock.commit().await?;
    }
    Ok(())
}

/// What a pool of [`options`] is for.
#[derive(Clone, Debug)]
enum Role {
    /// The pool every read (and on PostgreSQL every write) goes through.
    Pool { in_memory: bool },
    /// A SQLite file's write connection, whose threads are named and lowered by this.
    Writer(Arc<WriterPriority>),
}

/// The options of a pool of `size` connections to `url`, for `role`.
/// On PostgreSQL SeaORM's default `test_before_acquire` stays on: the ping it makes is what turns
/// a connection the network silently dropped into a failure within `acquire_timeout`.
fn options(url: &str, size: u32, role: Role, acquire_timeout: Duration) -> ConnectOptions {
    let writer = match &role {
        Role::Writer(priority) => Some(priority.clone()),
        Role::Pool { .. } => None,
    };
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).acquire_timeout(acquire_timeout).max_connections(size);
    if url.starts_with("sqlite:") {
        match role {
            // The database lives only as long as a connection to it: sqlx's default closes an
            // unused connection after 10 minutes and any after 30, which would empty it.
            Role::Pool { in_memory: true } => {
                options
                    .min_connections(1)
                    .idle_timeout(None::<Duration>)
                    .max_lifetime(None::<Duration>);
            }
            _ => {
                options
                    .idle_timeout(SQLITE_IDLE_CLOSE)
                    .min_connections(u32::from(writer.is_none()));
            }
        }
        // A file on this machine: nothing to find dropped, and the ping is a round trip to the
        // connection's worker thread before every statement.
        options.test_before_acquire(false);
        options.map_sqlx_sqlite_opts(move |o| {
            let o = o
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .row_buffer_size(SQLITE_ROW_BUFFER);
            match &writer {
                // A multi-row INSERT keeps a statement journal, in a temporary file unless told
                // otherwise; and a batch of 10,000 movies dirties thousands of pages of the name
                // index, which the default 2 MiB cache cannot hold (1,000,000 movies generated:
                // 28.5 s without the first, 21.9 s with both).
                Some(priority) => {
                    let priority = priority.clone();
                    o.pragma("temp_store", "memory")
                        .pragma("cache_size", format!("-{SQLITE_WRITER_CACHE_KIB}"))
                        .pragma(
                            "wal_autocheckpoint",
                            SQLITE_WRITER_AUTOCHECKPOINT_PAGES.to_string(),
                        )
                        .thread_name(move |id| priority.name_thread(id))
                }
                None => o,
            }
        });
    }
    options
}

/// Connections of a database's pools: see [`Database::pool_usage`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    pub open: u64,
    pub in_use: u64,
}

impl Database {
    /// The pool, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// How long a query waits for a pooled connection.
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    /// This process's name among the instances sharing the database, new at every start.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The same pool under a new instance name, as another server would be: for tests of what
    /// instances sharing a database do.
    #[must_use]
    pub fn another_instance(&self) -> Self {
        Self { instance: uuid::Uuid::new_v4().to_string().into(), ..self.clone() }
    }

    /// Whether other instances may write to this database: PostgreSQL, where several servers
    /// share one database; a SQLite file has one server.
    pub fn is_shared(&self) -> bool {
        self.backend() == DbBackend::Postgres
    }

    /// Starts a transaction that will write. On SQLite it first waits its turn at this process's
    /// write gate (first come, first served), then takes the write lock at `BEGIN`
    /// (`BEGIN IMMEDIATE`), so a transaction that reads before it writes waits for other writers
    /// (another process's too) instead of failing with "database is locked" when it upgrades.
    pub(crate) async fn write(&self) -> Result<WriteTxn, Error> {
        let turn = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let conn = self.writer.as_ref().map_or(&self.conn, |writer| &writer.conn);
        let txn = conn.begin_with_options(options).await.map_err(db_error)?;
        if let Some(writer) = &self.writer {
            writer.priority.lower_new_threads();
        }
        Ok(WriteTxn { txn, _turn: turn })
    }

    /// Writes `events` into `txn`, commits, and wakes the event dispatcher: the one way every
    /// repository ends a write.
    pub(crate) async fn commit(&self, txn: WriteTxn, events: Vec<NewEvent>) -> Result<(), Error> {
        if events.is_empty() {
            return txn.txn.commit().await.map_err(db_error);
        }
        let hooks: Vec<CommitHook> =
            self.hooks.read().unwrap_or_else(PoisonError::into_inner).clone();
        let told = if hooks.is_empty() { Vec::new() } else { events.clone() };
        let changes_access = events.iter().any(|e| changes_access(e.entity));
        let last = outbox::record(&txn, events).await?;
        txn.txn.commit().await.map_err(db_error)?;
        for hook in &hooks {
            hook(&told);
        }
        self.committed.notify_one();
        // A logout, a role change or a user's deletion answers once every other instance has
        // taken it in: from then on they all refuse what it refuses.
        if let (Some(last), true) = (last, changes_access) {
            self.await_delivery(last).await;
        }
        Ok(())
    }

    /// How many connections the pools (the reads' and, on SQLite, the writer's) hold open now,
    /// and how many of those are in use: for `/metrics`.
    pub fn pool_usage(&self) -> PoolUsage {
        let mut usage = PoolUsage::default();
        for conn in std::iter::once(&self.conn).chain(self.writer.as_ref().map(|w| &w.conn)) {
            let (size, idle) = match self.backend() {
                DbBackend::Sqlite => {
                    let pool = conn.get_sqlite_connection_pool();
                    (pool.size(), pool.num_idle())
                }
                DbBackend::Postgres => {
                    let pool = conn.get_postgres_connection_pool();
                    (pool.size(), pool.num_idle())
                }
                _ => (0, 0),
            };
            usage.open += u64::from(size);
            usage.in_use += u64::from(size).saturating_sub(idle as u64);
        }
        usage
    }

    /// Adds `hook`, told every later commit's events.
    pub fn on_commit(&self, hook: CommitHook) {
        self.hooks.write().unwrap_or_else(PoisonError::into_inner).push(hook);
    }

    /// What the event dispatcher waits on.
    pub(crate) fn committed_signal(&self) -> Arc<Notify> {
        self.committed.clone()
    }

    /// Closes the pool, waiting for connections in use to come back; on PostgreSQL, first
    /// leaves the `instances` table, so that no write waits for this instance any more.
    pub async fn close(self) -> Result<(), DbErr> {
        if self.is_shared() {
            self.retire().await;
        }
        if let Some(writer) = self.writer {
            writer.conn.close().await?;
        }
        self.conn.close().await
    }
}

/// Whether events about `subject` change who may do what: revocations and role changes (the
/// internal `auth` events) and users' deletions.
pub(crate) fn changes_access(subject: EventSubject) -> bool {
    matches!(subject, EventSubject::Auth | EventSubject::User)
}

/// A write transaction, holding this process's SQLite write turn until it ends.
pub(crate) struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

/// Any fixed number: the PostgreSQL advisory lock that batch inserts take in turn.
const BATCHES_LOCK: i64 = 0x6261746368;

impl WriteTxn {
    /// Makes this transaction the only batch insert under way (PostgreSQL; SQLite has one
    /// writer anyway) until it ends. Two batches at once (two generation jobs) took their rows'
    /// locks in different orders, the unique name index's and the counted movies', and
    /// PostgreSQL broke the deadlock by failing one of them. Call it first: the events lock,
    /// which every writer takes last, then always comes after it.
    pub(crate) async fn one_batch_at_a_time(&self) -> Result<(), Error> {
        if self.get_database_backend() == DbBackend::Postgres {
            let lock = format!("SELECT pg_advisory_xact_lock({BATCHES_LOCK})");
            self.execute_unprepared(&lock).await.map_err(db_error)?;
        }
        Ok(())
    }

    /// Ends the transaction without writing. After a failed statement, before reading on the
    /// pool: PostgreSQL refuses any further statement in the failed transaction, and an
    /// in-memory SQLite database has one connection, which the transaction holds.
    pub(crate) async fn rollback(self) -> Result<(), Error> {
        self.txn.rollback().await.map_err(db_error)
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// Maps a failed statement that has no meaning for the row it touched: `Unavailable` when the
/// database is down, unreachable, busy (SQLite's "database is locked" included) or too slow, so
/// that the client may retry; `Internal` when it refused the statement for a reason the code did
/// not expect (a syntax error, a missing table, an unexpected constraint, a value it cannot
/// decode), which a retry will not cure.
pub(crate) fn db_error(e: DbErr) -> Error {
    if is_transient(&e) { Error::unavailable(e) } else { Error::internal(e) }
}

/// Whether `e` may go away by itself. Conservative: what this code cannot place stays
/// `Unavailable`, as every failure was before `Internal` existed, since calling an outage a bug
/// would tell clients not to retry a request that would succeed.
fn is_transient(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_transient(e)
        }
        // SeaORM's own errors: the code and the data disagree (a column it cannot read, a
        // conversion that fails, a row an update did not find where the code was sure of it).
        DbErr::Exec(RuntimeErr::Internal(_))
        | DbErr::Query(RuntimeErr::Internal(_))
        | DbErr::TryIntoErr { .. }
        | DbErr::ConvertFromU64(_)
        | DbErr::UnpackInsertId
        | DbErr::UpdateGetPrimaryKey
        | DbErr::RecordNotFound(_)
        | DbErr::AttrNotSet(_)
        | DbErr::Type(_)
        | DbErr::Json(_)
        | DbErr::RecordNotInserted
        | DbErr::RecordNotUpdated
        | DbErr::BackendNotSupported { .. }
        | DbErr::KeyArityMismatch { .. }
        | DbErr::PrimaryKeyNotSet { .. } => false,
        _ => true,
    }
}

fn sqlx_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(e) => database_transient(e.as_ref()),
        // The statement, a value or a column does not fit: the code is wrong, not the network.
        sqlx::Error::Configuration(_)
        | sqlx::Error::InvalidArgument(_)
        | sqlx::Error::RowNotFound
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Encode(_)
        | sqlx::Error::Decode(_)
        | sqlx::Error::AnyDriverError(_)
        | sqlx::Error::InvalidSavePointStatement => false,
        // I/O, TLS, protocol, pool timed out or closed, a crashed worker, and what sqlx adds.
        _ => true,
    }
}

/// An error the database itself reported: transient when it is about the server's state, not
/// about the statement.
fn database_transient(e: &dyn sqlx::error::DatabaseError) -> bool {
    let code = e.code().unwrap_or_default();
    if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // The primary result code is the low byte of the extended one (SQLITE_BUSY_SNAPSHOT is
        // 517, SQLITE_BUSY 5).
        let primary = code.parse::<i32>().ok().map(|c| c & 0xff);
        // BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, FULL, CANTOPEN, PROTOCOL.
        return matches!(primary, Some(5..=10 | 13..=15));
    }
    if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
        // Classes 08 connection, 40 serialization failure or deadlock, 53 insufficient
        // resources, 57 operator intervention (shutdown, statement timeout), 58 system error;
        // 55P03 a lock not available, 25006 a standby that refuses writes after a failover.
        return ["08", "40", "53", "57", "58"].iter().any(|class| code.starts_with(class))
            || matches!(&*code, "55P03" | "25006");
    }
    true
}

/// What a written row's foreign key points at: which failure a foreign-key violation means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reference {
    /// A character's `movie_id`: the movie was deleted meanwhile.
    Movie,
    /// A row's `editor_id`: the user behind the token was deleted since the token was checked.
    /// `Unauthorized` rather than `NotFound(User)`: the request named no user, and what the
    /// client can do is what its next request would tell it anyway, log in again.
    Editor,
}

impl Reference {
    /// The error for a write whose referenced row is missing.
    pub(crate) fn missing(self) -> Error {
        match self {
            Reference::Movie => Error::NotFound(RecordKind::Movie),
            Reference::Editor => Error::Unauthorized(USER_GONE),
        }
    }
}

/// Whether the write broke a foreign key.
pub(crate) fn is_foreign_key_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_)))
}

/// Maps a failed write of `entity` named `name`: a unique violation is a duplicate name; a
/// foreign-key violation means `references` is missing (the one foreign key the write sets;
/// `None` when it sets none, so that such a violation is a bug); anything else as
/// [`db_error`]. A write that sets two foreign keys finds out which row is missing first.
pub(crate) fn write_error(
    entity: RecordKind,
    name: &str,
    references: Option<Reference>,
) -> impl FnOnce(DbErr) -> Error + '_ {
    move |e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            Error::DuplicateName { entity, name: name.to_owned() }
        }
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => match references {
            Some(reference) => reference.missing(),
            None => Error::internal(e),
        },
        _ => db_error(e),
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnAcquireErr, ConnectionTrait, Statement};

    use super::*;

    /// A SQLite file database whose writers give up at once when another holds the lock.
    async fn impatient(path: &std::path::Path) -> DatabaseConnection {
        let mut options = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
        options.sqlx_logging(false).max_connections(1);
        options.map_sqlx_sqlite_opts(|o| o.busy_timeout(Duration::ZERO));
        sea_orm::Database::connect(options).await.unwrap()
    }

    /// `.cargo/config.toml` tells libsqlite3-sys how to compile SQLite; a build that missed it
    /// would still work, only slower, so this says so.
    #[tokio::test]
    async fn sqlite_is_compiled_as_the_cargo_config_says() {
        let db = connect("sqlite::memory:").await.unwrap();
        let rows = db
            .conn()
            .query_all_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA compile_options"))
            .await
            .unwrap();
        let options: Vec<String> = rows.iter().map(|r| r.try_get_by_index(0).unwrap()).collect();
        for wanted in ["ENABLE_QPSG", "DEFAULT_MEMSTATUS=0"] {
            assert!(options.iter().any(|o| o == wanted), "{wanted} is not among {options:?}");
        }
    }

    /// The writer checkpoints the log after [`SQLITE_WRITER_AUTOCHECKPOINT_PAGES`], not after
    /// SQLite's 1,000 pages.
    #[tokio::test]
    async fn the_writer_checkpoints_after_its_own_number_of_pages() {
        let dir = tempfile::tempdir().unwrap();
        let db = connect(&format!("sqlite://{}", dir.path().join("w.db").display())).await.unwrap();
        let txn = db.write().await.unwrap();
        assert_eq!(autocheckpoint(&*txn).await, i64::from(SQLITE_WRITER_AUTOCHECKPOINT_PAGES));
        txn.rollback().await.unwrap();
        assert_eq!(autocheckpoint(db.conn()).await, 1000, "the readers keep the default");
    }

    async fn autocheckpoint(conn: &impl ConnectionTrait) -> i64 {
        let pragma = Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_autocheckpoint");
        let row = conn.query_one_raw(pragma).await.unwrap().unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    /// An in-memory database's one connection is never closed (closing it empties the
    /// database); a file's unused connections are, with their page caches, and the reader
    /// pool opens a fresh one in their place.
    #[test]
    fn only_a_file_databases_unused_connections_are_closed() {
        let timeout = Duration::from_secs(5);
        let memory = options("sqlite::memory:", 1, Role::Pool { in_memory: true }, timeout);
        assert_eq!(memory.get_idle_timeout(), Some(None));
        assert_eq!(memory.get_max_lifetime(), Some(None));
        assert_eq!(memory.get_min_connections(), Some(1));
        let file = "sqlite://movies.db";
        let pool = options(file, 8, Role::Pool { in_memory: false }, timeout);
        assert_eq!(pool.get_idle_timeout(), Some(Some(SQLITE_IDLE_CLOSE)));
        assert_eq!(pool.get_min_connections(), Some(1));
        let writer = options(file, 1, Role::Writer(Arc::default()), timeout);
        assert_eq!(writer.get_idle_timeout(), Some(Some(SQLITE_IDLE_CLOSE)));
        assert_eq!(writer.get_min_connections(), Some(0));
        let postgres = options("postgres://db/x", 16, Role::Pool { in_memory: false }, timeout);
        assert_eq!(postgres.get_idle_timeout(), None);
    }

    /// Why: sqlx's pool empties an in-memory database when it closes its connection.
    #[tokio::test]
    async fn closing_an_in_memory_databases_connection_empties_it() {
        let mut reaped =
            options("sqlite::memory:", 1, Role::Pool { in_memory: true }, Duration::from_secs(5));
        reaped.min_connections(0).idle_timeout(Duration::from_millis(200));
        let conn = sea_orm::Database::connect(reaped).await.unwrap();
        conn.execute_unprepared("CREATE TABLE t (x INTEGER)").await.unwrap();
        conn.execute_unprepared("INSERT INTO t VALUES (1)").await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        let gone = conn.execute_unprepared("INSERT INTO t VALUES (1)").await.unwrap_err();
        assert!(gone.to_string().contains("no such table"), "{gone}");
    }

    #[tokio::test]
    async fn a_busy_sqlite_database_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.db");
        let holder = impatient(&path).await;
        holder.execute_unprepared("CREATE TABLE t (x INTEGER)").await.unwrap();
        let lock = holder.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        });
        let _lock = lock.await.unwrap();
        let other = impatient(&path).await;
        let e = other.execute_unprepared("INSERT INTO t VALUES (1)").await.unwrap_err();
        assert!(matches!(db_error(e), Error::Unavailable(_)));
    }

    #[tokio::test]
    async fn a_statement_the_database_refuses_is_internal() {
        let conn = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        let e = conn.execute_unprepared("SELECT * FROM no_such_table").await.unwrap_err();
        assert!(matches!(db_error(e), Error::Internal(_)));
    }

    #[test]
    fn pool_and_connection_failures_are_unavailable_and_seaorm_mismatches_internal() {
        let acquire = DbErr::ConnectionAcquire(ConnAcquireErr::Timeout);
        assert!(matches!(db_error(acquire), Error::Unavailable(_)));
        let conn = DbErr::Conn(RuntimeErr::Internal("connection reset".into()));
        assert!(matches!(db_error(conn), Error::Unavailable(_)));
        assert!(matches!(db_error(DbErr::Type("i64 from text".into())), Error::Internal(_)));
        assert!(matches!(db_error(DbErr::RecordNotUpdated), Error::Internal(_)));
    }

    #[tokio::test]
    async fn a_broken_constraint_means_what_the_caller_says_the_write_references() {
        let conn = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        conn.execute_unprepared(
            "PRAGMA foreign_keys = ON; \
             CREATE TABLE p (id INTEGER PRIMARY KEY); \
             CREATE TABLE c (name TEXT UNIQUE, p_id INTEGER REFERENCES p (id)); \
             INSERT INTO c VALUES ('taken', NULL);",
        )
        .await
        .unwrap();
        let orphan = "INSERT INTO c VALUES ('x', 42)";
        let e = conn.execute_unprepared(orphan).await.unwrap_err();
        let mapped = write_error(RecordKind::Character, "x", Some(Reference::Movie))(e);
        assert!(matches!(mapped, Error::NotFound(RecordKind::Movie)), "{mapped:?}");
        let e = conn.execute_unprepared(orphan).await.unwrap_err();
        let mapped = write_error(RecordKind::Movie, "x", Some(Reference::Editor))(e);
        assert!(matches!(mapped, Error::Unauthorized(USER_GONE)), "{mapped:?}");
        // A write that sets no foreign key cannot break one: a bug, not a missing row.
        let e = conn.execute_unprepared(orphan).await.unwrap_err();
        assert!(matches!(write_error(RecordKind::User, "x", None)(e), Error::Internal(_)));
        let e = conn.execute_unprepared("INSERT INTO c VALUES ('taken', NULL)").await.unwrap_err();
        let mapped = write_error(RecordKind::Character, "taken", None)(e);
        assert!(
            matches!(mapped, Error::DuplicateName { entity: RecordKind::Character, ref name } if name == "taken"),
            "{mapped:?}"
        );
    }
}
