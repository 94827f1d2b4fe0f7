//! The database schema, as sea-orm-migration migrations, one file per migration. The server runs
//! them on start; `cargo run -p migration -- up` (or `status`, `down`, ...) runs them by hand.
//!
//! Stands alone: it depends on sea-orm-migration only, not on the domain or the adapters.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_users_movies_characters;
mod m20261125_000002_create_revoked_tokens;
mod m20261125_000003_create_events;
mod m20261125_000004_create_jobs;
mod m20261126_000005_create_counters_and_search;
mod m20261126_000006_add_job_leases;
mod m20261126_000007_create_instances;
mod m20261127_000008_add_character_movie_names;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_users_movies_characters::Migration),
            Box::new(m20261125_000002_create_revoked_tokens::Migration),
            Box::new(m20261125_000003_create_events::Migration),
            Box::new(m20261125_000004_create_jobs::Migration),
            Box::new(m20261126_000005_create_counters_and_search::Migration),
            Box::new(m20261126_000006_add_job_leases::Migration),
            Box::new(m20261126_000007_create_instances::Migration),
            Box::new(m20261127_000008_add_character_movie_names::Migration),
        ]
    }
}
