//! Lists whose cost does not grow with the table, seen from a client: the cursor `after` with
//! `X-Next-After`, totals kept by counters that stay exact through every kind of write, `q`
//! through the trigram index after renames and deletes, and `GET /movies/names` streamed in
//! slices.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, id_of, names, spawn_app};

/// Follows `X-Next-After` from `first` until a page comes without it; returns every name seen
/// and how many requests it took.
async fn follow_cursor(app: &TestApp, first: &str) -> (Vec<String>, usize) {
    let (mut seen, mut requests, mut path) = (Vec::new(), 0, first.to_owned());
    loop {
        let reply = app.get(&path).await;
        reply.expect(StatusCode::OK);
        requests += 1;
        seen.extend(names(reply.items()).into_iter().map(str::to_owned));
        let Some(next) = reply.header("x-next-after") else { return (seen, requests) };
        let separator = if first.contains('?') { '&' } else { '?' };
        path = format!("{first}{separator}after={next}");
    }
}

async fn bulk_movies(app: &TestApp, names: impl IntoIterator<Item = String>) -> Vec<Value> {
    let batch: Vec<Value> = names.into_iter().map(|n| json!({ "name": n, "year": 2000 })).collect();
    let reply = app.post_json("/movies/bulk/", &json!(batch)).await;
    reply.expect(StatusCode::OK)["added_movies"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn after_pages_movies_in_id_order_and_x_next_after_names_the_next_cursor() {
    let app = spawn_app().await;
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for name in ["E", "D", "C", "B", "A"] {
            ids.push(id_of(&app.create_movie(name, 2000).await));
        }
        ids
    };

    let first = app.get("/movies?limit=2").await;
    assert_eq!(names(first.items()), ["E", "D"]);
    assert_eq!(first.header("x-next-after"), Some(ids[1].to_string().as_str()));
    assert_eq!(first.total_count(), 5);

    let second = app.get(&format!("/movies?after={}&limit=2", ids[1])).await;
    assert_eq!(names(second.items()), ["C", "B"]);
    assert_eq!(second.header("x-next-after"), Some(ids[3].to_string().as_str()));
    assert_eq!(second.total_count(), 5, "the total counts every match, not what is left");

    let last = app.get(&format!("/movies?after={}&limit=2", ids[3])).await;
    assert_eq!(names(last.items()), ["A"]);
    assert_eq!(last.header("x-next-after"), None, "a short page is the last");

    // Following the cursor reads every movie once, whatever was deleted on the way.
    app.delete(&format!("/movies/{}", ids[2])).await.expect(StatusCode::OK);
    let (seen, requests) = follow_cursor(&app, "/movies?limit=2").await;
    assert_eq!(seen, ["E", "D", "B", "A"]);
    assert_eq!(requests, 3);
}

#[tokio::test]
async fn a_cursor_combines_with_filters_but_not_with_another_order() {
    let app = spawn_app().await;
    bulk_movies(
        &app,
        (0..12).map(|i| format!("{} {i}", if i % 3 == 0 { "Heat" } else { "Alien" })),
    )
    .await;

    let (seen, _) = follow_cursor(&app, "/movies?q=alien&limit=3").await;
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().all(|n| n.starts_with("Alien")), "{seen:?}");

    let first = app.get("/movies?limit=1").await;
    let after = first.header("x-next-after").expect("a cursor").to_owned();
    let with_id_order = app.get(&format!("/movies?after={after}&sort=id&limit=1")).await;
    assert_eq!(names(with_id_order.items()), ["Alien 1"]);

    for query in ["after=abc", "after=1.5", "after=1&sort=name", "after=1&sort=-id"] {
        let reply = app.get(&format!("/movies?{query}")).await;
        assert_eq!(reply.expect_invalid(), [json!(["query", "after"])], "{query}");
    }
    // A page in another order has no cursor to give.
    let by_name = app.get("/movies?sort=name&limit=2").await;
    assert_eq!(by_name.header("x-next-after"), None);
}

#[tokio::test]
async fn after_pages_characters_and_a_movies_characters_too() {
    let app = spawn_app().await;
    let alien = id_of(&app.create_movie("Alien", 1979).await);
    app.create_movie("Heat", 1995).await;
    for (name, movie) in
        [("Ripley", "Alien"), ("McCauley", "Heat"), ("Ash", "Alien"), ("Hanna", "Heat")]
    {
        app.create_character(name, movie).await;
    }

    let (seen, requests) = follow_cursor(&app, "/characters?limit=3").await;
    assert_eq!(seen, ["Ripley", "McCauley", "Ash", "Hanna"]);
    assert_eq!(requests, 2);
    let (seen, _) = follow_cursor(&app, "/characters?movieName=Heat&limit=1").await;
    assert_eq!(seen, ["McCauley", "Hanna"]);
    let (seen, _) = follow_cursor(&app, &format!("/movies/{alien}/characters?limit=1")).await;
    assert_eq!(seen, ["Ripley", "Ash"]);

    let reply = app.get("/characters?movieName=Heat&movieId=1").await;
    assert!(reply.items().is_empty(), "a name and an id of two movies match nothing");
    assert_eq!(reply.total_count(), 0);
    let reply = app.get("/characters?movieName=Nope").await;
    assert_eq!((reply.items().len(), reply.total_count()), (0, 0));
}

#[tokio::test]
async fn totals_stay_exact_through_every_kind_of_write() {
    let app = spawn_app().await;
    let check = |movies: u64, characters: u64| {
        let app = &app;
        async move {
            assert_eq!(app.get("/movies").await.total_count(), movies);
            assert_eq!(app.movie_count().await, movies);
            assert_eq!(app.get("/characters").await.total_count(), characters);
            assert_eq!(app.character_count().await, characters);
        }
    };
    check(0, 0).await;
    let added = bulk_movies(&app, (0..30).map(|i| format!("M{i}"))).await;
    // Taken names are skipped, and not counted.
    bulk_movies(&app, (25..35).map(|i| format!("M{i}"))).await;
    check(35, 0).await;
    for character in ["A", "B", "C"] {
        app.create_character(character, "M0").await;
    }
    app.create_character("D", "M1").await;
    check(35, 4).await;

    // Deleting a movie takes its characters with it.
    let m0 = id_of(&added[0]);
    app.delete(&format!("/movies/{m0}")).await.expect(StatusCode::OK);
    check(34, 1).await;
    let (from, to) = (id_of(&added[10]), id_of(&added[20]));
    app.delete(&format!("/movies/bulk/{from}/{to}")).await.expect(StatusCode::OK);
    let left = app.get("/movies?limit=1000").await.items().len() as u64;
    check(left, 1).await;
    assert!(left < 34, "the range delete deleted something");
}

#[tokio::test]
async fn a_genres_total_follows_creates_moves_and_deletes() {
    let app = spawn_app().await;
    let total = |genre: &'static str| {
        let app = &app;
        async move {
            let reply = app.get(&format!("/movies?genre={genre}&limit=1")).await;
            reply.expect(StatusCode::OK);
            reply.total_count()
        }
    };
    let batch: Vec<Value> = (0..6)
        .map(|i| {
            let genre = ["Drama", "Horror"][i % 2];
            json!({ "name": format!("M{i}"), "year": 2000, "genre": genre })
        })
        .collect();
    let added = app.post_json("/movies/bulk/", &json!(batch)).await;
    let added =
        added.expect(StatusCode::OK)["added_movies"].as_array().cloned().unwrap_or_default();
    let one =
        app.create_movie_from(&json!({ "name": "One", "year": 2000, "genre": "Drama" })).await;
    assert_eq!((total("Drama").await, total("Horror").await), (4, 3));

    // A movie that changes genre moves between the totals; one that keeps it does not.
    let body = json!({ "name": "One", "year": 2001, "genre": "Horror" });
    app.put_json(&format!("/movies/{}", id_of(&one)), &body).await.expect(StatusCode::OK);
    app.put_json(&format!("/movies/{}", id_of(&one)), &body).await.expect(StatusCode::OK);
    assert_eq!((total("Drama").await, total("Horror").await), (3, 4));

    app.delete(&format!("/movies/{}", id_of(&added[0]))).await.expect(StatusCode::OK);
    let (from, to) = (id_of(&added[1]), id_of(&added[4]));
    app.delete(&format!("/movies/bulk/{from}/{to}")).await.expect(StatusCode::OK);
    assert_eq!((total("Drama").await, total("Horror").await), (1, 2));
    assert_eq!(total("Comedy").await, 0);
    // With another filter the total is counted, and agrees.
    let reply = app.get("/movies?genre=Horror&year=2001").await;
    assert_eq!((reply.items().len(), reply.total_count()), (1, 1));
}

#[tokio::test]
async fn q_finds_a_renamed_movie_by_its_new_name_only_and_a_deleted_one_no_more() {
    let app = spawn_app().await;
    let id = id_of(&app.create_movie("The Thing", 1982).await);
    app.create_movie("Things to Come", 1936).await;

    let reply = app.get("/movies?q=THING").await;
    assert_eq!((reply.items().len(), reply.total_count()), (2, 2));

    let body = json!({ "name": "Alien", "year": 1979 });
    app.put_json(&format!("/movies/{id}"), &body).await.expect(StatusCode::OK);
    assert_eq!(names(app.get("/movies?q=thing").await.items()), ["Things to Come"]);
    assert_eq!(names(app.get("/movies?q=lie").await.items()), ["Alien"]);

    app.delete(&format!("/movies/{id}")).await.expect(StatusCode::OK);
    let reply = app.get("/movies?q=alien").await;
    assert_eq!((reply.items().len(), reply.total_count()), (0, 0));
    // Two letters have no trigram: the search scans, and finds the same.
    assert_eq!(names(app.get("/movies?q=to").await.items()), ["Things to Come"]);
    // A double quote is text, not the index's syntax.
    app.create_movie("Say \"Cheese\"", 2001).await;
    assert_eq!(names(app.get("/movies?q=%22chee").await.items()), ["Say \"Cheese\""]);
    // Three letters or more: the case of any letter folds, not only ASCII's.
    app.create_movie("ÉTÉ Brûlant", 2002).await;
    assert_eq!(names(app.get("/movies?q=%C3%A9t%C3%A9").await.items()), ["ÉTÉ Brûlant"]);
}

#[tokio::test]
async fn every_name_comes_in_id_order_across_slices() {
    let app = spawn_app().await;
    // Several slices of 1,000, with names JSON must escape.
    let mut wanted: Vec<String> = (0..5003).map(|i| format!("Movie {i}")).collect();
    wanted[1] = "Say \"Cheese\" </script> \\".into();
    wanted[5001] = "Été 🎬".into();
    bulk_movies(&app, wanted.clone()).await;

    let reply = app.get("/movies/names").await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let got: Vec<String> = serde_json::from_value(reply.body.clone()).expect("a list of names");
    assert_eq!(got, wanted);

    let empty = spawn_app().await;
    let reply = empty.get("/movies/names").await;
    assert_eq!(reply.expect(StatusCode::OK), &json!([]));
}
