//! The job rules: how many rows a job may make, who may see and cancel it.

use std::sync::Arc;

use super::{Job, JobKind, JobStore, MAX_ACTIVE_PER_USER, MAX_GENERATE};
use crate::auth::Principal;
use crate::error::{Entity, Error, FieldError, Result};

#[derive(Clone)]
pub struct JobService {
    store: Arc<dyn JobStore>,
}

impl JobService {
    pub fn new(store: Arc<dyn JobStore>) -> Self {
        Self { store }
    }

    /// Queues a job making `number` rows of `kind` for `by`.
    ///
    /// # Errors
    /// `Invalid` for a number outside 1..=1,000,000, or characters when there is no movie;
    /// `LimitReached` when `by` already has [`MAX_ACTIVE_PER_USER`] jobs queued or running (a
    /// check, not a lock: two requests at the same instant may both pass it).
    pub async fn submit(&self, kind: JobKind, number: i64, by: &Principal) -> Result<Job> {
        if !(1..=MAX_GENERATE as i64).contains(&number) {
            return Err(FieldError::new(
                "number",
                "value_error",
                format!("number must be between 1 and {MAX_GENERATE}"),
            )
            .into());
        }
        let jobs = self.store.list(Some(by.user_id)).await?;
        if jobs.iter().filter(|j| !j.status.is_finished()).count() >= MAX_ACTIVE_PER_USER {
            return Err(Error::LimitReached(format!(
                "You already have {MAX_ACTIVE_PER_USER} jobs queued or running; \
                 wait for one to end or cancel one"
            )));
        }
        if kind == JobKind::Characters && self.store.random_movie_ids(1).await?.is_empty() {
            return Err(FieldError::whole(
                "value_error",
                "There are no movies to attach characters to; create or generate movies first",
            )
            .into());
        }
        self.store.create(kind, number as u64, Some(by.user_id)).await
    }

    /// # Errors
    /// `NotFound(Job)` also for another user's job, so that ids cannot be probed.
    pub async fn get(&self, id: &str, by: &Principal) -> Result<Job> {
        let job = self.store.get(id).await?.ok_or(Error::NotFound(Entity::Job))?;
        if by.is_admin() || job.owner_id == Some(by.user_id) {
            Ok(job)
        } else {
            Err(Error::NotFound(Entity::Job))
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
        self.store.cancel(id).await?.ok_or(Error::NotFound(Entity::Job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{JobStatus, MockJobStore};
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

    #[tokio::test]
    async fn a_job_is_bounded_to_a_million_rows() {
        let service = JobService::new(Arc::new(MockJobStore::new()));
        for n in [0, -1, 1_000_001] {
            assert!(matches!(
                service.submit(JobKind::Movies, n, &user(1)).await,
                Err(Error::Invalid(_))
            ));
        }
    }

    #[tokio::test]
    async fn a_user_may_have_only_so_many_jobs_queued_or_running() {
        let active = vec![job(1); MAX_ACTIVE_PER_USER];
        let mut store = MockJobStore::new();
        store.expect_list().returning(move |_| Ok(active.clone()));
        let service = JobService::new(Arc::new(store));
        assert!(matches!(
            service.submit(JobKind::Movies, 5, &user(1)).await,
            Err(Error::LimitReached(_))
        ));

        let mut ended = vec![job(1); MAX_ACTIVE_PER_USER];
        ended[0].status = JobStatus::Done;
        let mut store = MockJobStore::new();
        store.expect_list().withf(|owner| *owner == Some(1)).returning(move |_| Ok(ended.clone()));
        store.expect_create().returning(|_, _, _| Ok(job(1)));
        let service = JobService::new(Arc::new(store));
        assert!(service.submit(JobKind::Movies, 5, &user(1)).await.is_ok());
    }

    #[tokio::test]
    async fn characters_need_a_movie() {
        let mut store = MockJobStore::new();
        store.expect_list().returning(|_| Ok(vec![]));
        store.expect_random_movie_ids().returning(|_| Ok(vec![]));
        let service = JobService::new(Arc::new(store));
        assert!(matches!(
            service.submit(JobKind::Characters, 5, &user(1)).await,
            Err(Error::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn another_users_job_is_not_found() {
        let mut store = MockJobStore::new();
        store.expect_get().returning(|_| Ok(Some(job(1))));
        let service = JobService::new(Arc::new(store));
        assert!(matches!(service.get("j1", &user(2)).await, Err(Error::NotFound(Entity::Job))));
        assert!(matches!(service.cancel("j1", &user(2)).await, Err(Error::NotFound(Entity::Job))));
        assert!(service.get("j1", &user(1)).await.is_ok());
    }
}
