//! `GET /metrics`: the server's figures in Prometheus text (docs/operations.md lists each).
//!
//! Figures are recorded through the `metrics` facade into one Prometheus recorder per process,
//! installed at the first [`install`] (a process has one global recorder; tests start many apps
//! in one process, so there they add up, and a test checks that a figure grew). Counters are
//! counted where things happen: requests by [`Track`], logins by the auth routes, events by the
//! infra hub. Gauges that describe a state (the pool, the jobs) are read when `/metrics` is
//! asked, by the [`Sources`] start-up registered. Open connections are counted by the accept
//! loop (`crate::server`) through [`connection_opened`], for as long as the socket is open
//! (after an upgrade, for as long as the WebSocket session).

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, State};
use axum::http::{self as http, HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};

use crate::error::ApiError;
use crate::extractors::ClientIp;
use crate::routes::after::Step;
use crate::state::AppState;

pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
pub const HTTP_CONNECTIONS: &str = "http_connections_open";
pub const LOGINS_FAILED: &str = "logins_failed_total";
pub const LOGINS_THROTTLED: &str = "logins_throttled_total";
pub const HASHING_REFUSED: &str = "password_hashing_refused_total";
pub const HASHING_WAITING: &str = "password_hashing_waiting";
pub const POOL_OPEN: &str = "db_pool_connections_open";
pub const POOL_IN_USE: &str = "db_pool_connections_in_use";
pub const JOBS: &str = "jobs";

/// The latency buckets, in seconds: from a cached read to a slow bulk write.
const BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The `route` label of a request no route matched (a 404, or a 405 of the outer router).
pub const UNMATCHED: &str = "unmatched";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs this process's recorder, once; later calls return the same handle. `None` when
/// another recorder was installed first (then `/metrics` shows nothing).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), &BUCKETS)
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed: /metrics stays empty");
                return None;
            }
            describe();
            // Histogram samples wait in a queue until drained: without a scrape, only this
            // keeps their memory bounded. A thread, as no one runtime lives as long as the
            // process in tests.
            let upkeep = handle.clone();
            let spawned =
                std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
            }
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "Requests answered, by method, route template and status");
    describe_histogram!(HTTP_DURATION, metrics::Unit::Seconds, "Time to answer a request");
    describe_gauge!(HTTP_CONNECTIONS, "Client connections open");
    describe_counter!(LOGINS_FAILED, "Logins refused for a wrong username or password");
    describe_counter!(LOGINS_THROTTLED, "Logins and registrations refused with 429, by `by`");
    describe_counter!(HASHING_REFUSED, "Logins and registrations refused with 503: hashing full");
    describe_gauge!(HASHING_WAITING, "Password hashes waiting for a slot");
    describe_gauge!(POOL_OPEN, "Database connections open");
    describe_gauge!(POOL_IN_USE, "Database connections in use");
    describe_gauge!(JOBS, "Generation jobs in the database, by status");
    describe_counter!(movies_infra::events::EVENTS_PUBLISHED, "Change events published");
    describe_counter!(movies_infra::events::EVENTS_LAGGED, "Listeners that fell behind");
    describe_gauge!(movies_infra::events::EVENT_LISTENERS, "Live event (WebSocket) listeners");
}

/// Counts and times every request, by method, route template (never the raw path, which would
/// make a series per movie id) and status. The outermost layer, so that it counts what every
/// other layer answers too.
#[derive(Clone, Copy, Debug, Default)]
pub struct Track;

impl Step for Track {
    type Noted = (&'static str, Instant);

    fn request<B>(&self, request: &http::Request<B>) -> Self::Noted {
        (method_label(request.method()), Instant::now())
    }

    fn response<B>((method, started): Self::Noted, response: &mut http::Response<B>) {
        let route = response.extensions().get::<MatchedPath>().map_or(UNMATCHED, |p| p.as_str());
        let series = Series { method, route, status: response.status().as_u16() };
        series.record(started.elapsed().as_secs_f64());
    }
}

/// One request's series: its labels.
struct Series<'a> {
    method: &'static str,
    route: &'a str,
    status: u16,
}

/// A series' handles, as this thread last looked them up.
struct Handles {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

impl Handles {
    fn record(&self, seconds: f64) {
        self.duration.record(seconds);
        self.requests.increment(1);
    }
}

thread_local! {
    /// The handles of every series this thread has recorded to, by route: a look-up in the
    /// recorder builds the series' key (its label strings) and hashes it, at every request.
    static HANDLES: RefCell<HashMap<Box<str>, Vec<Handles>>> = RefCell::new(HashMap::new());
}

impl Series<'_> {
    fn record(&self, seconds: f64) {
        // Before the recorder is installed the handles do nothing: keep none of those.
        if !matches!(HANDLE.get(), Some(Some(_))) {
            return self.handles().record(seconds);
        }
        HANDLES.with_borrow_mut(|by_route| {
            // Looked up by `&str` first: the route is copied only for a new entry.
            if !by_route.contains_key(self.route) {
                by_route.insert(self.route.into(), Vec::new());
            }
            let Some(known) = by_route.get_mut(self.route) else { return };
            match known.iter().find(|h| h.method == self.method && h.status == self.status) {
                Some(handles) => handles.record(seconds),
                None => {
                    let handles = self.handles();
                    handles.record(seconds);
                    known.push(handles);
                }
            }
        });
    }

    fn handles(&self) -> Handles {
        let (method, route, status) = (self.method, self.route.to_owned(), self.status);
        Handles {
            method,
            status,
            duration: metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route.clone()),
            requests: metrics::counter!(
                HTTP_REQUESTS, "method" => method, "route" => route, "status" => status.to_string()
            ),
        }
    }
}

/// Hands the route template a router matched to [`Track`], which sees only the response: the
/// routers of `/docs` and of the API (behind the trailing-slash normalisation) each match their
/// own routes. A template set by an inner router is kept.
#[derive(Clone, Copy, Debug, Default)]
pub struct TagRoute;

impl Step for TagRoute {
    type Noted = Option<MatchedPath>;

    fn request<B>(&self, request: &http::Request<B>) -> Self::Noted {
        request.extensions().get::<MatchedPath>().cloned()
    }

    fn response<B>(matched: Self::Noted, response: &mut http::Response<B>) {
        if let (Some(matched), None) = (matched, response.extensions().get::<MatchedPath>()) {
            response.extensions_mut().insert(matched);
        }
    }
}

/// A method as a label: the standard ones, or `other`, so that made-up methods make no series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Who may read `/metrics`: with a token, whoever sends it as a bearer token; without, only
/// clients on the loopback interface (the client as `TRUSTED_PROXIES` resolves it, so a proxy on
/// the same host does not make everyone a loopback client).
#[derive(Clone, Default)]
pub struct Access {
    pub token: Option<SecretString>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").field("token", &self.token.as_ref().map(|_| "<redacted>")).finish()
    }
}

impl Access {
    fn check(&self, client: ClientIp, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(token) = &self.token else {
            return if client.0.is_loopback() {
                Ok(())
            } else {
                Err(ApiError::Forbidden(
                    "/metrics answers only on the loopback interface unless METRICS_TOKEN is set"
                        .into(),
                ))
            };
        };
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if constant_time_eq(sent.as_bytes(), token.expose_secret().as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized("/metrics needs the METRICS_TOKEN bearer token".into()))
        }
    }
}

/// Compares without stopping at the first difference, so the time taken tells nothing of where
/// a guess went wrong.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Something that sets gauges when `/metrics` is asked (the pool, the jobs).
pub type Source = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// The sources start-up registered.
#[derive(Clone, Default)]
pub struct Sources(pub Vec<Source>);

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sources({})", self.0.len())
    }
}

impl Sources {
    /// Adds a source: `read` runs at every scrape.
    pub fn add<F, Fut>(&mut self, read: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.0.push(Arc::new(move || Box::pin(read())));
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(
    State(s): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.edge.metrics_access.check(client, &headers)?;
    let handle = install();
    for source in &s.edge.metrics_sources.0 {
        source().await;
    }
    let text = handle.map(PrometheusHandle::render).unwrap_or_default();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

/// Counts one open connection until dropped: what an accept loop holds for each connection.
#[must_use = "the connection counts as open until the guard is dropped"]
#[derive(Debug)]
pub struct ConnectionGuard(());

/// A connection was accepted: it counts in `http_connections_open` until the guard is dropped.
pub fn connection_opened() -> ConnectionGuard {
    metrics::gauge!(HTTP_CONNECTIONS).increment(1.0);
    ConnectionGuard(())
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        metrics::gauge!(HTTP_CONNECTIONS).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_opens_metrics() {
        let access = Access { token: Some(SecretString::from("s3cret-token")) };
        let remote = ClientIp("203.0.113.9".parse().unwrap());
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert!(access.check(remote, &with("Bearer s3cret-token")).is_ok());
        assert!(access.check(remote, &with("Bearer s3cret-tokeN")).is_err());
        assert!(access.check(remote, &HeaderMap::new()).is_err());
    }

    #[test]
    fn without_a_token_only_loopback_clients_read_metrics() {
        let open = Access::default();
        assert!(open.check(ClientIp("127.0.0.1".parse().unwrap()), &HeaderMap::new()).is_ok());
        assert!(open.check(ClientIp("::1".parse().unwrap()), &HeaderMap::new()).is_ok());
        let remote = ClientIp("192.0.2.1".parse().unwrap());
        assert!(matches!(open.check(remote, &HeaderMap::new()), Err(ApiError::Forbidden(_))));
    }

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
