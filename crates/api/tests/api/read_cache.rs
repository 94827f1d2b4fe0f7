//! The read cache in front of `GET /movies/{id}`, `GET /characters/{id}` and the plain movie
//! list (`GET /movies?skip=..`, `?after=..`, in id order): once a write has answered, no read
//! answers what it changed, whatever the write (the record itself, a count moved by a
//! character, a name carried by characters, an editor deleted, a movie added or removed), and
//! however many reads run beside it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, id_of, spawn_app};

/// The movies' page at `query` (`skip`, `limit`, `after`): its items and `X-Total-Count`.
async fn page(app: &TestApp, query: &str) -> (Vec<Value>, u64) {
    let reply = app.get(&format!("/movies?{query}")).await;
    reply.expect(StatusCode::OK);
    (reply.items().clone(), reply.total_count())
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(id_of).collect()
}

#[tokio::test]
async fn a_read_after_a_write_sees_the_write_whatever_it_touched() {
    let app = spawn_app().await;
    let alien = id_of(&app.create_movie("Alien", 1979).await);
    let ripley = id_of(&app.create_character("Ripley", "Alien").await);
    // Both now cached.
    assert_eq!(app.nr_characters(alien).await, 1);
    app.get(&format!("/characters/{ripley}")).await.expect(StatusCode::OK);

    // A character's write moves its movie's count.
    app.create_character("Ash", "Alien").await;
    assert_eq!(app.nr_characters(alien).await, 2);

    // A renamed movie is renamed in its characters.
    let body = json!({ "name": "Alien (1979)", "year": 1979 });
    app.put_json(&format!("/movies/{alien}"), &body).await.expect(StatusCode::OK);
    assert_eq!(app.movie(alien).await["name"], "Alien (1979)");
    let reply = app.get(&format!("/characters/{ripley}")).await;
    assert_eq!(reply.expect(StatusCode::OK)["movieName"], "Alien (1979)");

    // A character's own write.
    let body = json!({ "name": "Ellen Ripley", "movieId": alien });
    app.put_json(&format!("/characters/{ripley}"), &body).await.expect(StatusCode::OK);
    let reply = app.get(&format!("/characters/{ripley}")).await;
    assert_eq!(reply.expect(StatusCode::OK)["name"], "Ellen Ripley");

    // A deleted movie takes its characters with it.
    app.delete(&format!("/movies/{alien}")).await.expect(StatusCode::OK);
    app.get(&format!("/movies/{alien}")).await.expect(StatusCode::NOT_FOUND);
    app.get(&format!("/characters/{ripley}")).await.expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_deleted_editor_is_gone_from_the_cached_records() {
    let app = spawn_app().await;
    let token = app.user_token("editor").await;
    let reply = app
        .send(
            app.request_as(Some(&token), Method::POST, "/movies")
                .json(&json!({ "name": "Heat", "year": 1995 })),
        )
        .await;
    let heat = id_of(reply.expect(StatusCode::OK));
    let editor = app.movie(heat).await["editorId"].as_i64().expect("an editor");

    app.delete(&format!("/users/{editor}")).await.expect(StatusCode::OK);

    assert_eq!(app.movie(heat).await["editorId"], json!(null));
}

#[tokio::test]
async fn reads_racing_writes_never_see_a_write_undone() {
    let app = spawn_app().await;
    let id = id_of(&app.create_movie("Round 0", 2000).await);
    // Readers keep filling the cache (the movie, its block and the list's span) while the
    // writer renames and adds; each write, once answered, must be what the next read says.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = ["/movies/{id}", "/movies?skip=0&limit=50", "/movies?after=0&limit=50"]
        .into_iter()
        .cycle()
        .take(6)
        .map(|path| {
            let (client, stop) = (app.client.clone(), stop.clone());
            let url = format!("{}{}", app.address, path.replace("{id}", &id.to_string()));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = client.get(&url).send().await;
                }
            })
        })
        .collect();
    for round in 1..=30 {
        let name = format!("Round {round}");
        let body = json!({ "name": name, "year": 2000 });
        app.put_json(&format!("/movies/{id}"), &body).await.expect(StatusCode::OK);
        assert_eq!(app.movie(id).await["name"], name, "round {round}");
        let added = id_of(&app.create_movie(&format!("Added {round}"), 2000).await);
        for query in ["skip=0&limit=50", "after=0&limit=50"] {
            let (items, total) = page(&app, query).await;
            assert_eq!((items[0]["name"].as_str(), total), (Some(name.as_str()), round + 1));
            assert_eq!(items.last().map(id_of), Some(added), "round {round}, {query}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.expect("a reader ends");
    }
}

#[tokio::test]
async fn a_page_of_the_list_after_a_write_sees_the_write_whatever_it_touched() {
    let app = spawn_app().await;
    let token = app.user_token("editor").await;
    let mut made = Vec::new();
    for n in 1..=40 {
        let body = json!({ "name": format!("Film {n}"), "year": 2000 });
        let reply =
            app.send(app.request_as(Some(&token), Method::POST, "/movies").json(&body)).await;
        made.push(id_of(reply.expect(StatusCode::OK)));
    }
    // Every page read once, so that the cache holds them.
    let (items, total) = page(&app, "skip=0&limit=50").await;
    assert_eq!((ids(&items), total), (made.clone(), 40));
    assert_eq!(ids(&page(&app, "skip=10&limit=5").await.0), made[10..15]);
    assert_eq!(ids(&page(&app, "after=0&limit=3").await.0), made[..3]);

    // Added: the count and the last page.
    let added = id_of(&app.create_movie("Film 41", 2001).await);
    let (items, total) = page(&app, "skip=38&limit=5").await;
    assert_eq!((ids(&items), total), (vec![made[38], made[39], added], 41));

    // Renamed.
    let body = json!({ "name": "Film 12, renamed", "year": 2000 });
    app.put_json(&format!("/movies/{}", made[11]), &body).await.expect(StatusCode::OK);
    assert_eq!(page(&app, "skip=10&limit=5").await.0[1]["name"], "Film 12, renamed");

    // A character moves its movie's count.
    app.create_character("Someone", "Film 3").await;
    assert_eq!(page(&app, "after=0&limit=3").await.0[2]["nrCharacters"], 1);

    // The editor deleted: every movie loses it.
    let editor = page(&app, "skip=0&limit=1").await.0[0]["editorId"].as_i64().expect("an editor");
    app.delete(&format!("/users/{editor}")).await.expect(StatusCode::OK);
    let (items, _) = page(&app, "skip=0&limit=50").await;
    assert!(items[..40].iter().all(|m| m["editorId"].is_null()), "{items:?}");

    // Deleted: gone from the count and the pages, which now skip over its place.
    app.delete(&format!("/movies/{}", made[12])).await.expect(StatusCode::OK);
    let (items, total) = page(&app, "skip=10&limit=5").await;
    assert_eq!(total, 40);
    assert_eq!(ids(&items), [made[10], made[11], made[13], made[14], made[15]]);
    let reply = app.get(&format!("/movies?after={}&limit=2", made[11])).await;
    assert_eq!(ids(reply.items()), [made[13], made[14]]);
    assert_eq!(reply.header("x-next-after"), Some(made[14].to_string().as_str()));
}
