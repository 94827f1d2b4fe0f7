//! Job JSON.

use movies_domain::jobs::{Job, JobKind, JobStatus};
use serde::Serialize;

/// `{"id", "kind", "status", "requested", "done", "createdAt", "startedAt", "finishedAt", "error"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobJson {
    pub id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub requested: u64,
    pub done: u64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
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
#[derive(Debug, Serialize)]
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
