//! `ApiPath<T>`: path parameters; one that does not parse (`/movies/abc`) is a 422 naming it,
//! worded as pydantic words it. Integers are taken the lax way through `dto::lax::Int`.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::detail_at;
use crate::error::ApiError;

pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let params: Vec<(&str, &str)> = raw.iter().collect();
        // One parameter is the value itself (`ApiPath<Int>`); several make an object whose
        // fields are named after them (`ApiPath<IdRange>`). Either way the 422 names it.
        let (value, single) = match params.as_slice() {
            [(name, value)] => (Value::String((*value).to_owned()), Some(*name)),
            _ => {
                let fields: Map<String, Value> =
                    params.iter().map(|(name, value)| ((*name).to_owned(), json!(value))).collect();
                (Value::Object(fields), None)
            }
        };
        serde_path_to_error::deserialize(value).map(ApiPath).map_err(|e| {
            let mut detail = detail_at("path", e.path(), &e.inner().to_string());
            if let Some(name) = single {
                detail.loc.push(json!(name));
            }
            ApiError::Validation(vec![detail])
        })
    }
}
