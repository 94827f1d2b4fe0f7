//! `ApiError`: the one place where failures become HTTP responses. Every body keeps the original
//! FastAPI shape, `{"detail": "..."}`, or for invalid input `{"detail": [{"loc", "msg", "type"}]}`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use movies_domain::{Error, FieldError, Loc};
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
    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: the input breaks a rule; every broken rule is listed.
    #[error("validation failed")]
    Validation(Vec<ValidationDetail>),
    /// 503: the database failed; logged here with its cause, hidden from the client.
    #[error("storage unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

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
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            Error::Unavailable(source) => ApiError::Unavailable(source),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match self {
            ApiError::Validation(detail) => json!(HttpValidationError { detail }),
            ApiError::Unavailable(ref source) => {
                tracing::error!(error = %error_chain(source.as_ref()), "database unavailable");
                let detail = "The service is temporarily unavailable; try again shortly".into();
                json!(ErrorBody { detail })
            }
            other => json!(ErrorBody { detail: other.to_string() }),
        };
        if status == StatusCode::UNAUTHORIZED {
            return (status, [(header::WWW_AUTHENTICATE, "Bearer")], Json(body)).into_response();
        }
        (status, Json(body)).into_response()
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
    use movies_domain::Entity;

    use super::*;

    #[test]
    fn domain_errors_get_their_status() {
        let cases: [(Error, StatusCode); 4] = [
            (Error::NotFound(Entity::Movie), StatusCode::NOT_FOUND),
            (
                Error::DuplicateName { entity: Entity::Movie, name: "A".into() },
                StatusCode::CONFLICT,
            ),
            (Error::Invalid(vec![]), StatusCode::UNPROCESSABLE_ENTITY),
            (Error::unavailable("disk full"), StatusCode::SERVICE_UNAVAILABLE),
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
    fn not_found_reads_as_the_original_did() {
        assert_eq!(ApiError::from(Error::NotFound(Entity::Movie)).to_string(), "Movie not found");
    }
}
