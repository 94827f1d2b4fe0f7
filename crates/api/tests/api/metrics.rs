//! `GET /metrics`: Prometheus text that parses, requests counted by route template (never by the
//! raw path) and status, the gauges and the login counters; who may read it.
//!
//! The recorder is one per process and every test app of this binary records into it, so a
//! test checks that a figure grew after its own requests, never an exact total.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, spawn_anonymous_app_with, spawn_app, spawn_app_with};

/// One scrape: every sample, keyed by its name and labels as written (`name{a="b",c="d"}`).
struct Scrape {
    samples: HashMap<String, f64>,
    text: String,
}

impl Scrape {
    /// The sample `name` whose labels include every one of `labels`, summed over the rest.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(key, _)| {
                let (n, rest) = key.split_once('{').unwrap_or((key, ""));
                n == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|(_, v)| v)
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.samples.keys().any(|k| k == name || k.starts_with(&format!("{name}{{")))
    }
}

/// Parses the Prometheus text exposition format, strictly enough to fail on anything else:
/// comments are `# HELP name ...` or `# TYPE name kind`, every other line `name{labels} value`.
fn parse(text: &str) -> Scrape {
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.split_whitespace();
            let keyword = words.next().unwrap_or_default();
            assert!(matches!(keyword, "HELP" | "TYPE"), "an unknown comment: {line}");
            let name = words.next().unwrap_or_else(|| panic!("a comment without a name: {line}"));
            assert!(is_metric_name(name), "a bad metric name in {line}");
            if keyword == "TYPE" {
                let kind = words.next().unwrap_or_default();
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "an unknown type in {line}"
                );
            }
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a bad value: {line}"));
        let name = key.split_once('{').map_or(key, |(n, labels)| {
            assert!(labels.ends_with('}'), "unclosed labels: {line}");
            n
        });
        assert!(is_metric_name(name), "a bad metric name: {line}");
        samples.insert(key.to_owned(), value);
    }
    Scrape { samples, text: text.to_owned() }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

async fn scrape(app: &TestApp) -> Scrape {
    let response = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    parse(&response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_a_request_by_its_route_template() {
    let app = spawn_app().await;
    let route = [("method", "GET"), ("route", "/movies/{id}"), ("status", "404")];
    let before = scrape(&app).await;

    app.get("/movies/987654").await.expect_error(StatusCode::NOT_FOUND);
    app.get("/movies/987655/").await.expect_error(StatusCode::NOT_FOUND);

    let after = scrape(&app).await;
    let counted =
        after.value("http_requests_total", &route) - before.value("http_requests_total", &route);
    assert!(counted >= 2.0, "{counted} requests counted for GET /movies/{{id}} 404");
    let timed = [("method", "GET"), ("route", "/movies/{id}")];
    let count = "http_request_duration_seconds_count";
    assert!(after.value(count, &timed) - before.value(count, &timed) >= 2.0);
    assert!(after.has("http_request_duration_seconds_bucket"), "a histogram has buckets");
    assert!(!after.text.contains("987654"), "a raw path became a label");
    // A path no route matches is counted under one label, whatever it was.
    app.get("/no/such/987656").await.expect_error(StatusCode::NOT_FOUND);
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(scrape(&app).await.value("http_requests_total", &unmatched) >= 1.0);
}

#[tokio::test]
async fn metrics_show_connections_listeners_events_jobs_and_the_pool() {
    let app = spawn_app().await;
    let mut listener = app.listen().await;
    app.create_movie("Counted", 2001).await;
    listener.next_json().await;
    app.post_json("/movies/generate/3", &json!({})).await;

    let first = scrape(&app).await;
    // The scrape's own connection is open while it is answered.
    assert!(first.value("http_connections_open", &[]) >= 1.0);
    assert!(first.value("event_listeners", &[]) >= 1.0);
    assert!(first.value("events_published_total", &[]) >= 1.0);
    assert!(first.value("db_pool_connections_open", &[]) >= 1.0);
    assert!(first.has("db_pool_connections_in_use"));
    for status in ["queued", "running", "done", "failed", "cancelled"] {
        assert!(first.text.contains(&format!("jobs{{status=\"{status}\"}}")), "jobs {status}");
    }
    // The gauges are the process's, and the tests' apps share one process: another test's
    // scrape may set them to its own database's counts between this scrape's setting them and
    // its rendering. One of a few scrapes shows ours.
    let mut jobs = 0.0;
    for _ in 0..20 {
        let again = scrape(&app).await;
        jobs = ["queued", "running", "done"]
            .iter()
            .map(|s| again.value("jobs", &[("status", s)]))
            .sum();
        if jobs >= 1.0 {
            break;
        }
    }
    assert!(jobs >= 1.0, "the generation job is counted");
    assert!(first.has("password_hashing_waiting"));
}

#[tokio::test]
async fn failed_and_throttled_logins_are_counted() {
    let app = spawn_app_with(&["--login-address-limit", "1/1m"]).await;
    let before = scrape(&app).await;
    let wrong = json!({ "username": "admin", "hashedPassword": "wrong-password" });
    let login = || app.send(app.request_as(None, Method::POST, "/auth/login/").json(&wrong));
    login().await.expect_error(StatusCode::UNAUTHORIZED);
    login().await.expect_error(StatusCode::TOO_MANY_REQUESTS);

    let after = scrape(&app).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert!(grew("logins_failed_total", &[]) >= 1.0);
    assert!(grew("logins_throttled_total", &[("by", "address")]) >= 1.0);
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set_and_a_loopback_client_otherwise() {
    let app = spawn_anonymous_app_with(&["--metrics-token", "scrape-me-please"]).await;
    let get = |token: Option<&str>| app.send(app.request_as(token, Method::GET, "/metrics"));
    get(None).await.expect_error(StatusCode::UNAUTHORIZED);
    get(Some("not-the-token")).await.expect_error(StatusCode::UNAUTHORIZED);
    get(Some("scrape-me-please")).await.expect(StatusCode::OK);

    // Without a token: the client as the trusted proxy names it must be on the loopback.
    let proxied = spawn_anonymous_app_with(&["--trusted-proxies", "127.0.0.1"]).await;
    let from = |client: &'static str| {
        proxied.request_as(None, Method::GET, "/metrics").header("x-forwarded-for", client)
    };
    proxied.send(from("203.0.113.9")).await.expect_error(StatusCode::FORBIDDEN);
    proxied.send(from("127.0.0.1")).await.expect(StatusCode::OK);
}
