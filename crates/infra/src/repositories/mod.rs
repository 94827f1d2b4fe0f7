//! The repository adapters: one file per resource, each implementing its domain port.

mod cached;
mod characters;
mod listing;
mod movies;
mod revocations;
mod users;

pub use cached::{CachedCharacters, CachedMovies, DEFAULT_READ_CACHE_MB, ReadCache};
pub use characters::SeaCharacterRepository;
pub use movies::SeaMovieRepository;
pub use revocations::SeaTokenRevocations;
pub use users::SeaUserRepository;

use sea_orm::sea_query::{Expr, ExprTrait, Func, IntoColumnRef, LikeExpr};

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bound-parameter limits.
const INSERT_CHUNK: usize = 1000;
/// Values per `IN (...)` list.
const IN_CHUNK: usize = 500;

/// A case-insensitive "contains" condition on a text column, with `%`, `_` and `\` in the
/// needle taken literally.
pub(crate) fn contains_ci_expr(column: impl IntoColumnRef, needle: &str) -> Expr {
    let escaped =
        needle.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let pattern = LikeExpr::new(format!("%{escaped}%")).escape('\\');
    Expr::expr(Func::lower(Expr::col(column))).like(pattern)
}
