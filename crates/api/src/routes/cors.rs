//! CORS: tower-http's layer, with the browsers' rules of `CORS_ORIGINS`, answers every request
//! that carries an `Origin` and every `OPTIONS` (which it answers as a preflight). To the others
//! (scripts, curl, the load balancer's checks, a same-origin page's GETs) it only adds headers
//! that do not depend on the request, `Vary` above all; those are computed once, by running the
//! layer on such a request at start, and added as they are. Building them again for each
//! request was a tenth of the instructions of `GET /health` (callgrind).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, header};
use futures_util::FutureExt;
use futures_util::future::Either;
use tower::{Layer, Service, ServiceExt};
use tower_http::cors::{AllowOrigin, Cors, ResponseFuture};

use super::after::{Finishing, Step};
use super::{X_NEXT_AFTER, X_REQUEST_ID, X_TOTAL_COUNT};
use crate::config::{CorsOrigins, CorsPolicy};

/// The layer of [`WithCors`], for `policy`.
#[derive(Clone)]
pub struct CorsLayer {
    rules: tower_http::cors::CorsLayer,
    plain: Option<Plain>,
}

impl CorsLayer {
    pub fn new(policy: &CorsPolicy) -> Self {
        let rules = rules(policy);
        let plain = plain_headers(&rules).map(|headers| Plain(Arc::new(headers)));
        Self { rules, plain }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = WithCors<S>;

    fn layer(&self, inner: S) -> WithCors<S> {
        WithCors { cors: self.rules.layer(inner), plain: self.plain.clone() }
    }
}

/// tower-http's CORS around `S`, or, for a request with no `Origin` that is not an `OPTIONS`,
/// the headers it would add.
#[derive(Clone)]
pub struct WithCors<S> {
    cors: Cors<S>,
    /// `None` if they could not be computed at start: every request then goes through the layer.
    plain: Option<Plain>,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for WithCors<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: Default,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = Either<ResponseFuture<S::Future>, Finishing<S::Future, Plain>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.cors.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        match &self.plain {
            Some(plain)
                if request.method() != Method::OPTIONS
                    && !request.headers().contains_key(header::ORIGIN) =>
            {
                let noted = plain.request(&request);
                Either::Right(Finishing::new(self.cors.get_mut().call(request), noted))
            }
            _ => Either::Left(self.cors.call(request)),
        }
    }
}

/// The headers the layer adds to a request with no `Origin` that is not an `OPTIONS`.
#[derive(Clone)]
pub struct Plain(Arc<HeaderMap>);

impl Step for Plain {
    type Noted = Arc<HeaderMap>;

    fn request<B>(&self, _: &Request<B>) -> Arc<HeaderMap> {
        self.0.clone()
    }

    /// As tower-http adds them: `Vary` after the handler's own, the others in place of any the
    /// handler set.
    fn response<B>(plain: Arc<HeaderMap>, response: &mut Response<B>) {
        let headers = response.headers_mut();
        for name in plain.keys() {
            let mut values = plain.get_all(name).iter();
            if name != header::VARY
                && let Some(first) = values.next()
            {
                headers.insert(name.clone(), first.clone());
            }
            for value in values {
                headers.append(name.clone(), value.clone());
            }
        }
    }
}

/// What `rules` adds to a plain `GET` with no `Origin`: the response of an empty handler under
/// it. Its futures are all ready at once; `None` if one were not.
fn plain_headers(rules: &tower_http::cors::CorsLayer) -> Option<HeaderMap> {
    let empty = tower::service_fn(|_: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let request = Request::get("/").body(Body::empty()).ok()?;
    let response = rules.layer(empty).oneshot(request).now_or_never()?;
    response.ok().map(|response| response.headers().clone())
}

fn rules(policy: &CorsPolicy) -> tower_http::cors::CorsLayer {
    let layer = tower_http::cors::CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([X_TOTAL_COUNT, X_NEXT_AFTER, header::LOCATION, X_REQUEST_ID])
        .max_age(Duration::from_secs(600));
    match &policy.origins {
        // Browsers refuse credentials with a wildcard origin, so `*` goes without them.
        CorsOrigins::Any => layer.allow_origin(AllowOrigin::any()),
        CorsOrigins::List(list) => {
            let list: Vec<HeaderValue> = list.clone();
            let loopback = policy.any_loopback_port;
            let allowed = move |origin: &HeaderValue, _: &axum::http::request::Parts| {
                list.contains(origin) || (loopback && is_loopback_dev_origin(origin))
            };
            layer.allow_origin(AllowOrigin::predicate(allowed)).allow_credentials(true)
        }
    }
}

/// `http://localhost:<port>` or `http://127.0.0.1:<port>` (or without a port): a dev server on
/// the user's own machine.
fn is_loopback_dev_origin(origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else { return false };
    let Some(host_port) = origin.strip_prefix("http://") else { return false };
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "80"));
    matches!(host, "localhost" | "127.0.0.1")
        && !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies() -> Vec<CorsPolicy> {
        let front = HeaderValue::from_static("https://front.example");
        vec![
            CorsPolicy { origins: CorsOrigins::Any, any_loopback_port: false },
            CorsPolicy {
                origins: CorsOrigins::List(vec![front.clone()]),
                any_loopback_port: false,
            },
            CorsPolicy { origins: CorsOrigins::List(vec![front]), any_loopback_port: true },
        ]
    }

    /// A handler that sets its own `Vary` and a header the layer also sets.
    async fn handler(_: Request<Body>) -> Result<Response<Body>, Infallible> {
        let mut response = Response::new(Body::empty());
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        let exposed = header::ACCESS_CONTROL_EXPOSE_HEADERS;
        response.headers_mut().insert(exposed, HeaderValue::from_static("x-handler"));
        Ok(response)
    }

    #[tokio::test]
    async fn every_request_gets_the_headers_tower_http_gives_it() {
        let requests = [
            (Method::GET, None),
            (Method::POST, None),
            (Method::OPTIONS, None),
            (Method::GET, Some("https://front.example")),
            (Method::GET, Some("http://localhost:5173")),
            (Method::GET, Some("https://elsewhere.example")),
            (Method::OPTIONS, Some("https://front.example")),
        ];
        for policy in policies() {
            let layer = CorsLayer::new(&policy);
            assert!(layer.plain.is_some(), "the plain headers are computed at start");
            for (method, origin) in &requests {
                let request = || {
                    let mut request = Request::builder().method(method.clone()).uri("/movies");
                    if let Some(origin) = origin {
                        request = request.header(header::ORIGIN, *origin);
                    }
                    request = request.header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET");
                    request.body(Body::empty()).unwrap()
                };
                let ours = layer.layer(tower::service_fn(handler)).oneshot(request()).await;
                let theirs = layer.rules.layer(tower::service_fn(handler)).oneshot(request()).await;
                let (ours, theirs) = (ours.unwrap(), theirs.unwrap());
                assert_eq!(ours.status(), theirs.status(), "{method} {origin:?}");
                assert_eq!(ours.headers(), theirs.headers(), "{method} {origin:?}");
            }
        }
    }

    #[test]
    fn only_local_http_origins_count_as_dev_servers() {
        for ok in ["http://localhost:5174", "http://127.0.0.1:4173", "http://localhost"] {
            assert!(is_loopback_dev_origin(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in [
            "https://localhost:5173",
            "http://localhost.evil.com:5173",
            "http://127.0.0.1:",
            "http://127.0.0.1:80/",
            "http://localhost:5173@evil.com",
            "http://10.0.0.1:5173",
        ] {
            assert!(!is_loopback_dev_origin(&HeaderValue::from_static(bad)), "{bad}");
        }
    }
}
