//! The pages for people: the OpenAPI document at `/openapi.json`, Swagger UI at `/docs`, ReDoc at
//! `/redoc` and the live page at `/`. Everything they load is compiled into the binary, so they
//! work with no internet access. Each page has its own Content-Security-Policy (`headers.rs`).

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::headers::{REDOC_POLICY, live_page_policy, page_policy, swagger_policy};

const LIVE_PAGE: &str = include_str!("../../assets/index.html");
const REDOC_PAGE: &str = include_str!("../../assets/redoc/index.html");
const REDOC_SCRIPT: &str = include_str!("../../assets/redoc/redoc.standalone.js");
const REDOC_INIT: &str = include_str!("../../assets/redoc/init.js");
/// The one thing the ReDoc bundle fetches from elsewhere: the Redocly logo in its menu, an image
/// that removes itself when it fails to load. Served with an empty address, it fails at once.
const REDOC_LOGO: &str = "https://cdn.redoc.ly/redoc/logo-mini.svg";
static REDOC_OFFLINE: LazyLock<String> = LazyLock::new(|| REDOC_SCRIPT.replace(REDOC_LOGO, ""));

/// The pages' routes, whose paths keep their trailing slash (`slash.rs`): Swagger UI lives at
/// `/docs/` and redirects `/docs` there, which a trimmed path would turn into a loop.
pub fn routes<S: Clone + Send + Sync + 'static>(doc: OpenApi) -> Router<S> {
    let swagger = SwaggerUi::new("/docs")
        .url("/openapi.json", doc)
        // No validator badge: it would fetch from validator.swagger.io.
        .config(
            Config::default()
                .persist_authorization(true)
                .try_it_out_enabled(true)
                .validator_url("none"),
        );
    let swagger = Router::new().merge(swagger).layer(page_policy(swagger_policy()));
    // ReDoc reads the document from `/openapi.json` (served with Swagger UI above).
    let redoc = Router::new()
        .route("/redoc", get(|| async { Html(REDOC_PAGE) }))
        .route("/redoc/", get(|| async { Redirect::permanent("/redoc") }))
        .route("/redoc/redoc.standalone.js", get(|| async { script(REDOC_OFFLINE.as_str()) }))
        .route("/redoc/init.js", get(|| async { script(REDOC_INIT) }))
        .layer(page_policy(HeaderValue::from_static(REDOC_POLICY)));
    let live = Router::new()
        .route("/", get(|| async { Html(LIVE_PAGE) }))
        .layer(page_policy(live_page_policy(LIVE_PAGE)));
    swagger.merge(redoc).merge(live)
}

fn script(text: &'static str) -> impl IntoResponse {
    let cache = "public, max-age=86400";
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, cache)],
        text,
    )
}
