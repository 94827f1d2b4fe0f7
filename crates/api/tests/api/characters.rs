//! `/characters`: create by movie name or id, read, list with filters, replace (and move between
//! movies), delete, the bulk routes, and the movie's `nrCharacters` after each write.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_ID, CHARACTER_KEYS, TestApp, assert_keys, id_of, names, spawn_app};

/// An app with the movies "Alien" and "The Thing"; returns their ids.
async fn app_with_two_movies() -> (TestApp, i64, i64) {
    let app = spawn_app().await;
    let alien = id_of(&app.create_movie("Alien", 1979).await);
    let thing = id_of(&app.create_movie("The Thing", 1982).await);
    (app, alien, thing)
}

#[tokio::test]
async fn creating_a_character_by_movie_name_returns_it_with_its_location() {
    let (app, alien, _) = app_with_two_movies().await;

    let reply = app
        .post_json(
            "/characters",
            &json!({ "name": " Ripley ", "movieName": "Alien", "description": "Warrant officer" }),
        )
        .await;

    let character = reply.expect(StatusCode::OK);
    assert_keys(character, &CHARACTER_KEYS);
    let id = id_of(character);
    assert_eq!(
        character,
        &json!({
            "id": id,
            "name": "Ripley",
            "movieId": alien,
            "movieName": "Alien",
            "description": "Warrant officer",
            "editorId": ADMIN_ID
        })
    );
    assert_eq!(reply.header("location"), Some(format!("/characters/{id}").as_str()));
    assert_eq!(app.nr_characters(alien).await, 1);
}

#[tokio::test]
async fn creating_a_character_by_movie_id_at_the_trailing_slash_path_works() {
    let (app, _, thing) = app_with_two_movies().await;

    let reply = app
        .post_json(
            "/characters/",
            &json!({ "name": "MacReady", "movieId": thing, "id": 99, "editorId": 4 }),
        )
        .await;

    let character = reply.expect(StatusCode::OK);
    assert_keys(character, &CHARACTER_KEYS);
    assert_eq!(character["movieId"], thing);
    assert_eq!(character["movieName"], "The Thing");
    assert_eq!(character["description"], "");
    assert_eq!(character["editorId"], json!(ADMIN_ID));
    assert_eq!(app.nr_characters(thing).await, 1);
}

#[tokio::test]
async fn a_character_of_a_movie_that_does_not_exist_is_unprocessable() {
    let (app, alien, _) = app_with_two_movies().await;

    let reply = app
        .post_json("/characters", &json!({ "name": "Deckard", "movieName": "Blade Runner" }))
        .await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "movieName"])]);

    let reply = app.post_json("/characters", &json!({ "name": "Deckard", "movieId": 4242 })).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "movieId"])]);

    assert_eq!(app.character_count().await, 0);
    assert_eq!(app.nr_characters(alien).await, 0);
}

#[tokio::test]
async fn a_character_without_a_name_or_a_movie_is_unprocessable() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;

    let reply = app.post_json("/characters", &json!({ "movieName": "Alien" })).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "name"])]);

    let reply = app.post_json("/characters", &json!({ "name": "   ", "movieName": "Alien" })).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "name"])]);

    let reply = app.post_json("/characters", &json!({ "name": "Ripley" })).await;
    let locs = reply.expect_invalid();
    assert_eq!(locs.len(), 1, "{locs:?}");
    assert_eq!(locs[0][0], "body");

    assert_eq!(app.character_count().await, 0);
}

#[tokio::test]
async fn a_character_is_read_by_id() {
    let (app, _, _) = app_with_two_movies().await;
    let ripley = app.create_character("Ripley", "Alien").await;
    let id = id_of(&ripley);

    for path in [format!("/characters/{id}"), format!("/characters/{id}/")] {
        let reply = app.get(&path).await;
        assert_eq!(reply.expect(StatusCode::OK), &ripley, "{path}");
    }
}

#[tokio::test]
async fn reading_a_missing_character_is_not_found() {
    let app = spawn_app().await;

    let reply = app.get("/characters/42").await;
    reply.expect_error(StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({ "detail": "Character not found" }));

    let reply = app.get("/characters/abc").await;
    assert_eq!(reply.expect_invalid(), [json!(["path", "id"])]);
}

#[tokio::test]
async fn characters_are_listed_by_id_with_the_total_in_a_header_and_filtered() {
    let (app, alien, thing) = app_with_two_movies().await;
    for (name, movie) in [
        ("Ripley", "Alien"),
        ("MacReady", "The Thing"),
        ("Ash", "Alien"),
        ("Blair", "The Thing"),
        ("Dallas", "Alien"),
    ] {
        app.create_character(name, movie).await;
    }

    for path in ["/characters", "/characters/", "/characters?skip=0&limit=50"] {
        let reply = app.get(path).await;
        reply.expect(StatusCode::OK);
        assert_eq!(
            names(reply.items()),
            ["Ripley", "MacReady", "Ash", "Blair", "Dallas"],
            "{path}"
        );
        assert_eq!(reply.total_count(), 5, "{path}");
        for c in reply.items() {
            assert_keys(c, &CHARACTER_KEYS);
        }
    }

    let cases = [
        ("skip=1&limit=2".to_owned(), vec!["MacReady", "Ash"], 5),
        ("q=A".to_owned(), vec!["MacReady", "Ash", "Blair", "Dallas"], 4),
        ("q=rip".to_owned(), vec!["Ripley"], 1),
        ("movieName=Alien".to_owned(), vec!["Ripley", "Ash", "Dallas"], 3),
        (format!("movieId={thing}"), vec!["MacReady", "Blair"], 2),
        (format!("movieId={alien}&q=a&limit=1"), vec!["Ash"], 2),
        ("movieName=Aliens".to_owned(), vec![], 0),
    ];
    for (query, expected, total) in cases {
        let reply = app.get(&format!("/characters?{query}")).await;
        reply.expect(StatusCode::OK);
        assert_eq!(names(reply.items()), expected, "{query}");
        assert_eq!(reply.total_count(), total, "{query}");
    }
}

#[tokio::test]
async fn a_character_list_refuses_a_bad_page() {
    let app = spawn_app().await;

    for (query, field) in [
        ("skip=-1", "skip"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("movieId=abc", "movieId"),
    ] {
        let reply = app.get(&format!("/characters?{query}")).await;
        assert_eq!(reply.expect_invalid(), [json!(["query", field])], "{query}");
    }
}

#[tokio::test]
async fn replacing_a_character_rewrites_every_field() {
    let (app, alien, _) = app_with_two_movies().await;
    let id = id_of(
        &app.post_json(
            "/characters",
            &json!({ "name": "Ripley", "movieName": "Alien", "description": "Officer" }),
        )
        .await
        .expect(StatusCode::OK)
        .clone(),
    );

    let reply = app
        .put_json(
            &format!("/characters/{id}/"),
            &json!({ "name": "Ellen Ripley", "movieName": "Alien" }),
        )
        .await;

    let expected = json!({
        "id": id,
        "name": "Ellen Ripley",
        "movieId": alien,
        "movieName": "Alien",
        "description": "",
        "editorId": ADMIN_ID
    });
    assert_eq!(reply.expect(StatusCode::OK), &expected);
    assert_eq!(app.get(&format!("/characters/{id}")).await.body, expected);
    assert_eq!(app.nr_characters(alien).await, 1);
}

#[tokio::test]
async fn moving_a_character_to_another_movie_recounts_both() {
    let (app, alien, thing) = app_with_two_movies().await;
    let ripley = id_of(&app.create_character("Ripley", "Alien").await);
    app.create_character("Ash", "Alien").await;

    let reply = app
        .put_json(
            &format!("/characters/{ripley}"),
            &json!({ "name": "Ripley", "movieName": "The Thing" }),
        )
        .await;
    let moved = reply.expect(StatusCode::OK);
    assert_eq!(moved["movieId"], thing);
    assert_eq!(moved["movieName"], "The Thing");
    assert_eq!(app.nr_characters(alien).await, 1);
    assert_eq!(app.nr_characters(thing).await, 1);

    let reply = app
        .put_json(&format!("/characters/{ripley}"), &json!({ "name": "Ripley", "movieId": alien }))
        .await;
    assert_eq!(reply.expect(StatusCode::OK)["movieName"], "Alien");
    assert_eq!(app.nr_characters(alien).await, 2);
    assert_eq!(app.nr_characters(thing).await, 0);
}

#[tokio::test]
async fn replacing_a_missing_character_is_not_found() {
    let (app, _, _) = app_with_two_movies().await;

    let reply =
        app.put_json("/characters/42", &json!({ "name": "Ripley", "movieName": "Alien" })).await;

    reply.expect_error(StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({ "detail": "Character not found" }));
    assert_eq!(app.character_count().await, 0);
}

#[tokio::test]
async fn moving_a_character_to_a_movie_that_does_not_exist_is_unprocessable() {
    let (app, alien, _) = app_with_two_movies().await;
    let ripley = app.create_character("Ripley", "Alien").await;
    let id = id_of(&ripley);

    let reply = app
        .put_json(
            &format!("/characters/{id}"),
            &json!({ "name": "Ripley", "movieName": "Blade Runner" }),
        )
        .await;

    assert_eq!(reply.expect_invalid(), [json!(["body", "movieName"])]);
    assert_eq!(app.get(&format!("/characters/{id}")).await.body, ripley);
    assert_eq!(app.nr_characters(alien).await, 1);
}

#[tokio::test]
async fn deleting_a_character_lowers_its_movies_count() {
    let (app, alien, _) = app_with_two_movies().await;
    let ripley = id_of(&app.create_character("Ripley", "Alien").await);
    app.create_character("Ash", "Alien").await;

    let reply = app.delete(&format!("/characters/{ripley}")).await;

    assert_eq!(
        reply.expect(StatusCode::OK),
        &json!({ "message": "Character deleted successfully" })
    );
    assert_eq!(app.nr_characters(alien).await, 1);
    app.get(&format!("/characters/{ripley}")).await.expect_error(StatusCode::NOT_FOUND);

    let reply = app.delete(&format!("/characters/{ripley}/")).await;
    reply.expect_error(StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({ "detail": "Character not found" }));
    assert_eq!(app.nr_characters(alien).await, 1);
}

#[tokio::test]
async fn bulk_adds_every_character_and_counts_them_in_their_movies() {
    let (app, alien, thing) = app_with_two_movies().await;

    let reply = app
        .post_json(
            "/characters/bulk/",
            &json!([
                { "name": "Ripley", "movieName": "Alien" },
                { "name": "MacReady", "movieId": thing, "description": "Pilot" },
                { "name": "Ash", "movieName": " Alien " },
                { "name": "Ripley", "movieName": "Alien" }
            ]),
        )
        .await;

    let added = reply.expect(StatusCode::OK).as_array().expect("an array");
    assert_eq!(names(added), ["Ripley", "MacReady", "Ash", "Ripley"]);
    for c in added {
        assert_keys(c, &CHARACTER_KEYS);
        app.get(&format!("/characters/{}", id_of(c))).await.expect(StatusCode::OK);
    }
    assert_eq!(added[1]["movieName"], "The Thing");
    assert_eq!(added[1]["description"], "Pilot");
    assert_eq!(added[2]["movieId"], alien);
    assert_eq!(app.nr_characters(alien).await, 3);
    assert_eq!(app.nr_characters(thing).await, 1);
}

#[tokio::test]
async fn bulk_with_one_unknown_movie_is_unprocessable_and_writes_nothing() {
    let (app, alien, _) = app_with_two_movies().await;
    app.create_character("Ripley", "Alien").await;

    let reply = app
        .post_json(
            "/characters/bulk",
            &json!([
                { "name": "Ash", "movieName": "Alien" },
                { "name": "Deckard", "movieName": "Blade Runner" },
                { "name": "MacReady", "movieName": "The Thing" }
            ]),
        )
        .await;

    assert_eq!(reply.expect_invalid(), [json!(["body", 1, "movieName"])]);
    assert_eq!(app.character_count().await, 1);
    assert_eq!(app.nr_characters(alien).await, 1);

    let reply = app
        .post_json(
            "/characters/bulk",
            &json!([{ "name": "Ash", "movieName": "Alien" }, { "movieName": "Alien" }]),
        )
        .await;
    assert_eq!(reply.expect_invalid(), [json!(["body", 1, "name"])]);
    assert_eq!(app.character_count().await, 1);
}

#[tokio::test]
async fn bulk_takes_ten_thousand_characters_but_not_one_more() {
    let (app, alien, _) = app_with_two_movies().await;
    let batch = |n: usize| -> Value {
        (0..n).map(|i| json!({ "name": format!("Extra {i}"), "movieId": alien })).collect()
    };

    app.post_json("/characters/bulk", &batch(10_001)).await.expect_invalid();
    assert_eq!(app.character_count().await, 0);

    let reply = app.post_json("/characters/bulk", &batch(10_000)).await;
    assert_eq!(reply.expect(StatusCode::OK).as_array().map(Vec::len), Some(10_000));
    assert_eq!(app.character_count().await, 10_000);
    assert_eq!(app.nr_characters(alien).await, 10_000);
}

#[tokio::test]
async fn a_character_range_delete_reports_what_it_found_and_recounts_the_movies() {
    let (app, alien, thing) = app_with_two_movies().await;
    let mut ids = Vec::new();
    for (name, movie) in
        [("Ripley", "Alien"), ("MacReady", "The Thing"), ("Ash", "Alien"), ("Dallas", "Alien")]
    {
        ids.push(id_of(&app.create_character(name, movie).await));
    }
    app.delete(&format!("/characters/{}", ids[2])).await.expect(StatusCode::OK);

    let reply = app.delete(&format!("/characters/bulk/{}/{}/", ids[1], ids[3] + 1)).await;

    assert_eq!(
        reply.expect(StatusCode::OK),
        &json!({ "deleted": [ids[1], ids[3]], "not_found": [ids[2]] })
    );
    assert_eq!(app.character_count().await, 1);
    assert_eq!(app.nr_characters(alien).await, 1);
    assert_eq!(app.nr_characters(thing).await, 0);

    for path in ["/characters/bulk/3/3", "/characters/bulk/3/2", "/characters/bulk/0/100001"] {
        app.delete(path).await.expect_invalid();
    }
    assert_eq!(app.character_count().await, 1);
}

#[tokio::test]
async fn count_says_how_many_characters_there_are() {
    let (app, _, _) = app_with_two_movies().await;
    app.create_character("Ripley", "Alien").await;
    app.create_character("MacReady", "The Thing").await;

    for path in ["/characters/count", "/characters/count/"] {
        let reply = app.get(path).await;
        assert_eq!(reply.expect(StatusCode::OK), &json!({ "count": 2 }), "{path}");
    }
}
