//! One call to TMDB: the request with its credentials, and the answer sorted into what the
//! domain can act on. A credential never reaches an error message: reqwest's errors lose their
//! URL (which holds an `api_key`), and our own messages name the path alone.

use std::time::Duration;

use movies_domain::{Error, OutsideItem, UpstreamError};
use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::{Client, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// How the adapter proves itself to TMDB.
pub enum Credentials<'a> {
    /// A v3 API key, sent as the `api_key` query parameter.
    ApiKey(&'a SecretString),
    /// A v4 read access token, sent as `Authorization: Bearer`.
    AccessToken(&'a SecretString),
}

/// Why a call to TMDB gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("TMDB answered 404 to GET {path}")]
    NotFound { path: String },
    #[error("TMDB answered 429 to GET {path}")]
    RateLimited { path: String, retry_after_secs: Option<u64> },
    #[error("TMDB answered {status} to GET {path}")]
    Status { path: String, status: StatusCode },
    #[error("TMDB did not answer GET {path} within {timeout:?}")]
    Timeout { path: String, timeout: Duration },
    #[error("calling TMDB for GET {path}")]
    Transport {
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("TMDB's answer to GET {path} is not the JSON expected: {why}")]
    Unreadable { path: String, why: String },
}

impl CallError {
    /// The domain's error, with `missing` as what a 404 did not find; `None` makes a 404 a
    /// failure (a list is never missing: a 404 there means a wrong base URL).
    pub fn into_domain(self: std::sync::Arc<Self>, missing: Option<OutsideItem>) -> Error {
        let upstream = match (&*self, missing) {
            (CallError::NotFound { .. }, Some(item)) => UpstreamError::NotFound(item),
            (CallError::RateLimited { retry_after_secs, .. }, _) => {
                UpstreamError::RateLimited { retry_after_secs: *retry_after_secs }
            }
            _ => UpstreamError::Failed(Box::new(self)),
        };
        upstream.into()
    }

    /// The answer's body could not be read or was not the JSON expected.
    pub fn unreadable(path: &str, why: impl Into<String>) -> Self {
        CallError::Unreadable { path: path.to_owned(), why: why.into() }
    }

    fn from_reqwest(path: &str, timeout: Duration, e: reqwest::Error) -> Self {
        let path = path.to_owned();
        if e.is_timeout() {
            CallError::Timeout { path, timeout }
        } else if e.is_decode() {
            CallError::Unreadable { path, why: e.without_url().to_string() }
        } else {
            CallError::Transport { path, source: e.without_url() }
        }
    }
}

/// `GET {base_url}{path}?{query}` with `credentials`; the body as JSON when TMDB answers 2xx.
pub async fn get_json(
    client: &Client,
    base_url: &str,
    credentials: Credentials<'_>,
    path: &str,
    query: &[(&str, String)],
    timeout: Duration,
) -> Result<Value, CallError> {
    let request =
        client.get(format!("{base_url}{path}")).query(query).header(ACCEPT, "application/json");
    let request = match credentials {
        Credentials::ApiKey(key) => request.query(&[("api_key", key.expose_secret())]),
        Credentials::AccessToken(token) => request.bearer_auth(token.expose_secret()),
    };
    let error = |e| CallError::from_reqwest(path, timeout, e);
    let response = request.send().await.map_err(error)?;
    match response.status() {
        status if status.is_success() => response.json().await.map_err(error),
        StatusCode::NOT_FOUND => Err(CallError::NotFound { path: path.to_owned() }),
        StatusCode::TOO_MANY_REQUESTS => {
            let retry_after_secs = retry_after(&response);
            tracing::warn!(path, ?retry_after_secs, "TMDB's rate limit reached");
            Err(CallError::RateLimited { path: path.to_owned(), retry_after_secs })
        }
        status => Err(CallError::Status { path: path.to_owned(), status }),
    }
}

/// `Retry-After` in seconds, when TMDB sent it as a number (an HTTP date is left out: a client
/// gets our default instead).
fn retry_after(response: &Response) -> Option<u64> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse().ok()
}
