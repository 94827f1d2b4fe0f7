//! The answers every route shares: errors as JSON with the right status, body limits, CORS and
//! the health check.

use reqwest::header::{CONTENT_TYPE, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{assert_json_content_type, spawn_anonymous_app_with, spawn_app};

const FRONT_END: &str = "http://localhost:5173";

#[tokio::test]
async fn an_unknown_path_is_a_json_not_found() {
    let app = spawn_app().await;

    for path in ["/nope", "/movies/1/nope", "/characters/1/2/3"] {
        let detail = app.get(path).await.expect_error(StatusCode::NOT_FOUND).clone();
        assert!(detail.is_string(), "{path}: {detail}");
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_json_method_not_allowed() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;

    for (method, path) in [
        (Method::PATCH, "/movies/1"),
        (Method::DELETE, "/movies"),
        (Method::POST, "/movies/count"),
        (Method::GET, "/movies/bulk"),
    ] {
        let reply = app.send(app.request(method.clone(), path)).await;
        let detail = reply.expect_error(StatusCode::METHOD_NOT_ALLOWED);
        assert!(detail.is_string(), "{method} {path}: {detail}");
    }
}

#[tokio::test]
async fn malformed_json_is_a_json_bad_request() {
    let app = spawn_app().await;

    for body in [r#"{"name": "#, "{name: 1}", r#"{"name": "A", "year": 1979} extra"#, ""] {
        let reply = app.post_raw_json("/movies", body).await;
        let detail = reply.expect_error(StatusCode::BAD_REQUEST);
        assert!(detail.is_string(), "{body:?}: {detail}");
    }
    assert_eq!(app.movie_count().await, 0);
}

#[tokio::test]
async fn a_body_not_declared_as_json_is_an_unsupported_media_type() {
    let app = spawn_app().await;
    let body = r#"{"name": "Alien", "year": 1979}"#;

    let reply = app.send(app.request(Method::POST, "/movies").body(body)).await;
    reply.expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);

    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let request =
            app.request(Method::POST, "/movies").header(CONTENT_TYPE, content_type).body(body);
        app.send(request).await.expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    let request =
        app.request(Method::PUT, "/characters/1").header(CONTENT_TYPE, "text/plain").body(body);
    app.send(request).await.expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.movie_count().await, 0);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_on_a_single_movie_is_too_large() {
    let app = spawn_app().await;
    let body = json!({ "name": "Alien", "year": 1979, "description": "x".repeat(1024 * 1024) });

    let reply = app.post_json("/movies", &body).await;

    reply.expect_error(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.movie_count().await, 0);
}

#[tokio::test]
async fn a_login_form_over_one_mebibyte_is_too_large() {
    let app = spawn_app().await;
    let form = [("username", "admin".to_owned()), ("password", "x".repeat(1024 * 1024))];

    let reply = app.send(app.request(Method::POST, "/auth/token").form(&form)).await;

    reply.expect_error(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_bulk_body_of_two_mebibytes_is_accepted() {
    let app = spawn_app().await;
    let movies: Vec<Value> = (0..2_000)
        .map(|i| json!({ "name": format!("Movie {i}"), "year": 2000, "description": "x".repeat(1050) }))
        .collect();
    let body = serde_json::to_vec(&movies).expect("serialisable");
    assert!(body.len() > 2 * 1024 * 1024);

    let reply = app.post_raw_json("/movies/bulk", body).await;

    assert_eq!(reply.expect(StatusCode::OK)["added_movies"].as_array().map(Vec::len), Some(2_000));
    assert_eq!(app.movie_count().await, 2_000);
}

#[tokio::test]
async fn a_bulk_body_over_sixteen_mebibytes_is_too_large() {
    let app = spawn_app().await;
    let movies: Vec<Value> = (0..3_400)
        .map(|i| json!({ "name": format!("Movie {i}"), "year": 2000, "description": "x".repeat(5000) }))
        .collect();
    let body = serde_json::to_vec(&movies).expect("serialisable");
    assert!(body.len() > 16 * 1024 * 1024);

    let reply = app.post_raw_json("/movies/bulk", body).await;

    reply.expect_error(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.movie_count().await, 0);
}

#[tokio::test]
async fn json_of_the_wrong_type_is_unprocessable_naming_the_field() {
    let app = spawn_app().await;

    let reply = app.post_json("/movies", &json!({ "name": "Alien", "year": "abc" })).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "year"])]);

    let reply = app.post_json("/movies", &json!({ "name": 12, "year": 1979 })).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "name"])]);

    let reply = app.post_json("/movies/bulk", &json!({ "name": "Alien", "year": 1979 })).await;
    let locs = reply.expect_invalid();
    assert_eq!(locs[0][0], "body", "{locs:?}");

    let reply = app.post_json("/movies", &json!([{ "name": "Alien", "year": 1979 }])).await;
    let locs = reply.expect_invalid();
    assert_eq!(locs[0][0], "body", "{locs:?}");

    let reply = app
        .post_json(
            "/movies/bulk",
            &json!([{ "name": "Alien", "year": 1979 }, { "name": "Aliens", "year": "1986a" }]),
        )
        .await;
    assert_eq!(reply.expect_invalid(), [json!(["body", 1, "year"])]);

    let reply = app.post_json("/characters", &json!({ "name": "Ripley", "movieId": "one" })).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "movieId"])]);

    assert_eq!(app.movie_count().await, 0);
}

#[tokio::test]
async fn a_preflight_from_the_front_end_is_allowed() {
    let app = spawn_app().await;

    let request = app
        .request(Method::OPTIONS, "/movies/1")
        .header(ORIGIN, FRONT_END)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "authorization, content-type");
    let reply = app.send(request).await;

    assert!(reply.status.is_success(), "{}", reply.status);
    assert_eq!(reply.header("access-control-allow-origin"), Some(FRONT_END));
    let methods =
        reply.header("access-control-allow-methods").unwrap_or_default().to_ascii_uppercase();
    assert!(methods.contains("PUT"), "{methods}");
    let headers =
        reply.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(headers.contains("authorization"), "{headers}");
    assert!(headers.contains("content-type"), "{headers}");
}

#[tokio::test]
async fn the_front_end_can_read_the_total_count_of_a_list() {
    let app = spawn_app().await;

    let reply = app.send(app.request(Method::GET, "/movies").header(ORIGIN, FRONT_END)).await;

    reply.expect(StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some(FRONT_END));
    let exposed =
        reply.header("access-control-expose-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(exposed.contains("x-total-count"), "{exposed}");
}

#[tokio::test]
async fn an_unlisted_origin_is_not_allowed() {
    let app = spawn_app().await;

    let preflight = app
        .request(Method::OPTIONS, "/movies/1")
        .header(ORIGIN, "http://evil.example")
        .header("access-control-request-method", "PUT");
    let reply = app.send(preflight).await;
    assert_eq!(reply.header("access-control-allow-origin"), None);

    let get = app.request(Method::GET, "/movies").header(ORIGIN, "http://evil.example");
    let reply = app.send(get).await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn health_says_alive_and_ready_says_the_database_answers() {
    let app = spawn_app().await;

    for path in ["/health", "/health/"] {
        let reply = app.get(path).await;
        assert_eq!(reply.expect(StatusCode::OK), &json!({ "status": "alive" }), "{path}");
        assert_json_content_type(&reply);
    }
    let reply = app.get("/ready").await;
    assert_eq!(reply.expect(StatusCode::OK), &json!({ "status": "ok", "database": "ok" }));
}

#[tokio::test]
async fn the_bare_health_route_for_benchmarks_exists_only_when_asked_for() {
    let app = spawn_app().await;
    app.get("/_bench/health").await.expect_error(StatusCode::NOT_FOUND);

    let app = spawn_anonymous_app_with(&["--bench-bare-route"]).await;
    let reply = app.get("/_bench/health").await;
    assert_eq!(reply.expect(StatusCode::OK), &json!({ "status": "alive" }));
    // Outside the middleware: no request id is set on its answers, unlike every other route's.
    assert_eq!(reply.header("x-request-id"), None);
    assert!(app.get("/health").await.header("x-request-id").is_some());
}
