//! HTTP integration tests: the real application on `127.0.0.1:0` over a fresh SQLite file per
//! test, driven through a real HTTP client. Every module is declared here so that all of them
//! build as one test binary (and `helpers` is one module, not a copy per file).
//! `tests/api_postgres/main.rs` declares the same files again, for the run on PostgreSQL: a
//! module added here goes there too (a test there checks it).

mod auth;
mod browser;
mod characters;
mod cli;
mod consistency;
mod errors;
mod front_end;
mod hardening;
mod headers;
mod helpers;
mod jobs;
mod lists;
mod logins;
mod metrics;
mod movies;
mod openapi;
mod read_cache;
mod router;
mod text;
mod tmdb;
mod users;
mod websocket;
