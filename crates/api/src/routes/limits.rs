//! What keeps a busy server answering: load shedding (a request beyond `MAX_IN_FLIGHT` is
//! answered 503 at once instead of queueing for the database), the request timeout (a request
//! that takes longer than `REQUEST_TIMEOUT` is answered 503, and its work dropped), and the one
//! place that gives every 503 a `Retry-After`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Timeout;
use tower::{Layer, Service};

use super::after::Step;
use crate::error::{ApiError, OVERLOADED, RETRY_AFTER_SECS};

/// The limits every request is held to.
#[derive(Clone, Debug)]
pub struct RequestLimits {
    /// Requests handled at once at most; `/health` and `/metrics` are not counted.
    pub max_in_flight: usize,
    /// How long a request may take until its answer starts (a body that streams after that,
    /// such as `/movies/names`, is not cut). A WebSocket session runs after its upgrade's
    /// answer, so this never ends one.
    pub timeout: Duration,
}

impl Default for RequestLimits {
    /// `MAX_IN_FLIGHT` and `REQUEST_TIMEOUT`'s defaults.
    fn default() -> Self {
        Self { max_in_flight: 1024, timeout: Duration::from_secs(30) }
    }
}

/// The layer holding each request to `limits`: counted against `max_in_flight`, timed against
/// `timeout`. One semaphore for every service it makes.
#[derive(Clone, Debug)]
pub struct LimitsLayer {
    in_flight: Arc<Semaphore>,
    timeout: Duration,
}

impl LimitsLayer {
    pub fn new(limits: &RequestLimits) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            timeout: limits.timeout,
        }
    }
}

impl<S> Layer<S> for LimitsLayer {
    type Service = Limited<S>;

    fn layer(&self, inner: S) -> Limited<S> {
        Limited { inner, limits: self.clone() }
    }
}

#[derive(Clone, Debug)]
pub struct Limited<S> {
    inner: S,
    limits: LimitsLayer,
}

impl<S> Service<Request> for Limited<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = LimitedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // `/health` and `/metrics` are never shed: a liveness probe failing under load would
        // have the process restarted when it is busiest, and the figures would miss just that
        // moment; neither asks anything of the database.
        let path = request.uri().path().trim_end_matches('/');
        let permit = if matches!(path, "/health" | "/metrics") {
            None
        } else {
            match self.limits.in_flight.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    let shed = ApiError::Overloaded(OVERLOADED).into_response();
                    return LimitedFuture::Shed { response: Some(shed) };
                }
            }
        };
        // Dropping the handler's future on a timeout rolls back a write transaction it had
        // open; one that had committed stays done, as after any lost answer.
        let running = tokio::time::timeout(self.limits.timeout, self.inner.call(request));
        LimitedFuture::Running { running, _permit: permit }
    }
}

pin_project! {
    /// A request shed at once, or running under its timeout with its place held.
    #[project = LimitedProjection]
    pub enum LimitedFuture<F> {
        Shed { response: Option<Response> },
        Running {
            #[pin]
            running: Timeout<F>,
            _permit: Option<OwnedSemaphorePermit>,
        },
    }
}

impl<F, E> Future for LimitedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            LimitedProjection::Shed { response } => {
                // Taken at the first poll; a future is not polled after it is ready.
                let response = response
                    .take()
                    .unwrap_or_else(|| ApiError::Overloaded(OVERLOADED).into_response());
                Poll::Ready(Ok(response))
            }
            LimitedProjection::Running { running, .. } => match running.poll(cx) {
                Poll::Ready(Ok(answered)) => Poll::Ready(answered),
                Poll::Ready(Err(_)) => Poll::Ready(Ok(ApiError::TimedOut.into_response())),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// Gives a 503 that says nothing of when to try again the server's `Retry-After`: the one place
/// that does, whichever code made the 503 (the error mapping, `/ready`, the limits above). TMDB's
/// rate limit comes with its own figure, which stays.
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryAfter;

impl Step for RetryAfter {
    type Noted = ();

    fn request<B>(&self, _: &axum::http::Request<B>) {}

    fn response<B>((): (), response: &mut axum::http::Response<B>) {
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .entry(header::RETRY_AFTER)
                .or_insert(HeaderValue::from(RETRY_AFTER_SECS));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tokio::sync::Notify;
    use tower::ServiceExt;

    use super::*;
    use crate::error::TIMED_OUT;
    use crate::routes::after::AfterLayer;

    async fn detail(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["detail"].clone()
    }

    /// `/wait` answers once `release` is notified; `/quick` and `/health` at once.
    fn limited(limits: &RequestLimits, release: Arc<Notify>) -> Router {
        let wait = move || async move {
            release.notified().await;
            "done"
        };
        let router = Router::new()
            .route("/wait", get(wait))
            .route("/quick", get(|| async {}))
            .route("/health", get(|| async {}));
        router.layer(LimitsLayer::new(limits)).layer(AfterLayer(RetryAfter))
    }

    fn get_request(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn a_request_beyond_the_in_flight_limit_is_shed_at_once_but_health_never_is() {
        let release = Arc::new(Notify::new());
        let limits = RequestLimits { max_in_flight: 1, timeout: Duration::from_secs(3600) };
        let app = limited(&limits, release.clone());
        let first = tokio::spawn(app.clone().oneshot(get_request("/wait")));
        // The first request holds the only place until released; ask until it has taken it.
        let shed = loop {
            let response = app.clone().oneshot(get_request("/quick")).await.unwrap();
            if response.status() == StatusCode::SERVICE_UNAVAILABLE {
                break response;
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(shed.headers()[header::RETRY_AFTER], RETRY_AFTER_SECS.to_string());
        assert_eq!(detail(shed).await, OVERLOADED);
        let health = app.clone().oneshot(get_request("/health")).await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        let after = app.oneshot(get_request("/health")).await.unwrap();
        assert_eq!(after.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_request_over_the_timeout_is_a_json_503_with_retry_after() {
        let limits = RequestLimits { max_in_flight: 8, timeout: Duration::from_millis(1) };
        let app = limited(&limits, Arc::new(Notify::new()));
        let response = app.oneshot(get_request("/wait")).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_AFTER_SECS.to_string());
        assert_eq!(detail(response).await, TIMED_OUT);
    }

    #[tokio::test]
    async fn a_503_keeps_the_retry_after_it_has() {
        let own = || async {
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "42")]).into_response()
        };
        let bare = || async { StatusCode::SERVICE_UNAVAILABLE };
        let app = Router::new()
            .route("/own", get(own))
            .route("/bare", get(bare))
            .layer(AfterLayer(RetryAfter));
        let response = app.clone().oneshot(get_request("/own")).await.unwrap();
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        let response = app.oneshot(get_request("/bare")).await.unwrap();
        assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_AFTER_SECS.to_string());
    }
}
