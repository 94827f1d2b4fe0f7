//! `Config`: every setting, read once at start from the environment (or the same-named flags),
//! then passed down. Nothing else reads the environment.

use axum::http::HeaderValue;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Parser, Subcommand};
use movies_infra::auth::JwtAlgorithm;
use secrecy::{ExposeSecret, SecretString};

use crate::extractors::TrustedProxies;
use crate::throttle::Quota;

/// The Movies & Characters API server.
#[derive(Debug, Clone, Parser)]
#[command(name = "movies-api", version, about)]
pub struct Config {
    /// Database URL: `sqlite://FILE` (created if missing), `sqlite::memory:`, or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://movies.db", value_parser = parse_database_url)]
    pub database_url: String,

    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// Origins allowed by CORS, comma-separated, or `*` for any origin (then without credentials).
    /// Outside production, `http://localhost:<port>` and `http://127.0.0.1:<port>` are allowed
    /// besides; in production only these.
    #[arg(long, env = "CORS_ORIGINS", value_parser = parse_cors_origins)]
    pub cors_origins: Option<CorsOrigins>,

    /// Log filter, e.g. `info` or `movies_api=debug,requests=debug`.
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub rust_log: String,

    /// Log lines as `text` (for people) or `json` (one object a line, for log collectors).
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_enum)]
    pub log_format: LogFormat,

    /// HMAC key that signs access tokens; without it a random key is used (tokens then do not
    /// survive a restart). Required, at least 32 bytes, when APP_ENV=production.
    #[arg(long, env = "SECRET_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub secret_key: Option<SecretString>,

    /// The key that signed tokens before SECRET_KEY was rotated: tokens it signed are still
    /// accepted until they expire; new tokens are signed with SECRET_KEY only.
    #[arg(long, env = "SECRET_KEY_PREVIOUS", value_parser = parse_secret, hide_env_values = true)]
    pub secret_key_previous: Option<SecretString>,

    /// Token signature algorithm: HS256, HS384 or HS512.
    #[arg(long, env = "ALGORITHM", default_value = "HS256")]
    pub algorithm: JwtAlgorithm,

    /// Minutes an access token stays valid (1 to 10080, a week).
    #[arg(
        long,
        env = "ACCESS_TOKEN_EXPIRE_MINUTES",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..=10080)
    )]
    pub access_token_expire_minutes: u32,

    /// Proxies whose `X-Forwarded-For` names the client, comma-separated addresses or networks
    /// (e.g. `127.0.0.1,10.0.0.0/8`); without, the connection's peer is the client.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", value_parser = parse_trusted_proxies)]
    pub trusted_proxies: TrustedProxies,

    /// Login and registration attempts one client address may make, as COUNT/PERIOD (a burst of
    /// COUNT, then one more every PERIOD/COUNT); a successful login gives its attempt back.
    #[arg(long, env = "LOGIN_ADDRESS_LIMIT", default_value = "20/1m", value_parser = parse_quota)]
    pub login_address_limit: Quota,

    /// Failed logins on one username, from all addresses, before the addresses that failed on
    /// it are held back (COUNT/PERIOD; they are held for PERIOD after their last failure).
    #[arg(long, env = "LOGIN_USERNAME_LIMIT", default_value = "10/1m", value_parser = parse_quota)]
    pub login_username_limit: Quota,

    /// Password hashes (logins, registrations) that may wait for a free hashing slot; past
    /// that, a login answers 503 at once instead of queueing.
    #[arg(long, env = "ARGON2_MAX_WAITING", default_value_t = 32, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub argon2_max_waiting: u64,

    /// Bearer token that opens `/metrics` to any client; without it `/metrics` answers only on
    /// the loopback interface.
    #[arg(long, env = "METRICS_TOKEN", value_parser = parse_secret, hide_env_values = true)]
    pub metrics_token: Option<SecretString>,

    /// `production` makes a strong SECRET_KEY mandatory.
    #[arg(long, env = "APP_ENV", default_value = "development")]
    pub app_env: String,

    /// Name of the admin created (or reset) at start when ADMIN_PASSWORD is set.
    #[arg(long, env = "ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,

    /// Password of that admin; without it no admin is created at start.
    #[arg(long, env = "ADMIN_PASSWORD", value_parser = parse_secret, hide_env_values = true)]
    pub admin_password: Option<SecretString>,

    /// How long change events are kept for listeners to resume from (e.g. `7d`, `12h`).
    #[arg(long, env = "EVENTS_RETENTION", default_value = "7d", value_parser = parse_duration)]
    pub events_retention: std::time::Duration,

    /// How many change events are kept at most.
    #[arg(long, env = "EVENTS_MAX", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub events_max: u64,

    /// How many events a WebSocket listener may fall behind before it is sent `lagged` and closed.
    #[arg(long, env = "WS_QUEUE", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub ws_queue: u64,

    /// How much memory (MiB) the cache of `GET /movies/{id}`, `GET /characters/{id}` and the
    /// plain movie list may hold, the least recently read going first (and any record unread
    /// for 60 s); 0 turns it off.
    #[arg(long, env = "READ_CACHE_MB", default_value_t = movies_infra::DEFAULT_READ_CACHE_MB, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub read_cache_mb: u64,

    /// How many generation jobs run at once; the others wait, queued, in order.
    #[arg(long, env = "JOBS_CONCURRENCY", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub jobs_concurrency: u64,

    /// How long a job stays with the instance running it unless renewed (every third of it):
    /// with several instances, the longest a dead instance's job waits before another takes it
    /// over (e.g. `30s`, `2s`).
    #[arg(long, env = "JOB_LEASE", default_value = "30s", value_parser = parse_job_lease)]
    pub job_lease: std::time::Duration,

    /// The Movie Database's v3 API key, for the `/moviesTMDB` routes; without it (or
    /// TMDB_ACCESS_TOKEN) they answer 503.
    #[arg(long, env = "TMDB_API_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub tmdb_api_key: Option<SecretString>,

    /// The Movie Database's v4 read access token, sent as a bearer header; used rather than
    /// TMDB_API_KEY when both are set, as it never appears in a URL.
    #[arg(long, env = "TMDB_ACCESS_TOKEN", value_parser = parse_secret, hide_env_values = true)]
    pub tmdb_access_token: Option<SecretString>,

    /// Base URL of The Movie Database's API (tests point it at a fake).
    #[arg(
        long,
        env = "TMDB_BASE_URL",
        default_value = "https://api.themoviedb.org/3",
        value_parser = parse_base_url
    )]
    pub tmdb_base_url: String,

    /// How long one call to TMDB may take before the route answers 502 (e.g. `5s`, `500ms`;
    /// at most 60s).
    #[arg(long, env = "TMDB_TIMEOUT", default_value = "5s", value_parser = parse_tmdb_timeout)]
    pub tmdb_timeout: std::time::Duration,

    /// For benchmarks only: also serve `GET /_bench/health`, the `/health` answer without the
    /// middleware stack (what `cargo xtask bench` measures as `ceiling_bare`). Off by default.
    #[arg(long, env = "BENCH_BARE_ROUTE", value_parser = clap::builder::BoolishValueParser::new())]
    pub bench_bare_route: bool,

    /// How long a client may take to send a request's headers: from connecting for the first
    /// request, from its first byte for the next ones. Slower, the connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_limit)]
    pub header_read_timeout: std::time::Duration,

    /// How long a connection may stay idle between requests before it is closed.
    #[arg(long, env = "KEEP_ALIVE_TIMEOUT", default_value = "60s", value_parser = parse_limit)]
    pub keep_alive_timeout: std::time::Duration,

    /// Open HTTP connections at most (WebSocket listeners count apart, under
    /// WS_MAX_CONNECTIONS); one more is answered 503 and closed at once.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 16_384, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// WebSocket listeners at most; one more is answered 503 instead of upgraded.
    #[arg(long, env = "WS_MAX_CONNECTIONS", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub ws_max_connections: u64,

    /// How long a request may take until its answer starts; longer, it is answered 503.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_limit)]
    pub request_timeout: std::time::Duration,

    /// Requests handled at once at most (`/health` aside); more are answered 503 at once.
    #[arg(long, env = "MAX_IN_FLIGHT", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_in_flight: u64,

    /// On SIGTERM or SIGINT, how long requests already received may take to be answered (and
    /// WebSocket listeners to be closed) before the server stops anyway.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = parse_limit)]
    pub shutdown_timeout: std::time::Duration,

    /// How long a query waits for a database connection before the request is answered 503:
    /// with the database unreachable, how long requests wait.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_limit)]
    pub db_acquire_timeout: std::time::Duration,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Creates an admin (or resets its password and role) in the configured database, with no
    /// server running. The password comes from ADMIN_PASSWORD, or else from the first line of
    /// standard input.
    CreateAdmin {
        /// The admin's username.
        #[arg(long)]
        username: String,
    },
    /// Seeds the configured database with generated movies, then characters, with no server
    /// running, showing progress and the rows per second.
    Generate {
        /// How many movies to generate.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
        movies: u64,
        /// How many characters to generate (attached to random existing movies).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
        characters: u64,
    },
    /// Prints the OpenAPI document that `/openapi.json` serves (what `cargo xtask openapi` writes
    /// to docs/openapi.json), touching no database.
    Openapi,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The shortest key accepted in production: 256 bits, the HS256 output size.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq)]
pub enum CorsOrigins {
    Any,
    List(Vec<HeaderValue>),
}

/// The browser origins the server answers: those listed, and outside production any local dev
/// server's (Vite moves to another port when its own is taken).
#[derive(Debug, Clone, PartialEq)]
pub struct CorsPolicy {
    pub origins: CorsOrigins,
    pub any_loopback_port: bool,
}

impl Config {
    /// Reads the configuration, or returns the one-line message that names the bad variable.
    /// `--help` and `--version` print and exit here.
    pub fn load() -> Result<Self, String> {
        Self::load_from(std::env::args_os())
    }

    /// `APP_ENV=production`.
    pub fn is_production(&self) -> bool {
        self.app_env.eq_ignore_ascii_case("production")
    }

    /// Which origins CORS lets in: see [`CorsPolicy`].
    pub fn cors_policy(&self) -> CorsPolicy {
        CorsPolicy {
            origins: self.cors_origins.clone().unwrap_or(CorsOrigins::List(Vec::new())),
            any_loopback_port: !self.is_production(),
        }
    }

    /// The signing key: the configured one, or a random one (with a warning) outside production.
    ///
    /// # Errors
    /// A one-line message when production runs without a strong key.
    pub fn signing_key(&self) -> Result<Vec<u8>, String> {
        let production = self.is_production();
        match &self.secret_key {
            Some(key) if production && key.expose_secret().len() < MIN_SECRET_KEY_BYTES => {
                Err(format!(
                    "configuration error: SECRET_KEY must have at least {MIN_SECRET_KEY_BYTES} bytes when APP_ENV=production"
                ))
            }
            Some(key) => Ok(key.expose_secret().as_bytes().to_vec()),
            None if production => {
                Err("configuration error: SECRET_KEY is required when APP_ENV=production".into())
            }
            None => {
                tracing::warn!(
                    "SECRET_KEY is not set: signing tokens with a random key; tokens will not survive a restart"
                );
                Ok(rand::random::<[u8; 32]>().to_vec())
            }
        }
    }

    pub fn load_from<I, T>(args: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::try_parse_from(args).map_err(|e| match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => e.exit(),
            _ => one_line(&e),
        })
    }
}

/// Clap's error as one line naming the variable (`PORT`) rather than only the flag.
fn one_line(e: &clap::Error) -> String {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    // "--port <PORT>": the value name is the variable's name.
    let variable = arg
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(name, _)| name.to_owned())
        .unwrap_or(arg);
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(s)) => format!(" {s:?}"),
        _ => String::new(),
    };
    let rendered = e.render().to_string();
    let reason = rendered
        .lines()
        .next()
        .unwrap_or("invalid configuration")
        .trim_start_matches("error: ")
        .to_owned();
    if variable.is_empty() {
        format!("configuration error: {reason}")
    } else {
        let why = reason.rsplit_once("': ").map(|(_, why)| why.to_owned()).unwrap_or(reason);
        format!("configuration error: {variable}:{value} is not valid: {why}")
    }
}

fn parse_duration(raw: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(raw).map_err(|e| format!("{e} (write e.g. 7d, 12h or 30m)"))
}

/// A lease between a second and an hour: shorter would have a busy database's renewal miss it,
/// longer would leave a dead instance's job waiting for as long.
fn parse_job_lease(raw: &str) -> Result<std::time::Duration, String> {
    let lease = humantime::parse_duration(raw).map_err(|e| format!("{e} (write e.g. 30s)"))?;
    if lease < std::time::Duration::from_secs(1) || lease > std::time::Duration::from_secs(3600) {
        return Err("must be between 1s and 1h".into());
    }
    Ok(lease)
}

/// A timeout between 1 ms and a minute: zero would fail every call, and a longer one would hold
/// the client's request as good as forever.
fn parse_tmdb_timeout(raw: &str) -> Result<std::time::Duration, String> {
    let timeout =
        humantime::parse_duration(raw).map_err(|e| format!("{e} (write e.g. 5s or 500ms)"))?;
    if timeout.is_zero() || timeout > std::time::Duration::from_secs(60) {
        return Err("must be more than 0 and at most 60s".into());
    }
    Ok(timeout)
}

/// A timeout or limit of the server's, between 1 ms and an hour: zero would fail everything,
/// and longer would be no limit at all.
fn parse_limit(raw: &str) -> Result<std::time::Duration, String> {
    let limit =
        humantime::parse_duration(raw).map_err(|e| format!("{e} (write e.g. 10s or 500ms)"))?;
    if limit < std::time::Duration::from_millis(1) || limit > std::time::Duration::from_secs(3600) {
        return Err("must be between 1ms and 1h".into());
    }
    Ok(limit)
}

/// An `http://` or `https://` URL; a trailing slash is dropped.
fn parse_base_url(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let host = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match host {
        Some(rest) if !rest.is_empty() && !url.contains(char::is_whitespace) => Ok(url.to_owned()),
        _ => Err("expected a URL like https://api.themoviedb.org/3".into()),
    }
}

fn parse_trusted_proxies(raw: &str) -> Result<TrustedProxies, String> {
    raw.parse()
}

fn parse_quota(raw: &str) -> Result<Quota, String> {
    raw.parse()
}

fn parse_secret(raw: &str) -> Result<SecretString, String> {
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(SecretString::from(raw.to_owned()))
}

fn parse_database_url(raw: &str) -> Result<String, String> {
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if let Some(rest) = raw.strip_prefix("sqlite:") {
        // No file: SQLite would give each connection a private temporary database of its own.
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.split('?').next().unwrap_or_default().is_empty() {
            return Err("expected a file after sqlite://, or sqlite::memory:".into());
        }
    }
    if known.iter().any(|p| raw.starts_with(p)) {
        Ok(raw.to_owned())
    } else {
        Err("expected sqlite://FILE, sqlite::memory: or postgres://...".into())
    }
}

fn parse_cors_origins(raw: &str) -> Result<CorsOrigins, String> {
    if raw.trim() == "*" {
        return Ok(CorsOrigins::Any);
    }
    let mut list = Vec::new();
    for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if origin == "*" {
            return Err("`*` must stand alone".into());
        }
        let well_formed = (origin.starts_with("http://") || origin.starts_with("https://"))
            && !origin.ends_with('/');
        let value = HeaderValue::from_str(origin).ok().filter(|_| well_formed);
        list.push(value.ok_or_else(|| {
            format!("{origin:?} is not an origin like http://host:port (no trailing slash)")
        })?);
    }
    if list.is_empty() {
        return Err("no origin given".into());
    }
    Ok(CorsOrigins::List(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_serve_movies_db_on_port_8000() {
        let config = Config::load_from(["movies-api"]).unwrap();
        assert_eq!(config.port, 8000);
        assert_eq!(config.host, "127.0.0.1");
        let cors = config.cors_policy();
        assert_eq!(cors.origins, CorsOrigins::List(Vec::new()));
        assert!(cors.any_loopback_port);
    }

    #[test]
    fn a_bad_port_is_one_line_naming_the_variable() {
        let message = Config::load_from(["movies-api", "--port", "eighty"]).unwrap_err();
        assert!(message.starts_with("configuration error: PORT"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn production_needs_a_strong_secret_key() {
        let config = |args: &[&str]| {
            let mut all = vec!["movies-api"];
            all.extend_from_slice(args);
            Config::load_from(all).unwrap()
        };
        assert!(config(&["--app-env", "production"]).signing_key().is_err());
        assert!(
            config(&["--app-env", "production", "--secret-key", "short"]).signing_key().is_err()
        );
        let strong = "k".repeat(32);
        assert!(
            config(&["--app-env", "production", "--secret-key", &strong]).signing_key().is_ok()
        );
        assert_eq!(config(&[]).signing_key().unwrap().len(), 32);
    }

    #[test]
    fn an_unknown_algorithm_is_refused_at_start() {
        let message = Config::load_from(["movies-api", "--algorithm", "none"]).unwrap_err();
        assert!(message.starts_with("configuration error: ALGORITHM"), "{message}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let config = Config::load_from([
            "movies-api",
            "--secret-key",
            "topsecretvalue",
            "--admin-password",
            "hunter2hunter2",
        ])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("topsecretvalue") && !debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn production_allows_only_the_listed_origins() {
        let config = Config::load_from(["movies-api", "--app-env", "production"]).unwrap();
        assert!(!config.cors_policy().any_loopback_port);
    }

    #[test]
    fn cors_origins_are_checked() {
        assert_eq!(parse_cors_origins("*").unwrap(), CorsOrigins::Any);
        assert!(parse_cors_origins("http://a:1,https://b").is_ok());
        assert!(parse_cors_origins("a.com").is_err());
        assert!(parse_cors_origins("http://a,*").is_err());
    }

    #[test]
    fn tmdb_is_off_by_default_and_its_secrets_never_show_in_debug_output() {
        let config = Config::load_from(["movies-api"]).unwrap();
        assert!(config.tmdb_api_key.is_none() && config.tmdb_access_token.is_none());
        assert_eq!(config.tmdb_base_url, "https://api.themoviedb.org/3");
        assert_eq!(config.tmdb_timeout, std::time::Duration::from_secs(5));
        let config = Config::load_from([
            "movies-api",
            "--tmdb-api-key",
            "tmdbkeyvalue",
            "--tmdb-access-token",
            "tmdbtokenvalue",
        ])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("tmdbkeyvalue") && !debug.contains("tmdbtokenvalue"), "{debug}");
    }

    #[test]
    fn tmdb_settings_are_checked() {
        assert_eq!(parse_base_url("http://127.0.0.1:9/3/").unwrap(), "http://127.0.0.1:9/3");
        assert!(parse_base_url("api.themoviedb.org").is_err());
        assert!(parse_base_url("https://").is_err());
        assert_eq!(parse_tmdb_timeout("250ms").unwrap(), std::time::Duration::from_millis(250));
        assert!(parse_tmdb_timeout("0s").is_err());
        assert!(parse_tmdb_timeout("2m").is_err());
        let message = Config::load_from(["movies-api", "--tmdb-timeout", "soon"]).unwrap_err();
        assert!(message.starts_with("configuration error: TMDB_TIMEOUT"), "{message}");
    }

    #[test]
    fn the_bench_bare_route_is_off_unless_asked_for() {
        assert!(!Config::load_from(["movies-api"]).unwrap().bench_bare_route);
        let on = Config::load_from(["movies-api", "--bench-bare-route"]).unwrap();
        assert!(on.bench_bare_route);
    }

    #[test]
    fn connection_and_request_limits_have_defaults_and_are_checked() {
        let config = Config::load_from(["movies-api"]).unwrap();
        let secs = std::time::Duration::from_secs;
        assert_eq!((config.header_read_timeout, config.keep_alive_timeout), (secs(10), secs(60)));
        assert_eq!((config.request_timeout, config.shutdown_timeout), (secs(30), secs(10)));
        assert_eq!(config.db_acquire_timeout, secs(5));
        assert_eq!((config.max_connections, config.ws_max_connections), (16_384, 20_000));
        assert_eq!(config.max_in_flight, 1024);
        assert_eq!(parse_limit("250ms").unwrap(), std::time::Duration::from_millis(250));
        assert!(parse_limit("0s").is_err() && parse_limit("2h").is_err());
        for (flag, variable) in [
            ("--request-timeout", "REQUEST_TIMEOUT"),
            ("--max-connections", "MAX_CONNECTIONS"),
            ("--max-in-flight", "MAX_IN_FLIGHT"),
        ] {
            let message = Config::load_from(["movies-api", flag, "0"]).unwrap_err();
            assert!(message.starts_with(&format!("configuration error: {variable}")), "{message}");
        }
    }

    #[test]
    fn the_edge_settings_have_defaults_and_refuse_nonsense_naming_the_variable() {
        let config = Config::load_from(["movies-api"]).unwrap();
        assert!(config.trusted_proxies.is_empty());
        assert_eq!(config.login_address_limit.to_string(), "20/1m");
        assert_eq!(config.login_username_limit.to_string(), "10/1m");
        assert_eq!(config.argon2_max_waiting, 32);
        assert_eq!(config.log_format, LogFormat::Text);
        for (flag, value, variable) in [
            ("--trusted-proxies", "nginx", "TRUSTED_PROXIES"),
            ("--login-address-limit", "lots", "LOGIN_ADDRESS_LIMIT"),
            ("--login-username-limit", "0/1m", "LOGIN_USERNAME_LIMIT"),
            ("--log-format", "xml", "LOG_FORMAT"),
        ] {
            let message = Config::load_from(["movies-api", flag, value]).unwrap_err();
            assert!(message.starts_with(&format!("configuration error: {variable}")), "{message}");
        }
    }

    #[test]
    fn database_urls_must_name_a_known_backend() {
        assert!(parse_database_url("mysql://x").is_err());
        assert!(parse_database_url("sqlite::memory:").is_ok());
        for url in ["sqlite://movies.db", "sqlite:movies.db", "sqlite:///tmp/m.db?mode=rwc"] {
            assert!(parse_database_url(url).is_ok(), "{url}");
        }
        for no_file in ["sqlite:", "sqlite://", "sqlite://?mode=rwc"] {
            assert!(parse_database_url(no_file).is_err(), "{no_file}");
        }
    }
}
