//! Accounts and tokens: register, login, protected routes, ownership, revocation.

use movies_domain::auth::Claims;
use movies_domain::users::Role;
use movies_infra::auth::JwtAlgorithm;
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, ADMIN_ID, ADMIN_PASSWORD, MOVIE_KEYS, Reply, SECRET_KEY, TestApp, assert_keys,
    assert_no_password_hash, base64url, claims_for, forge_token, id_of, now_secs,
    spawn_anonymous_app, spawn_app, spawn_app_with,
};

/// The keys of a login answer, exactly.
const LOGIN_KEYS: [&str; 6] =
    ["access_token", "role", "token", "token_type", "user_id", "username"];

/// `admin:admin-password-1`: the admin's right password, in the wrong scheme.
const ADMIN_BASIC: &str = "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQtMQ==";

async fn register(app: &TestApp, body: Value) -> Reply {
    app.call(None, Method::POST, "/auth/register/", Some(&body)).await
}

async fn log_in(app: &TestApp, body: Value) -> Reply {
    app.call(None, Method::POST, "/auth/login/", Some(&body)).await
}

async fn token_form(app: &TestApp, username: &str, password: &str) -> Reply {
    let form = [("username", username), ("password", password)];
    app.send(app.request_as(None, Method::POST, "/auth/token").form(&form)).await
}

async fn me(app: &TestApp, token: &str) -> Reply {
    app.call(Some(token), Method::GET, "/auth/me", None).await
}

/// The id of the user `token` speaks for.
async fn id_behind(app: &TestApp, token: &str) -> i64 {
    id_of(me(app, token).await.expect(StatusCode::OK))
}

/// Panics unless the answer is a 401 with a bearer challenge and a `detail` message.
#[track_caller]
fn assert_unauthorized(reply: &Reply, context: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{context}: {}", reply.body);
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{context}");
    assert!(reply.body["detail"].is_string(), "{context}: no detail message in {}", reply.body);
}

/// `token` with the character at `position` of its segment `segment` (0 header, 1 payload,
/// 2 signature) replaced by another base64url character.
fn with_one_char_changed(token: &str, segment: usize, position: usize) -> String {
    let mut segments: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut chars: Vec<char> = segments[segment].chars().collect();
    chars[position] = if chars[position] == 'A' { 'B' } else { 'A' };
    segments[segment] = chars.into_iter().collect();
    let changed = segments.join(".");
    assert_ne!(changed, token);
    changed
}

/// The JSON payload the server writes for `claims`, member for member in the same order.
fn payload_of(claims: &Claims) -> String {
    base64url(
        format!(
            r#"{{"sub":"{}","uid":{},"role":"{}","iat":{},"exp":{},"jti":"{}"}}"#,
            claims.sub, claims.uid, claims.role, claims.iat, claims.exp, claims.jti
        )
        .as_bytes(),
    )
}

/// Every route that needs a token, as (method, path, body), aimed at real records so that a
/// route that forgot to check would visibly change something. Paths are written as clients
/// write them, some with a trailing slash.
fn protected_routes(movie: i64, character: i64, user: i64) -> Vec<(Method, String, Option<Value>)> {
    let new_movie = json!({ "name": "Intruder", "year": 2000 });
    let new_character = json!({ "name": "Intruder", "movieId": movie });
    vec![
        (Method::GET, "/auth/me".into(), None),
        (Method::POST, "/auth/logout/".into(), None),
        (Method::POST, "/movies".into(), Some(new_movie.clone())),
        (Method::GET, "/movies/names".into(), None),
        (Method::POST, "/movies/bulk".into(), Some(json!([new_movie]))),
        (Method::DELETE, format!("/movies/bulk/{movie}/{}", movie + 1), None),
        (Method::DELETE, "/movies/by_name/Alien".into(), None),
        (Method::PUT, "/movies/update_nr_characters/".into(), None),
        (Method::DELETE, "/movies/delete_duplicates/".into(), None),
        (Method::PUT, format!("/movies/{movie}"), Some(json!({ "name": "Renamed", "year": 1980 }))),
        (Method::DELETE, format!("/movies/{movie}"), None),
        (Method::GET, format!("/movies/{movie}/characters"), None),
        (Method::GET, "/movies/username/admin".into(), None),
        (Method::GET, "/characters".into(), None),
        (Method::POST, "/characters".into(), Some(new_character.clone())),
        (Method::POST, "/characters/bulk".into(), Some(json!([new_character]))),
        (Method::DELETE, format!("/characters/bulk/{character}/{}", character + 1), None),
        (Method::GET, format!("/characters/{character}"), None),
        (
            Method::PUT,
            format!("/characters/{character}"),
            Some(json!({ "name": "Renamed", "movieId": movie })),
        ),
        (Method::DELETE, format!("/characters/{character}"), None),
        (Method::GET, "/characters/username/admin".into(), None),
        (Method::GET, "/users/nonAdmin/".into(), None),
        (Method::GET, "/users/basicUsers/".into(), None),
        (Method::GET, format!("/users/userId/{user}"), None),
        (Method::DELETE, format!("/users/{user}"), None),
    ]
}

#[tokio::test]
async fn a_registered_user_logs_in_and_gets_a_bearer_token() {
    let app = spawn_anonymous_app().await;
    app.register("ana").await;
    let token = app.user_token_of_registered("ana").await;
    let me = app.send(app.request_as(Some(&token), Method::GET, "/auth/me")).await;
    let me = me.expect(StatusCode::OK);
    assert_eq!(me["username"], "ana");
    assert_eq!(me["role"], "user");
}

#[tokio::test]
async fn registering_a_name_taken_in_another_case_answers_false_and_changes_nothing() {
    let app = spawn_anonymous_app().await;

    let first = register(&app, json!({ "username": "ana", "hashedPassword": "first-pass" })).await;
    let again = register(&app, json!({ "username": "Ana", "hashedPassword": "second-pass" })).await;
    let upper = register(&app, json!({ "username": "ANA", "password": "third-pass" })).await;

    assert_eq!(first.expect(StatusCode::OK), &json!(true));
    assert_eq!(again.expect(StatusCode::OK), &json!(false));
    assert_eq!(upper.expect(StatusCode::OK), &json!(false));
    let with_first = json!({ "username": "ana", "hashedPassword": "first-pass" });
    log_in(&app, with_first).await.expect(StatusCode::OK);
    let with_second = json!({ "username": "Ana", "hashedPassword": "second-pass" });
    let refused = log_in(&app, with_second).await;
    assert_unauthorized(&refused, "the refused registration's password");
}

#[tokio::test]
async fn invalid_registrations_are_unprocessable_naming_the_field() {
    let app = spawn_anonymous_app().await;
    let good = "good-password";
    let cases = [
        (json!({ "username": "ab", "hashedPassword": good }), vec!["username"]),
        (json!({ "username": "a".repeat(51), "hashedPassword": good }), vec!["username"]),
        (json!({ "username": "", "hashedPassword": good }), vec!["username"]),
        (json!({ "username": "ana b", "hashedPassword": good }), vec!["username"]),
        (json!({ "username": "ana!", "hashedPassword": good }), vec!["username"]),
        (json!({ "username": "anné", "hashedPassword": good }), vec!["username"]),
        (json!({ "username": 42, "hashedPassword": good }), vec!["username"]),
        (json!({ "hashedPassword": good }), vec!["username"]),
        (json!({ "username": "ana", "hashedPassword": "7-chars" }), vec!["hashedPassword"]),
        (json!({ "username": "ana", "hashedPassword": "p".repeat(129) }), vec!["hashedPassword"]),
        (json!({ "username": "ana", "password": "7-chars" }), vec!["password"]),
        (json!({ "username": "ana" }), vec!["hashedPassword"]),
        (json!({}), vec!["username", "hashedPassword"]),
    ];

    for (body, fields) in cases {
        let locs = register(&app, body.clone()).await.expect_invalid();
        let expected: Vec<Value> = fields.iter().map(|f| json!(["body", f])).collect();
        assert_eq!(locs, expected, "registering {body}");
    }
    let ana = register(&app, json!({ "username": "ana", "hashedPassword": good })).await;
    assert_eq!(ana.expect(StatusCode::OK), &json!(true), "no invalid attempt made `ana`");
}

#[tokio::test]
async fn names_and_passwords_at_the_limits_are_accepted() {
    let app = spawn_anonymous_app().await;
    let cases = [
        ("abc".to_owned(), "8-chars!".to_owned()),
        ("n".repeat(50), "p".repeat(128)),
        ("a.b-c_D9".to_owned(), "with spaces and ünïcödé".to_owned()),
    ];

    for (username, password) in cases {
        let body = json!({ "username": username, "hashedPassword": password });
        assert_eq!(
            register(&app, body.clone()).await.expect(StatusCode::OK),
            &json!(true),
            "{body}"
        );
        log_in(&app, body.clone()).await.expect(StatusCode::OK);
    }
}

#[tokio::test]
async fn logging_in_answers_the_token_twice_with_who_it_is_for() {
    let app = spawn_anonymous_app().await;
    app.register("ana").await;

    let reply =
        log_in(&app, json!({ "username": "ana", "hashedPassword": "password-of-ana" })).await;

    let login = reply.expect(StatusCode::OK);
    assert_keys(login, &LOGIN_KEYS);
    assert!(login["token"].as_str().is_some_and(|t| !t.is_empty()), "{login}");
    assert_eq!(login["access_token"], login["token"]);
    assert_eq!(login["token_type"], "bearer");
    assert_eq!(login["username"], "ana");
    assert_eq!(login["role"], "user");
    let token = login["token"].as_str().unwrap();
    let me = me(&app, token).await;
    let me = me.expect(StatusCode::OK);
    assert_keys(me, &["id", "role", "username"]);
    assert_eq!(me, &json!({ "id": login["user_id"], "username": "ana", "role": "user" }));
}

#[tokio::test]
async fn the_admin_is_told_it_is_an_admin() {
    let app = spawn_app().await;

    let me = me(&app, app.token.as_deref().unwrap()).await;

    assert_eq!(
        me.expect(StatusCode::OK),
        &json!({ "id": ADMIN_ID, "username": ADMIN, "role": "admin" })
    );
}

#[tokio::test]
async fn password_is_a_synonym_of_hashed_password() {
    let app = spawn_anonymous_app().await;
    let with_password = json!({ "username": "bob", "password": "secret-of-bob" });
    let with_hashed = json!({ "username": "bob", "hashedPassword": "secret-of-bob" });

    assert_eq!(register(&app, with_password.clone()).await.expect(StatusCode::OK), &json!(true));

    log_in(&app, with_password).await.expect(StatusCode::OK);
    log_in(&app, with_hashed).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_unauthorized_answer() {
    let app = spawn_anonymous_app().await;
    app.register("ana").await;

    let unknown = json!({ "username": "nobody", "hashedPassword": "password-of-ana" });
    let unknown = log_in(&app, unknown).await;
    let wrong =
        log_in(&app, json!({ "username": "ana", "hashedPassword": "password-of-bob" })).await;

    for reply in [&unknown, &wrong] {
        assert_unauthorized(reply, "a failed login");
        assert_eq!(reply.body, json!({ "detail": "Incorrect username or password" }));
    }
    assert_eq!(unknown.body, wrong.body);
}

#[tokio::test]
async fn the_oauth2_token_form_answers_as_login_does() {
    let app = spawn_anonymous_app().await;
    app.register("ana").await;
    let json_login = json!({ "username": "ana", "password": "password-of-ana" });
    let json_login = log_in(&app, json_login).await.expect(StatusCode::OK).clone();

    let reply = token_form(&app, "ana", "password-of-ana").await;

    let login = reply.expect(StatusCode::OK);
    assert_keys(login, &LOGIN_KEYS);
    assert_eq!(login["access_token"], login["token"]);
    for key in ["token_type", "user_id", "username", "role"] {
        assert_eq!(login[key], json_login[key], "{key}");
    }
    me(&app, login["token"].as_str().unwrap()).await.expect(StatusCode::OK);
    let wrong = token_form(&app, "ana", "password-of-bob").await;
    assert_unauthorized(&wrong, "a wrong password in the form");
    assert_eq!(wrong.body, json!({ "detail": "Incorrect username or password" }));
}

#[tokio::test]
async fn the_token_route_refuses_a_json_body() {
    let app = spawn_anonymous_app().await;
    app.register("ana").await;

    let body = json!({ "username": "ana", "password": "password-of-ana" });
    let reply = app.call(None, Method::POST, "/auth/token", Some(&body)).await;

    reply.expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn the_public_routes_answer_without_a_token() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;
    app.create_character("Ripley", "Alien").await;
    let anonymous = async |path: &str| app.call(None, Method::GET, path, None).await;

    assert_eq!(anonymous("/movies").await.expect(StatusCode::OK).as_array().map(Vec::len), Some(1));
    assert_eq!(anonymous("/movies/1").await.expect(StatusCode::OK)["name"], "Alien");
    assert_eq!(anonymous("/movies/count/").await.expect(StatusCode::OK), &json!({ "count": 1 }));
    assert_eq!(
        anonymous("/characters/count/").await.expect(StatusCode::OK),
        &json!({ "count": 1 })
    );
    anonymous("/health").await.expect(StatusCode::OK);
    let body = json!({ "username": "ana", "hashedPassword": "password-of-ana" });
    assert_eq!(register(&app, body.clone()).await.expect(StatusCode::OK), &json!(true));
    log_in(&app, body.clone()).await.expect(StatusCode::OK);
    token_form(&app, "ana", "password-of-ana").await.expect(StatusCode::OK);
}

#[tokio::test]
async fn writing_without_a_token_is_unauthorized_with_a_bearer_challenge() {
    let app = spawn_anonymous_app().await;
    let reply = app.post_json("/movies", &json!({ "name": "Alien", "year": 1979 })).await;
    assert_eq!(reply.expect_error(StatusCode::UNAUTHORIZED), "Not authenticated");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn every_protected_route_refuses_a_missing_or_bad_token_and_changes_nothing() {
    let app = spawn_app().await;
    app.register("ana").await;
    let ana = id_behind(&app, &app.user_token_of_registered("ana").await).await;
    let movie = id_of(&app.create_movie("Alien", 1979).await);
    let character = id_of(&app.create_character("Ripley", "Alien").await);
    let revoked = app.login(ADMIN, ADMIN_PASSWORD).await;
    app.call(Some(&revoked), Method::POST, "/auth/logout", None).await.expect(StatusCode::OK);
    let expired = forge_token(
        SECRET_KEY,
        JwtAlgorithm::Hs256,
        &Claims {
            iat: now_secs() - 7200,
            exp: now_secs() - 3600,
            ..claims_for(ADMIN_ID, ADMIN, Role::Admin)
        },
    );
    let authorizations = [
        ("no Authorization header", None),
        ("Basic with the admin's password", Some(ADMIN_BASIC.to_owned())),
        ("Bearer without a token", Some("Bearer".to_owned())),
        ("a malformed token", Some("Bearer not-a-token".to_owned())),
        ("the admin's expired token", Some(format!("Bearer {expired}"))),
        ("the admin's revoked token", Some(format!("Bearer {revoked}"))),
    ];

    for (method, path, body) in protected_routes(movie, character, ana) {
        for (what, authorization) in &authorizations {
            let mut request = app.request_as(None, method.clone(), &path);
            if let Some(authorization) = authorization {
                request = request.header(AUTHORIZATION, authorization);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            assert_unauthorized(&app.send(request).await, &format!("{method} {path} with {what}"));
        }
    }

    assert_eq!(app.movie(movie).await["name"], "Alien");
    let ripley = app.get(&format!("/characters/{character}")).await;
    assert_eq!(ripley.expect(StatusCode::OK)["name"], "Ripley");
    assert_eq!((app.movie_count().await, app.character_count().await), (1, 1));
    app.get(&format!("/users/userId/{ana}")).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn forged_altered_and_expired_tokens_are_unauthorized() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    let ana_id = id_behind(&app, &ana).await;
    let admin = claims_for(ADMIN_ID, ADMIN, Role::Admin);
    // The forging is faithful: the same claims, signed as the server signs, are accepted, and
    // hand-built payloads are byte for byte what the server writes.
    let genuine = forge_token(SECRET_KEY, JwtAlgorithm::Hs256, &admin);
    me(&app, &genuine).await.expect(StatusCode::OK);
    assert_eq!(genuine.split('.').nth(1), Some(payload_of(&admin).as_str()));
    let none_header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    assert_eq!(none_header, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0");
    let [ana_header, _, ana_signature]: [&str; 3] =
        ana.split('.').collect::<Vec<_>>().try_into().expect("a token has three segments");
    let expired = Claims { iat: now_secs() - 7200, exp: now_secs() - 3600, ..admin.clone() };

    let forged = [
        ("expired an hour ago", forge_token(SECRET_KEY, JwtAlgorithm::Hs256, &expired)),
        (
            "signed with another key",
            forge_token("another-key-just-as-long-0123456789abcd", JwtAlgorithm::Hs256, &admin),
        ),
        ("signed HS512 with the right key", forge_token(SECRET_KEY, JwtAlgorithm::Hs512, &admin)),
        ("signed HS384 with the right key", forge_token(SECRET_KEY, JwtAlgorithm::Hs384, &admin)),
        ("alg none without a signature", format!("{none_header}.{}.", payload_of(&admin))),
        (
            "alg none with a real signature",
            format!("{none_header}.{}.{ana_signature}", payload_of(&admin)),
        ),
        ("one character of the signature changed", with_one_char_changed(&ana, 2, 0)),
        ("one character of the payload changed", with_one_char_changed(&ana, 1, 10)),
        ("one character of the header changed", with_one_char_changed(&ana, 0, 5)),
        (
            "the payload swapped for the admin's",
            format!("{ana_header}.{}.{ana_signature}", payload_of(&admin)),
        ),
        ("no signature", format!("{ana_header}.{}.", payload_of(&admin))),
        ("not a token at all", "not-a-token".to_owned()),
    ];

    for (what, token) in &forged {
        assert_unauthorized(&me(&app, token).await, &format!("GET /auth/me with a token {what}"));
        let write = app.call(Some(token), Method::DELETE, &format!("/users/{ana_id}"), None).await;
        assert_unauthorized(&write, &format!("DELETE /users/{{id}} with a token {what}"));
    }
    me(&app, &ana).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn the_authorization_header_must_carry_a_bearer_token() {
    let app = spawn_app().await;
    let token = app.token.clone().unwrap();
    let cases = [
        ("Basic with the admin's password", ADMIN_BASIC.to_owned()),
        ("Bearer without a token", "Bearer".to_owned()),
        ("the token without a scheme", token.clone()),
        ("the token under another scheme", format!("Token {token}")),
    ];

    for (what, authorization) in cases {
        let request =
            app.request_as(None, Method::GET, "/auth/me").header(AUTHORIZATION, authorization);
        assert_unauthorized(&app.send(request).await, what);
    }
    me(&app, &token).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn a_logged_out_token_is_refused_while_the_users_other_tokens_work() {
    let app = spawn_app().await;
    app.register("ana").await;
    let leaving = app.user_token_of_registered("ana").await;
    let staying = app.user_token_of_registered("ana").await;

    let reply = app.call(Some(&leaving), Method::POST, "/auth/logout/", None).await;

    assert_eq!(reply.expect(StatusCode::OK), &json!({ "message": "Logged out" }));
    assert_unauthorized(&me(&app, &leaving).await, "GET /auth/me after logout");
    let body = json!({ "name": "Alien", "year": 1979 });
    let write = app.call(Some(&leaving), Method::POST, "/movies", Some(&body)).await;
    assert_unauthorized(&write, "POST /movies after logout");
    let again = app.call(Some(&leaving), Method::POST, "/auth/logout", None).await;
    assert_unauthorized(&again, "logging out twice");
    me(&app, &staying).await.expect(StatusCode::OK);
    app.call(Some(&staying), Method::POST, "/movies", Some(&body)).await.expect(StatusCode::OK);
    me(&app, app.token.as_deref().unwrap()).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn a_logged_out_token_stays_refused_after_a_restart() {
    let mut app = spawn_app().await;
    app.register("ana").await;
    let leaving = app.user_token_of_registered("ana").await;
    let staying = app.user_token_of_registered("ana").await;
    app.call(Some(&leaving), Method::POST, "/auth/logout", None).await.expect(StatusCode::OK);

    app.restart().await;

    assert_unauthorized(&me(&app, &leaving).await, "the revoked token after a restart");
    assert_eq!(me(&app, &staying).await.expect(StatusCode::OK)["username"], "ana");
    app.get("/users/nonAdmin").await.expect(StatusCode::OK);
}

#[tokio::test]
async fn a_plain_user_reads_everything_and_edits_what_it_creates() {
    let app = spawn_app().await;
    let movie = id_of(&app.create_movie("Alien", 1979).await);
    let character = id_of(&app.create_character("Ripley", "Alien").await);
    let ana = app.user_token("ana").await;
    let ana_id = id_behind(&app, &ana).await;
    let reads = [
        format!("/movies/{movie}"),
        "/movies/names".into(),
        format!("/movies/{movie}/characters"),
        "/movies/username/admin".into(),
        "/characters".into(),
        format!("/characters/{character}"),
        "/characters/username/admin".into(),
        "/users/basicUsers/".into(),
        format!("/users/userId/{ana_id}"),
    ];

    for path in &reads {
        let reply = app.call(Some(&ana), Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.body);
    }
    let post =
        async |path: &str, body: Value| app.call(Some(&ana), Method::POST, path, Some(&body)).await;
    let created = post("/movies", json!({ "name": "Aliens", "year": 1986 })).await;
    let created = created.expect(StatusCode::OK).clone();
    assert_keys(&created, &MOVIE_KEYS);
    assert_eq!(created["editorId"], ana_id);
    let bulk = post("/movies/bulk", json!([{ "name": "Alien 3", "year": 1992 }])).await;
    assert_eq!(bulk.expect(StatusCode::OK)["added_movies"][0]["editorId"], ana_id, "{}", bulk.body);
    let hicks = post("/characters", json!({ "name": "Hicks", "movieName": "Aliens" })).await;
    assert_eq!(hicks.expect(StatusCode::OK)["editorId"], ana_id);
    let many = post("/characters/bulk", json!([{ "name": "Dallas", "movieName": "Alien" }])).await;
    assert_eq!(many.expect(StatusCode::OK)[0]["editorId"], ana_id);
    let id = id_of(&created);
    let renamed = json!({ "name": "Aliens (1986)", "year": 1986 });
    let put = app.call(Some(&ana), Method::PUT, &format!("/movies/{id}"), Some(&renamed)).await;
    assert_eq!(put.expect(StatusCode::OK)["editorId"], ana_id, "the editor stays");
}

/// One change that only a record's editor or an admin may make.
#[derive(Debug, Clone, Copy)]
enum EditorChange {
    PutMovie,
    DeleteMovie,
    DeleteMovieByName,
    PutCharacter,
    DeleteCharacter,
}

impl EditorChange {
    /// The request, against a movie named `name` and one of its characters.
    fn request(self, movie: i64, name: &str, character: i64) -> (Method, String, Option<Value>) {
        match self {
            Self::PutMovie => (
                Method::PUT,
                format!("/movies/{movie}"),
                Some(json!({ "name": format!("{name} (renamed)"), "year": 2001 })),
            ),
            Self::DeleteMovie => (Method::DELETE, format!("/movies/{movie}"), None),
            Self::DeleteMovieByName => (Method::DELETE, format!("/movies/by_name/{name}"), None),
            Self::PutCharacter => (
                Method::PUT,
                format!("/characters/{character}"),
                Some(json!({ "name": format!("Renamed of {name}"), "movieId": movie })),
            ),
            Self::DeleteCharacter => (Method::DELETE, format!("/characters/{character}"), None),
        }
    }
}

#[tokio::test]
async fn only_the_editor_or_an_admin_changes_or_deletes_a_record() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    let bob = app.user_token("bob").await;
    let admin = app.token.clone().unwrap();
    let changes = [
        EditorChange::PutMovie,
        EditorChange::DeleteMovie,
        EditorChange::DeleteMovieByName,
        EditorChange::PutCharacter,
        EditorChange::DeleteCharacter,
    ];

    for change in changes {
        for (allowed, token) in [("its editor", &ana), ("an admin", &admin)] {
            let name = format!("{change:?} by {allowed}");
            let body = json!({ "name": name, "year": 2000 });
            let movie = app.call(Some(&ana), Method::POST, "/movies", Some(&body)).await;
            let movie = id_of(movie.expect(StatusCode::OK));
            let body = json!({ "name": "Ripley", "movieId": movie });
            let character = app.call(Some(&ana), Method::POST, "/characters", Some(&body)).await;
            let character = id_of(character.expect(StatusCode::OK));
            let before =
                (app.movie(movie).await, app.get(&format!("/characters/{character}")).await.body);
            let (method, path, body) = change.request(movie, &name, character);

            let by_bob = app.call(Some(&bob), method.clone(), &path, body.as_ref()).await;
            let context = format!("{method} {path} by another user");
            assert!(by_bob.expect_error(StatusCode::FORBIDDEN).is_string(), "{context}");
            let after =
                (app.movie(movie).await, app.get(&format!("/characters/{character}")).await.body);
            assert_eq!(after, before, "{context} changed the record");
            let reply = app.call(Some(token), method.clone(), &path, body.as_ref()).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{method} {path} by {allowed}: {}",
                reply.body
            );
        }
    }
    // Ten movies made, four of them deleted by their editor or the admin.
    assert_eq!(app.movie_count().await, 6);
}

#[tokio::test]
async fn admin_routes_are_forbidden_to_a_plain_user_and_allowed_to_an_admin() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    let bob = id_behind(&app, &app.user_token("bob").await).await;
    app.create_movie("Alien", 1979).await;
    let post =
        async |path: &str, body: Value| app.call(Some(&ana), Method::POST, path, Some(&body)).await;
    // Ana's own records: the bulk deletes are for admins even over what a user edits.
    let own_movie = post("/movies", json!({ "name": "Ana's", "year": 2000 })).await;
    let own_movie = id_of(own_movie.expect(StatusCode::OK));
    let own_character = post("/characters", json!({ "name": "Ash", "movieName": "Alien" })).await;
    let own_character = id_of(own_character.expect(StatusCode::OK));
    let routes = [
        (Method::DELETE, format!("/movies/bulk/{own_movie}/{}", own_movie + 1)),
        (Method::DELETE, format!("/characters/bulk/{own_character}/{}", own_character + 1)),
        (Method::PUT, "/movies/update_nr_characters/".to_owned()),
        (Method::DELETE, "/movies/delete_duplicates/".to_owned()),
        (Method::GET, "/users/nonAdmin/".to_owned()),
        (Method::DELETE, format!("/users/{bob}")),
    ];

    for (method, path) in &routes {
        let reply = app.call(Some(&ana), method.clone(), path, None).await;
        let detail = reply.expect_error(StatusCode::FORBIDDEN);
        assert!(detail.is_string(), "{method} {path} by a plain user: {detail}");
    }
    assert_eq!((app.movie_count().await, app.character_count().await), (2, 1));
    app.get(&format!("/users/userId/{bob}")).await.expect(StatusCode::OK);

    for (method, path) in &routes {
        let reply = app.call(app.token.as_deref(), method.clone(), path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{method} {path} by the admin: {}", reply.body);
    }
    assert_eq!((app.movie_count().await, app.character_count().await), (1, 0));
    app.get(&format!("/users/userId/{bob}")).await.expect_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_token_claiming_admin_for_a_plain_user_grants_only_the_stored_role() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    let ana_id = id_behind(&app, &ana).await;

    let claiming_admin =
        forge_token(SECRET_KEY, JwtAlgorithm::Hs256, &claims_for(ana_id, "ana", Role::Admin));

    assert_eq!(me(&app, &claiming_admin).await.expect(StatusCode::OK)["role"], "user");
    let reply = app.call(Some(&claiming_admin), Method::GET, "/users/nonAdmin", None).await;
    reply.expect_error(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_users_movie_cannot_be_changed_but_an_admin_can() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    let bob = app.user_token("bob").await;
    let body = json!({ "name": "Alien", "year": 1979 });
    let created = app.send(app.request_as(Some(&ana), Method::POST, "/movies").json(&body)).await;
    let id = created.expect(StatusCode::OK)["id"].as_i64().unwrap();
    let path = format!("/movies/{id}");
    let by_bob = app.send(app.request_as(Some(&bob), Method::DELETE, &path)).await;
    by_bob.expect_error(StatusCode::FORBIDDEN);
    let by_admin = app.delete(&path).await;
    by_admin.expect(StatusCode::OK);
}

#[tokio::test]
async fn no_answer_of_an_account_route_carries_a_password_hash() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    let ana_id = id_behind(&app, &ana).await;
    let body = json!({ "username": "ana", "hashedPassword": "password-of-ana" });
    let admin = app.token.clone();

    let replies = [
        register(&app, body.clone()).await,
        register(&app, json!({ "username": "x" })).await,
        log_in(&app, body.clone()).await,
        log_in(&app, json!({ "username": "ana", "hashedPassword": "wrong-password" })).await,
        token_form(&app, "ana", "password-of-ana").await,
        me(&app, &ana).await,
        app.call(Some(&ana), Method::GET, "/users/basicUsers", None).await,
        app.call(Some(&ana), Method::GET, &format!("/users/userId/{ana_id}"), None).await,
        app.call(admin.as_deref(), Method::GET, "/users/nonAdmin", None).await,
        app.call(admin.as_deref(), Method::GET, &format!("/users/userId/{ADMIN_ID}"), None).await,
        app.call(Some(&ana), Method::POST, "/auth/logout", None).await,
        app.call(admin.as_deref(), Method::DELETE, &format!("/users/{ana_id}"), None).await,
    ];

    for reply in &replies {
        assert_no_password_hash(&reply.body);
    }
}

#[test]
fn the_password_hash_check_catches_a_hash_and_a_password_key() {
    let caught = |body: Value| std::panic::catch_unwind(|| assert_no_password_hash(&body)).is_err();

    assert!(caught(json!([{ "id": 1, "note": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA" }])));
    assert!(caught(json!({ "user": { "hashedPassword": "x" } })));
    assert!(caught(json!({ "password_hash": "x" })));
    assert!(!caught(json!({ "id": 1, "username": "ana", "role": "user" })));
}

#[tokio::test]
async fn a_deleted_users_token_is_refused_from_the_moment_the_delete_answered() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    // Used once, so the server has seen (and may remember) ana.
    let ana_id = id_behind(&app, &ana).await;

    app.delete(&format!("/users/{ana_id}")).await.expect(StatusCode::OK);

    assert_unauthorized(&me(&app, &ana).await, "GET /auth/me by a deleted user");
    let body = json!({ "name": "Alien", "year": 1979 });
    let write = app.call(Some(&ana), Method::POST, "/movies", Some(&body)).await;
    assert_unauthorized(&write, "POST /movies by a deleted user");
}

#[tokio::test]
async fn a_token_revoked_on_one_use_is_refused_on_the_very_next_request() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    for _ in 0..3 {
        me(&app, &ana).await.expect(StatusCode::OK);
    }

    app.call(Some(&ana), Method::POST, "/auth/logout", None).await.expect(StatusCode::OK);

    assert_unauthorized(&me(&app, &ana).await, "GET /auth/me right after logout");
}

#[tokio::test]
async fn a_rotated_key_keeps_the_previous_keys_tokens_valid_until_they_expire() {
    const PREVIOUS: &str = "the-key-before-the-rotation-0123456789ab";
    let app = spawn_app_with(&["--secret-key-previous", PREVIOUS]).await;
    let admin = claims_for(ADMIN_ID, ADMIN, Role::Admin);
    let app = &app;
    let me = |token: String| async move {
        app.send(app.request_as(Some(&token), Method::GET, "/auth/me")).await.status
    };
    assert_eq!(me(forge_token(PREVIOUS, JwtAlgorithm::Hs256, &admin)).await, StatusCode::OK);
    assert_eq!(me(app.token.clone().expect("logged in")).await, StatusCode::OK, "new key signs");
    let expired = Claims { exp: now_secs() - 3600, ..admin.clone() };
    let old_and_expired = forge_token(PREVIOUS, JwtAlgorithm::Hs256, &expired);
    assert_eq!(me(old_and_expired).await, StatusCode::UNAUTHORIZED);
    let third =
        forge_token("a-third-key-nobody-configured-0123456789", JwtAlgorithm::Hs256, &admin);
    assert_eq!(me(third).await, StatusCode::UNAUTHORIZED);
    // A token the previous key signed is still revoked by a logout.
    let old = forge_token(PREVIOUS, JwtAlgorithm::Hs256, &claims_for(ADMIN_ID, ADMIN, Role::Admin));
    app.call(Some(&old), Method::POST, "/auth/logout/", None).await.expect(StatusCode::OK);
    assert_eq!(me(old).await, StatusCode::UNAUTHORIZED);
}
