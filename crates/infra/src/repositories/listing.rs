//! What the movie and character lists share, so that their cost does not grow with the table:
//! the `counters` rows (each table's and each genre's: a total without a count), the trigram
//! index for `q`, and the page read through a subquery of its ids, which an index serves (a
//! deep `skip` walks ids, not rows), or, unfiltered in id order, as a range of ids.

use movies_domain::paging::IdSpan;
use movies_domain::{Page, Result};
use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, IntoColumnRef, JoinType, OnConflict, Order, Query,
    SelectStatement,
};
use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use super::contains_ci_expr;
use crate::db::db_error;
use crate::entities::positional::{self, FromPositions};

const COUNTERS: &str = "counters";
/// The column beside a page's rows that holds their total (see [`PageQuery::rows`]).
const TOTAL: &str = "page_total";

/// A table with a counter, an id index and a name search index (migration 5).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Table {
    Movies,
    Characters,
}

impl Table {
    /// Also the name of its counter.
    pub(crate) fn name(self) -> &'static str {
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

/// The counter of the movies of `genre`.
pub(crate) fn genre_counter(genre: &str) -> String {
    format!("movies.genre:{genre}")
}

/// The statement that reads `counter`: a table's ([`Table::name`]) or a genre's
/// ([`genre_counter`]).
pub(crate) fn counter_query(counter: &str) -> SelectStatement {
    Query::select()
        .column(Alias::new("value"))
        .from(Alias::new(COUNTERS))
        .and_where(Expr::col(Alias::new("name")).eq(counter))
        .to_owned()
}

/// The value of `counter` (see [`counter_query`]).
pub(crate) async fn total(conn: &impl ConnectionTrait, counter: &str) -> Result<u64> {
    read_total(conn, &counter_query(counter)).await
}

/// The one number `total` reads (0 without a row: a counter not made yet).
async fn read_total(conn: &impl ConnectionTrait, total: &SelectStatement) -> Result<u64> {
    let value: Option<i64> = match conn.query_one(total).await.map_err(db_error)? {
        Some(row) => row.try_get_by_index(0).map_err(db_error)?,
        None => None,
    };
    Ok(as_total(value))
}

/// A total as read: none (no row, or NULL) and a negative one are 0.
fn as_total(value: Option<i64>) -> u64 {
    u64::try_from(value.unwrap_or(0)).unwrap_or(0)
}

/// `table`'s counter and its lowest and highest id, in one statement (the id index gives both
/// ends at once).
pub(crate) async fn id_span(conn: &impl ConnectionTrait, table: Table) -> Result<IdSpan> {
    let span = Query::select()
        .expr(scalar(counter_query(table.name())))
        .expr(Expr::cust("MIN(id)"))
        .expr(Expr::cust("MAX(id)"))
        .from(Alias::new(table.name()))
        .to_owned();
    let row = conn.query_one(&span).await.map_err(db_error)?;
    let (count, first, last): (Option<i64>, Option<i64>, Option<i64>) = match row {
        Some(row) => (
            row.try_get_by_index(0).map_err(db_error)?,
            row.try_get_by_index(1).map_err(db_error)?,
            row.try_get_by_index(2).map_err(db_error)?,
        ),
        None => (None, None, None),
    };
    Ok(IdSpan { count: as_total(count), bounds: first.zip(last) })
}

/// `select` (one row of one column) as a value inside another statement.
fn scalar(select: SelectStatement) -> Expr {
    Expr::SubQuery(None, Box::new(select.into()))
}

/// Adds each delta to its counter (made at 0 if new), in the transaction `txn` that added or
/// removed the rows it counts.
pub(crate) async fn add_to_totals(
    txn: &impl ConnectionTrait,
    deltas: impl IntoIterator<Item = (String, i64)>,
) -> Result<()> {
    let mut summed = std::collections::BTreeMap::new();
    for (counter, delta) in deltas {
        *summed.entry(counter).or_insert(0) += delta;
    }
    // One statement (each is a round trip), its rows in name order, so that concurrent
    // transactions on PostgreSQL lock rows in one order; summed, so that none comes twice.
    let rows: Vec<(String, i64)> = summed.into_iter().filter(|(_, d)| *d != 0).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut upsert = Query::insert();
    upsert.into_table(Alias::new(COUNTERS)).columns([Alias::new("name"), Alias::new("value")]);
    for (counter, delta) in rows {
        upsert.values_panic([counter.into(), delta.into()]);
    }
    upsert.on_conflict(
        OnConflict::column(Alias::new("name"))
            .value(Alias::new("value"), Expr::cust("counters.value + excluded.value"))
            .to_owned(),
    );
    txn.execute(&upsert).await.map_err(db_error)?;
    Ok(())
}

/// Adds `delta` to `table`'s counter.
pub(crate) async fn add_to_total(
    txn: &impl ConnectionTrait,
    table: Table,
    delta: i64,
) -> Result<()> {
    add_to_totals(txn, [(table.name().to_owned(), delta)]).await
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

    /// The statement that counts the rows that match, for [`PageQuery::rows`] when no counter
    /// knows the total.
    pub(crate) fn count_query(&self) -> SelectStatement {
        match (&self.search, self.condition.is_empty()) {
            // The search alone: the index counts its matches without reading a row.
            (Some(Search::Trigrams(phrase)), true) => Query::select()
                .expr(Expr::cust("COUNT(*)"))
                .from(Alias::new(self.table.fts()))
                .cond_where(self.matches(phrase))
                .to_owned(),
            _ => self.base().expr(Expr::cust("COUNT(*)")).to_owned(),
        }
    }

    /// The order of the page: the keys, then the id (in the last key's direction). With a
    /// cursor, the id alone, ascending.
    fn order(&self, page: Page) -> Vec<(Alias, Order)> {
        match page.after() {
            Some(_) => vec![(Alias::new("id"), Order::Asc)],
            None => {
                let mut order = self.keys.clone();
                order.push((Alias::new("id"), self.id_direction()));
                order
            }
        }
    }

    /// The direction of the ids in a page without a cursor (a cursor's are always ascending).
    fn id_direction(&self) -> Order {
        if self.descending { Order::Desc } else { Order::Asc }
    }

    /// The ids of the page's rows: a statement of their own, which reads an index only (the
    /// ids, or a filter's column and the ids) however far `skip` goes. Not for a page in id order
    /// without a filter, which [`PageQuery::id_range`] reads as a range.
    fn ids(&self, page: Page) -> SelectStatement {
        let table = Alias::new(self.table.name());
        let id = (table.clone(), Alias::new("id"));
        let mut select = self.base();
        select.column(id.clone());
        if let Some(after) = page.after() {
            select.and_where(Expr::col(id).gt(after));
        }
        for (key, order) in self.order(page) {
            match (&self.search, key.0.as_str()) {
                // The index hands its matches out in rowid order: no sort, and it stops at the
                // page's end.
                (Some(Search::Trigrams(_)), "id") => {
                    select.order_by((Alias::new(self.table.fts()), Alias::new("rowid")), order)
                }
                _ => select.order_by((table.clone(), key), order),
            };
        }
        select.limit(page.limit()).offset(page.skip());
        select
    }

    /// Whether the page is every row in id order: what [`PageQuery::id_range`] serves.
    fn in_id_order_unfiltered(&self) -> bool {
        self.search.is_none() && self.condition.is_empty() && self.keys.is_empty()
    }

    /// Where an unfiltered page in id order starts, as a condition on the id: after the cursor
    /// (its `skip` is then an `OFFSET`), or `skip` rows in. The rows are then read as a range of
    /// the table, ordered and limited, with no statement of ids to gather first.
    ///
    /// `skip` rows in is cheap when the table's ids have no gap, as after generation with no
    /// delete: its counter then equals `MAX(id) - MIN(id) + 1`, and the page starts at id
    /// `MIN(id) + skip` (`MAX(id) - skip` descending), which the id index finds at once. With a
    /// gap the start is the id `skip` places in, which walks the id index. One `CASE` works out
    /// which, once, on the statement's snapshot, and both databases evaluate only its branch.
    fn id_range(&self, page: Page) -> (Condition, Option<u64>) {
        let table = self.table.name();
        let id = Expr::col((Alias::new(table), Alias::new("id")));
        if let Some(after) = page.after() {
            return (Condition::all().add(id.gt(after)), Some(page.skip()).filter(|s| *s > 0));
        }
        if page.skip() == 0 {
            return (Condition::all(), None);
        }
        let (min, max) =
            (format!("(SELECT MIN(id) FROM {table})"), format!("(SELECT MAX(id) FROM {table})"));
        let dense = scalar(counter_query(table)).eq(Expr::cust(format!("{max} - {min} + 1")));
        let skip = i64::try_from(page.skip()).unwrap_or(i64::MAX);
        let walked = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new(table))
            .order_by(Alias::new("id"), self.id_direction())
            .limit(1)
            .offset(page.skip())
            .to_owned();
        let counted = match self.descending {
            false => Expr::cust(min).add(skip),
            true => Expr::cust(max).sub(skip),
        };
        let start: Expr = Expr::case(dense, counted).finally(scalar(walked)).into();
        let condition = match self.descending {
            false => id.gte(start),
            true => id.lte(start),
        };
        (Condition::all().add(condition), None)
    }

    /// The page's rows of the entity `E` (this table's), in order, and the total that
    /// `total` reads (a statement of one number: [`counter_query`], [`PageQuery::count_query`]):
    /// the rows whose id is among [`PageQuery::ids`]. On SQLite in one statement, each row with
    /// the total beside it: each statement is a round trip to the connection's thread and back,
    /// and only an empty page reads its total on its own. On PostgreSQL in two: there a count
    /// beside the rows made filtered pages 40% slower (`filter_movies`, 102-109 against 62 req/s).
    pub(crate) async fn rows<E: EntityTrait<Model: FromPositions>>(
        &self,
        conn: &impl ConnectionTrait,
        page: Page,
        total: SelectStatement,
    ) -> Result<(Vec<E::Model>, u64)> {
        let table = Alias::new(self.table.name());
        let mut select = match self.in_id_order_unfiltered() {
            true => {
                let (range, offset) = self.id_range(page);
                E::find().filter(range).limit(page.limit()).offset(offset)
            }
            false => E::find()
                .filter(Expr::col((table.clone(), Alias::new("id"))).in_subquery(self.ids(page))),
        };
        for (key, order) in self.order(page) {
            select = select.order_by(Expr::col((table.clone(), key)), order);
        }
        let mut select = select.into_query();
        let beside = conn.get_database_backend() == DbBackend::Sqlite;
        if beside {
            select.expr_as(scalar(total.clone()), Alias::new(TOTAL));
        }
        let rows = conn.query_all(&select).await.map_err(db_error)?;
        let total = match rows.first() {
            Some(first) if beside => as_total(first.try_get("", TOTAL).map_err(db_error)?),
            _ => read_total(conn, &total).await?,
        };
        let models = rows
            .iter()
            .map(positional::read)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(db_error)?;
        Ok((models, total))
    }
}
