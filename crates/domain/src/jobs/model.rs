//! A generation job and its states.

use crate::names::wire_names;
use serde::Serialize;

/// The most rows one job may generate.
pub const MAX_GENERATE: u64 = 1_000_000;
/// Rows per batch, and so per transaction: single writes from the API interleave between
/// batches, and reads never wait for one. Each commit rewrites every page it touched (the name
/// index's pages are touched at random): 1,000,000 movies took 2.2 times longer in batches of
/// 1,000 than of 10,000, which hold the write lock for about 0.1 s.
pub const BATCH_SIZE: u64 = 10_000;
/// How many jobs one user may have queued or running at once, so that no account can keep the
/// workers (and the database) busy with an endless queue.
pub const MAX_ACTIVE_PER_USER: usize = 4;

/// What a job generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Movies,
    Characters,
}

/// Where a job is in its life: `queued` → `running` → `done` | `failed` | `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobStatus {
    /// Whether the job has ended (`done`, `failed` or `cancelled`).
    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Done | JobStatus::Failed | JobStatus::Cancelled)
    }
}

wire_names!(JobKind { Movies => "movies", Characters => "characters" });
wire_names!(JobStatus {
    Queued => "queued",
    Running => "running",
    Done => "done",
    Failed => "failed",
    Cancelled => "cancelled",
});

/// A generation job. Times are RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub requested: u64,
    /// Rows stored so far; counted in the same transaction as each batch.
    pub done: u64,
    /// Who asked for it (`None` for the command-line generator).
    pub owner_id: Option<i64>,
    /// Set by a cancel; the runner stops after its current batch.
    pub cancel_requested: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

/// The job a batch insert counts towards: given to `MovieRepository::insert_many` or
/// `CharacterRepository::insert_many`, it makes the adapter add the rows it stored to the job's
/// `done` and record the job's progress event in the batch's own transaction, so that a job
/// stopped at any point (even by a crash) knows exactly how many rows it has made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCredit {
    pub job_id: String,
}

impl JobCredit {
    pub fn new(job_id: impl Into<String>) -> Self {
        Self { job_id: job_id.into() }
    }
}
