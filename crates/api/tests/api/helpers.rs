//! The harness: `spawn_app` starts the real application on `127.0.0.1:0` over a fresh database
//! (`fresh_database`) and returns a `TestApp`, a small typed client for it that stops the server
//! when dropped. Logs are printed (through the test harness's capture) only with `TEST_LOG=1`.
//! `WsClient` is a WebSocket listener on `/ws`.
//!
//! The same file is the harness of two test binaries: `api`, where each database is a SQLite file
//! in its own temporary directory, and `api_postgres`, where it is a new database on the server
//! `TEST_DATABASE_URL` names, dropped with the app ([`on_postgres`] says which binary runs).

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, Once, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use movies_domain::auth::Claims;
use movies_domain::users::Role;
use movies_infra::auth::{JwtAlgorithm, JwtTokens};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, RequestBuilder, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The keys of a movie, exactly.
pub const MOVIE_KEYS: [&str; 8] =
    ["description", "duration", "editorId", "genre", "id", "name", "nrCharacters", "year"];

/// The keys of a character, exactly.
pub const CHARACTER_KEYS: [&str; 6] =
    ["description", "editorId", "id", "movieId", "movieName", "name"];

static TRACING: Once = Once::new();

/// The admin every test app starts with, and the key its tokens are signed with.
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// The admin is the first user of a fresh database.
pub const ADMIN_ID: i64 = 1;
pub const SECRET_KEY: &str = "integration-tests-secret-key-0123456789";

pub struct TestApp {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub address: String,
    pub client: reqwest::Client,
    /// The admin's token, sent by `request` (and so by every helper) unless changed.
    pub token: Option<String>,
    /// The database, to start another server over it (a restart).
    pub database_url: String,
    /// Flags added to the test configuration, kept for a restart.
    extra_args: Vec<String>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<Server>,
    // Dropped after the server is told to stop (unless the test brought its own database).
    _database: Option<TestDatabase>,
}

/// One answer, read whole: status, headers, and the body as JSON (`Value::Null` when the body is
/// empty; the raw text, as a JSON string, when it is not JSON, so that assertions show it).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// A header as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Panics, showing the body, unless the status is `status`; returns the body.
    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        &self.body
    }

    /// `X-Total-Count` as a number.
    #[track_caller]
    pub fn total_count(&self) -> u64 {
        self.header("x-total-count")
            .unwrap_or_else(|| panic!("no X-Total-Count header in {:?}", self.headers))
            .parse()
            .expect("X-Total-Count is a number")
    }

    /// The body as an array.
    #[track_caller]
    pub fn items(&self) -> &Vec<Value> {
        self.body.as_array().unwrap_or_else(|| panic!("expected a JSON array, got {}", self.body))
    }

    /// Asserts an error answer: `status`, a JSON content type and a `detail` member.
    #[track_caller]
    pub fn expect_error(&self, status: StatusCode) -> &Value {
        self.expect(status);
        assert_json_content_type(self);
        self.body
            .get("detail")
            .unwrap_or_else(|| panic!("no `detail` in the error body {}", self.body))
    }

    /// Asserts a 422 in the FastAPI shape and returns the `loc` of each entry.
    #[track_caller]
    pub fn expect_invalid(&self) -> Vec<Value> {
        let detail = self.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
        let entries =
            detail.as_array().unwrap_or_else(|| panic!("a 422 detail is a list, got {detail}"));
        assert!(!entries.is_empty(), "a 422 names at least one problem");
        for entry in entries {
            assert!(entry["msg"].is_string(), "no msg in {entry}");
            assert!(entry["type"].is_string(), "no type in {entry}");
        }
        entries.iter().map(|e| e["loc"].clone()).collect()
    }
}

/// Panics unless the answer says `Content-Type: application/json`.
#[track_caller]
pub fn assert_json_content_type(reply: &Reply) {
    let content_type = reply.header("content-type").unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "expected a JSON content type, got {content_type:?} with body {}",
        reply.body
    );
}

/// Panics unless `value` is an object with exactly `keys`.
#[track_caller]
pub fn assert_keys(value: &Value, keys: &[&str]) {
    let object = value.as_object().unwrap_or_else(|| panic!("expected an object, got {value}"));
    let mut found: Vec<&str> = object.keys().map(String::as_str).collect();
    found.sort_unstable();
    assert_eq!(found, keys, "unexpected keys in {value}");
}

/// The `name` of each item.
pub fn names(items: &[Value]) -> Vec<&str> {
    items.iter().map(|m| m["name"].as_str().expect("every item has a name")).collect()
}

/// The `id` of a movie or character.
#[track_caller]
pub fn id_of(value: &Value) -> i64 {
    value["id"].as_i64().unwrap_or_else(|| panic!("no id in {value}"))
}

/// Starts the application on a free port over a new, empty database, with an admin, and returns
/// a client that sends the admin's token.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// As [`spawn_app`], with more configuration flags (e.g. `["--ws-queue", "8"]`), which a
/// [`TestApp::restart`] passes again.
pub async fn spawn_app_with(extra_args: &[&str]) -> TestApp {
    let mut app = spawn_anonymous_app_with(extra_args).await;
    app.token = Some(app.login(ADMIN, ADMIN_PASSWORD).await);
    app
}

/// As [`spawn_app`], but the client sends no token.
pub async fn spawn_anonymous_app() -> TestApp {
    spawn_anonymous_app_with(&[]).await
}

/// As [`spawn_app_with`], but the client sends no token.
pub async fn spawn_anonymous_app_with(extra_args: &[&str]) -> TestApp {
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
            movies_api::telemetry::init("debug", tracing_subscriber::fmt::TestWriter::new(), false)
                .expect("the test log filter parses");
        }
    });
    let database = fresh_database().await;
    let mut app = spawn_app_over(&database.url, extra_args).await;
    app._database = Some(database);
    app
}

/// Starts the application over `database_url`, which the test provides and keeps; the client
/// sends no token.
pub async fn spawn_app_over(database_url: &str, extra_args: &[&str]) -> TestApp {
    let extra_args: Vec<String> = extra_args.iter().map(|a| (*a).to_owned()).collect();
    let (address, stop, server) = start_server(database_url, &extra_args).await;
    TestApp {
        address,
        client: reqwest::Client::new(),
        token: None,
        database_url: database_url.to_owned(),
        extra_args,
        stop: Some(stop),
        server: Some(server),
        _database: None,
    }
}

/// Whether this is the PostgreSQL run of the suite (the `api_postgres` binary, which declares
/// these same files as its modules).
pub fn on_postgres() -> bool {
    module_path!().starts_with("api_postgres::")
}

/// A database that exists for one test: a SQLite file in a temporary directory, or, on
/// PostgreSQL, a database of its own on the `TEST_DATABASE_URL` server, dropped with this.
pub struct TestDatabase {
    /// What to pass as `--database-url`.
    pub url: String,
    home: DatabaseHome,
}

enum DatabaseHome {
    Sqlite { _dir: TempDir },
    Postgres { name: String },
}

/// A new, empty database of this run's backend (the server creates the schema on start).
pub async fn fresh_database() -> TestDatabase {
    if !on_postgres() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}/test.db", dir.path().display());
        return TestDatabase { url, home: DatabaseHome::Sqlite { _dir: dir } };
    }
    // Unique within the server: test binaries run one at a time, and pids differ.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name =
        format!("movies_api_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let create = format!("CREATE DATABASE {name}");
    let created = tokio::task::spawn_blocking(move || on_server(&create)).await;
    created.expect("the statement is sent").unwrap_or_else(|e| panic!("{e}"));
    // The same server and parameters, another database: `postgres://HOST/DB?PARAMS`.
    let server_url = postgres_server_url();
    let (address, parameters) = server_url.split_once('?').unwrap_or((&server_url, ""));
    let server = address.rsplit_once('/').map_or(address, |(server, _)| server);
    let url = match parameters {
        "" => format!("{server}/{name}"),
        parameters => format!("{server}/{name}?{parameters}"),
    };
    TestDatabase { url, home: DatabaseHome::Postgres { name } }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let DatabaseHome::Postgres { name } = &self.home else { return };
        // In the background: a DROP DATABASE waits for a checkpoint, which took from 0.1 s to
        // over a second. FORCE ends the connections of a server still shutting down.
        on_server_later(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

/// The PostgreSQL server of the `api_postgres` run.
fn postgres_server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL names a PostgreSQL server (this binary was built with it)")
}

/// A statement for the `TEST_DATABASE_URL` server, and who waits for its outcome, if anyone.
type ServerStatement = (String, Option<std::sync::mpsc::Sender<Result<(), String>>>);

/// How many statements were sent and have not ended: the process waits for none to be left
/// before it exits (`finish_statements`), so that no database it made outlives it.
static UNFINISHED: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// Where statements for the `TEST_DATABASE_URL` server go: a thread with a runtime and a small
/// pool of its own, since a connection dies with the runtime that opened it (each test has one),
/// and opening one per statement cost about 90 ms (sqlx 0.9 sets no TCP_NODELAY, and its TLS
/// handshake waits on delayed ACKs).
fn server_statements() -> &'static mpsc::UnboundedSender<ServerStatement> {
    static STATEMENTS: OnceLock<mpsc::UnboundedSender<ServerStatement>> = OnceLock::new();
    STATEMENTS.get_or_init(|| {
        let (statements, to_run) = mpsc::unbounded_channel();
        std::thread::spawn(move || run_statements(to_run));
        // SAFETY: `finish_statements` only waits on a mutex and a condition variable, and
        // cannot unwind.
        unsafe { libc::atexit(finish_statements) };
        statements
    })
}

/// Runs `statement` on the `TEST_DATABASE_URL` server and waits for it, blocking the thread.
fn on_server(statement: &str) -> Result<(), String> {
    let (reply, outcome) = std::sync::mpsc::channel();
    send_to_server(statement.to_owned(), Some(reply))?;
    let outcome = outcome.recv().map_err(|_| "the PostgreSQL statement thread ended".to_owned());
    outcome?.map_err(|e| format!("{statement}: {e}"))
}

/// Runs `statement` on the `TEST_DATABASE_URL` server in the background, before the process
/// exits; a failure is printed.
fn on_server_later(statement: String) {
    if let Err(e) = send_to_server(statement, None) {
        eprintln!("{e}");
    }
}

fn send_to_server(
    statement: String,
    reply: Option<std::sync::mpsc::Sender<Result<(), String>>>,
) -> Result<(), String> {
    *UNFINISHED.0.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    server_statements().send((statement, reply)).map_err(
        |mpsc::error::SendError((statement, _))| {
            statement_ended();
            format!("{statement}: the PostgreSQL statement thread ended")
        },
    )
}

fn statement_ended() {
    *UNFINISHED.0.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
    UNFINISHED.1.notify_all();
}

/// The thread behind [`server_statements`]: runs each statement as it comes, several at once.
fn run_statements(mut to_run: mpsc::UnboundedReceiver<ServerStatement>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the PostgreSQL statements");
    runtime.block_on(async move {
        let mut options = sea_orm::ConnectOptions::new(postgres_server_url());
        // Drops that wait for a checkpoint leave connections for the creates.
        options.max_connections(4).sqlx_logging(false);
        let server = sea_orm::Database::connect(options).await.map_err(|e| e.to_string());
        while let Some((statement, reply)) = to_run.recv().await {
            let server = server.clone();
            tokio::spawn(async move {
                let outcome = match server {
                    Ok(server) => server
                        .execute_unprepared(&statement)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(format!("cannot reach PostgreSQL: {e}")),
                };
                match (reply, outcome) {
                    (Some(reply), outcome) => drop(reply.send(outcome)),
                    (None, Ok(())) => {}
                    // Straight to stderr: `eprintln!` here would go to the capture of the test
                    // that started this thread, long finished.
                    (None, Err(e)) => {
                        let _ = writeln!(std::io::stderr(), "{statement}: {e}");
                    }
                }
                statement_ended();
            });
        }
    });
}

/// Run by `exit`: waits until every statement sent has ended (the drops of the last tests),
/// for a minute at most.
extern "C" fn finish_statements() {
    let (unfinished, ended) = &UNFINISHED;
    let unfinished = unfinished.lock().unwrap_or_else(PoisonError::into_inner);
    let wait = ended.wait_timeout_while(unfinished, Duration::from_secs(60), |n| *n > 0);
    let (unfinished, _) = wait.unwrap_or_else(PoisonError::into_inner);
    if *unfinished > 0 {
        let _ = writeln!(std::io::stderr(), "{} test databases may be left", *unfinished);
    }
}

/// A running server's task: it ends once the server has stopped and closed its database pool.
pub type Server = JoinHandle<std::io::Result<()>>;

/// Starts a server over `database_url`, with the test configuration plus `extra_args`; returns
/// its address, what stops it, and its task.
pub async fn start_server(
    database_url: &str,
    extra_args: &[String],
) -> (String, oneshot::Sender<()>, Server) {
    let base = [
        "movies-api",
        "--database-url",
        database_url,
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--secret-key",
        SECRET_KEY,
        "--admin-username",
        ADMIN,
        "--admin-password",
        ADMIN_PASSWORD,
    ];
    let args = base.into_iter().chain(extra_args.iter().map(String::as_str));
    let config = movies_api::Config::load_from(args).expect("the test configuration is valid");
    let app = movies_api::Application::build(&config).await.expect("the application starts");
    let address = format!("http://{}", app.addr());
    let (stop, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));
    (address, stop, server)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestApp {
    /// Stops the server, waits until it has finished (requests served, pool closed), and starts
    /// a new one over the same database (and the same extra flags), at a new address. Tokens
    /// stay signed with the same key.
    pub async fn restart(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task ends cleanly").expect("the server stops cleanly");
        }
        let (address, stop, server) = start_server(&self.database_url, &self.extra_args).await;
        self.address = address;
        self.stop = Some(stop);
        self.server = Some(server);
    }

    /// A request to `path` (which starts with `/`), to add headers or a raw body to.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(self.token.as_deref(), method, path)
    }

    /// A request with `token` as the bearer token, or none.
    pub fn request_as(&self, token: Option<&str>, method: Method, path: &str) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{}", self.address, path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Registers `username` (password `password-of-{username}`); panics unless that worked.
    pub async fn register(&self, username: &str) {
        let password = format!("password-of-{username}");
        let body = json!({ "username": username, "hashedPassword": password });
        let request = self.request_as(None, Method::POST, "/auth/register/").json(&body);
        let reply = self.send(request).await;
        assert_eq!(reply.expect(StatusCode::OK), &json!(true), "registering {username}");
    }

    /// Logs in and returns the token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let body = json!({ "username": username, "hashedPassword": password });
        let reply =
            self.send(self.request_as(None, Method::POST, "/auth/login/").json(&body)).await;
        reply.expect(StatusCode::OK)["token"].as_str().expect("a token").to_owned()
    }

    /// Registers a plain user and returns its token.
    pub async fn user_token(&self, username: &str) -> String {
        self.register(username).await;
        self.user_token_of_registered(username).await
    }

    /// Logs in a user made by [`TestApp::register`].
    pub async fn user_token_of_registered(&self, username: &str) -> String {
        self.login(username, &format!("password-of-{username}")).await
    }

    /// Sends `body` (as JSON, if any) with `token` as the bearer token, or none.
    pub async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let request = self.request_as(token, method, path);
        self.send(match body {
            Some(body) => request.json(body),
            None => request,
        })
        .await
    }

    /// Sends a request and reads the whole answer. Every answer of an account route (`/auth`,
    /// `/users`) is checked for password hashes on the way, so each test that calls one checks
    /// that too.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        let (client, request) = request.build_split();
        let request = request.expect("the request is well-formed");
        let path = request.url().path().to_owned();
        let response = client.execute(request).await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("the body is readable");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if path.starts_with("/auth") || path.starts_with("/users") {
            assert_no_password_hash(&body);
        }
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    /// Sends `body` as it is, with `Content-Type: application/json`.
    pub async fn post_raw_json(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        let request =
            self.request(Method::POST, path).header(CONTENT_TYPE, "application/json").body(body);
        self.send(request).await
    }

    /// Creates a movie with only the required fields; returns it.
    pub async fn create_movie(&self, name: &str, year: i64) -> Value {
        self.create_movie_from(&json!({ "name": name, "year": year })).await
    }

    /// Creates a movie from a whole body; returns it.
    pub async fn create_movie_from(&self, body: &Value) -> Value {
        let reply = self.post_json("/movies", body).await;
        reply.expect(StatusCode::OK).clone()
    }

    /// Creates a character of the movie named `movie_name`; returns it.
    pub async fn create_character(&self, name: &str, movie_name: &str) -> Value {
        let body = json!({ "name": name, "movieName": movie_name });
        let reply = self.post_json("/characters", &body).await;
        reply.expect(StatusCode::OK).clone()
    }

    /// The movie as stored now.
    pub async fn movie(&self, id: i64) -> Value {
        let reply = self.get(&format!("/movies/{id}")).await;
        reply.expect(StatusCode::OK).clone()
    }

    /// The movie's `nrCharacters` as stored now.
    pub async fn nr_characters(&self, movie_id: i64) -> i64 {
        self.movie(movie_id).await["nrCharacters"].as_i64().expect("nrCharacters is a number")
    }

    /// `GET /movies/count`.
    pub async fn movie_count(&self) -> u64 {
        let reply = self.get("/movies/count").await;
        reply.expect(StatusCode::OK)["count"].as_u64().expect("count is a number")
    }

    /// `GET /characters/count`.
    pub async fn character_count(&self) -> u64 {
        let reply = self.get("/characters/count").await;
        reply.expect(StatusCode::OK)["count"].as_u64().expect("count is a number")
    }

    /// `GET /movies/{id}/characters`: the characters and `X-Total-Count`.
    pub async fn characters_of(&self, movie_id: i64) -> (Vec<Value>, u64) {
        let reply = self.get(&format!("/movies/{movie_id}/characters")).await;
        reply.expect(StatusCode::OK);
        (reply.items().clone(), reply.total_count())
    }
}

/// How long a WebSocket read may wait: only to turn a hang into a failure message, never a
/// measure of how fast the server is.
pub const WS_PATIENCE: Duration = Duration::from_secs(10);

impl TestApp {
    /// `ws://127.0.0.1:PORT/ws`, with `since` and `token` in the query when given.
    pub fn ws_url(&self, since: Option<i64>, token: Option<&str>) -> String {
        let host = self.address.trim_start_matches("http://");
        let mut query = Vec::new();
        if let Some(since) = since {
            query.push(format!("since={since}"));
        }
        if let Some(token) = token {
            query.push(format!("token={token}"));
        }
        let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
        format!("ws://{host}/ws{query}")
    }

    /// A listener from now on, anonymous; panics unless it connects.
    pub async fn listen(&self) -> WsClient {
        self.try_listen(None, None).await.expect("the listener connects")
    }

    /// A listener that resumes after `since`; panics unless it connects.
    pub async fn listen_since(&self, since: i64) -> WsClient {
        self.try_listen(Some(since), None).await.expect("the listener connects")
    }

    /// Connects a listener, or returns why the handshake failed (a refused upgrade is
    /// `tungstenite::Error::Http` with the server's answer).
    pub async fn try_listen(
        &self,
        since: Option<i64>,
        token: Option<&str>,
    ) -> Result<WsClient, tungstenite::Error> {
        let url = self.ws_url(since, token);
        Ok(WsClient { stream: open_ws(&url, WS_PATIENCE).await? })
    }
}

pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket to `url` (`/ws`, or a browser's DevTools), or returns why the handshake
/// failed; `patience` only turns a hung handshake into a failure.
pub async fn open_ws(url: &str, patience: Duration) -> Result<WsStream, tungstenite::Error> {
    let connecting = tokio_tungstenite::connect_async(url);
    let (stream, _) = tokio::time::timeout(patience, connecting)
        .await
        .unwrap_or_else(|_| panic!("no handshake answer from {url} in {patience:?}"))?;
    Ok(stream)
}

/// A WebSocket connection to `/ws`, read one message at a time.
pub struct WsClient {
    stream: WsStream,
}

impl WsClient {
    /// Completes the handshake for `url` over a connection opened by the caller (e.g. with a
    /// small receive buffer).
    pub async fn over(url: &str, tcp: TcpStream) -> Result<Self, tungstenite::Error> {
        let (stream, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)).await?;
        Ok(Self { stream })
    }

    /// The next text or close message (pings and pongs are skipped), or `None` once the
    /// connection has ended; panics after [`WS_PATIENCE`] without one, or on a transport error.
    pub async fn next_message(&mut self) -> Option<Message> {
        loop {
            let next = tokio::time::timeout(WS_PATIENCE, self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("no WebSocket message within {WS_PATIENCE:?}"));
            match next {
                None => return None,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(message)) => return Some(message),
                Some(Err(e)) => panic!("the WebSocket connection failed: {e}"),
            }
        }
    }

    /// The next message, which must be a JSON text message.
    pub async fn next_json(&mut self) -> Value {
        match self.next_message().await {
            Some(Message::Text(text)) => serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("a text message that is not JSON ({e}): {text}")),
            other => panic!("expected a JSON text message, got {other:?}"),
        }
    }

    /// The next message, which must be a close frame; returns it.
    pub async fn next_close(&mut self) -> CloseFrame {
        match self.next_message().await {
            Some(Message::Close(Some(frame))) => frame,
            other => panic!("expected a close frame with a code, got {other:?}"),
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    pub async fn send(&mut self, message: Message) {
        self.stream.send(message).await.expect("the message is sent");
    }

    /// Closes the connection from this side and waits until it has ended (however the server
    /// ends its side).
    pub async fn close(mut self) {
        self.stream.close(None).await.expect("the close frame is sent");
        loop {
            let next = tokio::time::timeout(WS_PATIENCE, self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("the connection is still open after {WS_PATIENCE:?}"));
            if matches!(next, None | Some(Err(_))) {
                return;
            }
        }
    }
}

/// Panics if `body` holds an argon2 hash anywhere, or a key named like a password.
#[track_caller]
pub fn assert_no_password_hash(body: &Value) {
    let text = body.to_string();
    assert!(!text.contains("$argon2"), "a password hash in the answer {text}");
    fn walk(value: &Value, text: &str) {
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    let key = key.to_ascii_lowercase();
                    assert!(
                        !key.contains("password"),
                        "a password key {key:?} in the answer {text}"
                    );
                    walk(member, text);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, text)),
            _ => {}
        }
    }
    walk(body, &text);
}

/// Seconds since the epoch, as token claims count time.
pub fn now_secs() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970");
    i64::try_from(since.as_secs()).expect("the time fits")
}

/// The claims the test server would put in a fresh token for this user: valid for 30 minutes,
/// with a `jti` of their own.
pub fn claims_for(uid: i64, username: &str, role: Role) -> Claims {
    let iat = now_secs();
    Claims {
        sub: username.to_owned(),
        uid,
        role,
        iat,
        exp: iat + 30 * 60,
        jti: format!("forged-{:032x}", rand::random::<u128>()),
    }
}

/// `claims` signed with `key` and `algorithm`: with [`SECRET_KEY`] and HS256, a token the test
/// server accepts as its own.
pub fn forge_token(key: &str, algorithm: JwtAlgorithm, claims: &Claims) -> String {
    JwtTokens::new(key.as_bytes(), algorithm, 30).sign(claims).expect("the claims sign")
}

/// base64url without padding, as JWT segments are written.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let group = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        // n bytes carry 8n bits: n + 1 characters of 6 bits.
        for i in 0..=chunk.len() {
            let index = (group >> (18 - 6 * i)) & 0b11_1111;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}
