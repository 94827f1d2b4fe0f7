//! What keeps a busy server answering: load shedding (a request beyond `MAX_IN_FLIGHT` is
//! answered 503 at once instead of queueing for the database), the request timeout (a request
//! that takes longer than `REQUEST_TIMEOUT` is answered 503, and its work dropped), and the one
//! place that gives every 503 a `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

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

struct Guard {
    in_flight: Semaphore,
    timeout: Duration,
}

/// `router` with each request counted against `limits.max_in_flight` and timed against
/// `limits.timeout`.
pub(super) fn apply(router: Router, limits: &RequestLimits) -> Router {
    let guard = Arc::new(Guard {
        in_flight: Semaphore::new(limits.max_in_flight.max(1)),
        timeout: limits.timeout,
    });
    router.layer(from_fn_with_state(guard, guard_request))
}

async fn guard_request(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    // `/health` and `/metrics` are never shed: a liveness probe failing under load would have
    // the process restarted when it is busiest, and the figures would miss just that moment;
    // neither asks anything of the database.
    let path = request.uri().path().trim_end_matches('/');
    let _permit = if matches!(path, "/health" | "/metrics") {
        None
    } else {
        match guard.in_flight.try_acquire() {
            Ok(permit) => Some(permit),
            Err(_) => return ApiError::Overloaded(OVERLOADED).into_response(),
        }
    };
    // Dropping the handler's future on a timeout rolls back a write transaction it had open;
    // one that had committed stays done, as after any lost answer.
    match tokio::time::timeout(guard.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut.into_response(),
    }
}

/// Gives a 503 that says nothing of when to try again the server's `Retry-After`: the one place
/// that does, whichever code made the 503 (the error mapping, `/ready`, the limits above). TMDB's
/// rate limit comes with its own figure, which stays.
pub(super) async fn retry_after(mut response: Response) -> Response {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tokio::sync::Notify;
    use tower::ServiceExt;

    use super::*;
    use crate::error::TIMED_OUT;

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
        apply(router, limits).layer(axum::middleware::map_response(retry_after))
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
            .layer(axum::middleware::map_response(retry_after));
        let response = app.clone().oneshot(get_request("/own")).await.unwrap();
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        let response = app.oneshot(get_request("/bare")).await.unwrap();
        assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_AFTER_SECS.to_string());
    }
}
