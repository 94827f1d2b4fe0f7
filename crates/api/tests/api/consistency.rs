//! `nrCharacters` stays true: after a long random sequence of character writes, and after many
//! writes to one movie at once. The random sequence is reproducible: its seed is in every failure
//! message, and `CONSISTENCY_SEED=N` replays another one.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::{TestApp, id_of, spawn_app};

const DEFAULT_SEED: u64 = 0x5EED_2026;
const STEPS: usize = 200;
const MOVIES: [&str; 5] = ["Alien", "The Thing", "Heat", "Ran", "Up"];

/// What the test believes is stored: each character's id and the index of its movie.
struct Model {
    movie_ids: Vec<i64>,
    characters: BTreeMap<i64, usize>,
    /// One past the largest character id handed out, to aim deletes at ids that never existed.
    next_unused_id: i64,
}

impl Model {
    fn add(&mut self, character: &Value) {
        let id = id_of(character);
        let movie = self.movie_index(character["movieId"].as_i64().expect("movieId"));
        self.characters.insert(id, movie);
        self.next_unused_id = self.next_unused_id.max(id + 1);
    }

    fn movie_index(&self, movie_id: i64) -> usize {
        self.movie_ids
            .iter()
            .position(|&id| id == movie_id)
            .unwrap_or_else(|| panic!("movie {movie_id} is not one of the test's"))
    }

    fn count(&self, movie: usize) -> usize {
        self.characters.values().filter(|&&m| m == movie).count()
    }
}

#[tokio::test]
async fn character_counts_stay_true_through_a_random_sequence_of_writes() {
    let seed =
        std::env::var("CONSISTENCY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED);
    let mut rng = StdRng::seed_from_u64(seed);
    let app = spawn_app().await;
    let mut model = Model { movie_ids: Vec::new(), characters: BTreeMap::new(), next_unused_id: 1 };
    for (i, name) in MOVIES.into_iter().enumerate() {
        model.movie_ids.push(id_of(&app.create_movie(name, 1980 + i as i64).await));
    }

    for step in 0..STEPS {
        let roll = rng.random_range(0..100);
        let op = if roll < 30 {
            add(&app, &mut model, &mut rng).await
        } else if roll < 50 {
            move_one(&app, &mut model, &mut rng).await
        } else if roll < 65 {
            delete_one(&app, &mut model, &mut rng).await
        } else if roll < 85 {
            bulk_add(&app, &mut model, &mut rng).await
        } else {
            delete_range(&app, &mut model, &mut rng).await
        };
        let context = format!("seed {seed}, step {step}: {op}");
        if let Err(why) = op.outcome {
            panic!("{context}: {why}");
        }
        check_counts(&app, &model, &context).await;
    }
}

/// What one step did, and whether the server answered as expected.
struct Op {
    description: String,
    outcome: Result<(), String>,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

fn expect_status(
    reply_status: StatusCode,
    expected: StatusCode,
    body: &Value,
) -> Result<(), String> {
    if reply_status == expected {
        Ok(())
    } else {
        Err(format!("expected {expected}, got {reply_status}: {body}"))
    }
}

async fn add(app: &TestApp, model: &mut Model, rng: &mut StdRng) -> Op {
    let movie = rng.random_range(0..MOVIES.len());
    let name = format!("C{}", rng.random_range(0..1000));
    let description = format!("add {name:?} to {}", MOVIES[movie]);
    let reply =
        app.post_json("/characters", &json!({ "name": name, "movieName": MOVIES[movie] })).await;
    let outcome = expect_status(reply.status, StatusCode::OK, &reply.body);
    if outcome.is_ok() {
        model.add(&reply.body);
    }
    Op { description, outcome }
}

async fn move_one(app: &TestApp, model: &mut Model, rng: &mut StdRng) -> Op {
    let ids: Vec<i64> = model.characters.keys().copied().collect();
    let Some(&id) = ids.choose(rng) else {
        return add(app, model, rng).await;
    };
    let to = rng.random_range(0..MOVIES.len());
    let description = format!("move {id} from {} to {}", MOVIES[model.characters[&id]], MOVIES[to]);
    let body = json!({ "name": format!("Moved {id}"), "movieName": MOVIES[to] });
    let reply = app.put_json(&format!("/characters/{id}"), &body).await;
    let mut outcome = expect_status(reply.status, StatusCode::OK, &reply.body);
    if outcome.is_ok() {
        if reply.body["movieId"] != model.movie_ids[to] {
            outcome = Err(format!("moved to the wrong movie: {}", reply.body));
        }
        model.characters.insert(id, to);
    }
    Op { description, outcome }
}

async fn delete_one(app: &TestApp, model: &mut Model, rng: &mut StdRng) -> Op {
    let ids: Vec<i64> = model.characters.keys().copied().collect();
    // Now and then, an id that does not exist: a 404 must change no count.
    let existing = ids.choose(rng).copied().filter(|_| rng.random_bool(0.9));
    let (id, expected) = match existing {
        Some(id) => (id, StatusCode::OK),
        None => (model.next_unused_id + rng.random_range(0..3), StatusCode::NOT_FOUND),
    };
    let description = format!("delete {id} (expecting {expected})");
    let reply = app.delete(&format!("/characters/{id}")).await;
    let outcome = expect_status(reply.status, expected, &reply.body);
    if outcome.is_ok() {
        model.characters.remove(&id);
    }
    Op { description, outcome }
}

async fn bulk_add(app: &TestApp, model: &mut Model, rng: &mut StdRng) -> Op {
    let n = rng.random_range(1..=6);
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let movie = rng.random_range(0..MOVIES.len());
            // Half by name, half by id: both must count.
            if rng.random_bool(0.5) {
                json!({ "name": format!("B{i}"), "movieName": MOVIES[movie] })
            } else {
                json!({ "name": format!("B{i}"), "movieId": model.movie_ids[movie] })
            }
        })
        .collect();
    let description = format!("bulk add {}", Value::Array(items.clone()));
    let reply = app.post_json("/characters/bulk", &json!(items)).await;
    let mut outcome = expect_status(reply.status, StatusCode::OK, &reply.body);
    if outcome.is_ok() {
        match reply.body.as_array() {
            Some(added) if added.len() == n => added.iter().for_each(|c| model.add(c)),
            _ => outcome = Err(format!("expected {n} characters, got {}", reply.body)),
        }
    }
    Op { description, outcome }
}

async fn delete_range(app: &TestApp, model: &mut Model, rng: &mut StdRng) -> Op {
    let start = rng.random_range(1..=model.next_unused_id);
    let end = start + rng.random_range(1..=6);
    let expected: Vec<i64> = model.characters.range(start..end).map(|(&id, _)| id).collect();
    let description = format!("delete range [{start}, {end}), expecting {expected:?}");
    let reply = app.delete(&format!("/characters/bulk/{start}/{end}")).await;
    let mut outcome = expect_status(reply.status, StatusCode::OK, &reply.body);
    if outcome.is_ok() {
        let mut deleted: Vec<i64> = reply.body["deleted"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        deleted.sort_unstable();
        let mut not_found: Vec<i64> = reply.body["not_found"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        not_found.sort_unstable();
        let expected_missing: Vec<i64> = (start..end).filter(|id| !expected.contains(id)).collect();
        if deleted != expected || not_found != expected_missing {
            outcome = Err(format!("unexpected answer {}", reply.body));
        }
        for id in &expected {
            model.characters.remove(id);
        }
    }
    Op { description, outcome }
}

/// Every movie's `nrCharacters` equals its characters listed afresh, and the model's count.
async fn check_counts(app: &TestApp, model: &Model, context: &str) {
    let movies = app.get("/movies?limit=1000").await;
    assert_eq!(movies.status, StatusCode::OK, "{context}");
    for (index, &movie_id) in model.movie_ids.iter().enumerate() {
        let movie = movies
            .items()
            .iter()
            .find(|m| m["id"] == movie_id)
            .unwrap_or_else(|| panic!("{context}: movie {movie_id} is gone"));
        let (listed, total) = app.characters_of(movie_id).await;
        let expected = model.count(index);
        assert_eq!(
            movie["nrCharacters"].as_u64(),
            Some(expected as u64),
            "{context}: nrCharacters of {}",
            MOVIES[index]
        );
        assert_eq!(listed.len(), expected, "{context}: characters listed for {}", MOVIES[index]);
        assert_eq!(total, expected as u64, "{context}: X-Total-Count of {}", MOVIES[index]);
    }
    assert_eq!(
        app.character_count().await,
        model.characters.len() as u64,
        "{context}: character count"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_characters_created_at_once_are_all_counted() {
    const TASKS: usize = 20;
    let app = spawn_app().await;
    let movie = id_of(&app.create_movie("Alien", 1979).await);
    let start = Arc::new(Barrier::new(TASKS));

    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let client = app.client.clone();
            let token = app.token.clone().expect("the admin's token");
            let url = format!("{}/characters", app.address);
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "name": format!("Crew {i}"), "movieName": "Alien" }))
                    .send()
                    .await
                    .expect("the server answers");
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                (status, body)
            })
        })
        .collect();
    for task in tasks {
        let (status, body) = task.await.expect("the task does not panic");
        assert_eq!(status, StatusCode::OK, "a concurrent create failed: {body}");
    }

    assert_eq!(app.nr_characters(movie).await, TASKS as i64);
    let (listed, total) = app.characters_of(movie).await;
    assert_eq!(listed.len(), TASKS);
    assert_eq!(total, TASKS as u64);
}
