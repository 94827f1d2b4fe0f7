//! `ApiForm<T>`: an `application/x-www-form-urlencoded` body (the OAuth2 password flow). Wrong
//! content type 415, a field of the wrong type 422.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::{detail_at, mime_type};
use crate::error::ApiError;

pub struct ApiForm<T>(pub T);

impl<S, T> FromRequest<S> for ApiForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if mime_type(req.headers()).as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(ApiError::UnsupportedMediaType(
                "Expected a body with `Content-Type: application/x-www-form-urlencoded`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::BadRequest(format!("Could not read the request body: {r}")))?;
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
        serde_path_to_error::deserialize(de).map(ApiForm).map_err(|e| {
            let path = e.path().clone();
            ApiError::Validation(vec![detail_at("body", &path, e.into_inner().to_string())])
        })
    }
}
