//! What keeps lists cheap at a million rows: a `counters` row per table and per genre, which
//! every write adjusts in its own transaction (an unfiltered or genre-only `X-Total-Count`
//! without a count over the table); an index on the id alone, which a deep `skip` walks instead of the rows themselves;
//! and a trigram index on the names for `q` (SQLite's FTS5 trigram tokenizer, kept current by
//! triggers; PostgreSQL's pg_trgm, when the server has it).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables that get a counter, an id index and a name search index.
const TABLES: [&str; 2] = ["movies", "characters"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Counters::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Counters::Name).string().not_null().primary_key())
                    .col(ColumnDef::new(Counters::Value).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        for table in TABLES {
            db.execute_unprepared(&format!(
                "INSERT INTO counters (name, value) SELECT '{table}', COUNT(*) FROM {table}"
            ))
            .await?;
            if table == "movies" {
                // A genre's total too: `GET /movies?genre=` is a list users page through.
                db.execute_unprepared(
                    "INSERT INTO counters (name, value) \
                     SELECT 'movies.genre:' || genre, COUNT(*) FROM movies GROUP BY genre",
                )
                .await?;
            }
            match backend {
                // An INTEGER PRIMARY KEY is the table itself: walking it past `skip` rows reads
                // whole rows, where this index holds the ids alone.
                DbBackend::Sqlite => {
                    db.execute_unprepared(&format!(
                        "CREATE INDEX IF NOT EXISTS idx_{table}_id ON {table} (id)"
                    ))
                    .await?;
                    db.execute_unprepared(&sqlite_search(table)).await?;
                }
                DbBackend::Postgres if has_pg_trgm(db).await? => {
                    db.execute_unprepared(&format!(
                        "CREATE INDEX IF NOT EXISTS idx_{table}_name_trgm ON {table} \
                         USING gin (LOWER(name) gin_trgm_ops)"
                    ))
                    .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in TABLES {
            let drops = match manager.get_database_backend() {
                DbBackend::Sqlite => format!(
                    "DROP TRIGGER IF EXISTS {table}_fts_insert; \
                     DROP TRIGGER IF EXISTS {table}_fts_delete; \
                     DROP TRIGGER IF EXISTS {table}_fts_update; \
                     DROP TABLE IF EXISTS {table}_fts; \
                     DROP INDEX IF EXISTS idx_{table}_id;"
                ),
                _ => format!("DROP INDEX IF EXISTS idx_{table}_name_trgm;"),
            };
            db.execute_unprepared(&drops).await?;
        }
        manager.drop_table(Table::drop().table(Counters::Table).if_exists().to_owned()).await
    }
}

/// The FTS5 index of `table`'s names (external content: it stores the trigrams, not the
/// names), its triggers, and its first fill.
fn sqlite_search(table: &str) -> String {
    format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS {table}_fts USING fts5(\
             name, content='{table}', content_rowid='id', tokenize='trigram');
         CREATE TRIGGER IF NOT EXISTS {table}_fts_insert AFTER INSERT ON {table} BEGIN
             INSERT INTO {table}_fts (rowid, name) VALUES (new.id, new.name);
         END;
         CREATE TRIGGER IF NOT EXISTS {table}_fts_delete AFTER DELETE ON {table} BEGIN
             INSERT INTO {table}_fts ({table}_fts, rowid, name) VALUES ('delete', old.id, old.name);
         END;
         CREATE TRIGGER IF NOT EXISTS {table}_fts_update AFTER UPDATE OF name ON {table} BEGIN
             INSERT INTO {table}_fts ({table}_fts, rowid, name) VALUES ('delete', old.id, old.name);
             INSERT INTO {table}_fts (rowid, name) VALUES (new.id, new.name);
         END;
         INSERT INTO {table}_fts ({table}_fts) VALUES ('rebuild');"
    )
}

/// Whether pg_trgm is installed or can be: it ships with PostgreSQL's contrib, and is trusted
/// (any owner of the database may create it) since PostgreSQL 13. Without it `q` still works,
/// by a scan.
async fn has_pg_trgm(db: &SchemaManagerConnection<'_>) -> Result<bool, DbErr> {
    let available = db
        .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'",
        ))
        .await?
        .is_some();
    if available {
        db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm").await?;
    }
    Ok(available)
}

#[derive(DeriveIden)]
enum Counters {
    Table,
    Name,
    Value,
}
