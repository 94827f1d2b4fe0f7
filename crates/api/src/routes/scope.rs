//! What every request gets at the door, in one layer: its id (the client's `X-Request-Id`, or a
//! new UUID) set on the request and echoed on the answer, the span its log lines are written in,
//! a JSON 500 in place of a panic, and with `RUST_LOG=requests=debug` a line per answer.
//!
//! tower-http has a layer for each (`SetRequestId`, `PropagateRequestId`, `Trace`,
//! `CatchPanic`); together they were 9.8 of the 23.8 thousand instructions of a `GET /health`
//! (callgrind), 5.0 of them the span itself: four services and futures around the rest, a map of
//! extensions made for the request and another for the answer to hold an id nobody reads, the
//! answer's body boxed twice more and wrapped to enter the span on every frame.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::{Level, Span};

use super::X_REQUEST_ID;

/// The target of the line logged per answer: `RUST_LOG=info,requests=debug` turns it on.
const REQUESTS: &str = "requests";

#[derive(Clone, Copy, Debug, Default)]
pub struct ScopeLayer;

impl<S> Layer<S> for ScopeLayer {
    type Service = Scoped<S>;

    fn layer(&self, inner: S) -> Scoped<S> {
        Scoped { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Scoped<S> {
    inner: S,
}

impl<S> Service<Request<Body>> for Scoped<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = InScope<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let id = match request.headers().get(X_REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = new_id();
                request.headers_mut().insert(X_REQUEST_ID, id.clone());
                id
            }
        };
        let span = request_span(&request, &id);
        let started = tracing::enabled!(target: REQUESTS, Level::DEBUG).then(Instant::now);
        let called = {
            let _entered = span.enter();
            std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request)))
        };
        let state = match called {
            Ok(inner) => State::Running { inner },
            Err(panic) => State::Panicked { panic: Some(panic) },
        };
        InScope { state, span, id: Some(id), started }
    }
}

/// A v4 UUID, as tower-http's `MakeRequestUuid` made them.
fn new_id() -> HeaderValue {
    let id = uuid::Uuid::new_v4().hyphenated();
    // Hex digits and hyphens, always a valid value: the fallback is never taken.
    HeaderValue::from_str(id.encode_lower(&mut uuid::Uuid::encode_buffer()))
        .unwrap_or(HeaderValue::from_static("-"))
}

/// The span every log line of a request is written in, so that an error logged deep inside
/// names the request it belongs to. The path only: a query string may carry a token
/// (`/ws?token=`).
fn request_span(request: &Request<Body>, id: &HeaderValue) -> Span {
    let id = id.to_str().unwrap_or("");
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
}

pin_project! {
    /// The inner service's future, polled in the request's span, with panics caught.
    pub struct InScope<F> {
        #[pin]
        state: State<F>,
        span: Span,
        id: Option<HeaderValue>,
        started: Option<Instant>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] inner: F },
        // A panic in the inner service's `call`, answered at the first poll.
        Panicked { panic: Option<Box<dyn Any + Send>> },
    }
}

impl<F> Future for InScope<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut response = match this.state.project() {
            StateProj::Running { inner } => {
                match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                    Ok(polled) => match ready!(polled) {
                        Ok(response) => response,
                        Err(never) => match never {},
                    },
                    Err(panic) => internal_error(panic),
                }
            }
            // Taken at the first poll; a future is not polled after it is ready.
            StateProj::Panicked { panic } => {
                internal_error(panic.take().unwrap_or_else(|| Box::new("polled again")))
            }
        };
        if let Some(id) = this.id.take()
            && !response.headers().contains_key(X_REQUEST_ID)
        {
            response.headers_mut().insert(X_REQUEST_ID, id);
        }
        if let Some(started) = this.started {
            let status = response.status().as_u16();
            let latency_us = started.elapsed().as_micros() as u64;
            tracing::debug!(target: REQUESTS, status, latency_us, "answered");
        }
        Poll::Ready(Ok(response))
    }
}

/// A panic's answer: the same 500 as `ApiError::Internal`, logged in the request's span with the
/// panic's message.
fn internal_error(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "a handler panicked");
    let body = Json(serde_json::json!({ "detail": crate::error::INTERNAL_ERROR }));
    (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;

    /// Answers with the request id it was given in `x-seen`, or with its own id when asked to.
    fn echo() -> Scoped<impl Service<Request<Body>, Response = Response, Error = Infallible> + Clone>
    {
        ScopeLayer.layer(tower::service_fn(|request: Request<Body>| async move {
            let mut response = Response::new(Body::empty());
            let seen = request.headers().get(X_REQUEST_ID).cloned();
            if let Some(seen) = seen {
                response.headers_mut().insert("x-seen", seen);
            }
            if request.uri().path() == "/own" {
                response.headers_mut().insert(X_REQUEST_ID, HeaderValue::from_static("own"));
            }
            Ok(response)
        }))
    }

    #[tokio::test]
    async fn the_clients_request_id_is_kept_and_echoed() {
        let request = Request::get("/").header(X_REQUEST_ID, "probe-7").body(Body::empty());
        let response = echo().oneshot(request.unwrap()).await.unwrap();
        assert_eq!(response.headers()["x-seen"], "probe-7");
        assert_eq!(response.headers()[X_REQUEST_ID], "probe-7");
    }

    #[tokio::test]
    async fn a_request_without_an_id_gets_a_new_uuid_the_handler_sees_too() {
        let request = Request::get("/").body(Body::empty()).unwrap();
        let response = echo().oneshot(request).await.unwrap();
        let id = response.headers()[X_REQUEST_ID].to_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
        assert_eq!(response.headers()["x-seen"], id);

        let again = echo().oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
        assert_ne!(again.headers()[X_REQUEST_ID], id);
    }

    #[tokio::test]
    async fn an_answer_that_sets_its_own_id_keeps_it() {
        let request = Request::get("/own").header(X_REQUEST_ID, "probe").body(Body::empty());
        let response = echo().oneshot(request.unwrap()).await.unwrap();
        assert_eq!(response.headers()[X_REQUEST_ID], "own");
    }

    #[tokio::test]
    async fn a_panic_in_the_call_or_in_its_future_is_a_500_with_the_id() {
        #[derive(Clone)]
        struct PanicsInCall;
        impl Service<Request<Body>> for PanicsInCall {
            type Response = Response;
            type Error = Infallible;
            type Future = std::future::Ready<Result<Response, Infallible>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: Request<Body>) -> Self::Future {
                panic!("in call")
            }
        }
        let in_future = ScopeLayer.layer(tower::service_fn(|_: Request<Body>| async {
            if true {
                panic!("in the future");
            }
            Ok::<Response, Infallible>(Response::new(Body::empty()))
        }));
        let request = || Request::get("/").header(X_REQUEST_ID, "p").body(Body::empty()).unwrap();
        for response in [
            ScopeLayer.layer(PanicsInCall).oneshot(request()).await.unwrap(),
            in_future.oneshot(request()).await.unwrap(),
        ] {
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(response.headers()[X_REQUEST_ID], "p");
            let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
            assert_eq!(&body[..], br#"{"detail":"Internal server error"}"#);
        }
    }
}
