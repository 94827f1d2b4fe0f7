//! The runner: takes queued jobs in order, at most `concurrency` at once, and works each through
//! in batches. Every batch is its own transaction, so single writes from the API interleave
//! between batches, and reads never wait for one.

use std::sync::Arc;

use movies_domain::jobs::{Job, JobKind, JobStatus, JobStore};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::{SeaJobStore, fake_characters, fake_movies};

/// Rows per batch (and per transaction).
pub const BATCH_SIZE: u64 = 1000;

/// Requeues the jobs a stopped server left running, then runs queued jobs, at most
/// `concurrency` at once, until aborted.
pub fn spawn_runner(store: SeaJobStore, concurrency: usize) -> JoinHandle<()> {
    let queued = store.queued_signal();
    let store: Arc<dyn JobStore> = Arc::new(store);
    tokio::spawn(async move {
        match store.requeue_interrupted().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "resuming interrupted generation jobs"),
            Err(e) => tracing::error!(error = %e, "could not requeue interrupted jobs"),
        }
        let slots = Arc::new(Semaphore::new(concurrency.max(1)));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            match store.claim_next().await {
                Ok(Some(job)) => {
                    let store = store.clone();
                    tokio::spawn(async move {
                        run_job(store.as_ref(), job, |_| {}).await;
                        drop(slot);
                    });
                }
                Ok(None) => {
                    drop(slot);
                    queued.notified().await;
                }
                Err(e) => {
                    drop(slot);
                    tracing::warn!(error = %e, "could not claim a job; waiting for the next one");
                    queued.notified().await;
                }
            }
        }
    })
}

/// Works `job` through to its end: done, cancelled, or failed with the reason. `on_batch` hears
/// the progress after every batch.
pub async fn run_job(store: &dyn JobStore, job: Job, on_batch: impl Fn(u64)) -> JobStatus {
    let mut done = job.done;
    let mut cancel = job.cancel_requested;
    tracing::info!(job = %job.id, kind = %job.kind, requested = job.requested, done, "job running");
    let (status, error) = loop {
        if cancel {
            break (JobStatus::Cancelled, None);
        }
        let n = (job.requested.saturating_sub(done)).min(BATCH_SIZE);
        if n == 0 {
            break (JobStatus::Done, None);
        }
        let stored = match job.kind {
            JobKind::Movies => {
                store.store_movies(&job.id, fake_movies(n as usize), job.owner_id).await
            }
            JobKind::Characters => match store.random_movie_ids(n).await {
                Ok(ids) if ids.is_empty() => {
                    break (
                        JobStatus::Failed,
                        Some("there are no movies left to attach characters to".into()),
                    );
                }
                Ok(ids) => {
                    let characters = fake_characters(n as usize, &ids);
                    store.store_characters(&job.id, characters, job.owner_id).await
                }
                Err(e) => Err(e),
            },
        };
        match stored {
            Ok(outcome) => {
                done = outcome.done;
                cancel = outcome.cancel_requested;
                on_batch(done);
            }
            // A movie deleted between sampling and insert: sample again.
            Err(movies_domain::Error::NotFound(movies_domain::Entity::Movie)) => {}
            Err(e) => break (JobStatus::Failed, Some(e.to_string())),
        }
        // Let other tasks (and the write gate's queue) in between batches.
        tokio::task::yield_now().await;
    };
    match store.finish(&job.id, status, error.clone()).await {
        Ok(_) => {
            tracing::info!(job = %job.id, %status, done, error = error.as_deref(), "job ended")
        }
        Err(e) => tracing::error!(job = %job.id, error = %e, "could not record the end of a job"),
    }
    status
}
