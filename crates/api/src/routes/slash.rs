//! Trailing slashes: `/movies/` and `/movies` are one route, as they were in the original. The
//! path is trimmed before routing (tower-http's `NormalizePath`), but for the pages' paths, which
//! have one address each: Swagger UI lives at `/docs/` and redirects `/docs` there, which a
//! trimmed path would turn into a loop.
//!
//! Pages and API are one router, the trimming chosen per request here, rather than a router of
//! pages falling back to a trimmed router of the API: each router a request falls through costs
//! it a catch-all match and a clone of a boxed service (callgrind on `GET /health`).

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use tower::Service;
use tower_http::normalize_path::NormalizePath;

/// The paths left as they come.
const UNTRIMMED: [&str; 3] = ["/docs/", "/redoc/", "/openapi.json/"];

/// `router`, every path but [`UNTRIMMED`]'s trimmed of its trailing slash.
#[derive(Clone)]
pub struct TrimSlash(NormalizePath<Router>);

impl TrimSlash {
    pub fn new(router: Router) -> Self {
        Self(NormalizePath::trim_trailing_slash(router))
    }
}

impl Service<Request<Body>> for TrimSlash {
    type Response = Response;
    type Error = Infallible;
    type Future = <Router as Service<Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request<Body>>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let path = request.uri().path();
        if UNTRIMMED.iter().any(|page| path.starts_with(page)) {
            self.0.get_mut().call(request)
        } else {
            self.0.call(request)
        }
    }
}
