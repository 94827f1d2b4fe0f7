//! The few requests xtask makes to a server it started on 127.0.0.1, through ureq (no TLS).

use std::time::Duration;

use serde_json::Value;

/// An answer: its status and its body as text (shown whole in error messages).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    /// The string member `key` of a JSON object body.
    pub fn string_field(&self, key: &str) -> Option<String> {
        let body: Value = serde_json::from_str(&self.body).ok()?;
        body.get(key)?.as_str().map(str::to_owned)
    }
}

/// `GET http://127.0.0.1:{port}{path}`.
pub fn get(port: u16, path: &str) -> Result<Response, String> {
    let answer = agent().get(format!("http://127.0.0.1:{port}{path}")).call();
    read(answer).map_err(|e| format!("GET {path}: {e}"))
}

/// `GET` with `token` as `Authorization: Bearer`.
pub fn get_as(port: u16, path: &str, token: &str) -> Result<Response, String> {
    let answer = agent()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .call();
    read(answer).map_err(|e| format!("GET {path}: {e}"))
}

/// `POST` of a JSON `body`, with `token` as `Authorization: Bearer` when given.
pub fn post_json(
    port: u16,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Result<Response, String> {
    let mut request = agent()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .header("Content-Type", "application/json");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    read(request.send(body.to_string())).map_err(|e| format!("POST {path}: {e}"))
}

/// Statuses are answers to read, not errors; a hung server fails after 30 s.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn read(answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Response, String> {
    let mut answer = answer.map_err(|e| e.to_string())?;
    let status = answer.status().as_u16();
    let body = answer.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok(Response { status, body })
}
