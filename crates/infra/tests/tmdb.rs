//! The TMDB adapter against a fake TMDB on 127.0.0.1 (wiremock): what it sends, how each kind of
//! answer becomes a domain result, and its cache. Nothing here reaches the internet.

use std::time::Duration;

use movies_domain::catalogue::{MovieCatalogue, OutsideGenre};
use movies_domain::{Error, OutsideItem, UpstreamError};
use movies_infra::catalogue::{TmdbCatalogue, TmdbCredentials, TmdbSettings};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "test-api-key-0123";
const TOKEN: &str = "test-access-token-4567";

fn key() -> Option<TmdbCredentials> {
    Some(TmdbCredentials::ApiKey(SecretString::from(KEY)))
}

/// The adapter over the fake, which serves TMDB's paths under `/3` as the real one does.
fn catalogue(server: &MockServer, credentials: Option<TmdbCredentials>) -> TmdbCatalogue {
    catalogue_at(&format!("{}/3/", server.uri()), credentials, Duration::from_secs(5))
}

fn catalogue_at(
    base_url: &str,
    credentials: Option<TmdbCredentials>,
    timeout: Duration,
) -> TmdbCatalogue {
    TmdbCatalogue::new(TmdbSettings { base_url: base_url.into(), credentials, timeout })
        .expect("the client builds")
}

fn page(titles: &[&str]) -> Value {
    let results: Vec<Value> =
        titles.iter().enumerate().map(|(i, t)| json!({ "id": i + 1, "title": t })).collect();
    json!({ "page": 1, "results": results, "total_pages": 1, "total_results": titles.len() })
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// "outer: inner: ...", as the api logs a failure.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[track_caller]
fn assert_failed(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(ref e @ Error::Upstream(UpstreamError::Failed(_))) => chain(e),
        other => panic!("expected an upstream failure, got {other:?}"),
    }
}

#[tokio::test]
async fn popular_movies_are_tmdb_s_results_array_asked_with_the_api_key_as_a_query_parameter() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/3/movie/popular"))
        .and(query_param("api_key", KEY))
        .respond_with(ok(page(&["Alien", "Heat"])))
        .expect(1)
        .mount(&server)
        .await;
    let movies = catalogue(&server, key()).popular().await.unwrap();
    assert_eq!(
        movies,
        vec![json!({ "id": 1, "title": "Alien" }), json!({ "id": 2, "title": "Heat" })]
    );
}

#[tokio::test]
async fn an_access_token_goes_in_a_bearer_header_and_never_in_the_url() {
    let server = MockServer::start().await;
    Mock::given(path("/3/movie/348"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(query_param_is_missing("api_key"))
        .respond_with(ok(json!({ "id": 348, "title": "Alien" })))
        .expect(1)
        .mount(&server)
        .await;
    let token = Some(TmdbCredentials::AccessToken(SecretString::from(TOKEN)));
    let movie = catalogue(&server, token).movie(348).await.unwrap();
    assert_eq!(movie["title"], "Alien");
}

#[tokio::test]
async fn a_search_sends_the_name_as_tmdb_s_query() {
    let server = MockServer::start().await;
    Mock::given(path("/3/search/movie"))
        .and(query_param("query", "the thing & co"))
        .respond_with(ok(page(&["The Thing"])))
        .expect(1)
        .mount(&server)
        .await;
    let movies = catalogue(&server, key()).search("the thing & co").await.unwrap();
    assert_eq!(movies[0]["title"], "The Thing");
}

#[tokio::test]
async fn genres_come_from_tmdb_s_list_and_a_genre_s_movies_from_discover() {
    let server = MockServer::start().await;
    let list =
        json!({ "genres": [{ "id": 28, "name": "Action" }, { "id": 27, "name": "Horror" }] });
    Mock::given(path("/3/genre/movie/list")).respond_with(ok(list)).mount(&server).await;
    Mock::given(path("/3/discover/movie"))
        .and(query_param("with_genres", "27"))
        .respond_with(ok(page(&["Alien"])))
        .expect(1)
        .mount(&server)
        .await;
    let tmdb = catalogue(&server, key());
    assert_eq!(tmdb.genres().await.unwrap()[1], OutsideGenre { id: 27, name: "Horror".into() });
    assert_eq!(tmdb.by_genre(27).await.unwrap()[0]["title"], "Alien");
}

#[tokio::test]
async fn without_credentials_every_call_is_not_configured_and_tmdb_is_never_called() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ok(page(&[]))).expect(0).mount(&server).await;
    let tmdb = catalogue(&server, None);
    let not_configured = |e: Error| matches!(e, Error::Upstream(UpstreamError::NotConfigured));
    assert!(not_configured(tmdb.popular().await.unwrap_err()));
    assert!(not_configured(tmdb.movie(1).await.unwrap_err()));
    assert!(not_configured(tmdb.search("Alien").await.unwrap_err()));
    assert!(not_configured(tmdb.genres().await.unwrap_err()));
    assert!(not_configured(tmdb.by_genre(27).await.unwrap_err()));
}

#[tokio::test]
async fn a_movie_tmdb_does_not_have_is_not_found() {
    let server = MockServer::start().await;
    let body = json!({ "success": false, "status_code": 34 });
    Mock::given(path("/3/movie/9"))
        .respond_with(ResponseTemplate::new(404).set_body_json(body))
        .mount(&server)
        .await;
    let err = catalogue(&server, key()).movie(9).await.unwrap_err();
    assert!(matches!(err, Error::Upstream(UpstreamError::NotFound(OutsideItem::Movie))), "{err:?}");
}

#[tokio::test]
async fn a_404_for_a_list_is_a_failure_not_a_missing_movie() {
    let server = MockServer::start().await;
    Mock::given(path("/3/movie/popular"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let why = assert_failed(catalogue(&server, key()).popular().await);
    assert!(why.contains("404") && why.contains("/movie/popular"), "{why}");
}

#[tokio::test]
async fn a_429_is_rate_limited_with_tmdb_s_retry_after() {
    let server = MockServer::start().await;
    let limited = ResponseTemplate::new(429).insert_header("Retry-After", "7");
    Mock::given(path("/3/movie/popular")).respond_with(limited).mount(&server).await;
    Mock::given(path("/3/movie/1")).respond_with(ResponseTemplate::new(429)).mount(&server).await;
    let tmdb = catalogue(&server, key());
    let err = tmdb.popular().await.unwrap_err();
    assert!(
        matches!(err, Error::Upstream(UpstreamError::RateLimited { retry_after_secs: Some(7) })),
        "{err:?}"
    );
    let err = tmdb.movie(1).await.unwrap_err();
    assert!(
        matches!(err, Error::Upstream(UpstreamError::RateLimited { retry_after_secs: None })),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_server_error_is_a_failure_that_names_the_status() {
    let server = MockServer::start().await;
    Mock::given(path("/3/movie/popular"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let why = assert_failed(catalogue(&server, key()).popular().await);
    assert!(why.contains("500"), "{why}");
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_failure() {
    let server = MockServer::start().await;
    let slow = ok(page(&["Alien"])).set_delay(Duration::from_secs(5));
    Mock::given(path("/3/movie/popular")).respond_with(slow).mount(&server).await;
    let base = format!("{}/3", server.uri());
    let tmdb = catalogue_at(&base, key(), Duration::from_millis(200));
    let why = assert_failed(tmdb.popular().await);
    assert!(why.contains("did not answer"), "{why}");
}

#[tokio::test]
async fn an_answer_that_is_not_the_json_expected_is_a_failure() {
    let server = MockServer::start().await;
    let html = ResponseTemplate::new(200).set_body_string("<html>maintenance</html>");
    Mock::given(path("/3/movie/popular")).respond_with(html).mount(&server).await;
    Mock::given(path("/3/search/movie"))
        .respond_with(ok(json!({ "page": 1 })))
        .mount(&server)
        .await;
    Mock::given(path("/3/genre/movie/list"))
        .respond_with(ok(json!({ "genres": 3 })))
        .mount(&server)
        .await;
    let tmdb = catalogue(&server, key());
    assert_failed(tmdb.popular().await);
    assert!(assert_failed(tmdb.search("x").await).contains("results"));
    assert_failed(tmdb.genres().await);
}

#[tokio::test]
async fn tmdb_out_of_reach_is_a_failure_whose_message_holds_no_credential() {
    // A port nobody listens on: bound, read, let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tmdb = catalogue_at(&format!("http://127.0.0.1:{port}/3"), key(), Duration::from_secs(5));
    let why = assert_failed(tmdb.popular().await);
    assert!(!why.contains(KEY), "{why}");
    assert!(why.contains("/movie/popular"), "{why}");
}

#[tokio::test]
async fn a_second_call_is_answered_from_the_cache() {
    let server = MockServer::start().await;
    Mock::given(path("/3/movie/popular"))
        .respond_with(ok(page(&["Alien"])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/3/search/movie"))
        .respond_with(ok(page(&["Heat"])))
        .expect(2)
        .mount(&server)
        .await;
    let tmdb = catalogue(&server, key());
    assert_eq!(tmdb.popular().await.unwrap(), tmdb.popular().await.unwrap());
    // Another query is another answer.
    tmdb.search("heat").await.unwrap();
    tmdb.search("heat").await.unwrap();
    tmdb.search("alien").await.unwrap();
}

#[tokio::test]
async fn a_failure_is_not_cached() {
    let server = MockServer::start().await;
    Mock::given(path("/3/movie/popular"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/3/movie/popular"))
        .respond_with(ok(page(&["Alien"])))
        .expect(1)
        .mount(&server)
        .await;
    let tmdb = catalogue(&server, key());
    assert_failed(tmdb.popular().await);
    assert_eq!(tmdb.popular().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_adapter_s_debug_output_holds_no_credential() {
    let server = MockServer::start().await;
    let debug = format!("{:?}", catalogue(&server, key()));
    assert!(!debug.contains(KEY) && debug.contains("api key"), "{debug}");
}

#[tokio::test]
async fn callers_asking_at_the_same_time_share_one_call() {
    let server = MockServer::start().await;
    let slowish = ok(page(&["Alien"])).set_delay(Duration::from_millis(200));
    Mock::given(path("/3/movie/popular")).respond_with(slowish).expect(1).mount(&server).await;
    let tmdb = catalogue(&server, key());
    let (a, b, c) = tokio::join!(tmdb.popular(), tmdb.popular(), tmdb.popular());
    assert_eq!((a.unwrap().len(), b.unwrap().len(), c.unwrap().len()), (1, 1, 1));
}
