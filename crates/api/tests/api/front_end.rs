//! What the original service's web front end sends and expects: integers typed in its forms
//! arrive as text (pydantic's lax mode took them), a guest opens a movie's details, login's 422
//! names only what is missing, and its dev server may sit on any local port.

use reqwest::header::ORIGIN;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, id_of, spawn_anonymous_app, spawn_app, spawn_app_with};

/// The one 422 entry of `reply`, as `(loc, msg, type)`.
#[track_caller]
fn only_error(reply: &crate::helpers::Reply) -> (Value, String, String) {
    reply.expect_invalid();
    let entries = reply.body["detail"].as_array().expect("a list of errors");
    assert_eq!(entries.len(), 1, "one error expected: {}", reply.body);
    let e = &entries[0];
    (e["loc"].clone(), e["msg"].as_str().unwrap().into(), e["type"].as_str().unwrap().into())
}

async fn post_movie(app: &TestApp, body: Value) -> crate::helpers::Reply {
    app.post_json("/movies/", &body).await
}

#[tokio::test]
async fn a_year_typed_in_the_form_creates_and_edits_a_movie() {
    let app = spawn_app().await;

    let created = post_movie(&app, json!({ "name": "Alien", "year": "1979" })).await;
    let movie = created.expect(StatusCode::OK).clone();
    assert_eq!(movie["year"], json!(1979));

    let id = id_of(&movie);
    for (sent, stored) in [(json!(" 1986 "), 1986), (json!(2015.0), 2015), (json!("2016.0"), 2016)]
    {
        let body = json!({ "name": "Aliens", "year": sent });
        let reply = app.put_json(&format!("/movies/{id}/"), &body).await;
        assert_eq!(reply.expect(StatusCode::OK)["year"], json!(stored), "{sent}");
        assert_eq!(app.movie(id).await["year"], json!(stored), "{sent} is what the server kept");
    }
}

#[tokio::test]
async fn bulk_movies_take_years_as_text() {
    let app = spawn_app().await;
    let body = json!([
        { "name": "A", "year": "1999" },
        { "name": "B", "year": 2000.0 },
        { "name": "C", "year": " 2_001 " },
    ]);

    let reply = app.post_json("/movies/bulk/", &body).await;

    let added = reply.expect(StatusCode::OK)["added_movies"].as_array().unwrap().clone();
    let years: Vec<&Value> = added.iter().map(|m| &m["year"]).collect();
    assert_eq!(years, [&json!(1999), &json!(2000), &json!(2001)]);
}

#[tokio::test]
async fn characters_take_their_movie_id_as_text() {
    let app = spawn_app().await;
    let movie = id_of(&app.create_movie("Alien", 1979).await);

    let body = json!({ "name": "Ripley", "movieId": movie.to_string() });
    let one = app.post_json("/characters/", &body).await;
    assert_eq!(one.expect(StatusCode::OK)["movieId"], json!(movie));

    let bulk = json!([{ "name": "Dallas", "movieId": format!(" {movie} ") }]);
    app.post_json("/characters/bulk/", &bulk).await.expect(StatusCode::OK);
    assert_eq!(app.nr_characters(movie).await, 2);
}

#[tokio::test]
async fn integers_the_original_refused_are_422s_in_pydantic_words() {
    let app = spawn_app().await;
    let parsing = "Input should be a valid integer, unable to parse string as an integer";

    let cases = [
        (json!("2015a"), "int_parsing", parsing),
        (json!("2015.5"), "int_parsing", parsing),
        (json!(""), "int_parsing", parsing),
        (
            json!(2015.5),
            "int_from_float",
            "Input should be a valid integer, got a number with a fractional part",
        ),
        (json!([2015]), "int_type", "Input should be a valid integer"),
        (json!({ "y": 1 }), "int_type", "Input should be a valid integer"),
    ];
    for (year, kind, msg) in cases {
        let reply = post_movie(&app, json!({ "name": "Alien", "year": year })).await;
        assert_eq!(
            only_error(&reply),
            (json!(["body", "year"]), msg.into(), kind.into()),
            "{year}"
        );
    }
    assert_eq!(app.movie_count().await, 0);
}

#[tokio::test]
async fn strings_stay_strict_and_a_missing_field_is_missing() {
    let app = spawn_app().await;

    let reply = post_movie(&app, json!({ "name": 5, "year": 1979 })).await;
    let string_type = "Input should be a valid string".to_owned();
    assert_eq!(only_error(&reply), (json!(["body", "name"]), string_type, "string_type".into()));

    let reply = post_movie(&app, json!({ "year": "1979" })).await;
    let missing = (json!(["body", "name"]), "Field required".into(), "missing".into());
    assert_eq!(only_error(&reply), missing);

    let bulk = json!([{ "name": "A", "year": 1 }, { "name": "B", "year": "x" }]);
    let reply = app.post_json("/movies/bulk/", &bulk).await;
    assert_eq!(only_error(&reply).0, json!(["body", 1, "year"]));

    let not_a_list = app.post_json("/movies/bulk/", &json!({ "name": "A" })).await;
    assert_eq!(only_error(&not_a_list).2, "list_type");
    assert_eq!(app.movie_count().await, 0);
}

#[tokio::test]
async fn no_422_message_shows_serde_internals() {
    let app = spawn_app().await;

    for body in [
        json!({ "name": "A", "year": "2015" , "description": 7 }),
        json!({ "name": ["A"], "year": 1 }),
        json!({ "name": "A", "year": true, "genre": {} }),
    ] {
        let reply = post_movie(&app, body.clone()).await;
        let (_, msg, _) = only_error(&reply);
        for internal in ["invalid type", "expected", "line", "column", "i64"] {
            assert!(!msg.contains(internal), "{body}: {msg}");
        }
    }
}

#[tokio::test]
async fn query_and_path_integers_take_text_as_the_original_did() {
    let app = spawn_app().await;
    let id = id_of(&app.create_movie("Alien", 1979).await);
    app.create_movie("Heat", 1995).await;

    let page = app.get("/movies?skip=%201%20&limit=1.0").await;
    assert_eq!(page.expect(StatusCode::OK).as_array().unwrap().len(), 1);
    assert_eq!(page.items()[0]["name"], "Heat");
    app.get(&format!("/movies/{id}.0")).await.expect(StatusCode::OK);
    app.get(&format!("/movies/+{id}")).await.expect(StatusCode::OK);

    let parsing = "Input should be a valid integer, unable to parse string as an integer";
    for (method, path, loc) in [
        (Method::GET, "/movies?limit=ten", json!(["query", "limit"])),
        (Method::GET, "/characters?movieId=1.5", json!(["query", "movieId"])),
        (Method::GET, "/movies/abc", json!(["path", "id"])),
        (Method::DELETE, "/movies/bulk/1/x", json!(["path", "end_id"])),
    ] {
        let reply = app.send(app.request(method, path)).await;
        assert_eq!(only_error(&reply), (loc, parsing.into(), "int_parsing".into()), "{path}");
    }
}

#[tokio::test]
async fn a_guest_opens_a_movie_s_details() {
    let app = spawn_app().await;
    let id = id_of(&app.create_movie("Alien", 1979).await);

    let reply = app.call(None, Method::GET, &format!("/movies/{id}/"), None).await;
    assert_eq!(reply.expect(StatusCode::OK)["name"], "Alien");
    let missing = app.call(None, Method::GET, "/movies/999", None).await;
    assert_eq!(missing.expect_error(StatusCode::NOT_FOUND), "Movie not found");
}

#[tokio::test]
async fn logging_in_names_only_the_fields_that_are_missing() {
    let app = spawn_anonymous_app().await;

    let cases = [
        (json!({ "hashedPassword": "x" }), vec![json!(["body", "username"])]),
        (json!({ "username": "ana" }), vec![json!(["body", "hashedPassword"])]),
        (json!({}), vec![json!(["body", "username"]), json!(["body", "hashedPassword"])]),
    ];
    for (body, locs) in cases {
        let reply = app.call(None, Method::POST, "/auth/login/", Some(&body)).await;
        assert_eq!(reply.expect_invalid(), locs, "{body}");
    }
}

/// A preflight of an authorized PUT from `origin`; the origin the server allows, if any.
async fn preflight_from(app: &TestApp, origin: &str) -> Option<String> {
    let request = app
        .request(Method::OPTIONS, "/movies/1")
        .header(ORIGIN, origin)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "authorization, content-type");
    let reply = app.send(request).await;
    let allowed = reply.header("access-control-allow-origin").map(str::to_owned);
    if allowed.is_some() {
        let headers = reply.header("access-control-allow-headers").unwrap_or_default();
        assert!(headers.to_ascii_lowercase().contains("authorization"), "{headers}");
    }
    allowed
}

#[tokio::test]
async fn a_dev_server_on_any_local_port_may_call_the_api_outside_production() {
    let app = spawn_app().await;

    for origin in ["http://localhost:5174", "http://127.0.0.1:4173", "http://localhost:5173"] {
        assert_eq!(preflight_from(&app, origin).await.as_deref(), Some(origin));
        let get = app.request(Method::GET, "/movies").header(ORIGIN, origin);
        let reply = app.send(get).await;
        assert_eq!(reply.header("access-control-allow-origin"), Some(origin));
    }
    for refused in ["https://localhost:5174", "http://localhost.evil.example:5174"] {
        assert_eq!(preflight_from(&app, refused).await, None, "{refused}");
    }
}

#[tokio::test]
async fn in_production_only_the_listed_origins_may_call_the_api() {
    let listed = "https://movies.example";
    let app = spawn_app_with(&["--app-env", "production", "--cors-origins", listed]).await;

    assert_eq!(preflight_from(&app, listed).await.as_deref(), Some(listed));
    assert_eq!(preflight_from(&app, "http://localhost:5174").await, None);
    assert_eq!(preflight_from(&app, "http://localhost:5173").await, None);
}
