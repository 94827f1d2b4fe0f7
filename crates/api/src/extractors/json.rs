//! `ApiJson<T>`: a JSON body. Wrong content type 415, body over the route's limit 413, malformed
//! JSON 400, well-formed JSON of the wrong shape 422 naming the offending field.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::{detail_at, json_message, mime_type, read_body, refuse_nul_in_json, unsupported};
use crate::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !mime_type(req.headers()).as_deref().is_some_and(is_json) {
            return Err(unsupported("application/json"));
        }
        let bytes = read_body(req, state).await?;
        refuse_nul_in_json(&bytes)?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().clone();
            let inner = e.into_inner();
            if inner.is_data() {
                ApiError::Validation(vec![detail_at("body", &path, &json_message(&inner))])
            } else {
                ApiError::BadRequest(format!("Malformed JSON: {inner}"))
            }
        })?;
        // Trailing bytes after the value are malformed JSON too.
        de.end().map_err(|e| ApiError::BadRequest(format!("Malformed JSON: {e}")))?;
        Ok(ApiJson(value))
    }
}

fn is_json(mime: &str) -> bool {
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use axum::http::header;

    use super::*;

    fn accepts(content_type: Option<&'static str>) -> bool {
        let mut headers = axum::http::HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(ct));
        }
        mime_type(&headers).as_deref().is_some_and(is_json)
    }

    #[test]
    fn json_content_types_are_recognised() {
        for ok in ["application/json", "application/json; charset=utf-8", "application/merge+json"]
        {
            assert!(accepts(Some(ok)), "{ok}");
        }
        for bad in ["text/plain", "application/jsonx", "multipart/form-data"] {
            assert!(!accepts(Some(bad)), "{bad}");
        }
        assert!(!accepts(None));
    }
}
