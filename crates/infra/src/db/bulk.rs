//! Multi-row INSERTs for bulk writes, written as SQL text: SeaORM's query builder makes, renders
//! and clones an expression tree of every value for each statement, and its RETURNING rows each
//! cross from SQLite's worker thread on their own. The text of a full chunk is built once and
//! reused, so each connection's statement cache prepares it once.
//!
//! Ids stay dense: no id is kept by a row whose unique key is taken. SQLite's AUTOINCREMENT and
//! PostgreSQL's sequences give an id to every row that reaches the conflict check, so the
//! `ON CONFLICT DO NOTHING` this replaces left a gap for each row it skipped.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, RuntimeErr, SqlErr, Statement, Value,
};

/// SQLite's default limit on bound parameters (`SQLITE_MAX_VARIABLE_NUMBER` since 3.32);
/// PostgreSQL allows 65,535, so one size serves both.
const MAX_PARAMS: usize = 32_766;

/// The SQL text of full chunks, by table and statement: built once.
static FULL_CHUNKS: LazyLock<Mutex<Texts>> = LazyLock::new(Mutex::default);

type Texts = HashMap<(&'static str, Shape), Arc<str>>;

/// The statements a bulk insert runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Shape {
    /// SQLite: which keys are taken.
    Taken,
    InsertSqlite,
    InsertPostgres,
}

/// A bulk insert into one table with a unique text column.
#[derive(Debug)]
pub(crate) struct BulkInsert {
    pub table: &'static str,
    /// The columns each row gives a value for, in order; the first is the unique key.
    pub columns: &'static [&'static str],
    /// A column whose value is the same in every row (who wrote them).
    pub shared: &'static str,
}

impl BulkInsert {
    /// Rows per statement: as many as the parameter limit allows (the shared value counts once
    /// per row on SQLite, which binds it with each row).
    pub(crate) const fn chunk_rows(&self) -> usize {
        MAX_PARAMS / (self.columns.len() + 1)
    }

    /// Inserts the rows whose key (first value) is neither stored nor repeated earlier in
    /// `rows`, each row `columns.len()` values followed by `shared`, and returns the id of each
    /// input row, `None` for a row skipped.
    ///
    /// # Errors
    /// What the database reports (a foreign key `shared` breaks, for one); and on SQLite an
    /// `Internal` when it stored other than the rows it was given, whose ids cannot be told.
    pub(crate) async fn run(
        &self,
        txn: &DatabaseTransaction,
        shared: Value,
        rows: Vec<Vec<Value>>,
    ) -> Result<Vec<Option<i64>>, DbErr> {
        let backend = txn.get_database_backend();
        if backend == DbBackend::Postgres {
            // Two multi-row inserts whose keys overlap in different orders each wait for the
            // other's uncommitted rows: a deadlock, and one of them fails. They take turns
            // instead (released at the end of the transaction), as every SQLite writer does.
            let table = self.table;
            let turn = format!("SELECT pg_advisory_xact_lock('{table}'::regclass::oid::int4, 0)");
            txn.execute_unprepared(&turn).await?;
        }
        let mut ids = vec![None; rows.len()];
        let mut seen = HashSet::with_capacity(rows.len());
        let mut rows = rows.into_iter().enumerate().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<(usize, Vec<Value>)> = rows
                .by_ref()
                .take(self.chunk_rows())
                .filter(|(_, row)| seen.insert(key(row).to_owned()))
                .collect();
            match backend {
                DbBackend::Postgres => self.chunk_postgres(txn, &shared, chunk, &mut ids).await?,
                _ => self.chunk_sqlite(txn, &shared, chunk, &mut ids).await?,
            }
        }
        Ok(ids)
    }

    /// SQLite: a plain INSERT of every row, which normally stores them all; when a key is taken
    /// it fails as a whole (SQLite undoes the statement, the ids it took with it), and the rows
    /// whose keys are free are inserted again on their own. Writers are serialised (`BEGIN
    /// IMMEDIATE`), so nothing changes in between, and the rows of one INSERT get consecutive
    /// ids in their order: no row has to come back through RETURNING, one at a time.
    async fn chunk_sqlite(
        &self,
        txn: &DatabaseTransaction,
        shared: &Value,
        chunk: Vec<(usize, Vec<Value>)>,
        ids: &mut [Option<i64>],
    ) -> Result<(), DbErr> {
        if chunk.is_empty() {
            return Ok(());
        }
        let chunk = match self.insert_sqlite(txn, shared, &chunk, ids).await {
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => chunk,
            done => return done,
        };
        let keys: Vec<Value> = chunk.iter().map(|(_, row)| row[0].clone()).collect();
        let sql = self.sql(Shape::Taken, keys.len(), || self.render_taken(keys.len()));
        let statement = Statement::from_sql_and_values(DbBackend::Sqlite, &*sql, keys);
        let taken: HashSet<String> = txn
            .query_all_raw(statement)
            .await?
            .iter()
            .map(|row| row.try_get_by_index(0))
            .collect::<Result<_, _>>()?;
        let free: Vec<(usize, Vec<Value>)> =
            chunk.into_iter().filter(|(_, row)| !taken.contains(key(row))).collect();
        if free.is_empty() {
            return Ok(());
        }
        self.insert_sqlite(txn, shared, &free, ids).await
    }

    /// One INSERT of `rows` into SQLite, and their ids into `ids`.
    async fn insert_sqlite(
        &self,
        txn: &DatabaseTransaction,
        shared: &Value,
        rows: &[(usize, Vec<Value>)],
        ids: &mut [Option<i64>],
    ) -> Result<(), DbErr> {
        let sql =
            self.sql(Shape::InsertSqlite, rows.len(), || self.render_insert_sqlite(rows.len()));
        let mut values = Vec::with_capacity(rows.len() * (self.columns.len() + 1));
        for (_, row) in rows {
            values.extend(row.iter().cloned());
            values.push(shared.clone());
        }
        let statement = Statement::from_sql_and_values(DbBackend::Sqlite, &*sql, values);
        let done = txn.execute_raw(statement).await?;
        if done.rows_affected() != rows.len() as u64 {
            // Internal, not Unavailable: a retry would not help.
            return Err(DbErr::Exec(RuntimeErr::Internal(format!(
                "{}: {} of {} rows inserted",
                self.table,
                done.rows_affected(),
                rows.len()
            ))));
        }
        let first = done.last_insert_id() as i64 - rows.len() as i64 + 1;
        for ((i, _), id) in rows.iter().zip(first..) {
            ids[*i] = Some(id);
        }
        Ok(())
    }

    /// PostgreSQL: one statement that leaves out the taken keys and returns the ids. A row a
    /// concurrent transaction committed after this one's snapshot still meets `ON CONFLICT DO
    /// NOTHING` (using up a sequence value: a gap only in such a race).
    async fn chunk_postgres(
        &self,
        txn: &DatabaseTransaction,
        shared: &Value,
        chunk: Vec<(usize, Vec<Value>)>,
        ids: &mut [Option<i64>],
    ) -> Result<(), DbErr> {
        if chunk.is_empty() {
            return Ok(());
        }
        let n = chunk.len();
        let sql = self.sql(Shape::InsertPostgres, n, || self.render_insert_postgres(n));
        let mut values = Vec::with_capacity(1 + chunk.len() * self.columns.len());
        values.push(shared.clone());
        let mut index = HashMap::with_capacity(chunk.len());
        for (i, row) in chunk {
            index.insert(key(&row).to_owned(), i);
            values.extend(row);
        }
        let stored = txn
            .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, &*sql, values))
            .await?;
        for row in stored {
            let name: String = row.try_get_by_index(1)?;
            if let Some(&i) = index.get(&name) {
                ids[i] = Some(row.try_get_by_index(0)?);
            }
        }
        Ok(())
    }

    /// The statement `render` makes for `n` rows, from the cache when it is a full chunk's.
    fn sql(&self, shape: Shape, n: usize, render: impl FnOnce() -> String) -> Arc<str> {
        if n != self.chunk_rows() {
            return render().into();
        }
        let mut cache = FULL_CHUNKS.lock().unwrap_or_else(PoisonError::into_inner);
        cache.entry((self.table, shape)).or_insert_with(|| render().into()).clone()
    }

    /// `SELECT key FROM t WHERE key IN (?, ...)`, `n` of them.
    fn render_taken(&self, n: usize) -> String {
        let key = self.columns[0];
        let mut sql = format!("SELECT {key} FROM {} WHERE {key} IN (", self.table);
        sql.push_str(&vec!["?"; n].join(", "));
        sql.push(')');
        sql
    }

    /// `INSERT INTO t (a, b, shared) VALUES (?, ?, ?), ...`, `n` rows. The parameters are
    /// unnumbered: SQLite takes time quadratic in their count to prepare numbered ones.
    fn render_insert_sqlite(&self, n: usize) -> String {
        let mut sql = format!(
            "INSERT INTO {} ({}, {}) VALUES ",
            self.table,
            self.columns.join(", "),
            self.shared
        );
        let row = format!("({}?)", "?, ".repeat(self.columns.len()));
        sql.push_str(&vec![row.as_str(); n].join(", "));
        sql
    }

    /// `INSERT INTO t (a, b, shared) SELECT v.column1, v.column2, $1 FROM (VALUES ($2, $3),
    /// ...) AS v WHERE NOT EXISTS (a stored row with v's key) ON CONFLICT (a) DO NOTHING
    /// RETURNING id, a`, `n` rows.
    fn render_insert_postgres(&self, n: usize) -> String {
        let (table, key, width) = (self.table, self.columns[0], self.columns.len());
        let mut sql =
            format!("INSERT INTO {table} ({}, {}) SELECT ", self.columns.join(", "), self.shared);
        for c in 1..=width {
            let _ = write!(sql, "v.column{c}, ");
        }
        sql.push_str("$1 FROM (VALUES ");
        for row in 0..n {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for c in 0..width {
                let _ = write!(sql, "{}${}", if c == 0 { "" } else { ", " }, 2 + row * width + c);
            }
            sql.push(')');
        }
        let _ = write!(
            sql,
            ") AS v WHERE NOT EXISTS (SELECT 1 FROM {table} AS s WHERE s.{key} = v.column1) \
             ON CONFLICT ({key}) DO NOTHING RETURNING id, {key}"
        );
        sql
    }
}

/// A row's key: its first value, text.
fn key(row: &[Value]) -> &str {
    match row.first() {
        Some(Value::String(Some(key))) => key,
        _ => "",
    }
}
