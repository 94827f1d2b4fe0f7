//! `ApiPath<T>`: path parameters; one that does not parse (`/movies/abc`) is a 422 naming it.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, RawPathParams};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::{ApiError, ValidationDetail};

pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                // Name the parameter, as FastAPI does, even when axum only knows its position.
                let names: Vec<String> = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|raw| raw.iter().map(|(name, _)| name.to_owned()).collect())
                    .unwrap_or_default();
                let key = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key } => Some(key.clone()),
                    ErrorKind::ParseErrorAtIndex { index, .. } => names.get(*index).cloned(),
                    ErrorKind::ParseError { .. } => names.first().cloned(),
                    _ => None,
                };
                let mut loc = vec![json!("path")];
                loc.extend(key.map(|k| json!(k)));
                Err(ApiError::Validation(vec![ValidationDetail {
                    loc,
                    msg: e.body_text(),
                    kind: "type_error".into(),
                }]))
            }
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}
