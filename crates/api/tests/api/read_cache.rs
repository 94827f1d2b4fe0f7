//! The read cache in front of `GET /movies/{id}` and `GET /characters/{id}`: once a write has
//! answered, no read answers what it changed, whatever the write (the record itself, a count
//! moved by a character, a name carried by characters, an editor deleted), and however many
//! reads run beside it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{id_of, spawn_app};

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
    // Readers keep filling the cache while the writer renames; each rename, once answered,
    // must be what the next read says.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (client, stop) = (app.client.clone(), stop.clone());
            let url = format!("{}/movies/{id}", app.address);
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = client.get(&url).send().await;
                }
            })
        })
        .collect();
    for round in 1..=40 {
        let name = format!("Round {round}");
        let body = json!({ "name": name, "year": 2000 });
        app.put_json(&format!("/movies/{id}"), &body).await.expect(StatusCode::OK);
        assert_eq!(app.movie(id).await["name"], name, "round {round}");
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.expect("a reader ends");
    }
}
