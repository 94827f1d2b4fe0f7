//! The PostgreSQL side of `cargo xtask bench`: `BENCH_DATABASE_URL` names a server and the
//! database the bench creates on it, fresh for each server it starts (`NAME`, `NAME_small`,
//! `NAME_scale`, `NAME_x2`), and drops when that server has stopped, on success or error.
//!
//! A database that exists already is dropped only when an earlier bench created it (its comment
//! says so: a run that was killed before it could drop it); any other is refused, so that a
//! mistyped URL never loses data. `CREATE` and `DROP DATABASE` go through `psql` to the server's
//! `postgres` database (as `createdb` does), which keeps a PostgreSQL client out of xtask.

use std::process::Command;

/// Marks the databases the bench creates, so that a leftover of a killed run can be dropped.
const COMMENT: &str = "scratch database of cargo xtask bench, dropped when the run ends";

/// The PostgreSQL server of `BENCH_DATABASE_URL` and the name the bench's databases start with.
#[derive(Debug, Clone, PartialEq)]
pub struct PgServer {
    /// `postgres://user@host:port` (no database, no query).
    base: String,
    /// `?sslmode=...` and the like, kept for every database; empty without.
    query: String,
    /// The database named in the URL, the first of the bench's databases.
    pub name: String,
}

impl PgServer {
    /// Reads `postgres://[user[:password]@]host[:port]/NAME[?query]`. NAME must be a plain
    /// identifier (lowercase letters, digits, `_`), short enough for the suffixes.
    pub fn parse(url: &str) -> Result<PgServer, String> {
        let bad = |why: &str| {
            format!(
                "BENCH_DATABASE_URL={url}: {why}; expected postgres://USER@HOST:PORT/NAME, \
                 NAME the database the bench creates (and drops)"
            )
        };
        let rest = ["postgres://", "postgresql://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme))
            .ok_or_else(|| bad("not a postgres:// URL"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, format!("?{query}")),
            None => (rest, String::new()),
        };
        let (authority, name) = rest.split_once('/').ok_or_else(|| bad("no database name"))?;
        let plain = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_');
        if !plain || name.len() > 50 {
            return Err(bad(
                "the database name must be lowercase letters, digits and _, at most 50",
            ));
        }
        if name == "postgres" || name.starts_with("template") {
            return Err(bad("that database is PostgreSQL's own, not one to create"));
        }
        Ok(PgServer { base: format!("postgres://{authority}"), query, name: name.to_owned() })
    }

    /// Fails unless psql reaches the server (before a long run, not after it).
    pub fn check(&self) -> Result<(), String> {
        self.psql("SELECT 1").map(|_| ())
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}{}", self.base, self.query)
    }

    /// The bench's database for `purpose` (`""` for the first server): `NAME` or `NAME_purpose`.
    pub fn database_name(&self, purpose: &str) -> String {
        if purpose.is_empty() { self.name.clone() } else { format!("{}_{purpose}", self.name) }
    }

    /// Creates the database of `purpose`, empty; it is dropped when the returned guard is.
    pub fn create(&self, purpose: &str) -> Result<ScratchDatabase, String> {
        let name = self.database_name(purpose);
        let comment = self.psql(&format!(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') \
             FROM pg_database WHERE datname = '{name}'"
        ))?;
        match comment.lines().next() {
            None => {}
            Some(COMMENT) => {
                println!("    dropping database {name}, left by an earlier bench run");
                self.drop_database(&name)?;
            }
            Some(_) => {
                return Err(format!(
                    "database {name} exists and was not made by the bench: drop it \
                     (`dropdb {name}`) or name another in BENCH_DATABASE_URL"
                ));
            }
        }
        self.psql(&format!("CREATE DATABASE {name}"))?;
        self.psql(&format!("COMMENT ON DATABASE {name} IS '{COMMENT}'"))?;
        Ok(ScratchDatabase { server: self.clone(), name })
    }

    fn drop_database(&self, name: &str) -> Result<(), String> {
        // FORCE (PostgreSQL 13 and later) ends the connections a killed server left behind.
        self.psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).map(|_| ())
    }

    /// Runs one statement in the server's `postgres` database; returns what it printed.
    fn psql(&self, sql: &str) -> Result<String, String> {
        self.psql_in("postgres", sql)
    }

    /// Runs one statement in `database`; returns what it printed.
    fn psql_in(&self, database: &str, sql: &str) -> Result<String, String> {
        let output = Command::new("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(database))
            .args(["-c", sql])
            .output()
            .map_err(|e| {
                format!("running psql ({e}): the bench needs it on PostgreSQL (postgresql-client)")
            })?;
        if !output.status.success() {
            return Err(format!(
                "psql -c \"{sql}\": {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// A database the bench created; dropping the guard drops the database (drop the servers that
/// use it first).
pub struct ScratchDatabase {
    server: PgServer,
    pub name: String,
}

impl ScratchDatabase {
    pub fn url(&self) -> String {
        self.server.url(&self.name)
    }

    /// `VACUUM ANALYZE`: statistics for the planner and a visibility map for index-only scans,
    /// as autovacuum would leave them a minute or so after a bulk load.
    pub fn vacuum_analyze(&self) -> Result<(), String> {
        self.server.psql_in(&self.name, "VACUUM ANALYZE").map(|_| ())
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Err(e) = self.server.drop_database(&self.name) {
            println!("bench: could not drop database {}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_gives_the_server_and_the_name_of_the_databases() {
        let server = PgServer::parse("postgres://postgres@127.0.0.1:5432/movies_bench").unwrap();
        assert_eq!(server.name, "movies_bench");
        assert_eq!(server.url("postgres"), "postgres://postgres@127.0.0.1:5432/postgres");
        assert_eq!(server.database_name(""), "movies_bench");
        assert_eq!(server.database_name("x2"), "movies_bench_x2");
        let with_query = PgServer::parse("postgresql://u:pw@db/bench?sslmode=disable").unwrap();
        assert_eq!(with_query.url("bench_small"), "postgres://u:pw@db/bench_small?sslmode=disable");
    }

    #[test]
    fn a_url_without_a_plain_database_name_is_refused() {
        for url in [
            "sqlite://x.db",
            "postgres://127.0.0.1",
            "postgres://127.0.0.1/",
            "postgres://127.0.0.1/Bench",
            "postgres://127.0.0.1/a;drop",
            "postgres://127.0.0.1/postgres",
            "postgres://127.0.0.1/template1",
        ] {
            assert!(PgServer::parse(url).is_err(), "{url}");
        }
    }
}
