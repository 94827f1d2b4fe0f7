//! Job JSON.

use movies_domain::jobs::{Job, JobKind, JobStatus};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::ObjectBuilder;

use super::one_of;

fn kind_schema() -> ObjectBuilder {
    one_of(JobKind::NAMES)
}

fn status_schema() -> ObjectBuilder {
    one_of(JobStatus::NAMES)
}

/// `{"id", "kind", "status", "requested", "done", "createdAt", "startedAt", "finishedAt", "error"}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Job)]
pub struct JobJson {
    pub id: String,
    #[schema(schema_with = kind_schema)]
    pub kind: JobKind,
    #[schema(schema_with = status_schema)]
    pub status: JobStatus,
    pub requested: u64,
    pub done: u64,
    pub created_at: String,
    #[schema(required = true)]
    pub started_at: Option<String>,
    #[schema(required = true)]
    pub finished_at: Option<String>,
    #[schema(required = true)]
    pub error: Option<String>,
}

impl From<Job> for JobJson {
    fn from(j: Job) -> Self {
        Self {
            id: j.id,
            kind: j.kind,
            status: j.status,
            requested: j.requested,
            done: j.done,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            error: j.error,
        }
    }
}

/// The 202 answer to a generate request.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    pub message: String,
    #[serde(rename = "jobId")]
    pub job_id: String,
    /// Where to watch the job.
    pub status: String,
}

impl From<Job> for JobAccepted {
    fn from(j: Job) -> Self {
        Self {
            message: format!("Generating {} {} in background", j.requested, j.kind),
            status: format!("/jobs/{}", j.id),
            job_id: j.id,
        }
    }
}
