//! `ApiForm<T>`: an `application/x-www-form-urlencoded` body (the OAuth2 password flow). Wrong
//! content type 415, body over the limit 413, a field of the wrong type 422.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::{detail_at, mime_type, read_body, refuse_nul_in_pairs, unsupported};
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
            return Err(unsupported("application/x-www-form-urlencoded"));
        }
        let bytes = read_body(req, state).await?;
        refuse_nul_in_pairs("body", &bytes)?;
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
        serde_path_to_error::deserialize(de).map(ApiForm).map_err(|e| {
            let path = e.path().clone();
            ApiError::Validation(vec![detail_at("body", &path, &e.into_inner().to_string())])
        })
    }
}
