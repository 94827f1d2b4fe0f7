//! The pages for people: the OpenAPI document at `/openapi.json`, Swagger UI at `/docs`, ReDoc at
//! `/redoc` and the live page at `/`. Everything they load is compiled into the binary, so they
//! work with no internet access.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa_redoc::{Redoc, Servable};
use utoipa_swagger_ui::{Config, SwaggerUi};

const LIVE_PAGE: &str = include_str!("../../assets/index.html");
const REDOC_PAGE: &str = include_str!("../../assets/redoc/index.html");
const REDOC_SCRIPT: &str = include_str!("../../assets/redoc/redoc.standalone.js");

/// Routes outside the trailing-slash normalisation: Swagger UI lives at `/docs/` and redirects
/// `/docs` there, which a trimmed path would turn into a loop.
pub fn routes<S: Clone + Send + Sync + 'static>(doc: OpenApi) -> Router<S> {
    let swagger = SwaggerUi::new("/docs")
        .url("/openapi.json", doc.clone())
        .config(Config::default().persist_authorization(true).try_it_out_enabled(true));
    Router::new()
        .merge(swagger)
        .merge(Redoc::with_url("/redoc", doc).custom_html(REDOC_PAGE))
        .route("/redoc/redoc.standalone.js", get(redoc_script))
        .route("/", get(|| async { Html(LIVE_PAGE) }))
}

async fn redoc_script() -> impl IntoResponse {
    let cache = "public, max-age=86400";
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, cache)],
        REDOC_SCRIPT,
    )
}
