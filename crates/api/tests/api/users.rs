//! `/users` and the per-user listings: who edits what, by id and by name, and deleting a user.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_ID, MOVIE_KEYS, Reply, TestApp, assert_keys, id_of, names, spawn_app};

/// The keys of a user, exactly.
const USER_KEYS: [&str; 5] = ["id", "nrCharacters", "nrMovies", "role", "username"];

/// A plain user, with its token and id.
struct User {
    token: String,
    id: i64,
}

async fn user(app: &TestApp, username: &str) -> User {
    let token = app.user_token(username).await;
    let me = app.call(Some(&token), Method::GET, "/auth/me", None).await;
    let id = id_of(me.expect(StatusCode::OK));
    User { token, id }
}

impl User {
    async fn get(&self, app: &TestApp, path: &str) -> Reply {
        app.call(Some(&self.token), Method::GET, path, None).await
    }

    async fn create_movie(&self, app: &TestApp, name: &str) -> i64 {
        let body = json!({ "name": name, "year": 2000 });
        let reply = app.call(Some(&self.token), Method::POST, "/movies", Some(&body)).await;
        id_of(reply.expect(StatusCode::OK))
    }

    async fn create_character(&self, app: &TestApp, name: &str, movie_name: &str) -> i64 {
        let body = json!({ "name": name, "movieName": movie_name });
        let reply = app.call(Some(&self.token), Method::POST, "/characters", Some(&body)).await;
        id_of(reply.expect(StatusCode::OK))
    }
}

fn summary(user: &User, username: &str, nr_movies: u64, nr_characters: u64) -> Value {
    json!({
        "id": user.id,
        "username": username,
        "role": "user",
        "nrMovies": nr_movies,
        "nrCharacters": nr_characters
    })
}

#[tokio::test]
async fn the_non_admin_list_counts_each_users_movies_and_characters() {
    let app = spawn_app().await;
    let (ana, bob, carol) =
        (user(&app, "ana").await, user(&app, "bob").await, user(&app, "carol").await);
    app.create_movie("Alien", 1979).await;
    app.create_character("Ash", "Alien").await;
    ana.create_movie(&app, "Ana 1").await;
    ana.create_movie(&app, "Ana 2").await;
    ana.create_character(&app, "Ripley", "Alien").await;
    ana.create_character(&app, "Dallas", "Ana 1").await;
    ana.create_character(&app, "Kane", "Ana 1").await;
    bob.create_movie(&app, "Bob 1").await;

    let reply = app.get("/users/nonAdmin/").await;

    let listed = reply.expect(StatusCode::OK).as_array().expect("a list").clone();
    for user in &listed {
        assert_keys(user, &USER_KEYS);
    }
    let expected =
        [summary(&ana, "ana", 2, 3), summary(&bob, "bob", 1, 0), summary(&carol, "carol", 0, 0)];
    assert_eq!(listed, expected, "the admin is not listed; each user has its true counts");
    let ana_1 = app.get("/movies/username/ana").await;
    let ana_1 = ana_1.items().iter().find(|m| m["name"] == "Ana 1").map(id_of).unwrap();
    let delete =
        app.call(Some(&ana.token), Method::DELETE, &format!("/movies/{ana_1}"), None).await;
    delete.expect(StatusCode::OK);
    let after = app.get("/users/nonAdmin").await;
    assert_eq!(after.items()[0], summary(&ana, "ana", 1, 1), "a movie goes with its characters");
}

#[tokio::test]
async fn any_user_lists_the_basic_users_as_the_admin_lists_non_admins() {
    let app = spawn_app().await;
    let ana = user(&app, "ana").await;
    let bob = user(&app, "bob").await;
    ana.create_movie(&app, "Alien").await;
    bob.create_character(&app, "Ripley", "Alien").await;

    let reply = bob.get(&app, "/users/basicUsers/").await;

    let expected = json!([summary(&ana, "ana", 1, 0), summary(&bob, "bob", 0, 1)]);
    assert_eq!(reply.expect(StatusCode::OK), &expected);
    assert_eq!(app.get("/users/nonAdmin").await.body, expected);
}

#[tokio::test]
async fn a_user_is_found_by_id_with_its_counts() {
    let app = spawn_app().await;
    let ana = user(&app, "ana").await;
    let bob = user(&app, "bob").await;
    ana.create_movie(&app, "Alien").await;

    let reply = bob.get(&app, &format!("/users/userId/{}", ana.id)).await;

    let found = reply.expect(StatusCode::OK);
    assert_keys(found, &USER_KEYS);
    assert_eq!(found, &summary(&ana, "ana", 1, 0));
    let admin = bob.get(&app, &format!("/users/userId/{ADMIN_ID}")).await;
    assert_eq!(admin.expect(StatusCode::OK)["role"], "admin");
}

#[tokio::test]
async fn a_missing_user_id_is_not_found() {
    let app = spawn_app().await;
    let ana = user(&app, "ana").await;

    let reply = ana.get(&app, "/users/userId/999").await;

    reply.expect(StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({ "detail": "User not found" }));
}

#[tokio::test]
async fn a_users_movies_and_characters_are_listed_by_its_name() {
    let app = spawn_app().await;
    let ana = user(&app, "ana").await;
    let bob = user(&app, "bob").await;
    for name in ["Alien", "Aliens", "Alien 3"] {
        ana.create_movie(&app, name).await;
    }
    bob.create_movie(&app, "Prometheus").await;
    ana.create_character(&app, "Ripley", "Alien").await;
    ana.create_character(&app, "Hicks", "Aliens").await;
    bob.create_character(&app, "Shaw", "Prometheus").await;
    bob.create_character(&app, "Bishop", "Aliens").await;

    let movies = bob.get(&app, "/movies/username/ana").await;
    let characters = bob.get(&app, "/characters/username/ana/").await;

    movies.expect(StatusCode::OK);
    let mut movie_names = names(movies.items());
    movie_names.sort_unstable();
    assert_eq!(movie_names, ["Alien", "Alien 3", "Aliens"]);
    assert_eq!(movies.total_count(), 3);
    for movie in movies.items() {
        assert_keys(movie, &MOVIE_KEYS);
        assert_eq!(movie["editorId"], ana.id);
    }
    characters.expect(StatusCode::OK);
    let mut character_names = names(characters.items());
    character_names.sort_unstable();
    assert_eq!(character_names, ["Hicks", "Ripley"]);
    assert_eq!(characters.total_count(), 2);
    assert!(characters.items().iter().all(|c| c["editorId"] == ana.id));
    let page = bob.get(&app, "/movies/username/ana?skip=1&limit=1").await;
    assert_eq!((page.items().len(), page.total_count()), (1, 3));
}

#[tokio::test]
async fn a_user_without_records_has_empty_listings() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;
    let carol = user(&app, "carol").await;

    for path in ["/movies/username/carol", "/characters/username/carol"] {
        let reply = carol.get(&app, path).await;
        assert_eq!(reply.expect(StatusCode::OK), &json!([]), "{path}");
        assert_eq!(reply.total_count(), 0, "{path}");
    }
}

#[tokio::test]
async fn the_listings_of_an_unknown_user_are_not_found() {
    let app = spawn_app().await;
    let ana = user(&app, "ana").await;

    for path in ["/movies/username/nobody", "/characters/username/nobody"] {
        let reply = ana.get(&app, path).await;
        reply.expect(StatusCode::NOT_FOUND);
        assert_eq!(reply.body, json!({ "detail": "User not found" }), "{path}");
    }
}

#[tokio::test]
async fn an_admin_deletes_a_user_whose_records_stay_without_an_editor() {
    let app = spawn_app().await;
    let ana = user(&app, "ana").await;
    let bob = user(&app, "bob").await;
    let movie = ana.create_movie(&app, "Alien").await;
    let character = ana.create_character(&app, "Ripley", "Alien").await;

    let reply = app.delete(&format!("/users/{}", ana.id)).await;

    assert_eq!(reply.expect(StatusCode::OK), &json!({ "message": "User deleted successfully" }));
    let me = app.call(Some(&ana.token), Method::GET, "/auth/me", None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "the deleted user's token: {}", me.body);
    assert_eq!(me.header("www-authenticate"), Some("Bearer"));
    let kept = app.movie(movie).await;
    assert_eq!((&kept["name"], &kept["editorId"]), (&json!("Alien"), &Value::Null));
    let ripley = app.get(&format!("/characters/{character}")).await;
    assert_eq!(ripley.expect(StatusCode::OK)["editorId"], Value::Null);
    assert_eq!(app.get("/users/nonAdmin").await.body, json!([summary(&bob, "bob", 0, 0)]));
    let gone = app.get(&format!("/users/userId/{}", ana.id)).await;
    assert_eq!(
        (gone.status, gone.body),
        (StatusCode::NOT_FOUND, json!({ "detail": "User not found" }))
    );
    app.get("/movies/username/ana").await.expect_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_a_missing_user_is_not_found() {
    let app = spawn_app().await;
    let ana = user(&app, "ana").await;
    app.delete(&format!("/users/{}", ana.id)).await.expect(StatusCode::OK);

    for id in [ana.id, 999] {
        let reply = app.delete(&format!("/users/{id}")).await;
        reply.expect(StatusCode::NOT_FOUND);
        assert_eq!(reply.body, json!({ "detail": "User not found" }), "DELETE /users/{id}");
    }
}

#[tokio::test]
async fn an_admin_cannot_delete_itself() {
    let app = spawn_app().await;

    let reply = app.delete(&format!("/users/{ADMIN_ID}")).await;

    assert!(reply.expect_error(StatusCode::FORBIDDEN).is_string());
    let me = app.get("/auth/me").await;
    assert_eq!(me.expect(StatusCode::OK)["id"], ADMIN_ID);
}

#[tokio::test]
async fn a_plain_user_cannot_delete_a_user_not_even_itself() {
    let app = spawn_app().await;
    let ana = user(&app, "ana").await;
    let bob = user(&app, "bob").await;

    for id in [ana.id, bob.id, ADMIN_ID] {
        let path = format!("/users/{id}");
        let reply = app.call(Some(&ana.token), Method::DELETE, &path, None).await;
        assert!(reply.expect_error(StatusCode::FORBIDDEN).is_string(), "DELETE {path}");
    }
    let listed = app.get("/users/nonAdmin").await;
    assert_eq!(listed.items().len(), 2);
}
