//! Accounts and tokens: register, login, protected routes, ownership, revocation.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{spawn_anonymous_app, spawn_app};

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
async fn writing_without_a_token_is_unauthorized_with_a_bearer_challenge() {
    let app = spawn_anonymous_app().await;
    let reply = app.post_json("/movies", &json!({ "name": "Alien", "year": 1979 })).await;
    assert_eq!(reply.expect_error(StatusCode::UNAUTHORIZED), "Not authenticated");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
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
