//! Several instances of the real server (the `movies-api` binary, as separate processes) over
//! one PostgreSQL database, as they run behind a load balancer: events, caches, jobs and
//! migrations across instances, and the nginx config of docs/deploy/nginx.conf in front of them.
//!
//! Each test makes a fresh database on the server `TEST_DATABASE_URL` names and drops it after,
//! also when the test fails; without `TEST_DATABASE_URL` every test says it is skipped and
//! passes. The tests take turns (see `harness::TestDb`), so that two of them never compete for
//! PostgreSQL's connections or the machine's cores; a failing test prints each process's log.

mod caches;
mod events;
mod harness;
mod jobs;
mod migrations;
mod nginx;
