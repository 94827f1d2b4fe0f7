//! Extractors that turn every kind of bad input into an `ApiError` with the FastAPI error shape,
//! instead of axum's plain-text rejections.

mod auth;
mod client;
mod form;
mod json;
mod path;
mod query;

pub use auth::CurrentUser;
pub use client::{ClientIp, TrustedProxies};
pub use form::ApiForm;
pub use json::ApiJson;
pub use path::ApiPath;
pub use query::ApiQuery;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::json;

use crate::dto::lax;
use crate::error::{ApiError, ValidationDetail};

/// The 413's message, also the OpenAPI document's example.
pub const BODY_TOO_LARGE: &str = "The request body is too large for this route";

/// The 415's message for a body that is not of `media_type`.
pub fn unsupported(media_type: &str) -> ApiError {
    ApiError::UnsupportedMediaType(format!("Expected a body with `Content-Type: {media_type}`"))
}

/// The whole body: over the route's limit a 413, cut short a 400.
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(BODY_TOO_LARGE.into())
        } else {
            ApiError::BadRequest(format!("Could not read the request body: {rejection}"))
        }
    })
}

/// The media type of a request body, lower-cased and without parameters (`; charset=...`).
fn mime_type(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(axum::http::header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// A serde error at `path` inside `source`, as one 422 entry worded as pydantic words it.
fn detail_at(
    source: &'static str,
    path: &serde_path_to_error::Path,
    msg: &str,
) -> ValidationDetail {
    let mut loc = vec![json!(source)];
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => loc.push(json!(index)),
            serde_path_to_error::Segment::Map { key } => loc.push(json!(key)),
            serde_path_to_error::Segment::Enum { variant } => loc.push(json!(variant)),
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    if let Some(field) = msg.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        loc.push(json!(field));
        return ValidationDetail { loc, msg: "Field required".into(), kind: "missing".into() };
    }
    let (kind, msg) = match lax::pydantic_error(msg) {
        Some((kind, text)) => (kind.to_owned(), text.to_owned()),
        None => ("value_error".to_owned(), msg.to_owned()),
    };
    ValidationDetail { loc, msg, kind }
}

/// The 422 of a NUL character, which no input may hold: a database or a C library reading the
/// text would take it for its end (`q=%00` once matched every movie).
fn nul_at(loc: Vec<serde_json::Value>) -> ApiError {
    ApiError::Validation(vec![ValidationDetail {
        loc,
        msg: "String should not contain NUL characters".into(),
        kind: "string_pattern_mismatch".into(),
    }])
}

/// Refuses URL-encoded `pairs` (a query string or a form body) with a NUL in a name or a value,
/// naming the first such field under `source`.
fn refuse_nul_in_pairs(source: &'static str, pairs: &[u8]) -> Result<(), ApiError> {
    match form_urlencoded::parse(pairs).find(|(k, v)| k.contains('\0') || v.contains('\0')) {
        Some((key, _)) => Err(nul_at(vec![json!(source), json!(key)])),
        None => Ok(()),
    }
}

/// Refuses a JSON text holding a NUL, which JSON can only write escaped (`\u0000`: an
/// unescaped backslash followed by `u0000`), naming the member that holds it. Only a body that
/// has one is parsed a second time, to find where.
fn refuse_nul_in_json(text: &[u8]) -> Result<(), ApiError> {
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' {
            if text[i + 1..].starts_with(b"u0000") {
                let mut loc = vec![json!("body")];
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(text) {
                    nul_path(&value, &mut loc);
                }
                return Err(nul_at(loc));
            }
            // The escaped character, a backslash included, is not the start of an escape.
            i += 2;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// Extends `loc` with the path to the first string in `value` holding a NUL (as a key or a
/// value); `true` once found.
fn nul_path(value: &serde_json::Value, loc: &mut Vec<serde_json::Value>) -> bool {
    use serde_json::Value;
    let steps: Vec<(Value, &Value)> = match value {
        Value::String(text) => return text.contains('\0'),
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| (json!(i), v)).collect(),
        Value::Object(members) => members.iter().map(|(k, v)| (json!(k), v)).collect(),
        _ => return false,
    };
    for (step, inner) in steps {
        let in_key = step.as_str().is_some_and(|key| key.contains('\0'));
        loc.push(step);
        if in_key || nul_path(inner, loc) {
            return true;
        }
        loc.pop();
    }
    false
}

/// A serde_json error's message without the " at line L column C" it ends with.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&position).map(str::to_owned).unwrap_or(text)
}
