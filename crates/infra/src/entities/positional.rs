//! Reading a model from a row by the places of its columns, through sqlx's own row.
//!
//! SeaORM's `FromQueryResult` looks each column up by name and, for every NULL it reads into an
//! `Option`, formats an error string that it then drops: with 50 movies a page and `editor_id`
//! NULL in most, that was 4% of a list request's instructions, and the lookups by name 4% more
//! (callgrind). Lists read thousands of rows a second, so their models are read this way.

use std::sync::Arc;

use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::sqlite::SqliteRow;
use sea_orm::sqlx::{self, Postgres, Row, Sqlite};
use sea_orm::{DbErr, FromQueryResult, QueryResult, RuntimeErr};

/// A model whose columns come first in a row, in the order of its entity's `Column`s (as
/// `Entity::find()` selects them).
pub(crate) trait FromPositions: FromQueryResult {
    fn from_positions(row: SqlxRow<'_>) -> Result<Self, DbErr>;
}

/// `row` as the model `M`: by its columns' places from a database's row, by their names from
/// any other (SeaORM's mock rows, which hold their values in name order).
pub(crate) fn read<M: FromPositions>(row: &QueryResult) -> Result<M, DbErr> {
    if let Some(row) = row.try_as_sqlite_row() {
        M::from_positions(SqlxRow::Sqlite(row))
    } else if let Some(row) = row.try_as_pg_row() {
        M::from_positions(SqlxRow::Postgres(row))
    } else {
        M::from_query_result(row, "")
    }
}

/// A row as sqlx gives it.
pub(crate) enum SqlxRow<'a> {
    Sqlite(&'a SqliteRow),
    Postgres(&'a PgRow),
}

impl SqlxRow<'_> {
    /// The value at place `i`.
    pub(crate) fn get<T>(&self, i: usize) -> Result<T, DbErr>
    where
        T: for<'r> sqlx::Decode<'r, Sqlite>
            + sqlx::Type<Sqlite>
            + for<'r> sqlx::Decode<'r, Postgres>
            + sqlx::Type<Postgres>,
    {
        match self {
            SqlxRow::Sqlite(row) => row.try_get(i),
            SqlxRow::Postgres(row) => row.try_get(i),
        }
        .map_err(|e| DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))))
    }
}
