//! `PasswordHasher` with argon2id at OWASP's parameters (19 MiB, 2 iterations, 1 lane). Hashing
//! costs tens of milliseconds of CPU, so it runs on tokio's blocking pool, never on the async
//! workers, and at most (cores - 1) hashes run at once: a login storm queues for its hashes
//! instead of taking every core (and 19 MiB per hash) from the requests being served. The queue
//! is bounded too ([`Argon2Hasher::with_max_waiting`]): beyond it a hash is refused at once with
//! `Error::Overloaded`, so a flood costs neither memory nor minutes of waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use movies_domain::auth::{Password, PasswordHasher};
use movies_domain::{Error, Result};
use tokio::sync::Semaphore;

/// OWASP Password Storage Cheat Sheet, argon2id option 2: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// How many hashes may wait for a slot unless told otherwise: at about 20 ms a hash, well under
/// a second of waiting on a 2-core machine.
pub const DEFAULT_MAX_WAITING: usize = 32;

/// The reason given when the queue is full.
pub const HASHING_SATURATED: &str =
    "Too many logins are being checked right now; try again after Retry-After seconds";

#[derive(Clone, Debug)]
pub struct Argon2Hasher {
    params: Params,
    /// Bounds how many hashes run at once.
    slots: Arc<Semaphore>,
    /// How many hashes wait for a slot now, and how many may.
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// A hash of a random password, checked when the user is unknown so that answer takes as
    /// long as a wrong password.
    dummy_hash: String,
}

impl Argon2Hasher {
    /// # Errors
    /// `Internal` if the parameters are refused or the dummy hash cannot be made.
    pub fn new() -> Result<Self> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).map_err(Error::internal)?;
        let dummy = uuid::Uuid::new_v4().to_string();
        let dummy_hash = argon2(&params)
            .hash_password(dummy.as_bytes())
            .map_err(|e| Error::internal(e.to_string()))?
            .to_string();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let slots = Arc::new(Semaphore::new(cores.saturating_sub(1).max(1)));
        let waiting = Arc::new(AtomicUsize::new(0));
        Ok(Self { params, slots, waiting, max_waiting: DEFAULT_MAX_WAITING, dummy_hash })
    }

    /// The same hasher, with at most `max_waiting` hashes waiting for a slot (0: none wait,
    /// only the running ones are taken).
    #[must_use]
    pub fn with_max_waiting(mut self, max_waiting: usize) -> Self {
        self.max_waiting = max_waiting;
        self
    }

    /// The same hasher, running at most `running` hashes at once (at least one).
    #[must_use]
    pub fn with_max_running(mut self, running: usize) -> Self {
        self.slots = Arc::new(Semaphore::new(running.max(1)));
        self
    }

    /// How many hashes wait for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// One place in the queue, given back when dropped (the hash started, or its caller left).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

impl Argon2Hasher {
    /// Runs CPU-heavy work on the blocking pool, once a hashing slot is free.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let _slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Counted before the check, so that two callers cannot both take the last place.
                let place = Waiting(self.waiting.clone());
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    return Err(Error::Overloaded(HASHING_SATURATED));
                }
                let slot = self.slots.clone().acquire_owned().await.map_err(Error::internal)?;
                drop(place);
                slot
            }
        };
        tokio::task::spawn_blocking(work).await.map_err(Error::internal)
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<String> {
        let params = self.params.clone();
        let password = password.expose().to_owned();
        self.blocking(move || {
            argon2(&params)
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| Error::internal(e.to_string()))
        })
        .await?
    }

    async fn verify(&self, password: &Password, hash: Option<String>) -> Result<bool> {
        let known_user = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let params = self.params.clone();
        let password = password.expose().to_owned();
        let matches = self
            .blocking(move || {
                // A stored hash that does not parse cannot match; it is not worth a 503.
                PasswordHash::new(&hash)
                    .map(|parsed| {
                        argon2(&params).verify_password(password.as_bytes(), &parsed).is_ok()
                    })
                    .unwrap_or(false)
            })
            .await?;
        Ok(known_user && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(raw: &str) -> Password {
        Password::new("password", raw.into()).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = Argon2Hasher::new().unwrap();
        let hash = hasher.hash(&password("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify(&password("correct horse"), Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify(&password("wrong horse!"), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn two_hashes_of_one_password_differ_by_their_salt() {
        let hasher = Argon2Hasher::new().unwrap();
        let a = hasher.hash(&password("correct horse")).await.unwrap();
        let b = hasher.hash(&password("correct horse")).await.unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn beyond_the_waiting_bound_a_hash_is_refused_at_once() {
        let hasher = Argon2Hasher::new().unwrap().with_max_running(1).with_max_waiting(1);
        // Hold the only slot, so that every hash has to wait.
        let held = hasher.slots.clone().acquire_owned().await.unwrap();
        let queued = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(&password("correct horse")).await })
        };
        while hasher.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        let refused = hasher.hash(&password("correct horse")).await;
        assert!(matches!(refused, Err(Error::Overloaded(HASHING_SATURATED))), "{refused:?}");
        assert_eq!(hasher.waiting(), 1, "a refused hash takes no place in the queue");
        drop(held);
        assert!(queued.await.unwrap().is_ok(), "the one waiting is served");
        assert_eq!(hasher.waiting(), 0);
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = Argon2Hasher::new().unwrap();
        assert!(!hasher.verify(&password("anything1"), None).await.unwrap());
        assert!(!hasher.verify(&password("anything1"), Some("garbage".into())).await.unwrap());
    }
}
