//! SeaORM entities: one file per table, mirroring the migration.

pub mod character;
pub mod event;
pub mod job;
pub mod movie;
pub(crate) mod positional;
pub mod revoked_token;
pub mod user;
