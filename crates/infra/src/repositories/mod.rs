//! The repository adapters: one file per resource, each implementing its domain port.

mod characters;
mod movies;
mod revocations;
mod users;

pub use characters::SeaCharacterRepository;
pub use movies::SeaMovieRepository;
pub use revocations::SeaTokenRevocations;
pub use users::SeaUserRepository;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition};

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bound-parameter limits.
const INSERT_CHUNK: usize = 1000;
/// Values per `IN (...)` list.
const IN_CHUNK: usize = 500;

/// A case-insensitive "contains" condition on a text column, with `%`, `_` and `\` in the
/// needle taken literally.
pub(crate) fn contains_ci(column: impl ColumnTrait, needle: &str) -> Condition {
    let escaped =
        needle.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let pattern = LikeExpr::new(format!("%{escaped}%")).escape('\\');
    Condition::all().add(Expr::expr(Func::lower(Expr::col(column.as_column_ref()))).like(pattern))
}
