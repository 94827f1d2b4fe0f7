//! The HTTP adapter: one module per resource, and the router that puts them together with the
//! middleware every route shares.

pub(crate) mod after;
mod auth;
mod characters;
mod cors;
mod docs;
mod events;
pub mod headers;
mod health;
mod jobs;
mod limits;
mod movies;
mod scope;
mod slash;
mod tmdb;
mod users;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures_util::future::Either;
use serde::Serialize;
use tower::util::{BoxCloneSyncService, Oneshot};
use tower::{Service, ServiceBuilder, ServiceExt};
use utoipa_axum::router::OpenApiRouter;

use movies_domain::{Listing, Page};

use crate::config::CorsPolicy;
use crate::error::ApiError;
use crate::metrics::{TagRoute, Track};
use crate::openapi;
use crate::state::AppState;
use after::AfterLayer;
use cors::CorsLayer;
use scope::ScopeLayer;
use slash::TrimSlash;

pub use limits::RequestLimits;

/// Body limit of every route but the bulk ones.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Body limit of the bulk routes (10,000 items).
pub const BULK_BODY_LIMIT: usize = 16 * 1024 * 1024;

const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");
const X_NEXT_AFTER: HeaderName = HeaderName::from_static("x-next-after");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The REST routes, each with its OpenAPI description.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(auth::routes())
        .merge(movies::routes())
        .merge(characters::routes())
        .merge(users::routes())
        .merge(events::routes())
        .merge(jobs::routes())
        .merge(tmdb::routes())
        .merge(health::routes())
}

/// The OpenAPI document of every REST route, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(api_routes().into_openapi())
}

/// The whole application as the server calls it: the middleware around the router as one
/// service, and for benchmarks the bare route beside it ([`BENCH_BARE_ROUTE`]). A clone is an
/// `Arc`'s; each request then clones the stack (its few fields and the router's `Arc`, not the
/// routes), as a tower service called by reference must be.
#[derive(Clone)]
pub struct App(Arc<Parts>);

struct Parts {
    stack: BoxCloneSyncService<Request<Body>, Response, Infallible>,
    bare: Option<Router>,
}

impl App {
    /// `stack`, boxed, and `bare` beside it when there is one.
    fn new<S>(stack: S, bare: Option<Router>) -> Self
    where
        S: Service<Request<Body>, Response = Response, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        App(Arc::new(Parts { stack: BoxCloneSyncService::new(stack), bare }))
    }
}

impl Service<Request<Body>> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        <Router as Service<Request<Body>>>::Future,
        Oneshot<BoxCloneSyncService<Request<Body>, Response, Infallible>, Request<Body>>,
    >;

    /// Always ready: each request readies its own clone of the stack.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        match &self.0.bare {
            // A router is always ready.
            Some(bare) if request.uri().path() == BENCH_BARE_ROUTE => {
                Either::Left(bare.clone().call(request))
            }
            _ => Either::Right(self.0.stack.clone().oneshot(request)),
        }
    }
}

/// The whole application: every route, answering with or without a trailing slash.
pub fn app(state: AppState, cors: &CorsPolicy) -> App {
    app_with(state, cors, &RequestLimits::default(), false)
}

/// [`app`], every request held to `limits` (in flight, time) inside the shared middleware, and
/// with `bench_bare_route` the bare `/health` beside it (see [`BENCH_BARE_ROUTE`]).
pub fn app_with(
    state: AppState,
    cors: &CorsPolicy,
    limits: &RequestLimits,
    bench_bare_route: bool,
) -> App {
    let (api, doc) = api_routes().split_for_parts();
    let router = api
        .merge(crate::ws::routes())
        .route("/metrics", axum::routing::get(crate::metrics::metrics))
        .merge(docs::routes(openapi::finish(doc)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(AfterLayer(TagRoute))
        // Readies every route once, the pages' too: a router served unreadied is readied again
        // for each connection, cloning every handler that owns its data (ReDoc's page, 41 KB
        // with the OpenAPI document inside); thousands at once left holes that glibc kept, about
        // 50 KB of RSS for each of 2,000 listeners.
        .with_state(state);
    let stack = with_middleware(TrimSlash::new(router), cors, limits);
    // The bare route: the `/health` handler in a router of its own with none of the middleware
    // around it, so that `cargo xtask bench` can tell what the stack costs (`ceiling_bare`).
    let bare = bench_bare_route
        .then(|| Router::new().route(BENCH_BARE_ROUTE, axum::routing::get(health::bare_health)));
    App::new(stack, bare)
}

/// The path of the bare `/health`, served only with `--bench-bare-route`: not in the OpenAPI
/// document, for benchmarks only.
pub const BENCH_BARE_ROUTE: &str = "/_bench/health";

/// The layers every request passes, top down: the security headers and the metrics (outermost,
/// so that they see every answer, CORS preflights included), CORS, then the request's scope (its
/// id, its span, panics caught), then `Retry-After` is added to a 503 without one, then the
/// limits (in flight, time), then the body limit.
///
/// They wrap the router as one service rather than going on with `Router::layer`, which wraps
/// each route in each layer and boxes it again: a request then cloned every boxed layer of its
/// route, and `GET /health` answered at 0.36 of the same handler without them (`ceiling` against
/// `ceiling_bare`). Nor does another router hold them as its one (fallback) route: a request
/// would pay that router's catch-all match and the clone of a boxed service (callgrind).
fn with_middleware(
    router: TrimSlash,
    cors: &CorsPolicy,
    limits: &RequestLimits,
) -> impl Service<Request<Body>, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static {
    ServiceBuilder::new()
        .layer(headers::security_headers())
        .layer(AfterLayer(Track))
        .layer(CorsLayer::new(cors))
        .layer(ScopeLayer)
        .layer(AfterLayer(limits::RetryAfter))
        .layer(limits::LimitsLayer::new(limits))
        // Here once rather than on each route; the bulk routes' own limit, inside, overrides it.
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .service(router)
}

/// `skip`, `limit` and the cursor `after` from the query string, or a 422 naming them.
pub(crate) fn page(
    skip: Option<i64>,
    limit: Option<i64>,
    after: Option<i64>,
) -> Result<Page, ApiError> {
    let page = Page::new(skip, limit).map_err(|e| ApiError::invalid("query", e))?;
    Ok(page.starting_after(after))
}

/// 200 (as the original answered a create) with the new record and its `Location`.
pub(crate) fn created<T: Serialize>(location: String, record: T) -> Response {
    ([(header::LOCATION, location)], Json(record)).into_response()
}

/// A page of a list, with the number of matches in `X-Total-Count` and, when the list is in
/// id order and may go on, the next page's cursor in `X-Next-After`.
pub(crate) fn listed<T, J: Serialize>(
    listing: Listing<T>,
    next_after: Option<i64>,
    json: impl FnMut(T) -> J,
) -> Response {
    let items: Vec<J> = listing.items.into_iter().map(json).collect();
    let mut response =
        ([(X_TOTAL_COUNT, listing.total.to_string())], list_json(&items)).into_response();
    if let Some(after) = next_after {
        response.headers_mut().insert(X_NEXT_AFTER, HeaderValue::from(after));
    }
    response
}

/// A list's JSON body, written by sonic-rs: the same bytes as serde_json (a test checks), with
/// the strings' escaping done many bytes at a time. serde_json's, a byte at a time, was 14% of
/// the instructions of a request for 50 movies (callgrind).
fn list_json<J: Serialize>(items: &[J]) -> Response {
    match sonic_rs::to_vec(items) {
        Ok(body) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
            .into_response(),
        // What sonic-rs refuses serde_json refuses too (a map with keys that are not strings):
        // its answer, a 500 with the error, then stands.
        Err(_) => Json(items).into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("Not Found".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::http::StatusCode;
    use axum::routing::get;
    use movies_domain::Error;
    use tower::ServiceExt;

    use super::*;
    use crate::config::CorsOrigins;

    /// A log sink the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Routes that fail each way, behind the app's own middleware.
    fn failing() -> App {
        async fn bug() -> ApiError {
            Error::internal("job 7 has an unknown status").into()
        }
        async fn outage() -> ApiError {
            Error::unavailable("pool timed out").into()
        }
        async fn panics() -> &'static str {
            panic!("boom")
        }
        // `GET /movies/names` whose second slice fails: the answer has started, so the stream
        // can only stop, and the failure is logged.
        async fn names_cut() -> Response {
            use movies_domain::movies::{MockMovieRepository, MovieService};
            let mut repo = MockMovieRepository::new();
            repo.expect_names_after().returning(|_, _| Err(Error::unavailable("pool timed out")));
            let service = MovieService::new(Arc::new(repo));
            let first = (1..=movies::NAMES_SLICE as i64).map(|i| (i, format!("M{i}"))).collect();
            let names = movies::names_json(service, first, tracing::Span::current());
            Body::from_stream(names).into_response()
        }
        let router = Router::new()
            .route("/bug", get(bug))
            .route("/outage", get(outage))
            .route("/panics", get(panics))
            .route("/names-cut", get(names_cut));
        let cors = CorsPolicy { origins: CorsOrigins::Any, any_loopback_port: false };
        App::new(with_middleware(TrimSlash::new(router), &cors, &RequestLimits::default()), None)
    }

    async fn call(path: &str) -> Response {
        let request = Request::get(path).body(Body::empty()).unwrap();
        failing().oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn a_list_is_the_json_serde_json_writes_byte_for_byte() {
        use crate::dto::characters::CharacterJson;
        use crate::dto::movies::MovieJson;
        // Every character that needs escaping, in short strings and in long ones where it
        // falls on either side of 16- and 32-byte blocks, with text of 2, 3 and 4 bytes a char.
        let tricky: String =
            (0u8..0x20).map(char::from).chain("\"\\/\u{7f}é€😀\u{2028}".chars()).collect();
        let texts: Vec<String> = (0..40)
            .map(|n| format!("{}{tricky}{}", "a".repeat(n), "ß".repeat(n % 7)))
            .chain(["".into(), "plain".into()])
            .collect();
        let movies: Vec<MovieJson> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| MovieJson {
                id: i as i64,
                name: t.clone(),
                year: 1999,
                duration: t.chars().rev().collect(),
                genre: t.chars().skip(i % 5).collect(),
                description: t.repeat(3),
                nr_characters: i64::MAX - i as i64,
                editor_id: (i % 2 == 0).then_some(-(i as i64)),
            })
            .collect();
        let characters: Vec<CharacterJson> = texts
            .iter()
            .map(|t| CharacterJson {
                id: 1,
                name: t.clone(),
                movie_id: i64::MIN,
                movie_name: t.to_uppercase(),
                description: t.clone(),
                editor_id: None,
            })
            .collect();
        async fn bytes(response: Response) -> Vec<u8> {
            let json = response.headers()[header::CONTENT_TYPE].clone();
            assert_eq!(json, "application/json");
            axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()
        }
        assert_eq!(bytes(list_json(&movies)).await, serde_json::to_vec(&movies).unwrap());
        assert_eq!(bytes(list_json(&characters)).await, serde_json::to_vec(&characters).unwrap());
        let empty: Vec<MovieJson> = Vec::new();
        assert_eq!(bytes(list_json(&empty)).await, b"[]");
    }

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_bug_and_a_panic_answer_the_same_500() {
        for path in ["/bug", "/panics"] {
            let response = call(path).await;
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            assert_eq!(
                body_of(response).await,
                serde_json::json!({ "detail": "Internal server error" })
            );
        }
    }

    #[tokio::test]
    async fn an_outage_is_a_503_with_retry_after() {
        let response = call("/outage").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let retry_after = response.headers()[header::RETRY_AFTER].to_str().unwrap();
        assert_eq!(retry_after, crate::error::RETRY_AFTER_SECS.to_string());
    }

    /// The error lines logged while answering `path`, and the request id it answered with. The
    /// log goes to a global subscriber, set once: a scoped one (`set_default`) misses events when
    /// tests on other threads hit the same call sites first, and lines are told apart by the
    /// request id.
    async fn errors_logged(path: &str) -> (Vec<String>, String) {
        static LOG: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
        let log = LOG.get_or_init(|| {
            let log = Captured::default();
            let sink = log.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || sink.clone())
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
            log
        });
        let response = call(path).await;
        let id = response.headers()[X_REQUEST_ID].to_str().unwrap().to_owned();
        // The whole body, which a stream writes after the answer (a cut one ends in an error).
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let lines = text.lines().filter(|l| l.contains("ERROR") && l.contains(&id));
        (lines.map(str::to_owned).collect(), id)
    }

    #[tokio::test]
    async fn a_stream_cut_part_way_is_logged_once_with_the_request_id() {
        let (lines, id) = errors_logged("/names-cut").await;
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains(&format!("request_id={id}")), "{lines:?}");
        assert!(lines[0].contains("GET /movies/names stopped part way"), "{lines:?}");
        assert!(lines[0].contains("error=storage unavailable"), "{lines:?}");
    }

    #[tokio::test]
    async fn a_bug_or_a_panic_is_logged_once_with_its_cause_and_the_request_id() {
        for (path, cause) in [("/bug", "job 7 has an unknown status"), ("/panics", "boom")] {
            let (lines, id) = errors_logged(path).await;
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert!(lines[0].contains(&format!("request_id={id}")), "{lines:?}");
            assert!(lines[0].contains(cause), "{lines:?}");
        }
    }
}
