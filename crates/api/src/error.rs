//! `ApiError`: the one place where failures become HTTP responses. Every body keeps the original
//! FastAPI shape, `{"detail": "..."}`, or for invalid input `{"detail": [{"loc", "msg", "type"}]}`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use movies_domain::{Error, FieldError, Loc, UpstreamError};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, Object, OneOfBuilder, Type};

/// `{"detail": "..."}`: every error but a 422.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({ "detail": "Movie not found" }))]
pub struct ErrorBody {
    pub detail: String,
}

/// `{"detail": [...]}`: a 422, with every broken rule.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HTTPValidationError)]
pub struct HttpValidationError {
    pub detail: Vec<ValidationDetail>,
}

/// One entry of a 422 body, as FastAPI writes it.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct ValidationDetail {
    /// Where: `body`, `query` or `path`, then field names and list indexes.
    #[schema(schema_with = loc_schema, example = json!(["body", 0, "year"]))]
    pub loc: Vec<serde_json::Value>,
    pub msg: String,
    #[serde(rename = "type")]
    #[schema(example = "value_error")]
    pub kind: String,
}

fn loc_schema() -> ArrayBuilder {
    let step = OneOfBuilder::new()
        .item(Object::with_type(Type::String))
        .item(Object::with_type(Type::Integer));
    ArrayBuilder::new().items(step)
}

impl ValidationDetail {
    /// A domain field error found in `source` (`body`, `query` or `path`).
    pub fn from_field(source: &'static str, e: FieldError) -> Self {
        let mut loc = vec![json!(source)];
        loc.extend(e.loc.into_iter().map(|l| match l {
            Loc::Field(f) => json!(f),
            Loc::Index(i) => json!(i),
        }));
        Self { loc, msg: e.msg, kind: e.kind.to_owned() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not well-formed JSON.
    #[error("{0}")]
    BadRequest(String),
    /// 401, with `WWW-Authenticate: Bearer`: no valid token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the role or ownership does not allow the action.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405.
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    /// 409: a unique name is taken.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over the route's limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 429: a quota of the caller's is used up.
    #[error("{0}")]
    TooManyRequests(String),
    /// 429 with `Retry-After`: the caller is throttled (logins) for that many seconds.
    #[error("{detail}")]
    Throttled { detail: &'static str, retry_after_secs: u64 },
    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: the input breaks a rule; every broken rule is listed.
    #[error("validation failed")]
    Validation(Vec<ValidationDetail>),
    /// 503 with `Retry-After`: a limit of the server's is reached (password hashes waiting,
    /// requests at once, WebSocket listeners) or it is stopping; the message says which, nothing
    /// is logged (`/metrics` counts the hashing one).
    #[error("{0}")]
    Overloaded(&'static str),
    /// 503 with `Retry-After`: the database is down, busy or too slow; logged here with its
    /// cause, hidden from the client.
    #[error("storage unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 500: a bug or a broken invariant; logged here with its cause and the request id (through
    /// the request's span), hidden from the client.
    #[error("{INTERNAL_ERROR}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 503 with a message for the client: TMDB is not configured, or is rate-limiting us (then
    /// with TMDB's `Retry-After`).
    #[error("{detail}")]
    UpstreamUnavailable { detail: String, retry_after_secs: Option<u64> },
    /// 503: the request took longer than `REQUEST_TIMEOUT`; logged here.
    #[error("{TIMED_OUT}")]
    TimedOut,
    /// 502: TMDB failed, answered an error or was too slow; logged here with its cause, hidden
    /// from the client.
    #[error("TMDB failed")]
    BadGateway(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The 503's message when neither TMDB_API_KEY nor TMDB_ACCESS_TOKEN is set.
pub const TMDB_NOT_CONFIGURED: &str = "TMDB is not configured: set TMDB_API_KEY";
/// The 503's message while TMDB is rate-limiting us.
pub const TMDB_RATE_LIMITED: &str =
    "TMDB's rate limit is reached; try again after Retry-After seconds";
/// The 502's message.
pub const TMDB_FAILED: &str = "TMDB did not answer properly; try again shortly";
/// `Retry-After` when TMDB's 429 did not say how long to wait.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 10;
/// `Retry-After` of every other 503 (added by `routes::limits::retry_after` to each that has
/// none): long enough for a busy database or a restarting one to recover, short enough that a
/// client's retry is not felt as an outage of its own.
pub const RETRY_AFTER_SECS: u64 = 5;
/// The 503's message when `MAX_IN_FLIGHT` requests are being handled.
pub const OVERLOADED: &str = "Too many requests at once; try again after Retry-After seconds";
/// The 503's message when `WS_MAX_CONNECTIONS` listeners are connected.
pub const TOO_MANY_LISTENERS: &str =
    "Too many WebSocket listeners; try again after Retry-After seconds";
/// The 503's message when `MAX_CONNECTIONS` connections are open (written by the server itself,
/// before any request is read).
pub const TOO_MANY_CONNECTIONS: &str = "Too many connections; try again after Retry-After seconds";
/// The 503's message while the server is stopping.
pub const STOPPING: &str = "The server is stopping; try again after Retry-After seconds";
/// The 503's message when a request takes longer than `REQUEST_TIMEOUT`.
pub const TIMED_OUT: &str = "The request took too long; try again after Retry-After seconds";
/// The body of every 500, a bug's and a panic's alike.
pub const INTERNAL_ERROR: &str = "Internal server error";
/// The body of a 503 for the database.
pub const UNAVAILABLE: &str = "The service is temporarily unavailable; try again shortly";

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(_) | ApiError::Throttled { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable(_) | ApiError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::UpstreamUnavailable { .. } | ApiError::TimedOut => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// Maps a domain error whose input errors came from `source` (`body`, `query`, `path`).
    pub fn from_domain(source: &'static str) -> impl FnOnce(Error) -> ApiError {
        move |e| match e {
            Error::Invalid(errors) => ApiError::Validation(
                errors.into_iter().map(|e| ValidationDetail::from_field(source, e)).collect(),
            ),
            other => other.into(),
        }
    }

    /// A 422 for field errors found in `source`.
    pub fn invalid(source: &'static str, errors: Vec<FieldError>) -> ApiError {
        ApiError::from_domain(source)(Error::Invalid(errors))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(entity) => ApiError::NotFound(format!("{entity} not found")),
            Error::Unauthorized(why) => ApiError::Unauthorized(why.to_owned()),
            Error::Forbidden(why) => ApiError::Forbidden(why.to_owned()),
            Error::DuplicateName { entity, name } => ApiError::Conflict(format!(
                "A {} named {name:?} already exists",
                entity.to_string().to_lowercase()
            )),
            Error::LimitReached(why) => ApiError::TooManyRequests(why),
            Error::Invalid(_) => ApiError::from_domain("body")(e),
            Error::Overloaded(why) => ApiError::Overloaded(why),
            Error::Unavailable(source) => ApiError::Unavailable(source),
            Error::Internal(source) => ApiError::Internal(source),
            Error::Upstream(e) => e.into(),
        }
    }
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> Self {
        match e {
            UpstreamError::NotConfigured => ApiError::UpstreamUnavailable {
                detail: TMDB_NOT_CONFIGURED.into(),
                retry_after_secs: None,
            },
            UpstreamError::NotFound(item) => {
                ApiError::NotFound(format!("{item} not found on TMDB"))
            }
            UpstreamError::RateLimited { retry_after_secs } => ApiError::UpstreamUnavailable {
                detail: TMDB_RATE_LIMITED.into(),
                retry_after_secs: Some(retry_after_secs.unwrap_or(DEFAULT_RETRY_AFTER_SECS)),
            },
            UpstreamError::Failed(source) => ApiError::BadGateway(source),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // The one log line of a failure the client cannot see the cause of; it carries the
        // request id through the request's span (`routes::app`).
        let body = match self {
            ApiError::Validation(detail) => json!(HttpValidationError { detail }),
            ApiError::Unavailable(ref source) => {
                tracing::error!(error = %error_chain(source.as_ref()), "database unavailable");
                json!(ErrorBody { detail: UNAVAILABLE.into() })
            }
            ApiError::Internal(ref source) => {
                tracing::error!(error = %error_chain(source.as_ref()), "internal error");
                json!(ErrorBody { detail: INTERNAL_ERROR.into() })
            }
            ApiError::BadGateway(ref source) => {
                tracing::error!(error = %error_chain(source.as_ref()), "TMDB failed");
                json!(ErrorBody { detail: TMDB_FAILED.into() })
            }
            ApiError::Throttled { detail, retry_after_secs: secs } => {
                let body = Json(json!(ErrorBody { detail: detail.to_owned() }));
                return (status, [(header::RETRY_AFTER, secs.to_string())], body).into_response();
            }
            // TMDB's own figure; every other 503 gets the server's on the way out
            // (`routes::limits::retry_after`).
            ApiError::UpstreamUnavailable { retry_after_secs: Some(secs), ref detail } => {
                let body = Json(json!(ErrorBody { detail: detail.clone() }));
                return (status, [(header::RETRY_AFTER, secs.to_string())], body).into_response();
            }
            ApiError::TimedOut => {
                tracing::warn!("request timed out");
                json!(ErrorBody { detail: TIMED_OUT.into() })
            }
            other => json!(ErrorBody { detail: other.to_string() }),
        };
        match status {
            StatusCode::UNAUTHORIZED => {
                (status, [(header::WWW_AUTHENTICATE, "Bearer")], Json(body)).into_response()
            }
            _ => (status, Json(body)).into_response(),
        }
    }
}

/// "outer: inner: innermost", so one log line carries the whole cause.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use movies_domain::RecordKind;

    use super::*;

    #[test]
    fn domain_errors_get_their_status() {
        let cases: [(Error, StatusCode); 5] = [
            (Error::NotFound(RecordKind::Movie), StatusCode::NOT_FOUND),
            (
                Error::DuplicateName { entity: RecordKind::Movie, name: "A".into() },
                StatusCode::CONFLICT,
            ),
            (Error::Invalid(vec![]), StatusCode::UNPROCESSABLE_ENTITY),
            (Error::unavailable("disk full"), StatusCode::SERVICE_UNAVAILABLE),
            (Error::internal("job 7 has an unknown status"), StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (domain, status) in cases {
            assert_eq!(ApiError::from(domain).status(), status);
        }
    }

    #[test]
    fn a_field_error_gets_a_fastapi_loc() {
        let e = FieldError::new("year", "value_error", "bad").at_index(3);
        let detail = ValidationDetail::from_field("body", e);
        assert_eq!(detail.loc, vec![json!("body"), json!(3), json!("year")]);
    }

    #[test]
    fn tmdb_errors_get_their_status_and_message() {
        use movies_domain::OutsideItem;
        let cases: [(UpstreamError, StatusCode, &str); 4] = [
            (UpstreamError::NotConfigured, StatusCode::SERVICE_UNAVAILABLE, TMDB_NOT_CONFIGURED),
            (
                UpstreamError::NotFound(OutsideItem::Movie),
                StatusCode::NOT_FOUND,
                "Movie not found on TMDB",
            ),
            (
                UpstreamError::NotFound(OutsideItem::Genre),
                StatusCode::NOT_FOUND,
                "Genre not found on TMDB",
            ),
            (
                UpstreamError::RateLimited { retry_after_secs: None },
                StatusCode::SERVICE_UNAVAILABLE,
                TMDB_RATE_LIMITED,
            ),
        ];
        for (upstream, status, detail) in cases {
            let e = ApiError::from(Error::Upstream(upstream));
            assert_eq!((e.status(), e.to_string().as_str()), (status, detail));
        }
    }

    #[tokio::test]
    async fn a_tmdb_rate_limit_passes_its_retry_after_on_or_a_default() {
        let response = |secs| {
            ApiError::from(UpstreamError::RateLimited { retry_after_secs: secs }).into_response()
        };
        let retry_after =
            |r: &Response| r.headers()[header::RETRY_AFTER].to_str().unwrap().to_owned();
        assert_eq!(retry_after(&response(Some(42))), "42");
        assert_eq!(retry_after(&response(None)), DEFAULT_RETRY_AFTER_SECS.to_string());
        // Not configured: no TMDB figure to pass on, so the 503 gets the server's own on the way
        // out (`routes::limits`).
        let not_configured = ApiError::from(UpstreamError::NotConfigured).into_response();
        assert!(not_configured.headers().get(header::RETRY_AFTER).is_none());
    }

    #[tokio::test]
    async fn a_tmdb_failure_is_a_502_whose_body_hides_the_cause() {
        let response =
            ApiError::from(UpstreamError::failed("connection refused to 10.0.0.1")).into_response();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        let bytes = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body, json!({ "detail": TMDB_FAILED }));
    }

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn an_internal_error_is_a_500_whose_body_hides_the_cause() {
        let response =
            ApiError::from(Error::internal("event 3 has an unknown entity")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(body_of(response).await, json!({ "detail": "Internal server error" }));
    }

    #[tokio::test]
    async fn a_database_outage_is_a_503_whose_body_hides_the_cause() {
        let response = ApiError::from(Error::unavailable("pool timed out")).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_of(response).await, json!({ "detail": UNAVAILABLE }));
    }

    #[tokio::test]
    async fn limits_and_timeouts_are_503s_that_say_which() {
        for (e, detail) in [
            (ApiError::Overloaded(OVERLOADED), OVERLOADED),
            (ApiError::Overloaded(TOO_MANY_LISTENERS), TOO_MANY_LISTENERS),
            (ApiError::TimedOut, TIMED_OUT),
        ] {
            let response = e.into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(body_of(response).await, json!({ "detail": detail }));
        }
    }

    #[test]
    fn not_found_reads_as_the_original_did() {
        assert_eq!(
            ApiError::from(Error::NotFound(RecordKind::Movie)).to_string(),
            "Movie not found"
        );
    }
}
