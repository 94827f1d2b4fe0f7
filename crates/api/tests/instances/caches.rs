//! Caches across instances: what B remembers (revoked tokens, users, movies read) gives way to
//! a write made through A by the time B's listeners have that write's event, or a later one.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::events::two_instances;
use crate::harness::{TestDb, is_about};

#[tokio::test]
async fn a_logout_through_a_is_refused_on_b() {
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = two_instances(&db, &[]).await;
    let token = a.admin_token().await;
    let other = a.admin_token().await;
    // B accepts the token, and so may remember the user and that the token is not revoked.
    for _ in 0..2 {
        b.get("/auth/me", Some(&token)).await.expect(StatusCode::OK);
    }
    let mut on_b = b.listen().await;

    let asked = tokio::time::Instant::now();
    a.send(Method::POST, "/auth/logout", Some(&token), None).await.expect(StatusCode::OK);
    let logged_out = tokio::time::Instant::now();
    println!("the logout through A answered in {:?}", logged_out - asked);

    // Measured, not asserted: how soon B refuses the token after A answered the logout.
    let first = b.get("/auth/me", Some(&token)).await.status;
    let mut tries = 1;
    let mut status = first;
    while status != StatusCode::UNAUTHORIZED
        && logged_out.elapsed() < crate::harness::EVENT_PATIENCE
    {
        tries += 1;
        status = b.get("/auth/me", Some(&token)).await.status;
    }
    let lag = logged_out.elapsed();
    println!(
        "logout through A, then B: first try {first}; {} after {tries} tries, {lag:?}",
        if status == StatusCode::UNAUTHORIZED { "refused" } else { "still accepted" }
    );

    // The contract: once B has delivered an event committed after the logout, B refuses the
    // token.
    let movie = a.create_movie(&other, "After the logout", 2000).await;
    let id = movie["id"].as_i64().expect("an id");
    on_b.wait_for("the write after the logout", |e| is_about(e, "movie", "add", id)).await;
    let reply = b.get("/auth/me", Some(&token)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "B accepts a logged-out token: {reply:?}");
    let write = json!({ "name": "With a revoked token", "year": 2000 });
    let reply = b.send(Method::POST, "/movies", Some(&token), Some(&write)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "B writes with a logged-out token");
    // The other token of the same user is still good on both.
    b.get("/auth/me", Some(&other)).await.expect(StatusCode::OK);
    a.get("/auth/me", Some(&other)).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn b_serves_a_write_through_a_once_its_listener_has_the_event() {
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = two_instances(&db, &[]).await;
    let token = a.admin_token().await;
    let mut on_b = b.listen().await;
    let movie = a.create_movie(&token, "Alien", 1979).await;
    let id = movie["id"].as_i64().expect("an id");
    on_b.wait_for("the movie's add", |e| is_about(e, "movie", "add", id)).await;
    // Read twice on B, so that B holds the movie in its read cache, and the list's page too.
    for _ in 0..2 {
        assert_eq!(b.movie(id).await.expect(StatusCode::OK), &movie);
        assert_eq!(b.get("/movies", None).await.expect(StatusCode::OK), &json!([movie]));
    }

    // An update through A.
    let changes = json!({ "name": "Aliens", "year": 1986, "genre": "Action" });
    let path = format!("/movies/{id}");
    let updated = a.send(Method::PUT, &path, Some(&token), Some(&changes)).await;
    let updated = updated.expect(StatusCode::OK).clone();
    assert_eq!(updated["name"], "Aliens");
    on_b.wait_for("the movie's update", |e| is_about(e, "movie", "update", id)).await;
    assert_eq!(b.movie(id).await.expect(StatusCode::OK), &updated, "B serves the update");
    let page = b.get("/movies", None).await;
    assert_eq!(page.expect(StatusCode::OK), &json!([updated]), "and lists it");

    // A movie added through A, in B's list.
    let added = a.create_movie(&token, "Alien 3", 1992).await;
    let added_id = added["id"].as_i64().expect("an id");
    on_b.wait_for("the second movie's add", |e| is_about(e, "movie", "add", added_id)).await;
    let page = b.get("/movies?after=0", None).await;
    assert_eq!(page.expect(StatusCode::OK), &json!([updated, added]), "B lists the new movie");
    assert_eq!(page.headers["x-total-count"], "2");

    // A character through A changes the movie's count of characters.
    let character = json!({ "name": "Ripley", "movieName": "Aliens" });
    let reply = a.send(Method::POST, "/characters", Some(&token), Some(&character)).await;
    let character_id = reply.expect(StatusCode::OK)["id"].as_i64().expect("an id");
    on_b.wait_for("the character's add", |e| is_about(e, "character", "add", character_id)).await;
    let served = b.movie(id).await;
    assert_eq!(served.expect(StatusCode::OK)["nrCharacters"], 1, "B serves the new count");

    // A delete through A.
    a.send(Method::DELETE, &path, Some(&token), None).await.expect(StatusCode::OK);
    on_b.wait_for("the movie's delete", |e| is_about(e, "movie", "delete", id)).await;
    assert_eq!(b.movie(id).await.status, StatusCode::NOT_FOUND, "B no longer serves it");
    let page = b.get("/movies", None).await;
    assert_eq!(page.expect(StatusCode::OK), &json!([added]), "nor lists it");
    let reply = b.get(&format!("/characters/{character_id}"), Some(&token)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "nor its character");
}
