//! The job rules: how many rows a job may make, who may see and cancel it. How a job runs is in
//! `run.rs`.

use std::sync::Arc;

use super::{Job, JobKind, JobStore, MAX_ACTIVE_PER_USER, MAX_GENERATE, RowGenerator};
use crate::auth::Principal;
use crate::characters::CharacterRepository;
use crate::error::{Error, FieldError, RecordKind, Result};
use crate::movies::MovieRepository;

/// Jobs from submission to their end: the rules of who may do what with them
/// ([`JobService::submit`], [`JobService::get`], [`JobService::cancel`]), the scheduling calls a
/// runner makes ([`JobService::claim_next`], [`JobService::requeue_interrupted`]), and the run
/// itself ([`JobService::run`]), over the job store, the movie and character repositories and a
/// row generator.
#[derive(Clone)]
pub struct JobService {
    pub(super) store: Arc<dyn JobStore>,
    pub(super) movies: Arc<dyn MovieRepository>,
    pub(super) characters: Arc<dyn CharacterRepository>,
    pub(super) rows: Arc<dyn RowGenerator>,
}

impl JobService {
    pub fn new(
        store: Arc<dyn JobStore>,
        movies: Arc<dyn MovieRepository>,
        characters: Arc<dyn CharacterRepository>,
        rows: Arc<dyn RowGenerator>,
    ) -> Self {
        Self { store, movies, characters, rows }
    }

    /// Queues a job making `number` rows of `kind` for `by`.
    ///
    /// # Errors
    /// `Invalid` for a number outside 1..=1,000,000, or characters when there is no movie;
    /// `LimitReached` when `by` already has [`MAX_ACTIVE_PER_USER`] jobs queued or running (a
    /// check, not a lock: two requests at the same instant may both pass it).
    pub async fn submit(&self, kind: JobKind, number: i64, by: &Principal) -> Result<Job> {
        let requested = requested(number)?;
        let jobs = self.store.list(Some(by.user_id)).await?;
        if jobs.iter().filter(|j| !j.status.is_finished()).count() >= MAX_ACTIVE_PER_USER {
            return Err(Error::LimitReached(format!(
                "You already have {MAX_ACTIVE_PER_USER} jobs queued or running; \
                 wait for one to end or cancel one"
            )));
        }
        self.need_movies(kind).await?;
        self.store.create(kind, requested, Some(by.user_id)).await
    }

    /// Queues a job with no owner, for the operator's command-line generator: the bounds of
    /// [`JobService::submit`] and its need of a movie, no per-user limit; its rows have no
    /// editor.
    ///
    /// # Errors
    /// `Invalid` as [`JobService::submit`].
    pub async fn submit_as_system(&self, kind: JobKind, number: u64) -> Result<Job> {
        let requested = requested(i64::try_from(number).unwrap_or(i64::MAX))?;
        self.need_movies(kind).await?;
        self.store.create(kind, requested, None).await
    }

    /// Characters need a movie to belong to.
    async fn need_movies(&self, kind: JobKind) -> Result<()> {
        if kind == JobKind::Characters && self.movies.sample_ids(1).await?.is_empty() {
            return Err(FieldError::whole(
                "value_error",
                "There are no movies to attach characters to; create or generate movies first",
            )
            .into());
        }
        Ok(())
    }

    /// # Errors
    /// `NotFound(Job)` also for another user's job, so that ids cannot be probed.
    pub async fn get(&self, id: &str, by: &Principal) -> Result<Job> {
        let job = self.store.get(id).await?.ok_or(Error::NotFound(RecordKind::Job))?;
        if by.is_admin() || job.owner_id == Some(by.user_id) {
            Ok(job)
        } else {
            Err(Error::NotFound(RecordKind::Job))
        }
    }

    /// The caller's jobs; an admin sees all.
    pub async fn list(&self, by: &Principal) -> Result<Vec<Job>> {
        self.store.list(if by.is_admin() { None } else { Some(by.user_id) }).await
    }

    /// # Errors
    /// `NotFound(Job)` as in [`JobService::get`].
    pub async fn cancel(&self, id: &str, by: &Principal) -> Result<Job> {
        self.get(id, by).await?;
        self.store.cancel(id).await?.ok_or(Error::NotFound(RecordKind::Job))
    }

    /// Marks the queued job `id` `running` for the caller to run; `None` if it is not queued
    /// (another process took it).
    pub async fn claim(&self, id: &str) -> Result<Option<Job>> {
        self.store.claim(id).await
    }

    /// Marks the oldest queued job `running` for the caller to run; `None` when none is queued.
    pub async fn claim_next(&self) -> Result<Option<Job>> {
        self.store.claim_next().await
    }

    /// Puts the jobs a stopped server left `running` back in the queue, with their progress;
    /// returns how many.
    pub async fn requeue_interrupted(&self) -> Result<u64> {
        self.store.requeue_interrupted().await
    }
}

/// `number` as a job's requested count, within 1..=[`MAX_GENERATE`].
fn requested(number: i64) -> Result<u64> {
    if !(1..=MAX_GENERATE as i64).contains(&number) {
        return Err(FieldError::new(
            "number",
            "value_error",
            format!("number must be between 1 and {MAX_GENERATE}"),
        )
        .into());
    }
    Ok(number as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::characters::MockCharacterRepository;
    use crate::jobs::{JobStatus, MockJobStore, MockRowGenerator};
    use crate::movies::MockMovieRepository;
    use crate::users::Role;

    fn user(id: i64) -> Principal {
        Principal::for_test(id, Role::User)
    }

    fn job(owner: i64) -> Job {
        Job {
            id: "j1".into(),
            kind: JobKind::Movies,
            status: JobStatus::Queued,
            requested: 10,
            done: 0,
            owner_id: Some(owner),
            cancel_requested: false,
            created_at: String::new(),
            started_at: None,
            finished_at: None,
            error: None,
        }
    }

    fn job_service(store: MockJobStore, movies: MockMovieRepository) -> JobService {
        JobService::new(
            Arc::new(store),
            Arc::new(movies),
            Arc::new(MockCharacterRepository::new()),
            Arc::new(MockRowGenerator::new()),
        )
    }

    #[tokio::test]
    async fn a_job_is_bounded_to_a_million_rows() {
        let service = job_service(MockJobStore::new(), MockMovieRepository::new());
        for n in [0, -1, 1_000_001] {
            assert!(matches!(
                service.submit(JobKind::Movies, n, &user(1)).await,
                Err(Error::Invalid(_))
            ));
        }
        for n in [0, 1_000_001, u64::MAX] {
            assert!(matches!(
                service.submit_as_system(JobKind::Movies, n).await,
                Err(Error::Invalid(_))
            ));
        }
    }

    #[tokio::test]
    async fn a_user_may_have_only_so_many_jobs_queued_or_running() {
        let active = vec![job(1); MAX_ACTIVE_PER_USER];
        let mut store = MockJobStore::new();
        store.expect_list().returning(move |_| Ok(active.clone()));
        let service = job_service(store, MockMovieRepository::new());
        assert!(matches!(
            service.submit(JobKind::Movies, 5, &user(1)).await,
            Err(Error::LimitReached(_))
        ));

        let mut ended = vec![job(1); MAX_ACTIVE_PER_USER];
        ended[0].status = JobStatus::Done;
        let mut store = MockJobStore::new();
        store.expect_list().withf(|owner| *owner == Some(1)).returning(move |_| Ok(ended.clone()));
        store.expect_create().returning(|_, _, _| Ok(job(1)));
        let service = job_service(store, MockMovieRepository::new());
        assert!(service.submit(JobKind::Movies, 5, &user(1)).await.is_ok());
    }

    #[tokio::test]
    async fn characters_need_a_movie() {
        let mut store = MockJobStore::new();
        store.expect_list().returning(|_| Ok(vec![]));
        let mut movies = MockMovieRepository::new();
        movies.expect_sample_ids().withf(|n| *n == 1).returning(|_| Ok(vec![]));
        let service = job_service(store, movies);
        assert!(matches!(
            service.submit(JobKind::Characters, 5, &user(1)).await,
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            service.submit_as_system(JobKind::Characters, 5).await,
            Err(Error::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn a_system_job_has_no_owner_and_no_per_user_limit() {
        let mut store = MockJobStore::new();
        // No `list`: the limit is per user, and the operator is none.
        store
            .expect_create()
            .withf(|kind, n, owner| (*kind, *n, *owner) == (JobKind::Movies, 5, None))
            .times(1)
            .returning(|_, _, _| Ok(Job { owner_id: None, ..job(1) }));
        let service = job_service(store, MockMovieRepository::new());
        assert_eq!(service.submit_as_system(JobKind::Movies, 5).await.unwrap().owner_id, None);
    }

    #[tokio::test]
    async fn another_users_job_is_not_found() {
        let mut store = MockJobStore::new();
        store.expect_get().returning(|_| Ok(Some(job(1))));
        let service = job_service(store, MockMovieRepository::new());
        assert!(matches!(service.get("j1", &user(2)).await, Err(Error::NotFound(RecordKind::Job))));
        assert!(matches!(
            service.cancel("j1", &user(2)).await,
            Err(Error::NotFound(RecordKind::Job))
        ));
        assert!(service.get("j1", &user(1)).await.is_ok());
    }
}
