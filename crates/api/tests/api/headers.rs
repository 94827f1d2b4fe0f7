//! The security headers on every response: every operation of the OpenAPI document, the pages,
//! the errors of every layer (404, 405, 413, 415, 422, a CORS preflight), `/metrics` and `/ws`
//! carry `X-Content-Type-Options: nosniff`, a `Referrer-Policy` and a
//! `Content-Security-Policy`; API answers forbid everything, and each page gets its own policy,
//! which the browser tests (`browser.rs`) show it works under.

use reqwest::header::{CONTENT_TYPE, ORIGIN};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::helpers::{Reply, TestApp, spawn_app};

/// The policy of every answer that is not a page.
const API_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Panics unless `reply` (to `what`) carries the three headers.
#[track_caller]
fn assert_security_headers(reply: &Reply, what: &str) {
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"), "{what}");
    let policy = reply.header("content-security-policy").unwrap_or_else(|| {
        panic!("{what} ({}) has no Content-Security-Policy: {:?}", reply.status, reply.headers)
    });
    assert!(policy.contains("default-src 'none'"), "{what}: {policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{what}: {policy}");
}

/// Every operation of the OpenAPI document as `(method, path)`, `{param}`s filled with `1`.
fn operations(doc: &Value) -> Vec<(Method, String)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let path = fill_parameters(path);
        for method in item.as_object().expect("a path item").keys() {
            if let Ok(method) = method.to_uppercase().parse::<Method>() {
                found.push((method, path.clone()));
            }
        }
    }
    found
}

fn fill_parameters(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => inside = true,
            '}' => {
                inside = false;
                out.push('1');
            }
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

async fn send(app: &TestApp, request: RequestBuilder) -> Reply {
    app.send(request).await
}

#[tokio::test]
async fn every_operation_of_the_document_answers_with_the_security_headers() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json").await.body;
    let operations = operations(&doc);
    assert!(operations.len() > 30, "the document lists {} operations", operations.len());

    for (method, path) in operations {
        // With the admin's token and no body: whatever the status, the headers are there.
        let reply = send(&app, app.request(method.clone(), &path)).await;
        assert_security_headers(&reply, &format!("{method} {path}"));
        let anonymous = send(&app, app.request_as(None, method.clone(), &path)).await;
        assert_security_headers(&anonymous, &format!("{method} {path} without a token"));
    }
}

#[tokio::test]
async fn every_kind_of_error_and_page_answers_with_the_security_headers() {
    let app = spawn_app().await;
    let url = |path: &str| format!("{}{path}", app.address);
    let c = &app.client;
    let cases: Vec<(&str, RequestBuilder)> = vec![
        ("a page", c.get(url("/"))),
        ("Swagger UI", c.get(url("/docs/"))),
        ("Swagger UI's redirect", c.get(url("/docs"))),
        ("Swagger UI's script", c.get(url("/docs/swagger-ui-bundle.js"))),
        ("ReDoc", c.get(url("/redoc"))),
        ("ReDoc's script", c.get(url("/redoc/redoc.standalone.js"))),
        ("the document", c.get(url("/openapi.json"))),
        ("metrics", c.get(url("/metrics"))),
        ("/ws without an upgrade", c.get(url("/ws"))),
        ("an unknown path (404)", c.get(url("/no/such/thing"))),
        ("a wrong method (405)", c.delete(url("/health"))),
        ("a wrong method on a page (405)", c.post(url("/openapi.json"))),
        ("a bad path parameter (422)", c.get(url("/movies/abc"))),
        (
            "malformed JSON (400)",
            c.post(url("/auth/login/")).header(CONTENT_TYPE, "application/json").body("{"),
        ),
        ("no JSON (415)", c.post(url("/auth/login/")).body("x")),
        (
            "a body over the limit (413)",
            c.post(url("/auth/login/"))
                .header(CONTENT_TYPE, "application/json")
                .body(vec![b' '; 2 * 1024 * 1024]),
        ),
        (
            "a CORS preflight",
            c.request(Method::OPTIONS, url("/movies"))
                .header(ORIGIN, "http://localhost:5173")
                .header("access-control-request-method", "POST"),
        ),
        ("no token (401)", c.post(url("/movies"))),
    ];
    for (what, request) in cases {
        let reply = send(&app, request).await;
        assert_security_headers(&reply, what);
    }
}

#[tokio::test]
async fn api_answers_forbid_everything_and_each_page_allows_only_what_it_needs() {
    let app = spawn_app().await;
    let policy = |reply: &Reply| reply.header("content-security-policy").unwrap().to_owned();

    let json = app.get("/movies").await;
    json.expect(StatusCode::OK);
    assert_eq!(policy(&json), API_POLICY);
    assert_eq!(policy(&app.get("/no/such/thing").await), API_POLICY);

    // The live page: its own inline script and style, by hash; nothing inline else.
    let live = policy(&app.get("/").await);
    assert!(live.contains("script-src 'sha256-"), "{live}");
    assert!(live.contains("style-src 'sha256-"), "{live}");
    assert!(!live.contains("unsafe"), "{live}");
    assert!(live.contains("connect-src 'self'"), "{live}");

    // Swagger UI: files only.
    let swagger = policy(&app.get("/docs/").await);
    assert!(swagger.contains("script-src 'self';"), "{swagger}");
    assert!(!swagger.contains("unsafe"), "{swagger}");

    // ReDoc: scripts from files only; inline styles, which it writes at run time.
    let redoc = policy(&app.get("/redoc").await);
    assert!(redoc.contains("script-src 'self';"), "{redoc}");
    assert!(redoc.contains("style-src 'self' 'unsafe-inline'"), "{redoc}");
}

#[tokio::test]
async fn cors_answers_are_unchanged_by_the_security_headers() {
    let app = spawn_app().await;
    let request =
        app.request_as(None, Method::GET, "/movies").header(ORIGIN, "http://localhost:5173");
    let reply = send(&app, request).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some("http://localhost:5173"));
    assert_security_headers(&reply, "a CORS answer");
}
