//! `Application`: opens the database, binds the port and serves until told to stop, then stops
//! gracefully. Tests build one on port 0 and a fresh database.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use movies_domain::characters::CharacterRepository;
use movies_domain::jobs::JobStatus;
use movies_domain::movies::MovieRepository;
use movies_infra::auth::{
    Argon2Hasher, CachedRevocations, CachedUsers, JwtTokens, auth_invalidation,
};
use movies_infra::catalogue::{TmdbCatalogue, TmdbCredentials, TmdbSettings};
use movies_infra::events::{EventHub, Invalidation, SeaEventLog, spawn_dispatcher, spawn_pruner};
use movies_infra::jobs::{FakeRows, SeaJobStore, spawn_runner};
use movies_infra::{
    CachedCharacters, CachedMovies, Database, ReadCache, SeaCharacterRepository,
    SeaMovieRepository, SeaReadiness, SeaTokenRevocations, SeaUserRepository,
};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::dto::events::event_text;
use crate::routes::{self, App, RequestLimits};
use crate::server::{self, Server};
use crate::state::{AppState, Edge, Ports};
use crate::throttle::LoginThrottle;
use crate::ws::Listeners;

/// Why the server could not start; each reads as one line.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(String),
    #[error("cannot prepare the admin account: {0}")]
    Admin(#[source] movies_domain::Error),
    #[error("cannot set up password hashing: {0}")]
    Hasher(#[source] movies_domain::Error),
    #[error("cannot read the event log: {0}")]
    Events(#[source] movies_domain::Error),
    #[error("cannot load the token revocations: {0}")]
    Revocations(#[source] movies_domain::Error),
    #[error("cannot set up the TMDB client: {0}")]
    Tmdb(#[source] movies_domain::Error),
    #[error("cannot open the database: {0}")]
    Database(#[source] movies_infra::DbErr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct Application {
    listener: TcpListener,
    app: App,
    db: Database,
    addr: SocketAddr,
    /// The event dispatcher, the event pruner and the job runner, stopped with the server.
    background: Vec<JoinHandle<()>>,
    /// Closed when the server stops: each WebSocket listener is sent what was published
    /// before, then a 1001 close frame.
    hub: EventHub,
    listeners: Listeners,
    settings: server::Settings,
    shutdown_timeout: Duration,
}

/// How long closing the database pool may take at the end of a stop: it waits for connections
/// in use, and one stuck on an unreachable database would hold the exit forever.
const POOL_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

impl Application {
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let Opened { state, db, hub, job_store, invalidations, hasher } = open(config).await?;
        let listeners = Listeners::new(usize_of(config.ws_max_connections));
        let state = state
            .with_edge(edge(config, &db, &job_store, &hasher))
            .with_listeners(listeners.clone());
        if config.tmdb_api_key.is_none() && config.tmdb_access_token.is_none() {
            tracing::info!("TMDB_API_KEY is not set: the /moviesTMDB routes answer 503");
        }
        if let Some(password) = &config.admin_password {
            let admin = state
                .auth
                .ensure_admin(&config.admin_username, password.expose_secret().to_owned())
                .await
                .map_err(StartupError::Admin)?;
            tracing::info!(username = %admin.username, "admin account ready");
        }
        if let Err(e) = state.auth.prune_revocations().await {
            tracing::warn!(error = %e, "could not prune expired token revocations");
        }
        let background = vec![
            spawn_dispatcher(db.clone(), Arc::new(hub.clone()), invalidations)
                .await
                .map_err(StartupError::Events)?,
            spawn_pruner(state.events.clone(), config.events_retention, config.events_max),
            spawn_runner(state.jobs.clone(), &job_store, config.jobs_concurrency as usize),
        ];
        let limits = RequestLimits {
            max_in_flight: usize_of(config.max_in_flight),
            timeout: config.request_timeout,
        };
        let app = routes::app_with(state, &config.cors_policy(), &limits, config.bench_bare_route);
        let addr = format!("{}:{}", config.host, config.port);
        let bind_error = |source| StartupError::Bind { addr: addr.clone(), source };
        let listener = server::listen(&addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let settings = server::Settings {
            header_read_timeout: config.header_read_timeout,
            keep_alive_timeout: config.keep_alive_timeout,
            max_connections: usize_of(config.max_connections),
        };
        let shutdown_timeout = config.shutdown_timeout;
        Ok(Self { listener, app, db, addr, background, hub, listeners, settings, shutdown_timeout })
    }

    /// The address actually bound (with the port picked when the config said 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves until SIGINT or SIGTERM, then stops gracefully (see [`Application::run_until`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then stops: no new connection is accepted (those already
    /// waiting in the listen queue are served), every request already received is answered,
    /// every WebSocket listener is sent a 1001 close frame (it reconnects with `?since`), all
    /// within `SHUTDOWN_TIMEOUT`; then the background tasks stop and the pool closes. A job
    /// still running stays `running` in the store, and is resumed at the next start (or by
    /// another instance once its lease expires).
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = %self.addr, "listening");
        let mut server = Server::new(self.listener, self.app, &self.settings);
        server.serve_until(stop).await;
        server.stop_accepting();
        self.hub.close();
        let listeners = self.listeners.clone();
        if server.finish(self.shutdown_timeout, async move { listeners.close().await }).await {
            tracing::info!("every request received was answered and every listener closed");
        } else {
            tracing::warn!(
                listeners = self.listeners.connected(),
                "stopped before everything was answered (SHUTDOWN_TIMEOUT)"
            );
        }
        for task in &self.background {
            task.abort();
        }
        match tokio::time::timeout(POOL_CLOSE_TIMEOUT, self.db.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "closing the database"),
            Err(_) => tracing::warn!("the database pool did not close in time"),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The services, and the adapters that run beside the routes: the pool (to close), the hub (the
/// dispatcher publishes to it), the job store (the runner waits on its queue) and the caches'
/// invalidations (the dispatcher tells them every event first).
pub struct Opened {
    pub state: AppState,
    pub db: Database,
    pub hub: EventHub,
    pub job_store: SeaJobStore,
    pub invalidations: Vec<Invalidation>,
    /// The password hasher, whose queue `/metrics` shows.
    pub hasher: Argon2Hasher,
}

/// Opens the database and wires the SeaORM, argon2, JWT and TMDB adapters into the services,
/// without listening: for the server and for the command-line subcommands alike.
pub async fn open(config: &Config) -> Result<Opened, StartupError> {
    let key = config.signing_key().map_err(StartupError::Config)?;
    let mut tokens = JwtTokens::new(&key, config.algorithm, config.access_token_expire_minutes);
    if let Some(previous) = &config.secret_key_previous {
        tokens = tokens.accepting_previous(previous.expose_secret().as_bytes());
    }
    let hasher = Argon2Hasher::new()
        .map_err(StartupError::Hasher)?
        .with_max_waiting(usize::try_from(config.argon2_max_waiting).unwrap_or(usize::MAX));
    let db = movies_infra::connect_with(&config.database_url, config.db_acquire_timeout)
        .await
        .map_err(StartupError::Database)?;
    let hub = EventHub::new(config.ws_queue as usize).rendering(event_text);
    let catalogue = TmdbCatalogue::new(tmdb_settings(config)).map_err(StartupError::Tmdb)?;
    let job_store = SeaJobStore::new(db.clone()).with_lease(config.job_lease);
    let stored_revocations = Arc::new(SeaTokenRevocations::new(db.clone()));
    let stored_users = Arc::new(SeaUserRepository::new(db.clone()));
    // Authentication reads revocations and users from memory, and movies and characters are
    // read through a cache: this instance's writes update them before they answer, other
    // instances' (on PostgreSQL) through the events the dispatcher delivers.
    let revocations =
        CachedRevocations::load(stored_revocations).await.map_err(StartupError::Revocations)?;
    let (revocations, users) = (Arc::new(revocations), Arc::new(CachedUsers::new(stored_users)));
    let mut invalidations = vec![auth_invalidation(revocations.clone(), users.clone())];
    let (movies, characters) = read_through(&db, &mut invalidations, config.read_cache_mb);
    let ports = Ports {
        movies,
        characters,
        users,
        revocations,
        hasher: Arc::new(hasher.clone()),
        tokens: Arc::new(tokens),
        jobs: Arc::new(job_store.clone()),
        generator: Arc::new(FakeRows),
        catalogue: Arc::new(catalogue),
        events: Arc::new(SeaEventLog::new(db.clone())),
        feed: Arc::new(hub.clone()),
        readiness: Arc::new(SeaReadiness::new(db.clone())),
    };
    Ok(Opened { state: AppState::new(ports), db, hub, job_store, invalidations, hasher })
}

/// The HTTP edge as configured: login throttling, trusted proxies, and `/metrics` with what it
/// reads at each scrape (the pool, the jobs, the hashing queue). Installs the metrics recorder.
fn edge(config: &Config, db: &Database, jobs: &SeaJobStore, hasher: &Argon2Hasher) -> Edge {
    crate::metrics::install();
    let mut sources = crate::metrics::Sources::default();
    let (db, jobs, hasher) = (db.clone(), jobs.clone(), hasher.clone());
    sources.add(move || {
        let (db, jobs, hasher) = (db.clone(), jobs.clone(), hasher.clone());
        async move {
            let pool = db.pool_usage();
            metrics::gauge!(crate::metrics::POOL_OPEN).set(pool.open as f64);
            metrics::gauge!(crate::metrics::POOL_IN_USE).set(pool.in_use as f64);
            metrics::gauge!(crate::metrics::HASHING_WAITING).set(hasher.waiting() as f64);
            match jobs.count_by_status().await {
                Ok(counts) => {
                    for &status in JobStatus::NAMES {
                        let n = counts.iter().find(|(s, _)| s == status).map_or(0, |c| c.1);
                        metrics::gauge!(crate::metrics::JOBS, "status" => status).set(n as f64);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "metrics: cannot count the jobs"),
            }
        }
    });
    Edge {
        logins: LoginThrottle::new(config.login_address_limit, config.login_username_limit),
        proxies: config.trusted_proxies.clone(),
        metrics_access: crate::metrics::Access { token: config.metrics_token.clone() },
        metrics_sources: sources,
    }
}

/// The movie and character repositories, behind the read cache. The cache forgets what this
/// instance writes before the write answers (a commit hook), and what each delivered event
/// names: other instances' writes on PostgreSQL, another process's on the same SQLite file.
fn read_through(
    db: &Database,
    invalidations: &mut Vec<Invalidation>,
    cache_mb: u64,
) -> (Arc<dyn MovieRepository>, Arc<dyn CharacterRepository>) {
    let movies = Arc::new(SeaMovieRepository::new(db.clone()));
    let characters = Arc::new(SeaCharacterRepository::new(db.clone()));
    let cache = Arc::new(ReadCache::new(cache_mb << 20));
    cache.keep_tidy();
    let forget = cache.clone();
    db.on_commit(Arc::new(move |events| forget.forget(events)));
    // Other instances' writes on PostgreSQL, another process's on the same SQLite file.
    let forget = cache.clone();
    invalidations.push(Arc::new(move |event| forget.forget_event(event)));
    (
        Arc::new(CachedMovies::new(movies, cache.clone())),
        Arc::new(CachedCharacters::new(characters, cache)),
    )
}

/// The TMDB adapter's settings; the access token wins over the API key, as it never appears in a
/// URL.
fn tmdb_settings(config: &Config) -> TmdbSettings {
    let credentials = match (&config.tmdb_access_token, &config.tmdb_api_key) {
        (Some(token), _) => Some(TmdbCredentials::AccessToken(token.clone())),
        (None, Some(key)) => Some(TmdbCredentials::ApiKey(key.clone())),
        (None, None) => None,
    };
    TmdbSettings {
        base_url: config.tmdb_base_url.clone(),
        credentials,
        timeout: config.tmdb_timeout,
    }
}

/// A count from the configuration (bounded there to a million) as a `usize`.
fn usize_of(count: u64) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
