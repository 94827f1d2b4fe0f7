//! What every handler can reach: the application services and the few ports the HTTP layer asks
//! directly (the event log, live events, readiness). Built from [`Ports`], so the same router
//! runs over the SeaORM adapters in the server and over mockall fakes in the router tests.

use std::sync::Arc;

use movies_domain::auth::{AuthService, PasswordHasher, TokenRevocations, TokenService};
use movies_domain::catalogue::{CatalogueService, MovieCatalogue};
use movies_domain::characters::{CharacterRepository, CharacterService};
use movies_domain::events::{EventFeed, EventLog};
use movies_domain::jobs::{JobService, JobStore, RowGenerator};
use movies_domain::movies::{MovieRepository, MovieService};
use movies_domain::readiness::Readiness;
use movies_domain::users::{UserRepository, UserService};

use crate::extractors::TrustedProxies;
use crate::metrics;
use crate::throttle::LoginThrottle;
use crate::ws::Listeners;

/// What every handler reads: the services and the HTTP edge. A handle to one shared
/// [`Services`], so that the state axum clones for each request (and each middleware that
/// takes it) costs one reference count, not one for each of the services' thirty-odd ports
/// (a profile of `GET /health` put that copy and its drop at about 6% of the CPU).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services and the HTTP edge, behind [`AppState`].
#[derive(Clone)]
pub struct Services {
    /// What the HTTP edge adds around the services: login throttling, where client addresses
    /// come from, who may read `/metrics` and what it reads.
    pub edge: Edge,
    pub movies: MovieService,
    pub characters: CharacterService,
    pub users: UserService,
    pub auth: AuthService,
    pub jobs: JobService,
    /// The outside movie catalogue (TMDB), and imports from it.
    pub catalogue: CatalogueService,
    /// The stored change events, for replay.
    pub events: Arc<dyn EventLog>,
    /// Live change events, for WebSocket listeners.
    pub feed: Arc<dyn EventFeed>,
    /// Whether the database answers, for the health check.
    pub readiness: Arc<dyn Readiness>,
    /// The WebSocket listeners: how many may connect, and which the server waits for when it
    /// stops.
    pub listeners: Listeners,
}

/// `WS_MAX_CONNECTIONS`'s default.
pub const DEFAULT_MAX_LISTENERS: usize = 20_000;

/// The settings and state of the HTTP edge; the defaults are the configuration's.
#[derive(Clone, Debug, Default)]
pub struct Edge {
    pub logins: LoginThrottle,
    pub proxies: TrustedProxies,
    pub metrics_access: metrics::Access,
    pub metrics_sources: metrics::Sources,
}

/// Every port the application runs over: what start-up wires from the adapters.
pub struct Ports {
    pub movies: Arc<dyn MovieRepository>,
    pub characters: Arc<dyn CharacterRepository>,
    pub users: Arc<dyn UserRepository>,
    pub revocations: Arc<dyn TokenRevocations>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn TokenService>,
    pub jobs: Arc<dyn JobStore>,
    pub generator: Arc<dyn RowGenerator>,
    pub catalogue: Arc<dyn MovieCatalogue>,
    pub events: Arc<dyn EventLog>,
    pub feed: Arc<dyn EventFeed>,
    pub readiness: Arc<dyn Readiness>,
}

impl AppState {
    /// Builds the services over `ports`.
    pub fn new(ports: Ports) -> Self {
        let Ports {
            movies,
            characters,
            users,
            revocations,
            hasher,
            tokens,
            jobs,
            generator,
            catalogue,
            events,
            feed,
            readiness,
        } = ports;
        let movie_service = MovieService::new(movies.clone()).with_users(users.clone());
        Self(Arc::new(Services {
            edge: Edge::default(),
            catalogue: CatalogueService::new(catalogue, movie_service.clone()),
            movies: movie_service,
            jobs: JobService::new(jobs, movies.clone(), characters.clone(), generator),
            characters: CharacterService::new(characters, movies, users.clone()),
            users: UserService::new(users.clone()),
            auth: AuthService::new(users, hasher, tokens, revocations),
            events,
            feed,
            readiness,
            listeners: Listeners::new(DEFAULT_MAX_LISTENERS),
        }))
    }

    /// The same services, with `listeners` instead of a fresh count with the default limit.
    #[must_use]
    pub fn with_listeners(mut self, listeners: Listeners) -> Self {
        Arc::make_mut(&mut self.0).listeners = listeners;
        self
    }

    /// The same services, with `edge` instead of the default one.
    #[must_use]
    pub fn with_edge(mut self, edge: Edge) -> Self {
        Arc::make_mut(&mut self.0).edge = edge;
        self
    }
}
