//! `/movies`: create, read, list with filters and paging, replace, delete, bulk routes and the
//! routes kept for the original web front end.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_ID, MOVIE_KEYS, assert_keys, id_of, names, spawn_app};

#[tokio::test]
async fn creating_a_movie_returns_it_with_its_location() {
    let app = spawn_app().await;

    let reply = app
        .post_json(
            "/movies",
            &json!({
                "name": "  Alien ",
                "year": 1979,
                "duration": "1h 57m",
                "genre": "Horror",
                "description": "In space no one can hear you scream."
            }),
        )
        .await;

    let movie = reply.expect(StatusCode::OK);
    assert_keys(movie, &MOVIE_KEYS);
    let id = id_of(movie);
    assert_eq!(
        movie,
        &json!({
            "id": id,
            "name": "Alien",
            "year": 1979,
            "duration": "1h 57m",
            "genre": "Horror",
            "description": "In space no one can hear you scream.",
            "nrCharacters": 0,
            "editorId": ADMIN_ID
        })
    );
    assert_eq!(reply.header("location"), Some(format!("/movies/{id}").as_str()));
    assert_eq!(&app.movie(id).await, movie);
}

#[tokio::test]
async fn a_movie_with_only_a_name_and_a_year_gets_empty_optional_fields() {
    let app = spawn_app().await;

    let movie = app.create_movie("Alien", 1979).await;

    assert_eq!(movie["duration"], "");
    assert_eq!(movie["genre"], "");
    assert_eq!(movie["description"], "");
}

#[tokio::test]
async fn the_original_front_end_posting_server_fields_to_movies_slash_is_accepted() {
    let app = spawn_app().await;

    let reply = app
        .post_json(
            "/movies/",
            &json!({
                "id": 999,
                "name": "Alien",
                "year": 1979,
                "duration": "",
                "genre": "",
                "description": "",
                "editorId": 5,
                "nrCharacters": 42
            }),
        )
        .await;

    let movie = reply.expect(StatusCode::OK);
    assert_keys(movie, &MOVIE_KEYS);
    assert_ne!(movie["id"], 999, "the id is the server's");
    assert_eq!(movie["nrCharacters"], 0, "nrCharacters is computed");
    assert_eq!(movie["editorId"], json!(ADMIN_ID));
    assert_eq!(reply.header("location"), Some(format!("/movies/{}", id_of(movie)).as_str()));
}

#[tokio::test]
async fn creating_a_movie_with_a_taken_name_is_a_conflict() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;

    for name in ["Alien", "  Alien  "] {
        let reply = app.post_json("/movies", &json!({ "name": name, "year": 1986 })).await;
        let detail = reply.expect_error(StatusCode::CONFLICT);
        assert!(detail.is_string(), "{detail}");
    }
    assert_eq!(app.movie_count().await, 1);
}

/// Creates sent at once go into the database together (`infra/src/db/combine.rs`): each still
/// gets the answer it would get alone, the same body as a create sent on its own.
#[tokio::test]
async fn creates_sent_at_once_each_get_their_own_answer() {
    let app = spawn_app().await;
    let alone = app.post_json("/movies", &json!({ "name": "Alien", "year": 1979 })).await;
    let alone_body = alone.expect(StatusCode::OK).clone();
    let taken = app.post_json("/movies", &json!({ "name": "Alien", "year": 1986 })).await;
    let taken_body = taken.expect_error(StatusCode::CONFLICT).clone();

    let app = &app;
    let bodies: Vec<Value> = (0..30)
        .map(|i| match i % 3 {
            0 => json!({ "name": "Alien", "year": 1986 }),
            1 => json!({ "name": "Twice", "year": 2000 }),
            _ => json!({ "name": format!("Movie {i}"), "year": "2001", "genre": "Drama" }),
        })
        .collect();
    let replies = join_all(bodies.iter().map(|body| app.post_json("/movies", body))).await;
    let mut twice = 0;
    for (body, reply) in bodies.iter().zip(&replies) {
        match body["name"].as_str().unwrap() {
            "Alien" => assert_eq!(reply.expect_error(StatusCode::CONFLICT), &taken_body),
            "Twice" if reply.status == StatusCode::OK => twice += 1,
            "Twice" => {
                reply.expect_error(StatusCode::CONFLICT);
            }
            name => {
                let movie = reply.expect(StatusCode::OK);
                assert_eq!((movie["name"].as_str(), &movie["year"]), (Some(name), &json!(2001)));
                assert_eq!(app.movie(id_of(movie)).await, *movie, "answered as stored");
                assert_keys(movie, &MOVIE_KEYS);
                assert_eq!(movie["editorId"], alone_body["editorId"]);
            }
        }
    }
    assert_eq!(twice, 1, "one of the creates of the same name is made");
    assert_eq!(app.movie_count().await, 1 + 1 + 10);
}

#[tokio::test]
async fn a_movie_without_a_name_or_a_year_is_unprocessable() {
    let app = spawn_app().await;

    let reply = app.post_json("/movies", &json!({ "year": 1979 })).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "name"])]);
    assert_eq!(reply.body["detail"][0]["type"], "missing");

    let reply = app.post_json("/movies", &json!({ "name": "Alien" })).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "year"])]);

    let reply = app.post_json("/movies", &json!({})).await;
    let locs = reply.expect_invalid();
    assert!(locs.contains(&json!(["body", "name"])), "{locs:?}");
    assert!(locs.contains(&json!(["body", "year"])), "{locs:?}");

    assert_eq!(app.movie_count().await, 0);
}

#[tokio::test]
async fn every_movie_field_is_checked_against_its_bounds() {
    let app = spawn_app().await;
    let base = json!({ "name": "Base", "year": 2000 });
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let refused = [
        ("name", json!("")),
        ("name", json!("   ")),
        ("name", json!("x".repeat(201))),
        ("year", json!(1877)),
        ("year", json!(2101)),
        ("duration", json!("x".repeat(51))),
        ("genre", json!("x".repeat(101))),
        ("description", json!("x".repeat(5001))),
    ];
    for (field, value) in refused {
        let reply = app.post_json("/movies", &with(field, value.clone())).await;
        assert_eq!(reply.expect_invalid(), [json!(["body", field])], "{field} = {value}");
    }
    assert_eq!(app.movie_count().await, 0);

    let accepted = [
        ("name", json!("é".repeat(200))),
        ("name", json!(format!("  {}  ", "n".repeat(200)))),
        ("year", json!(1878)),
        ("year", json!(2100)),
        ("duration", json!("x".repeat(50))),
        ("genre", json!("x".repeat(100))),
        ("description", json!("x".repeat(5000))),
    ];
    for (i, (field, value)) in accepted.into_iter().enumerate() {
        let mut body = with(field, value.clone());
        if field != "name" {
            body["name"] = json!(format!("Accepted {i}"));
        }
        let movie = app.create_movie_from(&body).await;
        let expected = match value.as_str() {
            Some(text) if field == "name" => json!(text.trim()),
            _ => value,
        };
        assert_eq!(movie[field], expected, "{field}");
    }
}

#[tokio::test]
async fn a_movie_is_read_by_id_with_or_without_a_trailing_slash() {
    let app = spawn_app().await;
    let movie = app.create_movie("Alien", 1979).await;
    let id = id_of(&movie);

    for path in [format!("/movies/{id}"), format!("/movies/{id}/")] {
        let reply = app.get(&path).await;
        assert_eq!(reply.expect(StatusCode::OK), &movie, "{path}");
    }
}

#[tokio::test]
async fn reading_a_missing_movie_is_not_found() {
    let app = spawn_app().await;

    let reply = app.get("/movies/42").await;

    reply.expect_error(StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({ "detail": "Movie not found" }));
}

#[tokio::test]
async fn a_movie_id_that_is_not_a_number_is_unprocessable() {
    let app = spawn_app().await;

    for path in ["/movies/abc", "/movies/abc/"] {
        let reply = app.get(path).await;
        assert_eq!(reply.expect_invalid(), [json!(["path", "id"])], "{path}");
    }
}

#[tokio::test]
async fn movies_are_listed_by_id_with_the_total_in_a_header() {
    let app = spawn_app().await;
    for (name, year) in [("C", 2003), ("A", 2001), ("B", 2002)] {
        app.create_movie(name, year).await;
    }

    for path in ["/movies", "/movies/", "/movies?skip=0&limit=50"] {
        let reply = app.get(path).await;
        reply.expect(StatusCode::OK);
        assert_eq!(names(reply.items()), ["C", "A", "B"], "{path}");
        assert_eq!(reply.total_count(), 3, "{path}");
        for movie in reply.items() {
            assert_keys(movie, &MOVIE_KEYS);
        }
    }
}

#[tokio::test]
async fn skip_and_limit_page_through_the_movies_while_the_total_counts_all_matches() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.create_movie(&format!("M{i}"), 2000 + i).await;
    }

    let reply = app.get("/movies?skip=2&limit=3").await;
    reply.expect(StatusCode::OK);
    assert_eq!(names(reply.items()), ["M2", "M3", "M4"]);
    assert_eq!(reply.total_count(), 7);

    let reply = app.get("/movies?skip=6&limit=1000").await;
    assert_eq!(names(reply.items()), ["M6"]);
    assert_eq!(reply.total_count(), 7);

    let reply = app.get("/movies?skip=10").await;
    assert!(reply.items().is_empty());
    assert_eq!(reply.total_count(), 7);
}

#[tokio::test]
async fn a_list_holds_fifty_movies_unless_asked_otherwise() {
    let app = spawn_app().await;
    let batch: Vec<Value> =
        (0..60).map(|i| json!({ "name": format!("M{i}"), "year": 2000 })).collect();
    app.post_json("/movies/bulk", &json!(batch)).await.expect(StatusCode::OK);

    let reply = app.get("/movies").await;

    assert_eq!(reply.items().len(), 50);
    assert_eq!(reply.total_count(), 60);
}

#[tokio::test]
async fn a_negative_skip_or_a_limit_outside_one_to_a_thousand_is_unprocessable() {
    let app = spawn_app().await;

    for (query, field) in [
        ("skip=-1", "skip"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-5", "limit"),
        ("skip=abc", "skip"),
    ] {
        let reply = app.get(&format!("/movies?{query}")).await;
        assert_eq!(reply.expect_invalid(), [json!(["query", field])], "{query}");
    }
    app.get("/movies?limit=1").await.expect(StatusCode::OK);
    app.get("/movies?limit=1000").await.expect(StatusCode::OK);
}

#[tokio::test]
async fn q_matches_a_case_insensitive_substring_of_the_name() {
    let app = spawn_app().await;
    for name in ["Alien", "Aliens", "The Thing", "ALIEN NATION"] {
        app.create_movie(name, 1990).await;
    }

    let reply = app.get("/movies?q=aLiEn").await;

    assert_eq!(names(reply.items()), ["Alien", "Aliens", "ALIEN NATION"]);
    assert_eq!(reply.total_count(), 3);
}

#[tokio::test]
async fn percent_and_underscore_in_q_are_taken_literally() {
    let app = spawn_app().await;
    for name in ["100% Wolf", "1000 Wolves", "Ant_Man", "Antman"] {
        app.create_movie(name, 2010).await;
    }

    let reply = app.get("/movies?q=%25").await;
    assert_eq!(names(reply.items()), ["100% Wolf"]);
    assert_eq!(reply.total_count(), 1);

    let reply = app.get("/movies?q=_").await;
    assert_eq!(names(reply.items()), ["Ant_Man"]);
    assert_eq!(reply.total_count(), 1);

    let reply = app.get("/movies?q=t_m").await;
    assert_eq!(names(reply.items()), ["Ant_Man"]);
}

#[tokio::test]
async fn genre_matches_exactly() {
    let app = spawn_app().await;
    for (name, genre) in [("A", "Drama"), ("B", "Drama Comedy"), ("C", "Horror")] {
        app.create_movie_from(&json!({ "name": name, "year": 2000, "genre": genre })).await;
    }

    let reply = app.get("/movies?genre=Drama").await;

    assert_eq!(names(reply.items()), ["A"]);
    assert_eq!(reply.total_count(), 1);
}

#[tokio::test]
async fn year_filters_select_one_year_or_an_inclusive_range() {
    let app = spawn_app().await;
    for (name, year) in [("A", 1990), ("B", 1995), ("C", 2000), ("D", 2005)] {
        app.create_movie(name, year).await;
    }

    let cases = [
        ("year=1995", vec!["B"]),
        ("year_from=1995", vec!["B", "C", "D"]),
        ("year_to=1995", vec!["A", "B"]),
        ("year_from=1995&year_to=2000", vec!["B", "C"]),
        ("year=1991", vec![]),
    ];
    for (query, expected) in cases {
        let reply = app.get(&format!("/movies?{query}")).await;
        assert_eq!(names(reply.items()), expected, "{query}");
        assert_eq!(reply.total_count(), expected.len() as u64, "{query}");
    }
}

#[tokio::test]
async fn filters_combine_and_the_total_counts_all_matches_across_pages() {
    let app = spawn_app().await;
    for (name, year, genre) in [
        ("Alien", 1979, "Horror"),
        ("Aliens", 1986, "Action"),
        ("Alien 3", 1992, "Horror"),
        ("Alien Resurrection", 1997, "Horror"),
        ("The Thing", 1982, "Horror"),
    ] {
        app.create_movie_from(&json!({ "name": name, "year": year, "genre": genre })).await;
    }

    let reply = app.get("/movies?q=alien&genre=Horror&year_from=1980&limit=1").await;

    assert_eq!(names(reply.items()), ["Alien 3"]);
    assert_eq!(reply.total_count(), 2);
}

#[tokio::test]
async fn sort_orders_by_id_name_or_year_and_a_leading_minus_reverses() {
    let app = spawn_app().await;
    for (name, year) in [("B", 2000), ("A", 2010), ("C", 2000)] {
        app.create_movie(name, year).await;
    }

    let cases = [
        ("id", vec!["B", "A", "C"]),
        ("-id", vec!["C", "A", "B"]),
        ("name", vec!["A", "B", "C"]),
        ("-name", vec!["C", "B", "A"]),
        ("year", vec!["B", "C", "A"]),
        ("-year", vec!["A", "C", "B"]),
    ];
    for (sort, expected) in cases {
        let reply = app.get(&format!("/movies?sort={sort}")).await;
        assert_eq!(names(reply.items()), expected, "sort={sort}");
    }
}

#[tokio::test]
async fn an_unknown_sort_is_unprocessable() {
    let app = spawn_app().await;

    for sort in ["rating", "--name", "Name", ""] {
        let reply = app.get(&format!("/movies?sort={sort}")).await;
        assert_eq!(reply.expect_invalid(), [json!(["query", "sort"])], "sort={sort}");
    }
}

#[tokio::test]
async fn replacing_a_movie_rewrites_every_field_but_keeps_its_character_count() {
    let app = spawn_app().await;
    let movie = app
        .create_movie_from(&json!({
            "name": "Alien",
            "year": 1979,
            "duration": "1h 57m",
            "genre": "Horror",
            "description": "Space."
        }))
        .await;
    let id = id_of(&movie);
    app.create_character("Ripley", "Alien").await;

    let reply = app
        .put_json(
            &format!("/movies/{id}"),
            &json!({ "name": " Alien: Director's Cut ", "year": 2003, "genre": "Sci-Fi" }),
        )
        .await;

    let expected = json!({
        "id": id,
        "name": "Alien: Director's Cut",
        "year": 2003,
        "duration": "",
        "genre": "Sci-Fi",
        "description": "",
        "nrCharacters": 1,
        "editorId": ADMIN_ID
    });
    assert_eq!(reply.expect(StatusCode::OK), &expected);
    assert_eq!(app.movie(id).await, expected);
}

#[tokio::test]
async fn replacing_a_movie_at_its_trailing_slash_path_with_server_fields_works() {
    let app = spawn_app().await;
    let id = id_of(&app.create_movie("Alien", 1979).await);
    app.create_character("Ripley", "Alien").await;

    let reply = app
        .put_json(
            &format!("/movies/{id}/"),
            &json!({
                "id": id + 100,
                "name": "Alien",
                "year": 1980,
                "editorId": 3,
                "nrCharacters": 9
            }),
        )
        .await;

    let movie = reply.expect(StatusCode::OK);
    assert_eq!(movie["id"], id);
    assert_eq!(movie["year"], 1980);
    assert_eq!(movie["nrCharacters"], 1);
    assert_eq!(movie["editorId"], json!(ADMIN_ID));
}

#[tokio::test]
async fn a_renamed_movie_is_named_so_in_its_characters() {
    let app = spawn_app().await;
    let id = id_of(&app.create_movie("Alien", 1979).await);
    let ripley = app.create_character("Ripley", "Alien").await;

    app.put_json(&format!("/movies/{id}"), &json!({ "name": "Alien (1979)", "year": 1979 }))
        .await
        .expect(StatusCode::OK);

    let reply = app.get(&format!("/characters/{}", id_of(&ripley))).await;
    assert_eq!(reply.expect(StatusCode::OK)["movieName"], "Alien (1979)");
}

#[tokio::test]
async fn replacing_a_missing_movie_is_not_found() {
    let app = spawn_app().await;

    let reply = app.put_json("/movies/42", &json!({ "name": "Alien", "year": 1979 })).await;

    reply.expect_error(StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({ "detail": "Movie not found" }));
    assert_eq!(app.movie_count().await, 0);
}

#[tokio::test]
async fn renaming_a_movie_to_a_taken_name_is_a_conflict() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;
    let id = id_of(&app.create_movie("Aliens", 1986).await);

    let reply =
        app.put_json(&format!("/movies/{id}"), &json!({ "name": "Alien", "year": 1986 })).await;

    reply.expect_error(StatusCode::CONFLICT);
    assert_eq!(app.movie(id).await["name"], "Aliens");
}

#[tokio::test]
async fn replacing_a_movie_with_invalid_fields_is_unprocessable_and_changes_nothing() {
    let app = spawn_app().await;
    let movie = app.create_movie("Alien", 1979).await;
    let id = id_of(&movie);

    let reply =
        app.put_json(&format!("/movies/{id}"), &json!({ "name": "Alien", "year": 1800 })).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "year"])]);

    let reply = app.put_json(&format!("/movies/{id}"), &json!({ "year": 1979 })).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "name"])]);

    assert_eq!(app.movie(id).await, movie);
}

#[tokio::test]
async fn deleting_a_movie_deletes_its_characters() {
    let app = spawn_app().await;
    let alien = id_of(&app.create_movie("Alien", 1979).await);
    let thing = id_of(&app.create_movie("The Thing", 1982).await);
    let ripley = id_of(&app.create_character("Ripley", "Alien").await);
    app.create_character("Ash", "Alien").await;
    app.create_character("MacReady", "The Thing").await;

    let reply = app.delete(&format!("/movies/{alien}")).await;

    assert_eq!(reply.expect(StatusCode::OK), &json!({ "message": "Movie deleted successfully" }));
    app.get(&format!("/movies/{alien}")).await.expect_error(StatusCode::NOT_FOUND);
    app.get(&format!("/characters/{ripley}")).await.expect_error(StatusCode::NOT_FOUND);
    assert_eq!(app.character_count().await, 1);
    assert_eq!(app.nr_characters(thing).await, 1);
}

#[tokio::test]
async fn deleting_a_missing_movie_is_not_found() {
    let app = spawn_app().await;
    let id = id_of(&app.create_movie("Alien", 1979).await);
    app.delete(&format!("/movies/{id}/")).await.expect(StatusCode::OK);

    let reply = app.delete(&format!("/movies/{id}")).await;

    reply.expect_error(StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({ "detail": "Movie not found" }));
}

#[tokio::test]
async fn a_movie_is_deleted_by_name_with_its_characters() {
    let app = spawn_app().await;
    app.create_movie("The Thing", 1982).await;
    app.create_movie("Alien", 1979).await;
    app.create_character("MacReady", "The Thing").await;

    let reply = app.delete("/movies/by_name/The%20Thing").await;

    assert_eq!(reply.expect(StatusCode::OK), &json!({ "message": "Movie deleted successfully" }));
    assert_eq!(names(app.get("/movies").await.items()), ["Alien"]);
    assert_eq!(app.character_count().await, 0);

    let reply = app.delete("/movies/by_name/The%20Thing/").await;
    reply.expect_error(StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({ "detail": "Movie not found" }));
}

#[tokio::test]
async fn bulk_adds_new_movies_and_skips_names_taken_or_repeated() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;

    let reply = app
        .post_json(
            "/movies/bulk/",
            &json!([
                { "name": "Aliens", "year": 1986, "genre": "Action" },
                { "name": "Alien", "year": 1979 },
                { "name": "Alien 3", "year": 1992 },
                { "name": " Aliens ", "year": 2000 },
                { "id": 7, "name": "Prometheus", "year": 2012, "editorId": 42, "nrCharacters": 3 }
            ]),
        )
        .await;

    let body = reply.expect(StatusCode::OK);
    let object = body.as_object().expect("an object");
    assert_eq!(object.len(), 2, "{body}");
    let added = body["added_movies"].as_array().expect("added_movies");
    let not_added = body["not_added_movies"].as_array().expect("not_added_movies");
    assert_eq!(names(added), ["Aliens", "Alien 3", "Prometheus"]);
    for movie in added {
        assert_keys(movie, &MOVIE_KEYS);
        assert_eq!(movie["nrCharacters"], 0);
        assert_eq!(movie["editorId"], json!(ADMIN_ID));
    }
    assert_eq!(added[0]["genre"], "Action");
    let mut skipped = names(not_added);
    skipped.sort_unstable();
    assert_eq!(skipped, ["Alien", "Aliens"]);
    assert_eq!(app.movie_count().await, 4);
    let aliens = app.get("/movies?q=aliens").await;
    assert_eq!(aliens.items()[0]["year"], 1986, "the first Aliens won");
}

#[tokio::test]
async fn bulk_with_one_invalid_movie_is_unprocessable_and_writes_nothing() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;
    let before = app.movie_count().await;

    let reply = app
        .post_json(
            "/movies/bulk",
            &json!([
                { "name": "Aliens", "year": 1986 },
                { "name": "Alien 3", "year": 3000 },
                { "name": "Prometheus", "year": 2012 }
            ]),
        )
        .await;

    assert_eq!(reply.expect_invalid(), [json!(["body", 1, "year"])]);
    assert_eq!(app.movie_count().await, before);

    let reply = app
        .post_json("/movies/bulk", &json!([{ "name": "Aliens", "year": 1986 }, { "year": 1 }]))
        .await;
    let locs = reply.expect_invalid();
    assert!(locs.contains(&json!(["body", 1, "name"])), "{locs:?}");
    assert_eq!(app.movie_count().await, before);
}

#[tokio::test]
async fn bulk_takes_ten_thousand_movies_but_not_one_more() {
    let app = spawn_app().await;
    let batch = |n: usize, prefix: &str| -> Value {
        (0..n).map(|i| json!({ "name": format!("{prefix} {i}"), "year": 2000 })).collect()
    };

    let reply = app.post_json("/movies/bulk", &batch(10_001, "Too many")).await;
    reply.expect_invalid();
    assert_eq!(app.movie_count().await, 0);

    let reply = app.post_json("/movies/bulk", &batch(10_000, "Movie")).await;
    let body = reply.expect(StatusCode::OK);
    assert_eq!(body["added_movies"].as_array().map(Vec::len), Some(10_000));
    assert_eq!(body["not_added_movies"], json!([]));
    assert_eq!(app.movie_count().await, 10_000);
}

#[tokio::test]
async fn a_range_delete_removes_the_ids_from_start_up_to_end_and_their_characters() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (name, year) in [("A", 2001), ("B", 2002), ("C", 2003), ("D", 2004)] {
        ids.push(id_of(&app.create_movie(name, year).await));
    }
    app.create_character("a", "B").await;
    app.create_character("d", "D").await;
    app.delete(&format!("/movies/{}", ids[2])).await.expect(StatusCode::OK);

    let (start, end) = (ids[1], ids[3] + 2);
    let reply = app.delete(&format!("/movies/bulk/{start}/{end}")).await;

    assert_eq!(
        reply.expect(StatusCode::OK),
        &json!({ "deleted": [ids[1], ids[3]], "not_found": [ids[2], ids[3] + 1] })
    );
    assert_eq!(names(app.get("/movies").await.items()), ["A"]);
    assert_eq!(app.character_count().await, 0);

    let reply = app.delete(&format!("/movies/bulk/{}/{}/", ids[0], ids[0] + 1)).await;
    assert_eq!(reply.expect(StatusCode::OK), &json!({ "deleted": [ids[0]], "not_found": [] }));
}

#[tokio::test]
async fn a_range_delete_that_is_empty_reversed_or_too_wide_is_unprocessable() {
    let app = spawn_app().await;
    let id = id_of(&app.create_movie("Alien", 1979).await);

    for path in
        ["/movies/bulk/5/5", "/movies/bulk/5/1", "/movies/bulk/0/100001", "/movies/bulk/1/abc"]
    {
        app.delete(path).await.expect_invalid();
    }
    let reply = app.delete("/movies/bulk/1/abc").await;
    assert_eq!(reply.expect_invalid(), [json!(["path", "end_id"])], "the parameter is named");
    assert_eq!(app.movie_count().await, 1);

    let reply = app.delete(&format!("/movies/bulk/{id}/{}", id + 100_000)).await;
    let body = reply.expect(StatusCode::OK);
    assert_eq!(body["deleted"], json!([id]));
    assert_eq!(body["not_found"].as_array().map(Vec::len), Some(99_999));
}

#[tokio::test]
async fn names_lists_every_movie_name() {
    let app = spawn_app().await;
    for (name, year) in [("Alien", 1979), ("The Thing", 1982), ("Aliens", 1986)] {
        app.create_movie(name, year).await;
    }

    for path in ["/movies/names", "/movies/names/"] {
        let reply = app.get(path).await;
        assert_eq!(
            reply.expect(StatusCode::OK),
            &json!(["Alien", "The Thing", "Aliens"]),
            "{path}"
        );
    }
}

#[tokio::test]
async fn count_says_how_many_movies_there_are() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;
    app.create_movie("Aliens", 1986).await;

    for path in ["/movies/count", "/movies/count/"] {
        let reply = app.get(path).await;
        assert_eq!(reply.expect(StatusCode::OK), &json!({ "count": 2 }), "{path}");
    }
}

#[tokio::test]
async fn a_movie_lists_only_its_own_characters() {
    let app = spawn_app().await;
    let alien = id_of(&app.create_movie("Alien", 1979).await);
    app.create_movie("The Thing", 1982).await;
    app.create_character("Ripley", "Alien").await;
    app.create_character("MacReady", "The Thing").await;
    app.create_character("Ash", "Alien").await;

    for path in [format!("/movies/{alien}/characters"), format!("/movies/{alien}/characters/")] {
        let reply = app.get(&path).await;
        reply.expect(StatusCode::OK);
        assert_eq!(names(reply.items()), ["Ripley", "Ash"], "{path}");
        assert_eq!(reply.total_count(), 2, "{path}");
        for c in reply.items() {
            assert_eq!(c["movieId"], alien);
            assert_eq!(c["movieName"], "Alien");
        }
    }
}

#[tokio::test]
async fn the_characters_of_a_missing_movie_are_not_found() {
    let app = spawn_app().await;

    let reply = app.get("/movies/42/characters").await;

    reply.expect_error(StatusCode::NOT_FOUND);
    assert_eq!(reply.body, json!({ "detail": "Movie not found" }));
}

#[tokio::test]
async fn recounting_characters_keeps_the_counts_true() {
    let app = spawn_app().await;
    let alien = id_of(&app.create_movie("Alien", 1979).await);
    let thing = id_of(&app.create_movie("The Thing", 1982).await);
    app.create_character("Ripley", "Alien").await;
    app.create_character("Ash", "Alien").await;

    for path in ["/movies/update_nr_characters", "/movies/update_nr_characters/"] {
        let reply = app.send(app.request(reqwest::Method::PUT, path)).await;
        assert_eq!(
            reply.expect(StatusCode::OK),
            &json!({ "message": "Aggregated column updated successfully" }),
            "{path}"
        );
    }
    assert_eq!(app.nr_characters(alien).await, 2);
    assert_eq!(app.nr_characters(thing).await, 0);
}

#[tokio::test]
async fn deleting_duplicates_finds_none_since_names_are_unique() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;

    for path in ["/movies/delete_duplicates", "/movies/delete_duplicates/"] {
        let reply = app.delete(path).await;
        assert_eq!(reply.expect(StatusCode::OK), &json!({ "deleted_movies": [] }), "{path}");
    }
    assert_eq!(app.movie_count().await, 1);
}
