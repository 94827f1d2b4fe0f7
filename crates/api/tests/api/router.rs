//! The router over mockall fakes of every port, driven with `tower::ServiceExt::oneshot`: each
//! domain error's status, body and headers, and where a 422 says the bad input was. No database,
//! no socket: what these pin is the HTTP edge alone.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use movies_api::config::{CorsOrigins, CorsPolicy};
use movies_api::routes::App;
use movies_api::state::{AppState, Ports};
use movies_domain::auth::{Claims, MockPasswordHasher, MockTokenRevocations, MockTokenService};
use movies_domain::catalogue::MockMovieCatalogue;
use movies_domain::characters::MockCharacterRepository;
use movies_domain::error::{OutsideItem, UpstreamError};
use movies_domain::events::{MockEventFeed, MockEventLog};
use movies_domain::jobs::{Job, JobKind, JobStatus, MockJobStore, MockRowGenerator};
use movies_domain::movies::{MockMovieRepository, Movie};
use movies_domain::readiness::MockReadiness;
use movies_domain::users::{MockUserRepository, Role, User};
use movies_domain::{Error, RecordKind};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A fake of every port; a test sets the expectations it needs, and a call it did not expect
/// panics (which the router turns into a 500 the assertions then show).
#[derive(Default)]
struct Fakes {
    movies: MockMovieRepository,
    characters: MockCharacterRepository,
    users: MockUserRepository,
    revocations: MockTokenRevocations,
    hasher: MockPasswordHasher,
    tokens: MockTokenService,
    jobs: MockJobStore,
    generator: MockRowGenerator,
    catalogue: MockMovieCatalogue,
    events: MockEventLog,
    feed: MockEventFeed,
    readiness: MockReadiness,
}

/// The bearer token the fakes accept, for user 7 of `role`.
const TOKEN: &str = "good-token";

impl Fakes {
    /// Accepts [`TOKEN`] as user 7 with `role`.
    fn signed_in_as(mut self, role: Role) -> Self {
        self.tokens.expect_verify().returning(|token| {
            if token != TOKEN {
                return Err(Error::Unauthorized("Could not validate credentials"));
            }
            Ok(Claims {
                sub: "ana".into(),
                uid: 7,
                role: Role::User,
                iat: 0,
                exp: i64::MAX,
                jti: "jti".into(),
            })
        });
        self.revocations.expect_is_revoked().returning(|_| Ok(false));
        self.users
            .expect_find()
            .returning(move |id| Ok(Some(User { id, username: "ana".into(), role })));
        self
    }

    fn app(self) -> App {
        let ports = Ports {
            movies: Arc::new(self.movies),
            characters: Arc::new(self.characters),
            users: Arc::new(self.users),
            revocations: Arc::new(self.revocations),
            hasher: Arc::new(self.hasher),
            tokens: Arc::new(self.tokens),
            jobs: Arc::new(self.jobs),
            generator: Arc::new(self.generator),
            catalogue: Arc::new(self.catalogue),
            events: Arc::new(self.events),
            feed: Arc::new(self.feed),
            readiness: Arc::new(self.readiness),
        };
        let cors = CorsPolicy { origins: CorsOrigins::List(Vec::new()), any_loopback_port: false };
        movies_api::routes::app(AppState::new(ports), &cors)
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

/// Sends one request through the router; `body` is sent as JSON, `token` as a bearer token.
async fn call(app: App, method: Method, uri: &str, body: Option<&str>, token: bool) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request.body(Body::from(body.unwrap_or_default().to_owned())).unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(
        headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"),
        "{status} answers JSON"
    );
    Answer { status, headers, body }
}

async fn get(app: App, uri: &str) -> Answer {
    call(app, Method::GET, uri, None, false).await
}

fn movie(id: i64, editor_id: Option<i64>) -> Movie {
    Movie {
        id,
        name: "Alien".into(),
        year: 1979,
        duration: String::new(),
        genre: String::new(),
        description: String::new(),
        nr_characters: 0,
        editor_id,
    }
}

#[tokio::test]
async fn a_missing_record_is_a_404_naming_it() {
    let mut fakes = Fakes::default();
    fakes.movies.expect_find().returning(|_| Ok(None));

    let answer = get(fakes.app(), "/movies/7").await;

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body, json!({ "detail": "Movie not found" }));
}

#[tokio::test]
async fn an_outage_is_a_503_with_retry_after_and_no_cause_shown() {
    let mut fakes = Fakes::default();
    fakes.movies.expect_find().returning(|_| Err(Error::unavailable("disk on fire")));

    let answer = get(fakes.app(), "/movies/7").await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let retry: u64 = answer.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry > 0);
    assert!(!answer.body.to_string().contains("disk"), "{}", answer.body);
}

#[tokio::test]
async fn a_bug_is_a_500_that_hides_its_cause() {
    let mut fakes = Fakes::default();
    fakes.movies.expect_find().returning(|_| Err(Error::internal("row 7 has year -1")));

    let answer = get(fakes.app(), "/movies/7").await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body, json!({ "detail": "Internal server error" }));
    assert!(answer.headers.get(header::RETRY_AFTER).is_none());
}

#[tokio::test]
async fn a_taken_name_is_a_409() {
    let mut fakes = Fakes::default().signed_in_as(Role::User);
    fakes.movies.expect_insert().returning(|m, _| {
        Err(Error::DuplicateName { entity: RecordKind::Movie, name: m.name.as_str().to_owned() })
    });

    let body = r#"{"name": "Alien", "year": "1979"}"#;
    let answer = call(fakes.app(), Method::POST, "/movies", Some(body), true).await;

    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.body, json!({ "detail": "A movie named \"Alien\" already exists" }));
}

#[tokio::test]
async fn no_valid_token_is_a_401_with_a_bearer_challenge() {
    for token in [false, true] {
        let mut fakes = Fakes::default();
        fakes.tokens.expect_verify().returning(|_| Err(Error::Unauthorized("Token has expired")));

        let body = r#"{"name": "Alien", "year": 1979}"#;
        let answer = call(fakes.app(), Method::POST, "/movies", Some(body), token).await;

        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "token sent: {token}");
        assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer");
        assert!(answer.body["detail"].is_string());
    }
}

#[tokio::test]
async fn a_user_acting_beyond_its_role_is_a_403() {
    let fakes = Fakes::default().signed_in_as(Role::User);

    let answer = call(fakes.app(), Method::DELETE, "/movies/bulk/1/5", None, true).await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body, json!({ "detail": "Admin privileges required" }));
}

#[tokio::test]
async fn changing_another_editor_s_movie_is_a_403() {
    let mut fakes = Fakes::default().signed_in_as(Role::User);
    fakes.movies.expect_find().returning(|id| Ok(Some(movie(id, Some(99)))));

    let answer = call(fakes.app(), Method::DELETE, "/movies/3", None, true).await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_used_up_quota_is_a_429() {
    let mut fakes = Fakes::default().signed_in_as(Role::User);
    let active = Job {
        id: "j".into(),
        kind: JobKind::Movies,
        status: JobStatus::Running,
        requested: 10,
        done: 0,
        owner_id: Some(7),
        cancel_requested: false,
        created_at: String::new(),
        started_at: None,
        finished_at: None,
        error: None,
    };
    fakes.jobs.expect_list().returning(move |_| Ok(vec![active.clone(); 4]));

    let answer = call(fakes.app(), Method::POST, "/movies/generate/5", None, true).await;

    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(answer.body["detail"].as_str().unwrap().contains("4 jobs"), "{}", answer.body);
}

#[tokio::test]
async fn a_422_says_whether_the_body_the_query_or_the_path_was_wrong() {
    let cases = [
        (Method::POST, "/movies", Some(r#"{"name": "A", "year": "x"}"#), json!(["body", "year"])),
        (Method::POST, "/movies", Some(r#"{"year": 1979}"#), json!(["body", "name"])),
        (Method::POST, "/movies/bulk", Some(r#"[{"name": "A"}]"#), json!(["body", 0, "year"])),
        (Method::GET, "/movies?limit=0", None, json!(["query", "limit"])),
        (Method::GET, "/movies?skip=x", None, json!(["query", "skip"])),
        (Method::GET, "/movies/x", None, json!(["path", "id"])),
        (Method::DELETE, "/movies/bulk/1/y", None, json!(["path", "end_id"])),
    ];
    for (method, uri, body, loc) in cases {
        let fakes = Fakes::default().signed_in_as(Role::Admin);

        let answer = call(fakes.app(), method.clone(), uri, body, true).await;

        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {uri}");
        let detail = answer.body["detail"].as_array().unwrap();
        assert_eq!(detail[0]["loc"], loc, "{method} {uri}: {}", answer.body);
        assert!(detail[0]["msg"].is_string() && detail[0]["type"].is_string());
    }
}

#[tokio::test]
async fn bad_requests_the_domain_never_sees_get_their_own_status() {
    let cases: [(Method, &str, Option<&str>, StatusCode); 3] = [
        (Method::POST, "/movies", Some("{not json"), StatusCode::BAD_REQUEST),
        (Method::PATCH, "/movies/1", None, StatusCode::METHOD_NOT_ALLOWED),
        (Method::GET, "/nowhere", None, StatusCode::NOT_FOUND),
    ];
    for (method, uri, body, status) in cases {
        let fakes = Fakes::default().signed_in_as(Role::User);

        let answer = call(fakes.app(), method.clone(), uri, body, true).await;

        assert_eq!(answer.status, status, "{method} {uri}");
        assert!(answer.body["detail"].is_string(), "{}", answer.body);
    }
}

#[tokio::test]
async fn the_outside_catalogue_s_failures_get_their_own_statuses() {
    type Failure = fn() -> Error;
    let cases: [(Failure, StatusCode, Option<&str>); 4] = [
        (|| UpstreamError::NotConfigured.into(), StatusCode::SERVICE_UNAVAILABLE, None),
        (
            || UpstreamError::RateLimited { retry_after_secs: Some(7) }.into(),
            StatusCode::SERVICE_UNAVAILABLE,
            Some("7"),
        ),
        (|| UpstreamError::NotFound(OutsideItem::Movie).into(), StatusCode::NOT_FOUND, None),
        (|| UpstreamError::failed("connection reset").into(), StatusCode::BAD_GATEWAY, None),
    ];
    for (failure, status, retry_after) in cases {
        let mut fakes = Fakes::default();
        fakes.catalogue.expect_movie().returning(move |_| Err(failure()));

        let answer = get(fakes.app(), "/moviesTMDB/348").await;

        assert_eq!(answer.status, status, "{}", answer.body);
        if let Some(seconds) = retry_after {
            assert_eq!(answer.headers[header::RETRY_AFTER], seconds);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(answer.headers.contains_key(header::RETRY_AFTER));
        }
        assert!(!answer.body.to_string().contains("reset"), "{}", answer.body);
    }
}

#[tokio::test]
async fn health_asks_nothing_and_ready_asks_the_readiness_port() {
    // No expectation on the readiness fake: `/health` must not call it.
    assert_eq!(get(Fakes::default().app(), "/health").await.status, StatusCode::OK);

    let mut up = Fakes::default();
    up.readiness.expect_check().returning(|| Ok(()));
    assert_eq!(get(up.app(), "/ready").await.status, StatusCode::OK);

    let mut down = Fakes::default();
    down.readiness.expect_check().returning(|| Err(Error::unavailable("refused")));
    let answer = get(down.app(), "/ready").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(answer.body["database"], "unavailable");
}
