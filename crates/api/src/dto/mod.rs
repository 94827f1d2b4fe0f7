//! The JSON shapes of requests and responses, with the original service's field names, and their
//! conversions to and from domain types. Handlers never serialise domain types directly.

pub mod auth;
pub mod characters;
pub mod events;
pub mod jobs;
pub mod movies;
pub mod users;

use movies_domain::DeletedRange;
use serde::{Deserialize, Serialize};

/// `{"message": "..."}`.
#[derive(Debug, Serialize)]
pub struct Message {
    pub message: &'static str,
}

/// `{"count": n}`.
#[derive(Debug, Serialize)]
pub struct Count {
    pub count: u64,
}

/// `{"deleted": [...], "not_found": [...]}` for a range delete.
#[derive(Debug, Serialize)]
pub struct DeletedRangeJson {
    pub deleted: Vec<i64>,
    pub not_found: Vec<i64>,
}

impl From<DeletedRange> for DeletedRangeJson {
    fn from(r: DeletedRange) -> Self {
        Self { deleted: r.deleted, not_found: r.not_found }
    }
}

/// `skip` and `limit` of a list route.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    pub skip: Option<i64>,
    pub limit: Option<i64>,
}
