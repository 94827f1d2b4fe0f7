//! The JSON shapes of requests and responses, with the original service's field names, and their
//! conversions to and from domain types. Handlers never serialise domain types directly.

pub mod auth;
pub mod characters;
pub mod events;
pub mod jobs;
pub mod lax;
pub mod movies;
pub mod users;

use movies_domain::DeletedRange;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};

/// `{"message": "..."}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: &'static str,
}

/// `{"count": n}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({ "count": 42 }))]
pub struct Count {
    pub count: u64,
}

/// `{"deleted": [...], "not_found": [...]}` for a range delete.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeletedRange)]
pub struct DeletedRangeJson {
    pub deleted: Vec<i64>,
    pub not_found: Vec<i64>,
}

impl From<DeletedRange> for DeletedRangeJson {
    fn from(r: DeletedRange) -> Self {
        Self { deleted: r.deleted, not_found: r.not_found }
    }
}

/// The ids of a range delete, `/{start_id}/{end_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdRange {
    /// The first id deleted.
    #[serde(deserialize_with = "lax::int")]
    pub start_id: i64,
    /// The first id not deleted; greater than `start_id`.
    #[serde(deserialize_with = "lax::int")]
    pub end_id: i64,
}

/// `skip` and `limit` of a list route.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many to pass over; default 0.
    #[param(minimum = 0)]
    #[serde(default, deserialize_with = "lax::opt_int")]
    pub skip: Option<i64>,
    /// How many to return.
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "lax::opt_int")]
    pub limit: Option<i64>,
    /// A cursor: only records with ids above this one, in id order. The next page's cursor
    /// comes in the `X-Next-After` header.
    #[serde(default, deserialize_with = "lax::opt_int")]
    pub after: Option<i64>,
}

/// A string schema allowing one of `names`: the domain's enums name themselves
/// (`wire_names!`) and know nothing of OpenAPI.
pub(crate) fn one_of(names: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names.iter().copied()))
}
