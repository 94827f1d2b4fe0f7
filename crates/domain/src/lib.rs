//! Entities, validated inputs, ports and application services of the Movies & Characters API.
//! It must not depend on a web framework, an ORM, SQL or HTTP types: adapters depend on it, never
//! the other way round.
//!
// The crate documentation goes on with README.md, so that docs.rs and crates.io say the same thing
// and the README's examples run as doctests (`cargo test -p movies-domain --doc`).
#![doc = include_str!("../README.md")]

pub mod auth;
pub mod bulk;
pub mod catalogue;
pub mod characters;
pub mod clock;
pub mod error;
pub mod events;
pub mod jobs;
pub mod movies;
mod names;
pub mod paging;
pub mod readiness;
pub mod text;
pub mod users;

pub use bulk::DeletedRange;
pub use error::{Error, FieldError, Loc, OutsideItem, RecordKind, Result, UpstreamError};
pub use paging::{Keyed, Listing, Page};
