//! The TMDB routes against a fake TMDB on 127.0.0.1 (wiremock), which the app reaches through
//! `--tmdb-base-url`: every route, what the app sends TMDB, each kind of TMDB failure as the
//! client sees it, the cache, and imports. Nothing here reaches the internet.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    MOVIE_KEYS, TestApp, assert_json_content_type, assert_keys, spawn_anonymous_app_with,
};

const KEY: &str = "tmdb-test-key-0123";
const TOKEN: &str = "tmdb-test-token-4567";

/// The app with TMDB at `server` (under `/3`, as the real one) and the API key, its client
/// sending no token (the TMDB routes are public), with `extra` flags.
async fn app_with_tmdb(server: &MockServer, extra: &[&str]) -> TestApp {
    let base = format!("{}/3", server.uri());
    let mut args = vec!["--tmdb-base-url", base.as_str(), "--tmdb-api-key", KEY];
    args.extend_from_slice(extra);
    spawn_anonymous_app_with(&args).await
}

fn page(titles: &[&str]) -> Value {
    let results: Vec<Value> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| json!({ "id": i + 1, "title": t, "genre_ids": [878], "adult": false }))
        .collect();
    json!({ "page": 1, "results": results, "total_pages": 1, "total_results": titles.len() })
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// TMDB's movie 348, whole, as `/movie/{id}` answers it.
fn alien() -> Value {
    json!({
        "id": 348, "title": "Alien", "original_title": "Alien", "release_date": "1979-05-25",
        "runtime": 117, "genres": [{ "id": 27, "name": "Horror" }, { "id": 878, "name": "Science Fiction" }],
        "overview": "In space no one can hear you scream.", "budget": 11000000, "poster_path": null
    })
}

async fn mount_alien(server: &MockServer) {
    Mock::given(path("/3/movie/348")).respond_with(ok(alien())).mount(server).await;
}

#[tokio::test]
async fn popular_movies_are_tmdb_s_results_array_asked_with_the_api_key_as_a_query_parameter() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/3/movie/popular"))
        .and(query_param("api_key", KEY))
        .respond_with(ok(page(&["Alien", "Heat"])))
        .mount(&server)
        .await;
    let app = app_with_tmdb(&server, &[]).await;

    // The original's path, with its trailing slash, and without.
    for route in ["/moviesTMDB/", "/moviesTMDB"] {
        let reply = app.get(route).await;
        assert_eq!(reply.expect(StatusCode::OK), &page(&["Alien", "Heat"])["results"], "{route}");
        assert_json_content_type(&reply);
    }
}

#[tokio::test]
async fn a_tmdb_movie_is_passed_through_whole_asked_with_the_access_token_as_a_bearer_header() {
    let server = MockServer::start().await;
    Mock::given(path("/3/movie/348"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(query_param_is_missing("api_key"))
        .respond_with(ok(alien()))
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/3", server.uri());
    let app =
        spawn_anonymous_app_with(&["--tmdb-base-url", &base, "--tmdb-access-token", TOKEN]).await;

    assert_eq!(app.get("/moviesTMDB/348").await.expect(StatusCode::OK), &alien());
}

#[tokio::test]
async fn a_search_answers_tmdb_s_results_for_the_name() {
    let server = MockServer::start().await;
    Mock::given(path("/3/search/movie"))
        .and(query_param("query", "the thing"))
        .respond_with(ok(page(&["The Thing"])))
        .expect(1)
        .mount(&server)
        .await;
    let app = app_with_tmdb(&server, &[]).await;

    let reply = app.get("/moviesTMDB/search/the%20thing").await;
    assert_eq!(reply.expect(StatusCode::OK), &page(&["The Thing"])["results"]);
}

#[tokio::test]
async fn a_genre_is_found_by_its_name_in_any_case_and_answers_its_popular_movies() {
    let server = MockServer::start().await;
    let genres = json!({ "genres": [{ "id": 28, "name": "Action" }, { "id": 878, "name": "Science Fiction" }] });
    Mock::given(path("/3/genre/movie/list")).respond_with(ok(genres)).mount(&server).await;
    Mock::given(path("/3/discover/movie"))
        .and(query_param("with_genres", "878"))
        .respond_with(ok(page(&["Alien"])))
        .mount(&server)
        .await;
    let app = app_with_tmdb(&server, &[]).await;

    let reply = app.get("/moviesTMDB/genre/science%20FICTION").await;
    assert_eq!(reply.expect(StatusCode::OK), &page(&["Alien"])["results"]);
    let reply = app.get("/moviesTMDB/genre/Western").await;
    assert_eq!(reply.expect_error(StatusCode::NOT_FOUND), "Genre not found on TMDB");
}

#[tokio::test]
async fn without_a_key_every_tmdb_route_is_a_503_saying_so_and_tmdb_is_never_called() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ok(page(&[]))).expect(0).mount(&server).await;
    let base = format!("{}/3", server.uri());
    let app = spawn_anonymous_app_with(&["--tmdb-base-url", &base]).await;
    let token = app.login(crate::helpers::ADMIN, crate::helpers::ADMIN_PASSWORD).await;

    let calls = [
        (None, Method::GET, "/moviesTMDB/"),
        (None, Method::GET, "/moviesTMDB/348"),
        (None, Method::GET, "/moviesTMDB/search/Alien"),
        (None, Method::GET, "/moviesTMDB/genre/Horror"),
        (Some(token.as_str()), Method::POST, "/movies/import/tmdb/348"),
    ];
    for (token, method, route) in calls {
        let reply = app.call(token, method, route, None).await;
        assert_eq!(
            reply.expect(StatusCode::SERVICE_UNAVAILABLE),
            &json!({ "detail": "TMDB is not configured: set TMDB_API_KEY" }),
            "{route}"
        );
        assert_json_content_type(&reply);
    }
}

#[tokio::test]
async fn a_movie_tmdb_does_not_have_is_a_404() {
    let server = MockServer::start().await;
    let missing = json!({ "success": false, "status_code": 34, "status_message": "The resource you requested could not be found." });
    Mock::given(path("/3/movie/999999999"))
        .respond_with(ResponseTemplate::new(404).set_body_json(missing))
        .mount(&server)
        .await;
    let app = app_with_tmdb(&server, &[]).await;

    let reply = app.get("/moviesTMDB/999999999").await;
    assert_eq!(
        reply.expect(StatusCode::NOT_FOUND),
        &json!({ "detail": "Movie not found on TMDB" })
    );
}

#[tokio::test]
async fn tmdb_s_rate_limit_is_a_503_carrying_its_retry_after() {
    let server = MockServer::start().await;
    let limited = ResponseTemplate::new(429)
        .insert_header("Retry-After", "7")
        .set_body_json(json!({ "status_code": 25 }));
    Mock::given(path("/3/movie/popular")).respond_with(limited).mount(&server).await;
    let app = app_with_tmdb(&server, &[]).await;

    let reply = app.get("/moviesTMDB").await;
    reply.expect_error(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), Some("7"));
}

#[tokio::test]
async fn a_tmdb_server_error_is_a_502_with_a_json_body() {
    let server = MockServer::start().await;
    Mock::given(path("/3/movie/popular"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let app = app_with_tmdb(&server, &[]).await;

    let detail = app.get("/moviesTMDB").await.expect_error(StatusCode::BAD_GATEWAY).clone();
    assert!(detail.is_string(), "{detail}");
}

#[tokio::test]
async fn a_tmdb_slower_than_the_timeout_is_a_502() {
    let server = MockServer::start().await;
    let slow = ok(page(&["Alien"])).set_delay(std::time::Duration::from_secs(10));
    Mock::given(path("/3/movie/popular")).respond_with(slow).mount(&server).await;
    let app = app_with_tmdb(&server, &["--tmdb-timeout", "200ms"]).await;

    app.get("/moviesTMDB").await.expect_error(StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn a_second_call_is_answered_from_the_cache_without_reaching_tmdb() {
    let server = MockServer::start().await;
    Mock::given(path("/3/movie/popular"))
        .respond_with(ok(page(&["Alien"])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/3/movie/348")).respond_with(ok(alien())).expect(1).mount(&server).await;
    let app = app_with_tmdb(&server, &[]).await;

    for _ in 0..2 {
        assert_eq!(app.get("/moviesTMDB").await.items().len(), 1);
        assert_eq!(app.get("/moviesTMDB/348").await.expect(StatusCode::OK), &alien());
    }
    // The fake checks, when dropped, that each path was asked once.
}

#[tokio::test]
async fn importing_a_tmdb_movie_adds_it_with_the_caller_as_editor_and_announces_it() {
    let server = MockServer::start().await;
    mount_alien(&server).await;
    let app = app_with_tmdb(&server, &[]).await;
    let token = app.user_token("ripley").await;
    let me = app.call(Some(&token), Method::GET, "/auth/me", None).await;
    let my_id = me.expect(StatusCode::OK)["id"].clone();

    let reply = app.call(Some(&token), Method::POST, "/movies/import/tmdb/348", None).await;
    let movie = reply.expect(StatusCode::OK).clone();
    assert_keys(&movie, &MOVIE_KEYS);
    let id = movie["id"].as_i64().expect("an id");
    assert_eq!(reply.header("location"), Some(format!("/movies/{id}").as_str()));
    assert_eq!(
        movie,
        json!({
            "id": id, "name": "Alien", "year": 1979, "duration": "1h 57m",
            "genre": "Horror, Science Fiction", "description": "In space no one can hear you scream.",
            "nrCharacters": 0, "editorId": my_id
        })
    );

    let events = app.call(None, Method::GET, "/events?since=0&limit=1000", None).await;
    let added = events
        .items()
        .iter()
        .any(|e| e["entity"] == "movie" && e["operation"] == "add" && e["data"] == movie);
    assert!(added, "no `add` event for the imported movie in {}", events.body);
}

#[tokio::test]
async fn importing_a_movie_whose_name_is_taken_is_a_conflict() {
    let server = MockServer::start().await;
    mount_alien(&server).await;
    let app = app_with_tmdb(&server, &[]).await;
    let token = app.user_token("ripley").await;

    let import = || app.call(Some(&token), Method::POST, "/movies/import/tmdb/348", None);
    import().await.expect(StatusCode::OK);
    import().await.expect_error(StatusCode::CONFLICT);
}

#[tokio::test]
async fn importing_needs_a_token_and_asks_tmdb_nothing_without_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ok(alien())).expect(0).mount(&server).await;
    let app = app_with_tmdb(&server, &[]).await;

    let reply = app.call(None, Method::POST, "/movies/import/tmdb/348", None).await;
    reply.expect_error(StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn importing_a_movie_tmdb_does_not_have_is_a_404() {
    let server = MockServer::start().await;
    Mock::given(path("/3/movie/7")).respond_with(ResponseTemplate::new(404)).mount(&server).await;
    let app = app_with_tmdb(&server, &[]).await;
    let token = app.user_token("ripley").await;

    let reply = app.call(Some(&token), Method::POST, "/movies/import/tmdb/7", None).await;
    assert_eq!(
        reply.expect(StatusCode::NOT_FOUND),
        &json!({ "detail": "Movie not found on TMDB" })
    );
}

#[tokio::test]
async fn importing_a_movie_without_a_release_date_is_a_422_on_its_year() {
    let server = MockServer::start().await;
    let unreleased =
        json!({ "id": 8, "title": "Someday", "release_date": "", "runtime": 0, "genres": [] });
    Mock::given(path("/3/movie/8")).respond_with(ok(unreleased)).mount(&server).await;
    let app = app_with_tmdb(&server, &[]).await;
    let token = app.user_token("ripley").await;

    let reply = app.call(Some(&token), Method::POST, "/movies/import/tmdb/8", None).await;
    assert_eq!(reply.expect_invalid(), vec![json!(["tmdb", "year"])]);
    assert_eq!(app.movie_count().await, 0);
}
