//! The runner: schedules jobs, and only that. It requeues what a stopped server left running,
//! then claims queued jobs in order (and, with several instances, jobs whose instance died), at
//! most `concurrency` at once, and hands each to `JobService::run` (the domain's rules of a run)
//! on a task of its own, renewing the job's lease while it runs.

use std::sync::Arc;

use movies_domain::Result;
use movies_domain::jobs::{Job, JobService};

use super::SeaJobStore;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// Runs jobs until aborted. Waits on the store's signal that a job was queued here when the
/// queue is empty; on a shared database (PostgreSQL) also looks again every third of a lease,
/// for jobs queued by other instances and jobs whose lease expired.
pub fn spawn_runner(jobs: JobService, store: &SeaJobStore, concurrency: usize) -> JoinHandle<()> {
    let queued = store.queued_signal();
    let store = store.clone();
    let poll = store.is_shared().then(|| store.lease() / 3);
    tokio::spawn(async move {
        match jobs.requeue_interrupted().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "resuming interrupted generation jobs"),
            Err(e) => tracing::error!(error = %e, "could not requeue interrupted jobs"),
        }
        let slots = Arc::new(Semaphore::new(concurrency.max(1)));
        let idle = || async {
            match poll {
                Some(poll) => {
                    let _ = tokio::time::timeout(poll, queued.notified()).await;
                }
                None => queued.notified().await,
            }
        };
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            match jobs.claim_next().await {
                Ok(Some(job)) => {
                    let (jobs, store) = (jobs.clone(), store.clone());
                    tokio::spawn(async move {
                        let id = job.id.clone();
                        tracing::info!(job = %id, kind = %job.kind, requested = job.requested,
                            done = job.done, "job running");
                        match run_under_lease(&store, &jobs, job, |_| {}).await {
                            Ok(Some(ended)) => {
                                tracing::info!(job = %id, status = %ended.status,
                                    done = ended.done, error = ended.error.as_deref(), "job ended");
                                refresh_statistics_after(&store, &ended).await;
                            }
                            Ok(None) => tracing::warn!(job = %id,
                                "lost the job's lease to another instance; stopped running it"),
                            // Still `running` in the store: requeued at the next start, or
                            // taken over by another instance once its lease expires.
                            Err(e) => tracing::error!(job = %id, error = %e,
                                "could not record the end of a job"),
                        }
                        drop(slot);
                    });
                }
                Ok(None) => {
                    drop(slot);
                    idle().await;
                }
                Err(e) => {
                    drop(slot);
                    tracing::warn!(error = %e, "could not claim a job; waiting for the next one");
                    idle().await;
                }
            }
        }
    })
}

/// Runs `job`, claimed by this instance, renewing its lease every third of the lease; returns
/// the ended job, or `None` when the lease was lost (another instance took the job over), in
/// which case the run stopped with its current batch uncommitted.
///
/// # Errors
/// As `JobService::run`.
pub async fn run_under_lease(
    store: &SeaJobStore,
    jobs: &JobService,
    job: Job,
    on_batch: impl Fn(u64) + Send + Sync,
) -> Result<Option<Job>> {
    let id = job.id.clone();
    let renewals = async {
        let mut tick = tokio::time::interval(store.lease() / 3);
        tick.tick().await;
        loop {
            tick.tick().await;
            match store.renew(&id).await {
                Ok(true) => {}
                Ok(false) => return,
                // Renewed at the next tick if the database is back by then; if not, the lease
                // may expire, and then this run's batches are refused (`record_progress`).
                Err(e) => tracing::warn!(job = %id, error = %e, "could not renew a job's lease"),
            }
        }
    };
    tokio::select! {
        ended = jobs.run(job, on_batch) => ended.map(Some),
        () = renewals => Ok(None),
    }
}

/// After a run that wrote rows, the tables' statistics refreshed
/// ([`SeaJobStore::refresh_statistics`]); a failure is logged, as the tables are only slower to
/// plan until autovacuum analyses them. Both ways of running a job (this runner and
/// `movies-api generate`) call it once the job's end is recorded and told.
pub async fn refresh_statistics_after(store: &SeaJobStore, ended: &Job) {
    if ended.done == 0 {
        return;
    }
    let started = std::time::Instant::now();
    match store.refresh_statistics(ended.kind).await {
        Ok(true) => tracing::info!(job = %ended.id,
            took_ms = started.elapsed().as_millis() as u64, "table statistics refreshed"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(job = %ended.id, error = %e, "could not refresh table statistics");
        }
    }
}
