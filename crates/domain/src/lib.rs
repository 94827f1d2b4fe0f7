//! The domain of the Movies & Characters API: entities, inputs that validate themselves on
//! construction, the ports (traits) that adapters implement, and the application services that
//! hold every business rule.
//!
//! This crate must not depend on a web framework, an ORM, SQL or HTTP types: adapters in
//! `movies-infra` and `movies-api` depend on it, never the other way round. With the `mocks`
//! feature every port also comes as a mockall fake (`MockMovieRepository`, ...).
//!
//! `examples/in_memory.rs` shows a downstream crate implementing [`movies::MovieRepository`] in
//! memory and driving [`movies::MovieService`] with it: `cargo run -p movies-domain --example
//! in_memory`.

pub mod auth;
pub mod bulk;
pub mod characters;
pub mod error;
pub mod events;
pub mod jobs;
pub mod movies;
mod names;
pub mod paging;
pub mod text;
pub mod users;

pub use bulk::DeletedRange;
pub use error::{Entity, Error, FieldError, Loc, Result};
pub use paging::{Listing, Page};
