//! `TmdbCatalogue`: the [`MovieCatalogue`] port over The Movie Database's v3 API. Successful
//! answers are kept in memory for [`CACHE_TTL`] (at most [`CACHE_ENTRIES`] of them), so that a
//! busy page asks TMDB once per list and stays far below its rate limit; failures are never
//! kept, so the next call tries again.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use moka::future::Cache;
use movies_domain::catalogue::{MovieCatalogue, OutsideGenre};
use movies_domain::{OutsideItem, Result, UpstreamError};
use secrecy::SecretString;
use serde_json::Value;

use super::http::{CallError, Credentials, get_json};

/// How long an answer is served from memory.
pub const CACHE_TTL: Duration = Duration::from_secs(10 * 60);
/// How many answers are kept at most (a page of results is about 15 KB).
pub const CACHE_ENTRIES: u64 = 1_000;

/// How the adapter proves itself to TMDB.
pub enum TmdbCredentials {
    /// A v3 API key, sent as the `api_key` query parameter.
    ApiKey(SecretString),
    /// A v4 read access token, sent as `Authorization: Bearer` (never in a URL).
    AccessToken(SecretString),
}

/// What the adapter needs to know.
pub struct TmdbSettings {
    /// E.g. `https://api.themoviedb.org/3`; a trailing slash is ignored.
    pub base_url: String,
    /// `None`: not configured, every call answers `UpstreamError::NotConfigured`.
    pub credentials: Option<TmdbCredentials>,
    /// How long one call may take, connecting and reading the whole answer included.
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct TmdbCatalogue {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    base_url: String,
    credentials: Option<TmdbCredentials>,
    timeout: Duration,
    /// Whole answers by path and query (never by credential: there is one).
    cache: Cache<String, Value>,
}

impl fmt::Debug for TmdbCatalogue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = match self.inner.credentials {
            Some(TmdbCredentials::ApiKey(_)) => "api key",
            Some(TmdbCredentials::AccessToken(_)) => "access token",
            None => "none",
        };
        f.debug_struct("TmdbCatalogue")
            .field("base_url", &self.inner.base_url)
            .field("credentials", &credentials)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl TmdbCatalogue {
    /// # Errors
    /// `Upstream(Failed)` when the HTTP client cannot be set up (its TLS configuration).
    pub fn new(settings: TmdbSettings) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("movies-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UpstreamError::failed(e.without_url()))?;
        let cache = Cache::builder().max_capacity(CACHE_ENTRIES).time_to_live(CACHE_TTL).build();
        let inner = Inner {
            client,
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            credentials: settings.credentials,
            timeout: settings.timeout,
            cache,
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// TMDB's answer to `GET path?query`, from the cache when it is there. Callers waiting for
    /// the same answer share one call.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        missing: Option<OutsideItem>,
    ) -> Result<Value> {
        let inner = &*self.inner;
        let credentials = match &inner.credentials {
            Some(TmdbCredentials::ApiKey(key)) => Credentials::ApiKey(key),
            Some(TmdbCredentials::AccessToken(token)) => Credentials::AccessToken(token),
            None => return Err(UpstreamError::NotConfigured.into()),
        };
        let key = format!("{path}?{query:?}");
        let call =
            get_json(&inner.client, &inner.base_url, credentials, path, query, inner.timeout);
        inner.cache.try_get_with(key, call).await.map_err(|e| e.into_domain(missing))
    }

    /// The `results` array of a page of movies.
    async fn results(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<Value>> {
        let page = self.get(path, query, None).await?;
        match page.get("results") {
            Some(Value::Array(movies)) => Ok(movies.clone()),
            _ => Err(unreadable(path, "no `results` array")),
        }
    }
}

fn unreadable(path: &str, why: &str) -> movies_domain::Error {
    UpstreamError::failed(CallError::unreadable(path, why)).into()
}

#[async_trait]
impl MovieCatalogue for TmdbCatalogue {
    async fn popular(&self) -> Result<Vec<Value>> {
        self.results("/movie/popular", &[]).await
    }

    async fn movie(&self, id: i64) -> Result<Value> {
        let path = format!("/movie/{id}");
        let movie = self.get(&path, &[], Some(OutsideItem::Movie)).await?;
        if movie.is_object() { Ok(movie) } else { Err(unreadable(&path, "not an object")) }
    }

    async fn search(&self, query: &str) -> Result<Vec<Value>> {
        self.results("/search/movie", &[("query", query.to_owned())]).await
    }

    async fn genres(&self) -> Result<Vec<OutsideGenre>> {
        let path = "/genre/movie/list";
        let list = self.get(path, &[], None).await?;
        let genres = list.get("genres").cloned().unwrap_or(Value::Null);
        serde_json::from_value(genres).map_err(|e| unreadable(path, &format!("genres: {e}")))
    }

    async fn by_genre(&self, genre_id: i64) -> Result<Vec<Value>> {
        let query = [("with_genres", genre_id.to_string()), ("sort_by", "popularity.desc".into())];
        self.results("/discover/movie", &query).await
    }
}
