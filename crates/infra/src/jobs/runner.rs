//! The runner: schedules jobs, and only that. It requeues what a stopped server left running,
//! then claims queued jobs in order, at most `concurrency` at once, and hands each to
//! `JobService::run` (the domain's rules of a run) on a task of its own.

use std::sync::Arc;

use movies_domain::jobs::JobService;

use super::SeaJobStore;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// Runs jobs until aborted. `queued` is the job store's signal that a job was queued
/// (`SeaJobStore::queued_signal`), on which the runner waits when the queue is empty.
pub fn spawn_runner(jobs: JobService, store: &SeaJobStore, concurrency: usize) -> JoinHandle<()> {
    let queued = store.queued_signal();
    tokio::spawn(async move {
        match jobs.requeue_interrupted().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "resuming interrupted generation jobs"),
            Err(e) => tracing::error!(error = %e, "could not requeue interrupted jobs"),
        }
        let slots = Arc::new(Semaphore::new(concurrency.max(1)));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            match jobs.claim_next().await {
                Ok(Some(job)) => {
                    let jobs = jobs.clone();
                    tokio::spawn(async move {
                        let id = job.id.clone();
                        tracing::info!(job = %id, kind = %job.kind, requested = job.requested,
                            done = job.done, "job running");
                        match jobs.run(job, |_| {}).await {
                            Ok(ended) => tracing::info!(job = %id, status = %ended.status,
                                done = ended.done, error = ended.error.as_deref(), "job ended"),
                            // Still `running` in the store: requeued at the next start.
                            Err(e) => tracing::error!(job = %id, error = %e,
                                "could not record the end of a job"),
                        }
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
