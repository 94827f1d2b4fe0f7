//! The authentication hot path without SQL: decorators over the revocation store and the user
//! repository that answer `is_revoked` and `find` from memory.
//!
//! Each stays right on its own instance because its own writes update memory before they return
//! (a logout's answer comes after the revocation is in memory, a delete's after the user left the
//! cache). Other instances' writes arrive as events from the log ([`auth_invalidation`], told
//! by the dispatcher): internal `auth` events for revocations and role changes, `user`/`delete`
//! for deletions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use movies_domain::Result;
use movies_domain::auth::{TokenRevocations, Username};
use movies_domain::clock::now_secs;
use movies_domain::events::{Event, EventSubject, Operation};
use movies_domain::users::{Role, User, UserRepository, UserSummary};

use crate::events::Invalidation;

/// Cached users at most; past it the cache starts over (ids are few next to requests).
const MAX_USERS: usize = 100_000;
/// How long the listener waits before trying a failed reload again.
const RELOAD_RETRY: Duration = Duration::from_secs(1);

/// Revocations held in memory, over the store that keeps them across restarts.
pub struct CachedRevocations {
    inner: Arc<dyn TokenRevocations>,
    /// `jti` → when the token expires (seconds).
    revoked: RwLock<HashMap<String, i64>>,
    /// False after the listener missed events and before the reload that makes up for them.
    complete: AtomicBool,
}

impl CachedRevocations {
    /// Loads every unexpired revocation from `inner`.
    ///
    /// # Errors
    /// As [`TokenRevocations::unexpired`].
    pub async fn load(inner: Arc<dyn TokenRevocations>) -> Result<Self> {
        let this =
            Self { inner, revoked: RwLock::new(HashMap::new()), complete: AtomicBool::new(false) };
        this.reload().await?;
        Ok(this)
    }

    /// Adds the store's unexpired revocations to memory. Revocations are never withdrawn, so
    /// adding to what is there (rather than replacing it) cannot lose one learnt meanwhile.
    ///
    /// # Errors
    /// As [`TokenRevocations::unexpired`]; memory is then left marked incomplete.
    pub async fn reload(&self) -> Result<()> {
        self.complete.store(false, Ordering::SeqCst);
        let rows = self.inner.unexpired(now_secs()).await?;
        self.write().extend(rows);
        self.complete.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Records a revocation made elsewhere (from its event).
    pub fn learn(&self, jti: &str, expires_at: i64) {
        self.write().insert(jti.to_owned(), expires_at);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, i64>> {
        self.revoked.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl TokenRevocations for CachedRevocations {
    async fn revoke(&self, jti: &str, expires_at: i64) -> Result<()> {
        self.inner.revoke(jti, expires_at).await?;
        self.learn(jti, expires_at);
        Ok(())
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool> {
        if !self.complete.load(Ordering::SeqCst) {
            return self.inner.is_revoked(jti).await;
        }
        Ok(self.revoked.read().unwrap_or_else(PoisonError::into_inner).contains_key(jti))
    }

    async fn prune(&self, now: i64) -> Result<u64> {
        // Memory first: an expired token is refused by its signature check anyway.
        self.write().retain(|_, expires_at| *expires_at >= now);
        self.inner.prune(now).await
    }

    async fn unexpired(&self, now: i64) -> Result<Vec<(String, i64)>> {
        self.inner.unexpired(now).await
    }
}

/// Users by id (their existence and role, what authentication reads), over the repository.
pub struct CachedUsers {
    inner: Arc<dyn UserRepository>,
    users: RwLock<HashMap<i64, User>>,
    /// Bumped by every invalidation, under the write lock: a `find` that read the store before
    /// an invalidation does not put what it read into the cache after it.
    generation: AtomicU64,
}

impl CachedUsers {
    pub fn new(inner: Arc<dyn UserRepository>) -> Self {
        Self { inner, users: RwLock::new(HashMap::new()), generation: AtomicU64::new(0) }
    }

    /// Drops one user from the cache.
    pub fn forget(&self, id: i64) {
        let mut users = self.write();
        users.remove(&id);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Drops every user from the cache.
    pub fn forget_all(&self) {
        let mut users = self.write();
        users.clear();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<i64, User>> {
        self.users.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl UserRepository for CachedUsers {
    async fn create(&self, username: &Username, password_hash: &str, role: Role) -> Result<User> {
        self.inner.create(username, password_hash, role).await
    }

    async fn find(&self, id: i64) -> Result<Option<User>> {
        if let Some(user) = self.users.read().unwrap_or_else(PoisonError::into_inner).get(&id) {
            return Ok(Some(user.clone()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        // Only users that exist are cached: an absent id may be created later, by anyone.
        let found = self.inner.find(id).await?;
        if let Some(user) = &found {
            let mut users = self.write();
            if self.generation.load(Ordering::SeqCst) == generation {
                if users.len() >= MAX_USERS {
                    users.clear();
                }
                users.insert(id, user.clone());
            }
        }
        Ok(found)
    }

    async fn find_by_username(&self, username: &str) -> Result<Option<User>> {
        self.inner.find_by_username(username).await
    }

    async fn credentials(&self, username: &str) -> Result<Option<(User, String)>> {
        self.inner.credentials(username).await
    }

    async fn set_credentials(&self, id: i64, password_hash: &str, role: Role) -> Result<User> {
        let result = self.inner.set_credentials(id, password_hash, role).await;
        // Even after an error: the write may have committed before it failed.
        self.forget(id);
        result
    }

    async fn summaries(&self, role: Role) -> Result<Vec<UserSummary>> {
        self.inner.summaries(role).await
    }

    async fn summary(&self, id: i64) -> Result<Option<UserSummary>> {
        self.inner.summary(id).await
    }

    async fn delete(&self, id: i64) -> Result<Option<User>> {
        let result = self.inner.delete(id).await;
        self.forget(id);
        result
    }
}

/// Keeps both caches current from the events of every instance: the dispatcher tells it each
/// event before this instance's listeners hear of it. An event it cannot read makes it drop
/// every cached user and reload the revocations, and until that reload succeeds `is_revoked`
/// asks the store: never a stale answer.
pub fn auth_invalidation(
    revocations: Arc<CachedRevocations>,
    users: Arc<CachedUsers>,
) -> Invalidation {
    Arc::new(move |event: &Event| {
        if apply(event, &revocations, &users) {
            return;
        }
        tracing::warn!(seq = event.seq, "auth caches cannot read an event: reloading");
        users.forget_all();
        revocations.complete.store(false, Ordering::SeqCst);
        let revocations = revocations.clone();
        tokio::spawn(async move {
            while let Err(e) = revocations.reload().await {
                tracing::warn!(error = %e, "could not reload token revocations");
                tokio::time::sleep(RELOAD_RETRY).await;
            }
        });
    })
}

/// Applies one event to the caches; `false` when it cannot be read (the caller reloads).
fn apply(event: &Event, revocations: &CachedRevocations, users: &CachedUsers) -> bool {
    let number = |key: &str| event.data.get(key).and_then(serde_json::Value::as_i64);
    match (event.entity, event.operation) {
        (EventSubject::Auth, Operation::Revoke) => {
            match (event.data.get("jti").and_then(serde_json::Value::as_str), number("exp")) {
                (Some(jti), Some(exp)) => revocations.learn(jti, exp),
                _ => return false,
            }
        }
        (EventSubject::Auth, _) => match number("userId") {
            Some(id) => users.forget(id),
            None => return false,
        },
        (EventSubject::User, Operation::Delete) => match number("id") {
            Some(id) => users.forget(id),
            None => return false,
        },
        (EventSubject::User, _) => users.forget_all(),
        _ => {}
    }
    true
}
