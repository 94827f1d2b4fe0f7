//! Change notifications (docs/websocket.md) with real WebSocket clients: each write route sends
//! exactly its message, to every listener, in order; failed writes send nothing; `?since`
//! resumes without gap or duplicate, across a restart and past pruning (`reset`); `GET /events`
//! returns the same messages; subscriptions, client errors, the size limit, `lagged`, tokens.
//!
//! Every "nothing was sent" is proved without waiting: a successful write follows, and the next
//! message must be its.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::future::join_all;
use movies_infra::events::{SeaEventLog, prune_once};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::helpers::{
    ADMIN, ADMIN_ID, ADMIN_PASSWORD, TestApp, WsClient, assert_keys, id_of, spawn_app,
    spawn_app_with,
};

/// What every change event carries for the original's front end.
const REFRESH: &str = "New data is available. Please refresh.";

/// The keys of a change event, exactly.
const EVENT_KEYS: [&str; 6] = ["at", "data", "entity", "message", "operation", "seq"];

/// The keys of a control message (`subscribed`, `lagged`, `reset`, `error`), exactly.
const CONTROL_KEYS: [&str; 2] = ["data", "operation"];

/// A listener that checks the envelope of every change event it reads, and that `seq` only
/// grows.
struct Listener {
    ws: WsClient,
    /// The `seq` of the last event read (or the `since` it resumed from).
    last_seq: i64,
}

impl Listener {
    fn new(ws: WsClient) -> Self {
        Self { ws, last_seq: 0 }
    }

    /// A listener that connected with `?since=since`.
    fn resuming(ws: WsClient, since: i64) -> Self {
        Self { ws, last_seq: since }
    }

    /// The next message, which must be a change event with a larger `seq` than the one before.
    async fn next_event(&mut self) -> Value {
        let event = self.ws.next_json().await;
        assert_event_envelope(&event);
        let seq = seq_of(&event);
        assert!(seq > self.last_seq, "seq {seq} came after {}: {event}", self.last_seq);
        self.last_seq = seq;
        event
    }

    /// The next message, which must be the `entity` `operation` event with `data` (`movies`
    /// compared in id order); returns it.
    async fn expect(&mut self, entity: &str, operation: &str, data: &Value) -> Value {
        let event = self.next_event().await;
        assert_eq!(
            (event["entity"].as_str(), event["operation"].as_str()),
            (Some(entity), Some(operation)),
            "expected a {entity} {operation} event, got {event}"
        );
        assert_eq!(
            normalized(&event["data"]),
            normalized(data),
            "the data of the {entity} {operation} event"
        );
        event
    }
}

/// Panics unless `event` is a change event: exactly its keys, the refresh message, an RFC 3339
/// `at`, a positive `seq`.
#[track_caller]
fn assert_event_envelope(event: &Value) {
    assert_keys(event, &EVENT_KEYS);
    assert_eq!(event["message"], REFRESH, "{event}");
    assert!(event["entity"].is_string() && event["operation"].is_string(), "{event}");
    let at = event["at"].as_str().unwrap_or_else(|| panic!("`at` is not a string in {event}"));
    humantime::parse_rfc3339(at).unwrap_or_else(|e| panic!("`at` {at:?} is not RFC 3339: {e}"));
    assert!(seq_of(event) > 0, "{event}");
}

#[track_caller]
fn seq_of(event: &Value) -> i64 {
    event["seq"].as_i64().unwrap_or_else(|| panic!("no integer seq in {event}"))
}

/// `data` with its `movies` in id order: the contract does not order them.
fn normalized(data: &Value) -> Value {
    let mut data = data.clone();
    if let Some(movies) = data.get_mut("movies").and_then(Value::as_array_mut) {
        movies.sort_by_key(|m| m["id"].as_i64());
    }
    data
}

/// `character` (as the REST API returns it) plus `movies`, the new counts as (id, count).
fn with_movies(character: &Value, counts: &[(i64, i64)]) -> Value {
    let mut data = character.clone();
    data["movies"] = counts_json(counts);
    data
}

fn counts_json(counts: &[(i64, i64)]) -> Value {
    counts.iter().map(|&(id, n)| json!({ "id": id, "nrCharacters": n })).collect()
}

fn ids_of(items: &[Value]) -> Vec<i64> {
    items.iter().map(id_of).collect()
}

/// A fresh app and a listener from its very first event. `?since=0` rather than no `since`:
/// the listener then cannot miss a write made right after its handshake (see
/// `a_listener_without_since_gets_only_the_changes_made_after_it_connected`).
async fn app_and_listener() -> (TestApp, Listener) {
    let app = spawn_app().await;
    let listener = Listener::new(app.listen_since(0).await);
    (app, listener)
}

/// A control message: exactly `operation` and `data`, no `message`.
#[track_caller]
fn assert_control(message: &Value, operation: &str) {
    assert_keys(message, &CONTROL_KEYS);
    assert_eq!(message["operation"], operation, "{message}");
}

/// Sends `{"subscribe": entities}` and returns the answer.
async fn subscribe(ws: &mut WsClient, entities: &[&str]) -> Value {
    ws.send_text(&json!({ "subscribe": entities }).to_string()).await;
    ws.next_json().await
}

#[tokio::test]
async fn each_movie_write_sends_exactly_its_message_with_the_rest_answer_as_data() {
    let (app, mut listener) = app_and_listener().await;

    let body = json!({ "name": "Alien", "year": 1979, "genre": "Horror", "description": "Space" });
    let alien = app.create_movie_from(&body).await;
    listener.expect("movie", "add", &alien).await;
    let alien_id = id_of(&alien);

    let path = format!("/movies/{alien_id}");
    let changed = json!({ "name": "Alien", "year": 1979, "duration": "117 min" });
    let updated = app.put_json(&path, &changed).await.expect(StatusCode::OK).clone();
    listener.expect("movie", "update", &updated).await;

    // Without characters, a delete is one message: the next one is the next write's.
    let thing = app.create_movie("The Thing", 1982).await;
    listener.expect("movie", "add", &thing).await;
    app.delete(&format!("/movies/{}", id_of(&thing))).await.expect(StatusCode::OK);
    listener.expect("movie", "delete", &json!({ "id": id_of(&thing), "name": "The Thing" })).await;

    // With characters, the characters that went with it follow.
    let ripley = app.create_character("Ripley", "Alien").await;
    listener.expect("character", "add", &with_movies(&ripley, &[(alien_id, 1)])).await;
    let ash = app.create_character("Ash", "Alien").await;
    listener.expect("character", "add", &with_movies(&ash, &[(alien_id, 2)])).await;
    app.delete(&path).await.expect(StatusCode::OK);
    listener.expect("movie", "delete", &json!({ "id": alien_id, "name": "Alien" })).await;
    let deleted = json!({ "deleted": [id_of(&ripley), id_of(&ash)] });
    listener.expect("character", "delete_bulk", &deleted).await;

    // By name, with and without characters.
    let aliens = app.create_movie("Aliens", 1986).await;
    listener.expect("movie", "add", &aliens).await;
    let hicks = app.create_character("Hicks", "Aliens").await;
    listener.expect("character", "add", &with_movies(&hicks, &[(id_of(&aliens), 1)])).await;
    app.delete("/movies/by_name/Aliens").await.expect(StatusCode::OK);
    listener.expect("movie", "delete", &json!({ "id": id_of(&aliens), "name": "Aliens" })).await;
    listener.expect("character", "delete_bulk", &json!({ "deleted": [id_of(&hicks)] })).await;
    let prometheus = app.create_movie("Prometheus", 2012).await;
    listener.expect("movie", "add", &prometheus).await;
    app.delete("/movies/by_name/Prometheus").await.expect(StatusCode::OK);
    let data = json!({ "id": id_of(&prometheus), "name": "Prometheus" });
    listener.expect("movie", "delete", &data).await;

    // Bulk add: one message for the request, naming only what was added.
    let kept = app.create_movie("Kept", 2000).await;
    listener.expect("movie", "add", &kept).await;
    let batch = json!([
        { "name": "One", "year": 2001 },
        { "name": "Kept", "year": 2000 },
        { "name": "Two", "year": 2002 },
        { "name": "Three", "year": 2003 }
    ]);
    let reply = app.post_json("/movies/bulk", &batch).await;
    let added = ids_of(reply.expect(StatusCode::OK)["added_movies"].as_array().expect("a list"));
    assert_eq!(added.len(), 3);
    listener.expect("movie", "add_bulk", &json!({ "count": 3, "ids": added })).await;
    // Adding nothing sends nothing.
    let reply = app.post_json("/movies/bulk", &json!([{ "name": "One", "year": 2001 }])).await;
    assert_eq!(reply.expect(StatusCode::OK)["added_movies"], json!([]));

    // Bulk delete: `delete_bulk` of the movies, then of their characters.
    let extra = app.create_character("Extra", "Two").await;
    listener.expect("character", "add", &with_movies(&extra, &[(added[1], 1)])).await;
    let reply = app.delete(&format!("/movies/bulk/{}/{}", added[0], added[1] + 1)).await;
    reply.expect(StatusCode::OK);
    let data = json!({ "deleted": [added[0], added[1]] });
    listener.expect("movie", "delete_bulk", &data).await;
    let data = json!({ "deleted": [id_of(&extra)] });
    listener.expect("character", "delete_bulk", &data).await;
    // Exactly one movie: `delete`, and no character message when it had none.
    let reply = app.delete(&format!("/movies/bulk/{}/{}", added[2], added[2] + 1)).await;
    reply.expect(StatusCode::OK);
    listener.expect("movie", "delete", &json!({ "id": added[2], "name": "Three" })).await;

    let last = app.create_movie("Last", 2020).await;
    listener.expect("movie", "add", &last).await;
}

#[tokio::test]
async fn each_character_write_sends_exactly_its_message_with_the_new_counts_of_its_movies() {
    let (app, mut listener) = app_and_listener().await;
    let alien = app.create_movie("Alien", 1979).await;
    listener.expect("movie", "add", &alien).await;
    let thing = app.create_movie("The Thing", 1982).await;
    listener.expect("movie", "add", &thing).await;
    let (alien, thing) = (id_of(&alien), id_of(&thing));

    let ripley = app.create_character("Ripley", "Alien").await;
    listener.expect("character", "add", &with_movies(&ripley, &[(alien, 1)])).await;
    let path = format!("/characters/{}", id_of(&ripley));

    // An update that keeps the character in its movie changes no count.
    let body = json!({ "name": "Ellen Ripley", "movieId": alien, "description": "Officer" });
    let updated = app.put_json(&path, &body).await.expect(StatusCode::OK).clone();
    listener.expect("character", "update", &with_movies(&updated, &[])).await;

    // A move changes two.
    let body = json!({ "name": "Ellen Ripley", "movieName": "The Thing" });
    let moved = app.put_json(&path, &body).await.expect(StatusCode::OK).clone();
    assert_eq!(moved["movieId"], thing);
    listener.expect("character", "update", &with_movies(&moved, &[(alien, 0), (thing, 1)])).await;

    app.delete(&path).await.expect(StatusCode::OK);
    let counts = counts_json(&[(thing, 0)]);
    let data = json!({ "id": id_of(&ripley), "name": "Ellen Ripley", "movies": counts });
    listener.expect("character", "delete", &data).await;

    let batch = json!([
        { "name": "Ash", "movieName": "Alien" },
        { "name": "MacReady", "movieId": thing },
        { "name": "Dallas", "movieName": "Alien" }
    ]);
    let reply = app.post_json("/characters/bulk", &batch).await;
    let ids = ids_of(reply.expect(StatusCode::OK).as_array().expect("a list"));
    let data = json!({ "count": 3, "ids": ids, "movies": counts_json(&[(alien, 2), (thing, 1)]) });
    listener.expect("character", "add_bulk", &data).await;

    let reply = app.delete(&format!("/characters/bulk/{}/{}", ids[0], ids[1] + 1)).await;
    reply.expect(StatusCode::OK);
    let data =
        json!({ "deleted": [ids[0], ids[1]], "movies": counts_json(&[(alien, 1), (thing, 0)]) });
    listener.expect("character", "delete_bulk", &data).await;

    let last = app.create_character("Lambert", "Alien").await;
    listener.expect("character", "add", &with_movies(&last, &[(alien, 2)])).await;
}

#[tokio::test]
async fn deleting_a_user_sends_its_id() {
    let (app, mut listener) = app_and_listener().await;
    let ana = app.user_token("ana").await;
    let me = app.call(Some(&ana), Method::GET, "/auth/me", None).await;
    let ana_id = id_of(me.expect(StatusCode::OK));
    let body = json!({ "name": "Ana's", "year": 2000 });
    let reply = app.call(Some(&ana), Method::POST, "/movies", Some(&body)).await;
    listener.expect("movie", "add", reply.expect(StatusCode::OK)).await;

    app.delete(&format!("/users/{ana_id}")).await.expect(StatusCode::OK);

    // Only the user's message: the movie it edited loses its editor without one.
    listener.expect("user", "delete", &json!({ "id": ana_id })).await;
    let last = app.create_movie("Last", 2020).await;
    listener.expect("movie", "add", &last).await;
}

#[tokio::test]
async fn the_servers_internal_events_never_reach_a_listener_nor_the_events_route() {
    let (app, mut listener) = app_and_listener().await;
    let first = app.create_movie("First", 2000).await;
    let first_seq = seq_of(&listener.expect("movie", "add", &first).await);
    // A logout records an internal revocation event (for the other instances' caches).
    let ana = app.user_token("ana").await;
    app.call(Some(&ana), Method::POST, "/auth/logout", None).await.expect(StatusCode::OK);
    let mut resuming = Listener::resuming(app.listen_since(first_seq).await, first_seq);

    let last = app.create_movie("Last", 2020).await;

    // Live and replayed alike, the next message is the movie's, past the skipped seq.
    let live = listener.expect("movie", "add", &last).await;
    assert!(seq_of(&live) > first_seq + 1, "the revocation took a seq: {live}");
    assert_eq!(resuming.expect("movie", "add", &last).await, live);
    let listed = app.get(&format!("/events?since={first_seq}&limit=1")).await;
    assert_eq!(listed.items(), &vec![live.clone()], "the page is filled past the internal event");
    let all = app.get("/events?limit=1000").await;
    assert!(all.items().iter().all(|e| e["entity"] != "auth"), "{:?}", all.items());
    let mut ws = app.listen().await;
    let refused = subscribe(&mut ws, &["auth"]).await;
    assert_control(&refused, "error");
}

#[tokio::test]
async fn two_listeners_receive_every_event_in_the_same_order() {
    let (app, mut first) = app_and_listener().await;
    let mut second = Listener::new(app.listen_since(0).await);

    // Concurrent writes, so that the order is the server's to choose.
    let app = &app;
    let creating =
        (0..20).map(|i| async move { app.create_movie(&format!("Movie {i}"), 2000).await });
    let created = join_all(creating).await;
    let ripley = app.create_character("Ripley", "Movie 3").await;
    app.delete("/movies/by_name/Movie%203").await.expect(StatusCode::OK);

    let expected = created.len() + 3;
    let mut seen = (Vec::new(), Vec::new());
    for _ in 0..expected {
        seen.0.push(first.next_event().await);
        seen.1.push(second.next_event().await);
    }
    assert_eq!(seen.0, seen.1);
    let mut added: Vec<i64> = seen.0[..created.len()].iter().map(|e| id_of(&e["data"])).collect();
    added.sort_unstable();
    let mut ids = ids_of(&created);
    ids.sort_unstable();
    assert_eq!(added, ids, "one add per created movie");
    assert_eq!(seen.0[created.len()]["data"]["id"], id_of(&ripley));
    let last = app.create_movie("Last", 2020).await;
    first.expect("movie", "add", &last).await;
    second.expect("movie", "add", &last).await;
}

#[tokio::test]
async fn a_write_that_fails_or_is_refused_sends_nothing() {
    let (app, mut listener) = app_and_listener().await;
    let ana = app.user_token("ana").await;
    let alien = app.create_movie("Alien", 1979).await;
    listener.expect("movie", "add", &alien).await;
    let aliens = app.create_movie("Aliens", 1986).await;
    listener.expect("movie", "add", &aliens).await;
    let alien_path = format!("/movies/{}", id_of(&alien));

    // A bulk with one invalid item.
    let batch = json!([{ "name": "Alien 3", "year": 1992 }, { "name": "Alien 4", "year": 3000 }]);
    app.post_json("/movies/bulk", &batch).await.expect_invalid();
    let batch = json!([
        { "name": "Ripley", "movieName": "Alien" },
        { "name": "Deckard", "movieName": "Blade Runner" }
    ]);
    app.post_json("/characters/bulk", &batch).await.expect_invalid();
    // A taken name.
    let taken = json!({ "name": "Alien", "year": 1986 });
    app.post_json("/movies", &taken).await.expect_error(StatusCode::CONFLICT);
    let path = format!("/movies/{}", id_of(&aliens));
    app.put_json(&path, &taken).await.expect_error(StatusCode::CONFLICT);
    // Forbidden: another user's movie, deleting a user as a plain user, the admin itself.
    let change = json!({ "name": "Mine", "year": 1979 });
    let reply = app.call(Some(&ana), Method::PUT, &alien_path, Some(&change)).await;
    reply.expect_error(StatusCode::FORBIDDEN);
    let reply = app.call(Some(&ana), Method::DELETE, &alien_path, None).await;
    reply.expect_error(StatusCode::FORBIDDEN);
    let reply = app.call(Some(&ana), Method::DELETE, &format!("/users/{ADMIN_ID}"), None).await;
    reply.expect_error(StatusCode::FORBIDDEN);
    app.delete(&format!("/users/{ADMIN_ID}")).await.expect_error(StatusCode::FORBIDDEN);
    // Unauthorized: no token, a bad one, a revoked one.
    let new = json!({ "name": "Intruder", "year": 2000 });
    let reply = app.call(None, Method::POST, "/movies", Some(&new)).await;
    reply.expect_error(StatusCode::UNAUTHORIZED);
    let reply = app.call(Some("garbage"), Method::DELETE, &alien_path, None).await;
    reply.expect_error(StatusCode::UNAUTHORIZED);
    let leaving = app.login(ADMIN, ADMIN_PASSWORD).await;
    app.call(Some(&leaving), Method::POST, "/auth/logout", None).await.expect(StatusCode::OK);
    let reply = app.call(Some(&leaving), Method::DELETE, &alien_path, None).await;
    reply.expect_error(StatusCode::UNAUTHORIZED);

    let thing = app.create_movie("The Thing", 1982).await;
    listener.expect("movie", "add", &thing).await;
    assert_eq!(app.movie_count().await, 3, "the failed writes changed nothing");
}

#[tokio::test]
async fn a_listener_without_since_gets_only_the_changes_made_after_it_connected() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;
    let mut ws = app.listen().await;
    // The server reads where the log ends just after the handshake, so a write racing the
    // handshake may count as before it; the answer to a message comes only once the session
    // serves live events, which makes "after it connected" certain.
    let answer = subscribe(&mut ws, &["movie", "character", "user", "job"]).await;
    assert_control(&answer, "subscribed");
    let mut listener = Listener::new(ws);

    let thing = app.create_movie("The Thing", 1982).await;

    listener.expect("movie", "add", &thing).await;
}

#[tokio::test]
async fn a_listener_that_reconnects_with_since_gets_exactly_what_it_missed_then_live_events() {
    let (app, mut listener) = app_and_listener().await;
    let alien = app.create_movie("Alien", 1979).await;
    listener.expect("movie", "add", &alien).await;
    let thing = app.create_movie("The Thing", 1982).await;
    let seen = seq_of(&listener.expect("movie", "add", &thing).await);
    listener.ws.close().await;

    let aliens = app.create_movie("Aliens", 1986).await;
    let ripley = app.create_character("Ripley", "Alien").await;
    app.delete("/movies/by_name/The%20Thing").await.expect(StatusCode::OK);

    let mut listener = Listener::resuming(app.listen_since(seen).await, seen);
    let mut missed = vec![listener.expect("movie", "add", &aliens).await];
    let data = with_movies(&ripley, &[(id_of(&alien), 1)]);
    missed.push(listener.expect("character", "add", &data).await);
    let data = json!({ "id": id_of(&thing), "name": "The Thing" });
    missed.push(listener.expect("movie", "delete", &data).await);
    // The seam: the next message is the next write's, neither a repeat nor a gap.
    let prometheus = app.create_movie("Prometheus", 2012).await;
    missed.push(listener.expect("movie", "add", &prometheus).await);

    // Nothing in between either: the log after `seen` is exactly what the listener got.
    let reply = app.get(&format!("/events?since={seen}")).await;
    assert_eq!(reply.items(), &missed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_replaying_while_writes_go_on_gets_every_event_once_in_order() {
    let app = spawn_app().await;
    for i in 0..100 {
        app.create_movie(&format!("Before {i}"), 2000).await;
    }

    // The replay from the log and the live events meet while writes go on.
    let mut listener = Listener::new(app.listen_since(0).await);
    let writing = async {
        for i in 0..50 {
            app.create_movie(&format!("During {i}"), 2000).await;
        }
    };
    let reading = async {
        let mut events = Vec::new();
        for _ in 0..150 {
            events.push(listener.next_event().await);
        }
        events
    };
    let ((), events) = tokio::join!(writing, reading);

    let log = app.get("/events?since=0&limit=1000").await;
    assert_eq!(log.items(), &events, "the listener got the log, once each, in order");
    let last = app.create_movie("Last", 2020).await;
    listener.expect("movie", "add", &last).await;
}

#[tokio::test]
async fn after_a_restart_a_listener_resumes_with_exactly_the_events_it_missed() {
    let (mut app, mut listener) = app_and_listener().await;
    let alien = app.create_movie("Alien", 1979).await;
    let seen = seq_of(&listener.expect("movie", "add", &alien).await);
    listener.ws.close().await;
    let thing = app.create_movie("The Thing", 1982).await;

    app.restart().await;
    let ripley = app.create_character("Ripley", "Alien").await;

    let mut listener = Listener::resuming(app.listen_since(seen).await, seen);
    listener.expect("movie", "add", &thing).await;
    listener.expect("character", "add", &with_movies(&ripley, &[(id_of(&alien), 1)])).await;
    let aliens = app.create_movie("Aliens", 1986).await;
    listener.expect("movie", "add", &aliens).await;
}

#[tokio::test]
async fn the_events_route_returns_the_websocket_messages_with_the_bounds_of_the_log() {
    let (app, mut listener) = app_and_listener().await;
    let alien = app.create_movie("Alien", 1979).await;
    let mut messages = vec![listener.expect("movie", "add", &alien).await];
    let ripley = app.create_character("Ripley", "Alien").await;
    let data = with_movies(&ripley, &[(id_of(&alien), 1)]);
    messages.push(listener.expect("character", "add", &data).await);
    app.delete("/movies/by_name/Alien").await.expect(StatusCode::OK);
    let data = json!({ "id": id_of(&alien), "name": "Alien" });
    messages.push(listener.expect("movie", "delete", &data).await);
    let data = json!({ "deleted": [id_of(&ripley)] });
    messages.push(listener.expect("character", "delete_bulk", &data).await);
    let (first, last) = (seq_of(&messages[0]), seq_of(&messages[3]));

    let reply = app.call(None, Method::GET, "/events?since=0&limit=1000", None).await;
    assert_eq!(reply.expect(StatusCode::OK), &json!(messages));
    assert_eq!(reply.header("x-oldest-seq"), Some(first.to_string().as_str()));
    assert_eq!(reply.header("x-latest-seq"), Some(last.to_string().as_str()));

    let reply = app.get(&format!("/events?since={first}&limit=2")).await;
    assert_eq!(reply.items(), &messages[1..3]);
    assert_eq!(reply.header("x-oldest-seq"), Some(first.to_string().as_str()));
    assert_eq!(reply.header("x-latest-seq"), Some(last.to_string().as_str()));
    assert_eq!(app.get("/events").await.items(), &messages, "by default from the start");
    assert_eq!(app.get(&format!("/events?since={last}")).await.items(), &Vec::<Value>::new());

    for limit in [0, 1001] {
        app.get(&format!("/events?since=0&limit={limit}")).await.expect_invalid();
    }
}

/// Prunes the app's event log to its newest `max` events, as the server's pruner does every
/// minute, through the same `prune_once`; returns how many went.
async fn prune_to(app: &TestApp, max: u64) -> u64 {
    let db = movies_infra::connect(&app.database_url).await.expect("the app's database opens");
    let log = SeaEventLog::new(db.clone());
    let pruned = prune_once(&log, Duration::from_secs(3600), max).await.expect("pruned");
    db.close().await.ok();
    pruned
}

#[tokio::test]
async fn a_since_older_than_the_log_keeps_gets_a_reset_then_live_events() {
    let app = spawn_app().await;
    let mut listener = Listener::new(app.listen_since(0).await);
    let mut events = Vec::new();
    for (name, year) in [("A", 2001), ("B", 2002), ("C", 2003), ("D", 2004), ("E", 2005)] {
        let movie = app.create_movie(name, year).await;
        events.push(listener.expect("movie", "add", &movie).await);
    }
    listener.ws.close().await;
    assert_eq!(prune_to(&app, 2).await, 3, "all but the newest two");
    let oldest = seq_of(&events[3]);

    let mut ws = app.listen_since(0).await;
    let reset = ws.next_json().await;
    assert_eq!(reset, json!({ "operation": "reset", "data": { "oldest": oldest } }));
    // Then live events only: what the log still holds is not sent after a reset.
    let mut listener = Listener::resuming(ws, seq_of(&events[4]));
    let f = app.create_movie("F", 2006).await;
    let live = listener.expect("movie", "add", &f).await;

    // A `since` just before the oldest kept event is still whole: no reset.
    let mut listener = Listener::resuming(app.listen_since(oldest - 1).await, oldest - 1);
    assert_eq!(listener.next_event().await, events[3]);
    assert_eq!(listener.next_event().await, events[4]);
    assert_eq!(listener.next_event().await, live);
}

/// The most payload the kernel may hold in the server's send buffer: Linux's `tcp_wmem`
/// maximum, else 4 MiB. The buffer grows by itself on loopback (to about 3 MiB here), so a
/// listener stalls only after that much.
fn largest_send_buffer() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|limits| limits.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20)
}

#[tokio::test]
async fn a_listener_that_never_reads_is_closed_with_lagged_and_slows_no_one() {
    const QUEUE: usize = 8;
    let app = spawn_app_with(&["--ws-queue", &QUEUE.to_string()]).await;
    // A small receive buffer, so that its socket fills as soon as the server's side is full.
    let addr: SocketAddr = app.address.trim_start_matches("http://").parse().expect("an address");
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("a small receive buffer");
    let tcp = socket.connect(addr).await.expect("the server accepts");
    let mut stalled = WsClient::over(&app.ws_url(Some(0), None), tcp).await.expect("it connects");
    let mut reader = Listener::new(app.listen_since(0).await);

    // Events of over 5,000 bytes, enough of them to overflow any send buffer, and then the
    // queue, with a margin.
    let description = "x".repeat(5_000);
    let writes = largest_send_buffer() / description.len() + 8 * QUEUE;
    let mut seqs = Vec::with_capacity(writes);
    // Rounds of QUEUE concurrent writes, each read whole by the other listener before the
    // next: it never falls QUEUE behind, however slow the stalled one is.
    let app = &app;
    for round in 0..writes.div_ceil(QUEUE) {
        let creating = (round * QUEUE..(round + 1) * QUEUE).map(|i| {
            let body =
                json!({ "name": format!("Movie {i}"), "year": 2000, "description": description });
            async move { app.create_movie_from(&body).await }
        });
        let mut created = ids_of(&join_all(creating).await);
        let mut announced = Vec::with_capacity(QUEUE);
        for _ in 0..QUEUE {
            let event = reader.next_event().await;
            assert_eq!((&event["entity"], &event["operation"]), (&json!("movie"), &json!("add")));
            announced.push(id_of(&event["data"]));
            seqs.push(seq_of(&event));
        }
        created.sort_unstable();
        announced.sort_unstable();
        assert_eq!(announced, created, "the other listener gets every write of round {round}");
    }
    let writes = seqs.len();

    // Only now does the stalled listener read: what was on its way, then `lagged`.
    let mut received = Vec::new();
    let lagged = loop {
        let message = stalled.next_json().await;
        if message["operation"] == "lagged" {
            break message;
        }
        assert_event_envelope(&message);
        received.push(seq_of(&message));
    };
    assert!(!received.is_empty() && received.len() < writes, "{} events", received.len());
    assert_eq!(received, seqs[..received.len()], "the events before `lagged`, in order");
    let resume_from = *received.last().expect("some events");
    assert_control(&lagged, "lagged");
    assert_eq!(lagged["data"], json!({ "resume_from": resume_from }));
    assert_eq!(stalled.next_close().await.code, CloseCode::Normal);

    // Resuming from there gets the rest.
    let mut resumed = Listener::resuming(app.listen_since(resume_from).await, resume_from);
    for &seq in &seqs[received.len()..] {
        assert_eq!(seq_of(&resumed.next_event().await), seq);
    }
}

#[tokio::test]
async fn a_subscription_narrows_what_a_listener_receives_and_a_new_one_replaces_it() {
    let (app, listener) = app_and_listener().await;
    let mut ws = listener.ws;

    let answer = subscribe(&mut ws, &["character"]).await;
    assert_eq!(answer, json!({ "operation": "subscribed", "data": { "entities": ["character"] } }));
    let mut listener = Listener::new(ws);
    let alien = app.create_movie("Alien", 1979).await;
    let ripley = app.create_character("Ripley", "Alien").await;
    listener.expect("character", "add", &with_movies(&ripley, &[(id_of(&alien), 1)])).await;

    let answer = subscribe(&mut listener.ws, &["movie"]).await;
    assert_eq!(answer, json!({ "operation": "subscribed", "data": { "entities": ["movie"] } }));
    app.create_character("Ash", "Alien").await;
    let thing = app.create_movie("The Thing", 1982).await;
    listener.expect("movie", "add", &thing).await;
}

#[tokio::test]
async fn a_subscription_to_several_entities_is_answered_in_a_fixed_order() {
    let (_app, listener) = app_and_listener().await;
    let mut ws = listener.ws;

    let answer = subscribe(&mut ws, &["character", "movie"]).await;

    let entities = json!({ "entities": ["movie", "character"] });
    assert_eq!(answer, json!({ "operation": "subscribed", "data": entities }));
}

#[tokio::test]
async fn anything_but_a_subscription_is_answered_with_an_error_and_the_connection_stays_open() {
    let (app, mut listener) = app_and_listener().await;
    let just_under_the_limit = "x".repeat(64 * 1024);
    let texts = [r#"{"subscribe": ["film"]}"#, "hello", r#"{"x": 1}"#, &just_under_the_limit];

    for text in texts {
        listener.ws.send_text(text).await;
        let answer = listener.ws.next_json().await;
        let shown = &text[..text.len().min(40)];
        assert_control(&answer, "error");
        assert_keys(&answer["data"], &["detail"]);
        let detail = answer["data"]["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "no detail for {shown:?}: {answer}");
    }
    listener.ws.send(Message::binary(b"{\"subscribe\": [\"movie\"]}".to_vec())).await;
    assert_control(&listener.ws.next_json().await, "error");

    // Still open, and still listening to everything.
    let alien = app.create_movie("Alien", 1979).await;
    listener.expect("movie", "add", &alien).await;
    let ripley = app.create_character("Ripley", "Alien").await;
    listener.expect("character", "add", &with_movies(&ripley, &[(id_of(&alien), 1)])).await;
}

#[tokio::test]
async fn a_message_over_64_kib_closes_the_connection_with_code_1009() {
    let (_app, listener) = app_and_listener().await;
    let mut ws = listener.ws;

    ws.send_text(&"x".repeat(70_000)).await;

    let close = ws.next_close().await;
    assert_eq!(close.code, CloseCode::Size);
    assert_eq!(u16::from(close.code), 1009);
}

/// Panics unless the upgrade was refused with 401 and a `detail` message.
fn assert_refused_with_401(attempt: Result<WsClient, tungstenite::Error>, context: &str) {
    match attempt {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401, "{context}");
            let body = response.body().as_deref().unwrap_or_default();
            let body: Value = serde_json::from_slice(body).unwrap_or_default();
            assert!(body["detail"].is_string(), "{context}: no detail in {body}");
        }
        Err(e) => panic!("{context}: expected a refused upgrade, got {e}"),
        Ok(_) => panic!("{context}: the upgrade was accepted"),
    }
}

#[tokio::test]
async fn a_valid_token_connects_and_a_bad_or_revoked_one_is_refused_with_401() {
    let app = spawn_app().await;
    let token = app.token.clone().expect("the admin's token");
    let ws = app.try_listen(Some(0), Some(&token)).await.expect("a valid token connects");
    let mut listener = Listener::new(ws);
    let alien = app.create_movie("Alien", 1979).await;
    listener.expect("movie", "add", &alien).await;

    assert_refused_with_401(app.try_listen(None, Some("garbage")).await, "a garbage token");
    let leaving = app.login(ADMIN, ADMIN_PASSWORD).await;
    app.call(Some(&leaving), Method::POST, "/auth/logout", None).await.expect(StatusCode::OK);
    assert_refused_with_401(app.try_listen(None, Some(&leaving)).await, "a revoked token");
}
