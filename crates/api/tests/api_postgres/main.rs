//! The HTTP integration suite of `tests/api` again, each test over a fresh PostgreSQL database
//! on the server `TEST_DATABASE_URL` names (see `helpers::fresh_database`). The modules are the
//! same files, so `crate::helpers` is the same harness, which knows from its module path which
//! binary it is in. Built only when `TEST_DATABASE_URL` is set (the `test_postgres` cfg of
//! build.rs); without it this binary is one test that says why it skipped, and one that keeps
//! the two module lists the same.

#[cfg(test_postgres)]
#[path = "../api/auth.rs"]
mod auth;
#[cfg(test_postgres)]
#[path = "../api/browser.rs"]
mod browser;
#[cfg(test_postgres)]
#[path = "../api/characters.rs"]
mod characters;
#[cfg(test_postgres)]
#[path = "../api/cli.rs"]
mod cli;
#[cfg(test_postgres)]
#[path = "../api/consistency.rs"]
mod consistency;
#[cfg(test_postgres)]
#[path = "../api/errors.rs"]
mod errors;
#[cfg(test_postgres)]
#[path = "../api/front_end.rs"]
mod front_end;
#[cfg(test_postgres)]
#[path = "../api/hardening.rs"]
mod hardening;
#[cfg(test_postgres)]
#[path = "../api/headers.rs"]
mod headers;
#[cfg(test_postgres)]
#[path = "../api/helpers.rs"]
mod helpers;
#[cfg(test_postgres)]
#[path = "../api/jobs.rs"]
mod jobs;
#[cfg(test_postgres)]
#[path = "../api/lists.rs"]
mod lists;
#[cfg(test_postgres)]
#[path = "../api/logins.rs"]
mod logins;
#[cfg(test_postgres)]
#[path = "../api/metrics.rs"]
mod metrics;
#[cfg(test_postgres)]
#[path = "../api/movies.rs"]
mod movies;
#[cfg(test_postgres)]
#[path = "../api/openapi.rs"]
mod openapi;
#[cfg(test_postgres)]
#[path = "../api/read_cache.rs"]
mod read_cache;
#[cfg(test_postgres)]
#[path = "../api/router.rs"]
mod router;
#[cfg(test_postgres)]
#[path = "../api/text.rs"]
mod text;
#[cfg(test_postgres)]
#[path = "../api/tmdb.rs"]
mod tmdb;
#[cfg(test_postgres)]
#[path = "../api/users.rs"]
mod users;
#[cfg(test_postgres)]
#[path = "../api/websocket.rs"]
mod websocket;

#[cfg(not(test_postgres))]
#[test]
fn the_suite_is_skipped_on_postgresql_without_test_database_url() {
    eprintln!("skipped on PostgreSQL: TEST_DATABASE_URL is not set");
}

/// A module added to `tests/api/main.rs` and not here would silently run on SQLite only.
#[test]
fn every_module_of_the_suite_is_declared_here_too() {
    let modules = |main: &str| -> Vec<String> {
        main.lines()
            .filter_map(|line| line.strip_prefix("mod ")?.strip_suffix(';'))
            .map(str::to_owned)
            .collect()
    };
    let sqlite = modules(include_str!("../api/main.rs"));
    let postgres = modules(include_str!("main.rs"));
    assert!(!sqlite.is_empty(), "no `mod NAME;` line in tests/api/main.rs");
    assert_eq!(postgres, sqlite, "tests/api_postgres/main.rs and tests/api/main.rs differ");
}
