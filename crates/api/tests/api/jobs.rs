//! Background generation jobs: `POST /movies/generate/{n}` and `POST /characters/generate/{n}`
//! answer 202 with a job, which runs in batches of `BATCH_SIZE` to `done`, announcing each batch
//! and its end over `/ws`; `GET /jobs`, `GET /jobs/{id}` and `DELETE /jobs/{id}` show and cancel
//! a job, for its owner or an admin only.
//!
//! A job is awaited through its `generate_done` event, read from a listener connected before the
//! job was submitted; the only time limit turns a hang into a failure.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use futures_util::StreamExt;
use movies_domain::jobs::BATCH_SIZE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{
    CHARACTER_KEYS, MOVIE_KEYS, Reply, TestApp, WsStream, assert_keys, id_of, open_ws, spawn_app,
    spawn_app_with,
};

/// The keys of a job, exactly.
const JOB_KEYS: [&str; 9] =
    ["createdAt", "done", "error", "finishedAt", "id", "kind", "requested", "startedAt", "status"];

/// How long to wait for the next event while a job runs: only to turn a hang into a failure,
/// never a measure of how fast the server is.
const PATIENCE: Duration = Duration::from_secs(300);

async fn open(url: &str) -> WsStream {
    open_ws(url, PATIENCE).await.unwrap_or_else(|e| panic!("could not listen on {url}: {e}"))
}

/// A listener on `/ws`, connected before the jobs it watches are submitted.
struct Events {
    /// `127.0.0.1:PORT`.
    host: String,
    stream: WsStream,
    last_seq: i64,
}

impl Events {
    async fn connect(app: &TestApp) -> Self {
        let host = app.address.trim_start_matches("http://").to_owned();
        let stream = open(&format!("ws://{host}/ws")).await;
        Self { host, stream, last_seq: 0 }
    }

    /// The next message. A `lagged` listener resumes where the server says, so no event is lost.
    async fn next(&mut self) -> Value {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("no event within {PATIENCE:?}"));
            let text = match next {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                other => panic!("the listener stopped with {other:?}"),
            };
            let event: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("a message that is not JSON ({e}): {text}"));
            if event["operation"] == "lagged" {
                let since = event["data"]["resume_from"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("no resume_from in {event}"));
                self.stream = open(&format!("ws://{}/ws?since={since}", self.host)).await;
                continue;
            }
            if let Some(seq) = event["seq"].as_i64() {
                assert!(seq > self.last_seq, "seq {seq} came after {}: {event}", self.last_seq);
                self.last_seq = seq;
            }
            return event;
        }
    }

    /// Every event up to and including the `generate_done` of `job`.
    async fn until_done(&mut self, job: &str) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let event = self.next().await;
            let done = is_job_event(&event, "generate_done", job);
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// The data of the `generate_done` event of `job`, skipping anything before it.
    async fn done_of(&mut self, job: &str) -> Value {
        let events = self.until_done(job).await;
        events.last().expect("the generate_done event")["data"].clone()
    }

    /// The data of the `generate_done` event of each of `jobs`, whatever order they end in.
    async fn done_of_all(&mut self, jobs: &[&str]) -> HashMap<String, Value> {
        let mut ended = HashMap::new();
        while ended.len() < jobs.len() {
            let event = self.next().await;
            if let Some(job) = jobs.iter().find(|j| is_job_event(&event, "generate_done", j)) {
                let first = ended.insert((*job).to_owned(), event["data"].clone());
                assert!(first.is_none(), "a second generate_done for {job}: {event}");
            }
        }
        ended
    }

    /// The data of the first `generate_progress` event of `job`.
    async fn first_progress_of(&mut self, job: &str) -> Value {
        loop {
            let event = self.next().await;
            assert!(!is_job_event(&event, "generate_done", job), "ended without progress: {event}");
            if is_job_event(&event, "generate_progress", job) {
                return event["data"].clone();
            }
        }
    }
}

/// Whether `event` is the job `operation` event of `job`.
fn is_job_event(event: &Value, operation: &str, job: &str) -> bool {
    event["entity"] == "job" && event["operation"] == operation && event["data"]["jobId"] == job
}

fn admin(app: &TestApp) -> &str {
    app.token.as_deref().expect("the admin's token")
}

/// `POST /{kind}/generate/{number}`.
async fn generate(app: &TestApp, token: Option<&str>, kind: &str, number: &str) -> Reply {
    app.call(token, Method::POST, &format!("/{kind}/generate/{number}"), None).await
}

/// Submits a job, which must be accepted with its 202 answer; returns its id.
async fn submit(app: &TestApp, token: &str, kind: &str, number: u64) -> String {
    let reply = generate(app, Some(token), kind, &number.to_string()).await;
    let body = reply.expect(StatusCode::ACCEPTED);
    assert_keys(body, &["jobId", "message", "status"]);
    let id = body["jobId"].as_str().unwrap_or_else(|| panic!("no jobId in {body}")).to_owned();
    assert!(!id.is_empty(), "an empty job id in {body}");
    assert_eq!(body["message"], format!("Generating {number} {kind} in background"));
    assert_eq!(body["status"], format!("/jobs/{id}"));
    id
}

/// `GET /jobs/{id}` as `token`, which must answer the job.
async fn job(app: &TestApp, token: &str, id: &str) -> Value {
    let reply = app.call(Some(token), Method::GET, &format!("/jobs/{id}"), None).await;
    let job = reply.expect(StatusCode::OK).clone();
    assert_keys(&job, &JOB_KEYS);
    assert_eq!(job["id"], id);
    job
}

/// `DELETE /jobs/{id}` as `token`.
async fn cancel(app: &TestApp, token: &str, id: &str) -> Reply {
    app.call(Some(token), Method::DELETE, &format!("/jobs/{id}"), None).await
}

/// The ids `GET /jobs` lists for `token`, in order, after checking that they come newest first.
async fn listed_jobs(app: &TestApp, token: &str) -> Vec<String> {
    let reply = app.call(Some(token), Method::GET, "/jobs", None).await;
    reply.expect(StatusCode::OK);
    let jobs = reply.items();
    jobs.iter().for_each(|j| assert_keys(j, &JOB_KEYS));
    // RFC 3339 in UTC with milliseconds: text order is time order. Two jobs created within the
    // same millisecond may come in either order.
    let created: Vec<&str> = jobs.iter().map(|j| j["createdAt"].as_str().unwrap_or("")).collect();
    assert!(created.is_sorted_by(|a, b| a >= b), "GET /jobs is not newest first: {}", reply.body);
    jobs.iter().map(|j| j["id"].as_str().expect("a job id").to_owned()).collect()
}

/// `ids` as a set, to compare listings whose jobs may share a creation time.
fn set_of<S: AsRef<str>>(ids: &[S]) -> BTreeSet<String> {
    ids.iter().map(|id| id.as_ref().to_owned()).collect()
}

/// Panics unless `job` ended with `status` and `done` of `requested` rows of `kind`, its times
/// set and in order, and no error.
#[track_caller]
fn assert_ended(job: &Value, kind: &str, status: &str, requested: u64, done: u64) {
    assert_eq!(job["kind"], kind, "{job}");
    assert_eq!(job["status"], status, "{job}");
    assert_eq!(job["requested"], requested, "{job}");
    assert_eq!(job["done"], done, "{job}");
    assert_eq!(job["error"], Value::Null, "{job}");
    let time = |key: &str| {
        job[key].as_str().unwrap_or_else(|| panic!("no {key} in the ended job {job}")).to_owned()
    };
    // Text order is time order, as in `listed_jobs`.
    let (created, started, finished) = (time("createdAt"), time("startedAt"), time("finishedAt"));
    assert!(created <= started && started <= finished, "times out of order in {job}");
}

/// The id of the user `token` speaks for.
async fn user_id(app: &TestApp, token: &str) -> i64 {
    id_of(app.call(Some(token), Method::GET, "/auth/me", None).await.expect(StatusCode::OK))
}

/// Every item of a listing, read 1000 at a time; their number must be `X-Total-Count`.
async fn every_page(app: &TestApp, path: &str) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut items: Vec<Value> = Vec::new();
    loop {
        let reply = app.get(&format!("{path}{separator}skip={}&limit=1000", items.len())).await;
        reply.expect(StatusCode::OK);
        let total = reply.total_count();
        let page = reply.items();
        items.extend(page.iter().cloned());
        if page.is_empty() || items.len() as u64 >= total {
            assert_eq!(items.len() as u64, total, "{path}: the pages do not add up to the total");
            let ids: HashSet<i64> = items.iter().map(id_of).collect();
            assert_eq!(ids.len(), items.len(), "{path}: an item on two pages");
            return items;
        }
    }
}

/// Whether `text` reads like `1h 47m`: `^\d+h \d+m$`.
fn is_duration(text: &str) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    text.split_once("h ")
        .and_then(|(hours, rest)| Some((hours, rest.strip_suffix('m')?)))
        .is_some_and(|(hours, minutes)| digits(hours) && digits(minutes))
}

#[test]
fn the_duration_check_takes_hours_and_minutes_only() {
    for good in ["1h 47m", "0h 0m", "12h 5m"] {
        assert!(is_duration(good), "{good}");
    }
    for bad in ["", "1h47m", "1h 47", "h 47m", "1h m", "1.5h 3m", " 1h 47m", "1h 47m ", "1h 4xm"] {
        assert!(!is_duration(bad), "{bad:?}");
    }
}

#[tokio::test]
async fn a_users_movie_job_runs_to_done_and_stores_realistic_distinct_movies_as_theirs() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    let ana_id = user_id(&app, &ana).await;
    let before = app.movie_count().await;
    let mut events = Events::connect(&app).await;

    let id = submit(&app, &ana, "movies", 2500).await;
    let queued = job(&app, &ana, &id).await;
    assert_eq!((&queued["kind"], &queued["requested"]), (&json!("movies"), &json!(2500)));
    let ended = events.done_of(&id).await;

    assert_eq!(ended, json!({ "jobId": id, "status": "done", "done": 2500 }));
    assert_ended(&job(&app, &ana, &id).await, "movies", "done", 2500, 2500);
    assert_eq!(app.movie_count().await, before + 2500);
    let movies = every_page(&app, "/movies/username/ana").await;
    assert_eq!(movies.len(), 2500);
    for movie in &movies {
        assert_keys(movie, &MOVIE_KEYS);
        assert_eq!(movie["editorId"], ana_id, "{movie}");
        let year = movie["year"].as_i64().unwrap_or_else(|| panic!("no year in {movie}"));
        assert!((1900..=2030).contains(&year), "{movie}");
        let duration = movie["duration"].as_str().unwrap_or_default();
        assert!(is_duration(duration), "a duration unlike 1h 47m: {movie}");
        assert!(!movie["genre"].as_str().unwrap_or_default().is_empty(), "no genre: {movie}");
        assert_eq!(movie["nrCharacters"], 0, "{movie}");
    }
    let names: HashSet<&str> = movies.iter().map(|m| m["name"].as_str().expect("a name")).collect();
    assert_eq!(names.len(), movies.len(), "two generated movies share a name");
}

#[tokio::test]
async fn a_movie_job_announces_each_batch_its_progress_and_its_end_over_the_websocket() {
    let app = spawn_app().await;
    let mut events = Events::connect(&app).await;

    // Two and a half batches.
    const B: u64 = BATCH_SIZE;
    let requested = 2 * B + B / 2;
    let id = submit(&app, admin(&app), "movies", requested).await;
    let seen = events.until_done(&id).await;

    let kinds: Vec<(&str, &str)> = seen
        .iter()
        .map(|e| (e["entity"].as_str().unwrap_or("?"), e["operation"].as_str().unwrap_or("?")))
        .collect();
    let batch = [("movie", "add_bulk"), ("job", "generate_progress")];
    let expected: Vec<(&str, &str)> =
        [batch, batch, batch].concat().into_iter().chain([("job", "generate_done")]).collect();
    assert_eq!(kinds, expected, "the events of a job of two and a half batches");
    let mut announced = Vec::new();
    let mut progress = Vec::new();
    for pair in seen[..6].chunks(2) {
        let (added, step) = (&pair[0]["data"], &pair[1]["data"]);
        assert_keys(added, &["count", "ids"]);
        let ids: Vec<i64> = added["ids"]
            .as_array()
            .unwrap_or_else(|| panic!("no ids in {added}"))
            .iter()
            .map(|i| i.as_i64().expect("an id"))
            .collect();
        assert_eq!(added["count"], ids.len(), "{added}");
        announced.extend(ids);
        assert_keys(step, &["done", "jobId", "requested"]);
        assert_eq!((&step["jobId"], &step["requested"]), (&json!(id), &json!(requested)), "{step}");
        assert_eq!(step["done"], announced.len(), "progress after a batch of {added}");
        progress.push(step["done"].as_u64().expect("done is a number"));
    }
    assert_eq!(progress, [B, 2 * B, requested]);
    assert_eq!(seen[6]["data"], json!({ "jobId": id, "status": "done", "done": requested }));
    // The batches announced exactly the movies stored.
    announced.sort_unstable();
    let mut stored: Vec<i64> = every_page(&app, "/movies").await.iter().map(id_of).collect();
    stored.sort_unstable();
    assert_eq!(announced, stored);
}

#[tokio::test]
async fn generated_names_stay_unique_when_titles_collide_across_jobs() {
    let app = spawn_app().await;
    let mut events = Events::connect(&app).await;

    for round in 1..=2 {
        let id = submit(&app, admin(&app), "movies", 3000).await;
        let ended = events.done_of(&id).await;
        assert_eq!(ended, json!({ "jobId": id, "status": "done", "done": 3000 }), "round {round}");
    }

    assert_eq!(app.movie_count().await, 6000);
    let reply = app.get("/movies/names").await;
    reply.expect(StatusCode::OK);
    let names = reply.items();
    assert_eq!(names.len(), 6000);
    let mut seen = HashSet::new();
    let repeated: Vec<&Value> = names.iter().filter(|n| !seen.insert(n.as_str())).collect();
    assert!(repeated.is_empty(), "names listed twice: {repeated:?}");
    // Titles did collide (a generated title never ends with a parenthesis, a suffix does),
    // so the unique suffixes were exercised.
    let suffixed = names.iter().filter(|n| n.as_str().is_some_and(|n| n.ends_with(')'))).count();
    assert!(suffixed > 0, "no generated title collided, so nothing was tested");
}

#[tokio::test]
async fn a_character_job_attaches_characters_to_movies_and_keeps_their_counts_true() {
    let app = spawn_app().await;
    let cara = app.user_token("cara").await;
    let cara_id = user_id(&app, &cara).await;
    let mut events = Events::connect(&app).await;
    let movies_job = submit(&app, admin(&app), "movies", 1200).await;
    assert_eq!(events.done_of(&movies_job).await["status"], "done");
    let before = app.character_count().await;

    let id = submit(&app, &cara, "characters", 1500).await;
    let ended = events.done_of(&id).await;

    assert_eq!(ended, json!({ "jobId": id, "status": "done", "done": 1500 }));
    assert_ended(&job(&app, &cara, &id).await, "characters", "done", 1500, 1500);
    let count = app.character_count().await;
    assert_eq!(count, before + 1500);
    let movies = every_page(&app, "/movies").await;
    let movie_ids: HashSet<i64> = movies.iter().map(id_of).collect();
    let generated = every_page(&app, "/characters/username/cara").await;
    assert_eq!(generated.len(), 1500);
    let mut real_counts: BTreeMap<i64, i64> = BTreeMap::new();
    for character in &generated {
        assert_keys(character, &CHARACTER_KEYS);
        assert_eq!(character["editorId"], cara_id, "{character}");
        assert!(!character["name"].as_str().unwrap_or_default().is_empty(), "{character}");
        let movie = character["movieId"].as_i64().unwrap_or_else(|| panic!("{character}"));
        assert!(movie_ids.contains(&movie), "a character of no movie: {character}");
        *real_counts.entry(movie).or_default() += 1;
    }
    // Spot-check: the movies of some generated characters count exactly what they list.
    let sample: BTreeSet<i64> =
        generated.iter().take(40).map(|c| c["movieId"].as_i64().unwrap_or(0)).collect();
    for &movie in &sample {
        let (_, listed) = app.characters_of(movie).await;
        assert_eq!(app.nr_characters(movie).await, listed as i64, "movie {movie}");
    }
    // And every movie: no other character exists, so these are the real counts.
    assert_eq!(before, 0);
    for movie in &movies {
        let real = real_counts.get(&id_of(movie)).copied().unwrap_or(0);
        assert_eq!(movie["nrCharacters"], real, "{movie}");
    }
    let total: i64 = movies.iter().map(|m| m["nrCharacters"].as_i64().unwrap_or(-1)).sum();
    assert_eq!(total, count as i64);
}

#[tokio::test]
async fn cancelling_a_running_job_stops_it_after_a_batch_and_keeps_what_it_stored() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    let before = app.movie_count().await;
    let mut events = Events::connect(&app).await;
    let id = submit(&app, &ana, "movies", 1_000_000).await;
    let first = events.first_progress_of(&id).await;
    assert_eq!(first["requested"], 1_000_000);

    let reply = cancel(&app, &ana, &id).await;
    let answered = reply.expect(StatusCode::OK);
    assert_keys(answered, &JOB_KEYS);
    assert_eq!((&answered["id"], &answered["status"]), (&json!(id), &json!("running")));
    let ended = events.done_of(&id).await;

    assert_eq!(ended["status"], "cancelled", "{ended}");
    let done = ended["done"].as_u64().unwrap_or_else(|| panic!("no done in {ended}"));
    assert!(done >= first["done"].as_u64().expect("done is a number"), "{ended} after {first}");
    assert!(done < 1_000_000, "{ended}");
    let cancelled = job(&app, &ana, &id).await;
    assert_ended(&cancelled, "movies", "cancelled", 1_000_000, done);
    assert_eq!(app.movie_count().await, before + done, "the job's done against the table");
    // Nothing more of the job: the next event is that of the next write.
    let after = app.create_movie("After the cancel", 2000).await;
    let next = events.next().await;
    assert_eq!((&next["entity"], &next["operation"]), (&json!("movie"), &json!("add")), "{next}");
    assert_eq!(next["data"]["id"], after["id"], "{next}");
    // Cancelling it again changes nothing.
    let again = cancel(&app, &ana, &id).await;
    assert_eq!(again.expect(StatusCode::OK), &cancelled);
    assert_eq!(job(&app, &ana, &id).await, cancelled);
}

#[tokio::test]
async fn a_queued_job_is_cancelled_at_once_and_never_runs() {
    let app = spawn_app_with(&["--jobs-concurrency", "1"]).await;
    let ana = app.user_token("ana").await;
    let mut events = Events::connect(&app).await;
    let running = submit(&app, admin(&app), "movies", 1_000_000).await;
    events.first_progress_of(&running).await;
    // The only slot is taken until `running` ends, so this one waits.
    let waiting = submit(&app, &ana, "movies", 5).await;
    assert_eq!(job(&app, &ana, &waiting).await["status"], "queued");

    // The admin cancels another user's job.
    let reply = cancel(&app, admin(&app), &waiting).await;

    let answered = reply.expect(StatusCode::OK).clone();
    assert_keys(&answered, &JOB_KEYS);
    assert_eq!(answered["status"], "cancelled", "{answered}");
    assert_eq!((&answered["done"], &answered["startedAt"]), (&json!(0), &Value::Null));
    assert!(answered["finishedAt"].is_string(), "{answered}");
    let ended = events.done_of(&waiting).await;
    assert_eq!(ended, json!({ "jobId": waiting, "status": "cancelled", "done": 0 }));
    // Once the slot is free, a job queued after it runs, and it is still not started.
    cancel(&app, admin(&app), &running).await.expect(StatusCode::OK);
    let stopped = events.done_of(&running).await;
    let later = submit(&app, &ana, "movies", 1).await;
    assert_eq!(events.done_of(&later).await["status"], "done");
    assert_eq!(job(&app, &ana, &waiting).await, answered);
    let stored = stopped["done"].as_u64().expect("done is a number") + 1;
    assert_eq!(app.movie_count().await, stored);
}

#[tokio::test]
async fn cancelling_a_finished_job_leaves_it_unchanged() {
    let app = spawn_app().await;
    let mut events = Events::connect(&app).await;
    let id = submit(&app, admin(&app), "movies", 10).await;
    events.done_of(&id).await;
    let finished = job(&app, admin(&app), &id).await;
    assert_ended(&finished, "movies", "done", 10, 10);

    let reply = cancel(&app, admin(&app), &id).await;

    assert_eq!(reply.expect(StatusCode::OK), &finished);
    assert_eq!(job(&app, admin(&app), &id).await, finished);
    assert_eq!(app.movie_count().await, 10);
}

#[tokio::test]
async fn a_job_is_seen_and_cancelled_only_by_its_owner_or_an_admin() {
    let app = spawn_app().await;
    let ana = app.user_token("ana").await;
    let bob = app.user_token("bob").await;
    let mut events = Events::connect(&app).await;
    // One after the other, so that each is newer than the one before.
    let mut submit_and_wait = async |token: &str, n: u64| {
        let id = submit(&app, token, "movies", n).await;
        assert_eq!(events.done_of(&id).await["status"], "done");
        id
    };
    let ana_first = submit_and_wait(&ana, 3).await;
    let ana_second = submit_and_wait(&ana, 2).await;
    let bobs = submit_and_wait(&bob, 1).await;
    let finished = job(&app, &ana, &ana_first).await;

    for (method, what) in [(Method::GET, "reading"), (Method::DELETE, "cancelling")] {
        let path = format!("/jobs/{ana_first}");
        let reply = app.call(Some(&bob), method, &path, None).await;
        reply.expect_error(StatusCode::NOT_FOUND);
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{what} another user's job");
    }
    assert_eq!(job(&app, &ana, &ana_first).await, finished);
    // `listed_jobs` checks newest first; each job ran to its end before the next was submitted,
    // so their creation times differ and that check fixes the order.
    assert_eq!(set_of(&listed_jobs(&app, &ana).await), set_of(&[&ana_second, &ana_first]));
    assert_eq!(listed_jobs(&app, &bob).await, [bobs.as_str()]);
    let all = listed_jobs(&app, admin(&app)).await;
    assert_eq!(set_of(&all), set_of(&[&bobs, &ana_second, &ana_first]));
    assert_eq!(job(&app, admin(&app), &ana_first).await, finished);
    assert_eq!(cancel(&app, admin(&app), &ana_first).await.expect(StatusCode::OK), &finished);
    let unknown = "00000000-0000-4000-8000-000000000000";
    for method in [Method::GET, Method::DELETE] {
        let reply = app.call(Some(admin(&app)), method, &format!("/jobs/{unknown}"), None).await;
        reply.expect_error(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn jobs_beyond_the_concurrency_wait_their_turn_and_all_finish() {
    let app = spawn_app().await;
    let mut events = Events::connect(&app).await;

    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(submit(&app, admin(&app), "movies", 1500).await);
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let ended = events.done_of_all(&ids).await;

    for id in &ids {
        assert_eq!(ended[*id], json!({ "jobId": id, "status": "done", "done": 1500 }));
        assert_ended(&job(&app, admin(&app), id).await, "movies", "done", 1500, 1500);
    }
    assert_eq!(app.movie_count().await, 4500);
    assert_eq!(set_of(&listed_jobs(&app, admin(&app)).await), set_of(&ids));
}

#[tokio::test]
async fn a_user_with_four_jobs_queued_or_running_must_wait_or_cancel_one() {
    let app = spawn_app_with(&["--jobs-concurrency", "1"]).await;
    let ana = app.user_token("ana").await;
    // A million rows take far longer than these requests: the jobs stay queued or running.
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(submit(&app, &ana, "movies", 1_000_000).await);
    }

    let refused = generate(&app, Some(&ana), "movies", "1").await;
    let detail = refused.expect_error(StatusCode::TOO_MANY_REQUESTS);
    assert!(detail.as_str().is_some_and(|d| d.contains("4 jobs")), "{detail}");
    // The quota is the user's: another user may still submit.
    generate(&app, Some(admin(&app)), "movies", "1").await.expect(StatusCode::ACCEPTED);

    cancel(&app, &ana, &ids[3]).await.expect(StatusCode::OK);
    generate(&app, Some(&ana), "movies", "1").await.expect(StatusCode::ACCEPTED);
    for id in &ids[..3] {
        cancel(&app, &ana, id).await.expect(StatusCode::OK);
    }
}

#[tokio::test]
async fn generating_a_number_outside_one_to_a_million_is_unprocessable() {
    let app = spawn_app().await;
    for kind in ["movies", "characters"] {
        for number in ["0", "-1", "1000001", "abc"] {
            let reply = generate(&app, Some(admin(&app)), kind, number).await;
            let locs = reply.expect_invalid();
            assert!(
                locs.iter().any(|loc| loc.to_string().contains("number")),
                "{kind} {number}: the error names no number: {}",
                reply.body
            );
        }
    }
    assert!(listed_jobs(&app, admin(&app)).await.is_empty());
    assert_eq!(app.movie_count().await, 0);
}

#[tokio::test]
async fn generating_characters_without_movies_is_unprocessable() {
    let app = spawn_app().await;

    let reply = generate(&app, Some(admin(&app)), "characters", "10").await;

    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(listed_jobs(&app, admin(&app)).await.is_empty());
}

#[tokio::test]
async fn every_job_route_refuses_a_request_without_a_token() {
    let app = spawn_app().await;
    let mut events = Events::connect(&app).await;
    let id = submit(&app, admin(&app), "movies", 1).await;
    events.done_of(&id).await;
    let finished = job(&app, admin(&app), &id).await;

    let routes = [
        (Method::POST, "/movies/generate/10".to_owned()),
        (Method::POST, "/characters/generate/10".to_owned()),
        (Method::GET, "/jobs".to_owned()),
        (Method::GET, format!("/jobs/{id}")),
        (Method::DELETE, format!("/jobs/{id}")),
    ];
    for (method, path) in routes {
        let reply = app.call(None, method.clone(), &path, None).await;
        reply.expect_error(StatusCode::UNAUTHORIZED);
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{method} {path}");
    }
    assert_eq!(listed_jobs(&app, admin(&app)).await, [id.as_str()]);
    assert_eq!(job(&app, admin(&app), &id).await, finished);
    assert_eq!(app.movie_count().await, 1);
}
