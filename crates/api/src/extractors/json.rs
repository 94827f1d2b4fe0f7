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
        parse(&bytes).map(ApiJson)
    }
}

/// `bytes` as a `T`: first without tracking where the parser is, which a body that parses
/// does not need (serde_path_to_error's tracking was about a third of the parse of a
/// 10,000-movie bulk body); a body that fails is parsed again with it, for the error's path.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match T::deserialize(&mut de).and_then(|value| de.end().map(|()| value)) {
        Ok(value) => Ok(value),
        Err(_) => parse_tracked(bytes),
    }
}

/// [`parse`] with the path of the value that failed: a 422 naming the field for JSON of the
/// wrong shape, a 400 for malformed JSON (trailing bytes after the value included).
fn parse_tracked<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().clone();
        let inner = e.into_inner();
        if inner.is_data() {
            ApiError::Validation(vec![detail_at("body", &path, &json_message(&inner))])
        } else {
            ApiError::BadRequest(format!("Malformed JSON: {inner}"))
        }
    })?;
    de.end().map_err(|e| ApiError::BadRequest(format!("Malformed JSON: {e}")))?;
    Ok(value)
}

fn is_json(mime: &str) -> bool {
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use axum::http::header;
    use serde_json::json;

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

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Row {
        year: i64,
    }

    /// A body that parses takes the untracked way; one that fails is described as the tracked
    /// parse describes it: the field's path for the wrong shape, 400 for malformed JSON.
    #[test]
    fn a_body_that_fails_is_described_with_the_path_of_what_failed() {
        assert_eq!(parse::<Vec<Row>>(br#"[{"year": 1}]"#).unwrap(), vec![Row { year: 1 }]);
        match parse::<Vec<Row>>(br#"[{"year": 1}, {"year": "x"}]"#) {
            Err(ApiError::Validation(details)) => {
                assert_eq!(details[0].loc, [json!("body"), json!(1), json!("year")]);
            }
            other => panic!("{other:?}"),
        }
        for malformed in [&br#"[{"year": 1}] x"#[..], br#"[{"year": 1"#] {
            assert!(matches!(parse::<Vec<Row>>(malformed), Err(ApiError::BadRequest(_))));
        }
    }
}
