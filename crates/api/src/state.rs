//! What every handler can reach: the application services, built once at start.

use std::sync::Arc;

use tokio::sync::Notify;

use movies_domain::auth::AuthService;
use movies_domain::catalogue::{CatalogueService, MovieCatalogue};
use movies_domain::characters::CharacterService;
use movies_domain::events::EventLog;
use movies_domain::jobs::JobService;
use movies_domain::movies::MovieService;
use movies_domain::readiness::Readiness;
use movies_domain::users::UserService;
use movies_infra::auth::{Argon2Hasher, JwtTokens};
use movies_infra::events::{EventHub, SeaEventLog};
use movies_infra::jobs::{FakeRows, SeaJobStore};
use movies_infra::{
    Database, SeaCharacterRepository, SeaMovieRepository, SeaReadiness, SeaTokenRevocations,
    SeaUserRepository,
};

#[derive(Clone)]
pub struct AppState {
    pub movies: MovieService,
    pub characters: CharacterService,
    pub users: UserService,
    pub auth: AuthService,
    pub jobs: JobService,
    /// The outside movie catalogue (TMDB), and imports from it.
    pub catalogue: CatalogueService,
    /// Woken when a job is queued, for the job runner.
    pub jobs_queued: Arc<Notify>,
    /// The stored change events, for replay.
    pub events: Arc<dyn EventLog>,
    /// Live change events, for WebSocket listeners.
    pub hub: EventHub,
    /// Whether the database answers, for the health check.
    pub readiness: Arc<dyn Readiness>,
    /// For the health check only: handlers go through the services.
    pub db: Database,
}

impl AppState {
    /// Wires the SeaORM, argon2 and JWT adapters, and the outside `catalogue`, into the services.
    pub fn new(
        db: Database,
        tokens: JwtTokens,
        hasher: Argon2Hasher,
        hub: EventHub,
        catalogue: Arc<dyn MovieCatalogue>,
    ) -> Self {
        let movies = Arc::new(SeaMovieRepository::new(db.clone()));
        let characters = Arc::new(SeaCharacterRepository::new(db.clone()));
        let users = Arc::new(SeaUserRepository::new(db.clone()));
        let revocations = Arc::new(SeaTokenRevocations::new(db.clone()));
        let job_store = SeaJobStore::new(db.clone());
        let jobs_queued = job_store.queued_signal();
        let jobs = JobService::new(
            Arc::new(job_store),
            movies.clone(),
            characters.clone(),
            Arc::new(FakeRows),
        );
        let movie_service = MovieService::new(movies.clone()).with_users(users.clone());
        Self {
            catalogue: CatalogueService::new(catalogue, movie_service.clone()),
            movies: movie_service,
            characters: CharacterService::new(characters, movies, users.clone()),
            users: UserService::new(users.clone()),
            auth: AuthService::new(users, Arc::new(hasher), Arc::new(tokens), revocations),
            jobs,
            jobs_queued,
            events: Arc::new(SeaEventLog::new(db.clone())),
            hub,
            readiness: Arc::new(SeaReadiness::new(db.clone())),
            db,
        }
    }
}
