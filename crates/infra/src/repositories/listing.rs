//! What the movie and character lists share, so that their cost does not grow with the table:
//! the `counters` row of each table (an unfiltered total without a count), the trigram index
//! for `q`, and the page read in two steps: the ids first, from an index (a deep `skip` walks
//! ids, not rows), then those rows by id.

use movies_domain::{Page, Result};
use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, IntoColumnRef, JoinType, Order, Query, SelectStatement,
};
use sea_orm::{ConnectionTrait, DbBackend};

use super::contains_ci_expr;
use crate::db::db_error;

const COUNTERS: &str = "counters";

/// A table with a counter, an id index and a name search index (migration 5).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Table {
    Movies,
    Characters,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Movies => "movies",
            Table::Characters => "characters",
        }
    }

    fn fts(self) -> &'static str {
        match self {
            Table::Movies => "movies_fts",
            Table::Characters => "characters_fts",
        }
    }
}

/// How many rows `table` holds, from its counter.
pub(crate) async fn total(conn: &impl ConnectionTrait, table: Table) -> Result<u64> {
    let select = Query::select()
        .column(Alias::new("value"))
        .from(Alias::new(COUNTERS))
        .and_where(Expr::col(Alias::new("name")).eq(table.name()))
        .to_owned();
    let row = conn.query_one(&select).await.map_err(db_error)?;
    let value: i64 = match row {
        Some(row) => row.try_get_by_index(0).map_err(db_error)?,
        None => 0,
    };
    Ok(u64::try_from(value).unwrap_or(0))
}

/// Adds `delta` to `table`'s counter, in the transaction `txn` that added or removed the rows.
pub(crate) async fn add_to_total(
    txn: &impl ConnectionTrait,
    table: Table,
    delta: i64,
) -> Result<()> {
    if delta == 0 {
        return Ok(());
    }
    let update = Query::update()
        .table(Alias::new(COUNTERS))
        .value(Alias::new("value"), Expr::col(Alias::new("value")).add(delta))
        .and_where(Expr::col(Alias::new("name")).eq(table.name()))
        .to_owned();
    txn.execute(&update).await.map_err(db_error)?;
    Ok(())
}

/// A name search, as the database can serve it.
pub(crate) enum Search {
    /// Through SQLite's FTS5 trigram index: a phrase of three characters or more, which matches
    /// every name holding it as a substring, in any case.
    Trigrams(String),
    /// A condition on the rows (PostgreSQL's pg_trgm index serves it; on SQLite, needles under
    /// three characters have no trigram and scan).
    Condition(Condition),
}

impl Search {
    /// How `needle` is searched in the column `name` (the one the table's index holds).
    pub(crate) fn new(backend: DbBackend, name: impl IntoColumnRef, needle: &str) -> Self {
        if backend == DbBackend::Sqlite && needle.chars().count() >= 3 {
            // Inside double quotes FTS5 reads everything as text; a quote is doubled.
            Search::Trigrams(format!("\"{}\"", needle.replace('"', "\"\"")))
        } else {
            Search::Condition(Condition::all().add(contains_ci_expr(name, needle)))
        }
    }
}

/// A page's query: which rows of `table`, in what order. The conditions name their columns with
/// the table (as SeaORM's do), so that they read the same whether or not the search index is
/// joined.
pub(crate) struct PageQuery {
    pub table: Table,
    pub search: Option<Search>,
    pub condition: Condition,
    /// The order, before the id (which always ends it, in the same direction as the last key).
    pub keys: Vec<(Alias, Order)>,
    pub descending: bool,
}

impl PageQuery {
    /// The rows' `FROM` and `WHERE`: with a trigram search, the index drives the join (a
    /// `CROSS JOIN`, which SQLite never reorders: with the table first, its planner can choose
    /// to probe the index once per row of another index, which took seconds).
    fn base(&self) -> SelectStatement {
        let table = Alias::new(self.table.name());
        let mut select = Query::select();
        let mut condition = self.condition.clone();
        match &self.search {
            Some(Search::Trigrams(phrase)) => {
                let fts = Alias::new(self.table.fts());
                // sea-query writes no `ON` for a `CROSS JOIN`: the join's equality goes in
                // `WHERE`, where SQLite reads it the same.
                select.from(fts.clone()).join(JoinType::CrossJoin, table.clone(), Condition::all());
                condition = condition
                    .add(Expr::col((table, Alias::new("id"))).equals((fts, Alias::new("rowid"))))
                    .add(self.matches(phrase));
            }
            Some(Search::Condition(c)) => {
                select.from(table);
                condition = condition.add(c.clone());
            }
            None => {
                select.from(table);
            }
        }
        select.cond_where(condition);
        select
    }

    /// The trigram index's match of `phrase`.
    fn matches(&self, phrase: &str) -> Expr {
        Expr::cust_with_values(format!("{} MATCH ?", self.table.fts()), [phrase.to_owned()])
    }

    /// How many rows match. The caller answers the unfiltered count from the counter.
    pub(crate) async fn count(&self, conn: &impl ConnectionTrait) -> Result<u64> {
        let select = match (&self.search, self.condition.is_empty()) {
            // The search alone: the index counts its matches without reading a row.
            (Some(Search::Trigrams(phrase)), true) => Query::select()
                .expr(Expr::cust("COUNT(*)"))
                .from(Alias::new(self.table.fts()))
                .cond_where(self.matches(phrase))
                .to_owned(),
            _ => self.base().expr(Expr::cust("COUNT(*)")).to_owned(),
        };
        let row = conn.query_one(&select).await.map_err(db_error)?;
        let n: i64 = match row {
            Some(row) => row.try_get_by_index(0).map_err(db_error)?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The ids of the page's rows, in order. With a cursor, the rows after it in id order.
    pub(crate) async fn ids(&self, conn: &impl ConnectionTrait, page: Page) -> Result<Vec<i64>> {
        let table = Alias::new(self.table.name());
        let id = (table.clone(), Alias::new("id"));
        let mut select = self.base();
        select.column(id.clone());
        let direction = |descending| if descending { Order::Desc } else { Order::Asc };
        if let Some(after) = page.after() {
            select.and_where(Expr::col(id.clone()).gt(after));
        }
        let by_id_only = self.keys.is_empty() || page.after().is_some();
        if !by_id_only {
            for (key, order) in &self.keys {
                select.order_by((table.clone(), key.clone()), order.clone());
            }
        }
        let descending = self.descending && page.after().is_none();
        match (&self.search, by_id_only) {
            // The index hands its matches out in rowid order: no sort, and it stops at the page.
            (Some(Search::Trigrams(_)), true) => {
                select.order_by(
                    (Alias::new(self.table.fts()), Alias::new("rowid")),
                    direction(descending),
                );
            }
            _ => {
                select.order_by(id, direction(descending));
            }
        }
        select.limit(page.limit()).offset(page.skip());
        let rows = conn.query_all(&select).await.map_err(db_error)?;
        rows.iter().map(|row| row.try_get_by_index::<i64>(0).map_err(db_error)).collect()
    }
}

/// `rows` in the order of `ids` (which a `WHERE id IN (...)` does not keep).
pub(crate) fn in_order_of<T>(ids: &[i64], mut rows: Vec<T>, id: impl Fn(&T) -> i64) -> Vec<T> {
    let position: std::collections::HashMap<i64, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    rows.sort_by_key(|row| position.get(&id(row)).copied().unwrap_or(usize::MAX));
    rows
}
