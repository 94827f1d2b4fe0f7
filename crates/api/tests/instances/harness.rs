//! The harness: `TestDb`, a fresh PostgreSQL database for one test (dropped on drop, even after
//! a panic); `Process`, a child process whose output is kept line by line and which is killed
//! on drop; `Instance`, the server binary started over a `TestDb`; `Endpoint`, an HTTP client
//! of one address (an instance, or nginx); `Listener`, a WebSocket listener on `/ws`.
//!
//! Every wait has a limit, but only to turn a hang into a failure that says what was awaited:
//! no test asserts how fast anything happens.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// Every instance signs tokens with this key, so a token from one is valid on the others.
pub const SECRET_KEY: &str = "instances-tests-secret-key-0123456789abcdef";
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// How long a server may take to start (migrations, the admin's password hash) before the test
/// gives up on it.
pub const START_PATIENCE: Duration = Duration::from_secs(90);
/// How long to wait for the next WebSocket message or log line that a test expects.
pub const EVENT_PATIENCE: Duration = Duration::from_secs(30);
/// How long a generation job may run before the test gives up on it.
pub const JOB_PATIENCE: Duration = Duration::from_secs(600);

// ---- the database ----

/// One test's turn: the tests of this binary run one after another, whatever `--test-threads`
/// says, since each starts two servers of 16 connections each and the machine has few cores.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A database that exists for one test, on the server `TEST_DATABASE_URL` names. Dropping it
/// drops the database `WITH (FORCE)` (after the processes the test started, if they were
/// declared after it), then lets the next test take its turn.
pub struct TestDb {
    /// The database's name, e.g. `movies_instances_1234_0`.
    pub name: String,
    /// `postgres://.../<name>`: what the instances get as `DATABASE_URL`.
    pub url: String,
    admin_url: String,
    conn: DatabaseConnection,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl TestDb {
    /// Waits for this test's turn and makes a fresh, empty database; without
    /// `TEST_DATABASE_URL` prints that the test is skipped and returns `None`.
    pub async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            println!("skipped: TEST_DATABASE_URL is not set");
            return None;
        };
        let turn = TURN.lock().await;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "movies_instances_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = connect(&admin_url, 1).await;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("could not create the database {name}: {e}"));
        admin.close().await.ok();
        let url = database_url(&admin_url, &name);
        let conn = connect(&url, 2).await;
        Some(Self { name, url, admin_url, conn, _turn: turn })
    }

    /// The first column of the first row of `sql`, as a number (`COUNT(*)`, `MAX(id)`, ...).
    pub async fn number(&self, sql: &str) -> i64 {
        let row = self
            .conn
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: no row"));
        row.try_get_by_index::<Option<i64>>(0)
            .unwrap_or_else(|e| panic!("{sql}: not a number: {e}"))
            .unwrap_or(0)
    }

    /// Every row of `sql`, each as its columns read as text (cast them in the SQL).
    pub async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let rows = self
            .conn
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|row| {
                let columns = row.column_names().len();
                (0..columns)
                    .map(|i| {
                        row.try_get_by_index::<String>(i)
                            .unwrap_or_else(|e| panic!("{sql}: column {i} is not text: {e}"))
                    })
                    .collect()
            })
            .collect()
    }

    /// Ends every connection of this database whose last statement was a `LISTEN` (the
    /// instances' notification connections); returns how many it ended.
    pub async fn terminate_listen_connections(&self) -> usize {
        let sql = format!(
            "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
             WHERE datname = '{}' AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
            self.name
        );
        self.rows(&sql).await.iter().filter(|row| row[0] == "true").count()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside the test's runtime, which cannot be blocked on: the database is
        // dropped from a thread of its own, with its own runtime, and waited for. `FORCE` ends
        // the connections still open to it, `conn`'s too (whose pool belongs to the test's
        // runtime, and so cannot be closed from here).
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async move {
                let admin = connect(&admin_url, 1).await;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                if let Err(e) = admin.execute_unprepared(&sql).await {
                    eprintln!("could not drop the test database {name}: {e}");
                }
                admin.close().await.ok();
            });
        });
        if dropped.join().is_err() {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

async fn connect(url: &str, size: u32) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(size).sqlx_logging(false);
    sea_orm::Database::connect(options)
        .await
        .unwrap_or_else(|e| panic!("could not reach PostgreSQL at TEST_DATABASE_URL: {e}"))
}

/// `admin_url` with its database replaced by `name` (any query string kept).
fn database_url(admin_url: &str, name: &str) -> String {
    let (url, query) = match admin_url.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    format!("{base}/{name}{query}")
}

// ---- processes and their output ----

/// What a child process has written (stdout and stderr, line by line), as it comes.
pub struct Log {
    name: String,
    lines: Mutex<Vec<String>>,
    /// The number of lines so far, and how many of the two streams have ended.
    progress: watch::Sender<(usize, u8)>,
}

impl Log {
    fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            lines: Mutex::new(Vec::new()),
            progress: watch::channel((0, 0)).0,
        })
    }

    fn lines_now(&self) -> MutexGuard<'_, Vec<String>> {
        self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines_now().clone()
    }

    /// How many lines so far match `matches`.
    pub fn count(&self, matches: impl Fn(&str) -> bool) -> usize {
        self.lines_now().iter().filter(|line| matches(line)).count()
    }

    /// Reads `stream` to its end, a line at a time, on a thread of its own.
    fn follow(self: &Arc<Self>, stream: impl Read + Send + 'static) {
        let log = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                log.lines_now().push(line);
                log.progress.send_modify(|(lines, _)| *lines += 1);
            }
            log.progress.send_modify(|(_, ended)| *ended += 1);
        });
    }

    /// The first line that matches `matches`, once there is one; panics, naming `what`, when
    /// the process ends without one or after `patience`.
    pub async fn wait_for(
        &self,
        what: &str,
        patience: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> String {
        let mut progress = self.progress.subscribe();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let ended = progress.borrow_and_update().1 == 2;
            if let Some(line) = self.lines_now().iter().find(|line| matches(line)) {
                return line.clone();
            }
            assert!(!ended, "{} ended without logging {what}", self.name);
            if tokio::time::timeout_at(deadline, progress.changed()).await.is_err() {
                panic!("{} logged no {what} within {patience:?}", self.name);
            }
        }
    }

    /// Prints every line, each after the process's name.
    pub fn print(&self) {
        eprintln!("---- output of {} ----", self.name);
        for line in self.lines_now().iter() {
            eprintln!("{}| {line}", self.name);
        }
    }
}

/// A child process, its output kept in a [`Log`]. Dropping it stops it (`stop_signal`, then
/// SIGKILL if it lingers) and, when the test is failing or `TEST_LOG=1`, prints its output.
pub struct Process {
    pub name: String,
    child: Child,
    pub log: Arc<Log>,
    stop_signal: i32,
}

impl Process {
    /// Starts `command` with its output piped into a [`Log`]. The child gets `stop_signal` if
    /// the thread that started it ends first (the test binary was killed), so that no process
    /// outlives its test.
    pub fn spawn(name: &str, mut command: Command, stop_signal: i32) -> Self {
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // SAFETY: prctl only sets an attribute of the new process, between fork and exec.
        unsafe {
            command.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, stop_signal);
                Ok(())
            });
        }
        let mut child = command.spawn().unwrap_or_else(|e| panic!("could not start {name}: {e}"));
        let log = Log::new(name);
        log.follow(child.stdout.take().expect("stdout is piped"));
        log.follow(child.stderr.take().expect("stderr is piped"));
        Self { name: name.to_owned(), child, log, stop_signal }
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("a pid fits an i32")
    }

    /// Whether the process has ended.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// `kill -9`, and waits until the process is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `stop_signal`, waits a few seconds for the process to end, then kills it.
    fn stop(&mut self) {
        if self.has_exited() {
            return;
        }
        // SAFETY: kill only sends a signal to our own child, which has not been reaped.
        unsafe {
            libc::kill(self.pid(), self.stop_signal);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.has_exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() || std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
            self.log.print();
        }
    }
}

// ---- server instances ----

/// The server binary over a test database, with the admin, the shared key and `RUST_LOG=info`.
pub struct Instance {
    pub process: Process,
    http: Option<Endpoint>,
}

impl Instance {
    /// Starts an instance and waits until it listens.
    pub async fn start(name: &str, db: &TestDb, env: &[(&str, &str)]) -> Self {
        let mut instance = Self::spawn(name, db, env);
        instance.ready().await;
        instance
    }

    /// Starts an instance without waiting for it: see [`Instance::ready`]. `env` adds to (or
    /// replaces) the test configuration; nothing else of the test's environment reaches it.
    pub fn spawn(name: &str, db: &TestDb, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_movies-api"));
        command
            .env_clear()
            .env("DATABASE_URL", &db.url)
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("SECRET_KEY", SECRET_KEY)
            .env("ADMIN_USERNAME", ADMIN)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "info")
            .env("RUST_BACKTRACE", "1");
        for (key, value) in env {
            command.env(key, value);
        }
        Self { process: Process::spawn(name, command, libc::SIGKILL), http: None }
    }

    /// Waits until the instance logs `listening addr=...`, and learns its address from that
    /// line; panics with its output if it ends first.
    pub async fn ready(&mut self) {
        let line = self
            .process
            .log
            .wait_for("`listening addr=`", START_PATIENCE, |l| l.contains("listening addr="))
            .await;
        let addr = line
            .split("listening addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        self.http = Some(Endpoint::new(&self.process.name, &format!("http://{addr}")));
    }

    /// The instance's HTTP client; panics before [`Instance::ready`].
    pub fn http(&self) -> &Endpoint {
        self.http.as_ref().expect("the instance is ready")
    }

    pub fn log(&self) -> &Log {
        &self.process.log
    }

    /// The admin's token, from a login on this instance.
    pub async fn admin_token(&self) -> String {
        self.http().login(ADMIN, ADMIN_PASSWORD).await
    }
}

impl std::ops::Deref for Instance {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        self.http()
    }
}

/// Whether a log line says that a runner started (or resumed) job `id`.
pub fn runs_job(line: &str, id: &str) -> bool {
    line.contains("job running") && has_field(line, "job", id)
}

/// Whether a log line says that job `id` ended with `status`.
pub fn ended_job(line: &str, id: &str, status: &str) -> bool {
    line.contains("job ended") && has_field(line, "job", id) && has_field(line, "status", status)
}

/// Whether a tracing line has the field `key=value`, exactly.
pub fn has_field(line: &str, key: &str, value: &str) -> bool {
    line.split_whitespace().any(|word| word == format!("{key}={value}"))
}

// ---- HTTP ----

/// One answer: status, headers, and the body as JSON (`Null` when empty, the text as a JSON
/// string when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Panics, showing the body, unless the status is `status`; returns the body.
    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        &self.body
    }
}

/// An HTTP client of one address: an instance, or nginx in front of them.
pub struct Endpoint {
    /// Which process it reaches (`A`, `B`, `nginx`), for failure messages.
    pub name: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    client: reqwest::Client,
}

impl Endpoint {
    pub fn new(name: &str, base: &str) -> Self {
        Self { name: name.to_owned(), base: base.to_owned(), client: reqwest::Client::new() }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.execute(request).await
    }

    /// Sends a request built from [`Endpoint::request`] and reads the whole answer.
    pub async fn execute(&self, request: reqwest::RequestBuilder) -> Reply {
        let response =
            request.send().await.unwrap_or_else(|e| panic!("no answer from {}: {e}", self.base));
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("the body is readable");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply { status, headers, body }
    }

    /// A request to `path`, to add headers or a body to.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    /// Logs in; returns the token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let body = json!({ "username": username, "hashedPassword": password });
        let reply = self.send(Method::POST, "/auth/login/", None, Some(&body)).await;
        let token = &reply.expect(StatusCode::OK)["token"];
        token.as_str().expect("a token").to_owned()
    }

    /// Creates a movie; returns it.
    pub async fn create_movie(&self, token: &str, name: &str, year: i64) -> Value {
        let body = json!({ "name": name, "year": year });
        let reply = self.send(Method::POST, "/movies", Some(token), Some(&body)).await;
        reply.expect(StatusCode::OK).clone()
    }

    /// The movie as this endpoint serves it now.
    pub async fn movie(&self, id: i64) -> Reply {
        self.get(&format!("/movies/{id}"), None).await
    }

    /// Queues a generation job of `number` movies; returns its id.
    pub async fn generate_movies(&self, token: &str, number: u64) -> String {
        let reply =
            self.send(Method::POST, &format!("/movies/generate/{number}"), Some(token), None).await;
        let id = &reply.expect(StatusCode::ACCEPTED)["jobId"];
        id.as_str().expect("a job id").to_owned()
    }

    /// The job as stored now.
    pub async fn job(&self, token: &str, id: &str) -> Value {
        let reply = self.get(&format!("/jobs/{id}"), Some(token)).await;
        reply.expect(StatusCode::OK).clone()
    }

    /// `GET /movies/count`.
    pub async fn movie_count(&self) -> i64 {
        let reply = self.get("/movies/count", None).await;
        reply.expect(StatusCode::OK)["count"].as_i64().expect("a count")
    }

    /// A live listener: every event committed after its handshake (no `since`).
    pub async fn listen(&self) -> Listener {
        Listener::connect(&format!("ws://{}/ws", self.host()), &self.name).await
    }
}

/// Every event in the log after `since` (public ones: `GET /events` leaves out internal ones),
/// read through `GET /events` page by page.
pub async fn all_events(http: &Endpoint, since: i64) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = since;
    loop {
        let reply = http.get(&format!("/events?since={after}&limit=1000"), None).await;
        let page = reply.expect(StatusCode::OK).as_array().expect("a list of events").clone();
        let Some(last) = page.last() else { return events };
        after = last["seq"].as_i64().expect("every event has a seq");
        events.extend(page);
    }
}

// ---- WebSocket listeners ----

enum Incoming {
    Json(Value),
    Ended(String),
}

/// A WebSocket listener on `/ws`, read by a task of its own so that it never falls behind
/// while the test does something else; the messages wait in a channel.
pub struct Listener {
    /// Which endpoint it listens on, for failure messages.
    label: String,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    reader: JoinHandle<()>,
    /// Every event received so far, in order.
    pub events: Vec<Value>,
}

impl Listener {
    async fn connect(url: &str, label: &str) -> Self {
        let connecting = tokio_tungstenite::connect_async(url);
        let (mut stream, _) = tokio::time::timeout(EVENT_PATIENCE, connecting)
            .await
            .unwrap_or_else(|_| panic!("no handshake answer from {url} in {EVENT_PATIENCE:?}"))
            .unwrap_or_else(|e| panic!("could not listen on {url}: {e}"));
        let (sender, incoming) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            // Pings are answered by tungstenite as the stream is read.
            while let Some(message) = stream.next().await {
                let forwarded = match message {
                    Ok(Message::Text(text)) => match serde_json::from_str(&text) {
                        Ok(value) => Incoming::Json(value),
                        Err(e) => Incoming::Ended(format!("a message that is not JSON ({e})")),
                    },
                    Ok(Message::Close(frame)) => Incoming::Ended(format!("closed: {frame:?}")),
                    Ok(_) => continue,
                    Err(e) => Incoming::Ended(format!("failed: {e}")),
                };
                if sender.send(forwarded).is_err() {
                    return;
                }
            }
            let _ = sender.send(Incoming::Ended("the connection ended".into()));
        });
        Self { label: label.to_owned(), incoming, reader, events: Vec::new() }
    }

    /// The next event (a message with a `seq`); panics on `lagged`, `reset`, `error` or the end
    /// of the connection, or after [`EVENT_PATIENCE`] without one.
    pub async fn next_event(&mut self) -> Value {
        self.next_event_awaiting("an event").await
    }

    /// Reads events until one matches `matches`; returns it. `what` names it in failures.
    pub async fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        loop {
            let event = self.next_event_awaiting(what).await;
            if matches(&event) {
                return event;
            }
        }
    }

    async fn next_event_awaiting(&mut self, what: &str) -> Value {
        loop {
            let next = tokio::time::timeout(EVENT_PATIENCE, self.incoming.recv()).await;
            let message = match next {
                Err(_) => panic!(
                    "the listener on {} received no event within {EVENT_PATIENCE:?} while \
                     awaiting {what} (it has {} events, the last: {})",
                    self.label,
                    self.events.len(),
                    self.events.last().map_or("none".into(), Value::to_string)
                ),
                Ok(None) => panic!("the listener on {} has stopped", self.label),
                Ok(Some(Incoming::Ended(why))) => {
                    panic!("the listener on {} awaiting {what}: {why}", self.label)
                }
                Ok(Some(Incoming::Json(message))) => message,
            };
            if message.get("seq").is_some_and(Value::is_i64) {
                self.events.push(message.clone());
                return message;
            }
            let operation = message["operation"].as_str().unwrap_or("");
            assert!(
                !matches!(operation, "lagged" | "reset" | "error"),
                "the listener on {} was sent {message}",
                self.label
            );
        }
    }

    /// The `seq` of every event received so far, in order.
    pub fn seqs(&self) -> Vec<i64> {
        self.events.iter().map(|e| e["seq"].as_i64().expect("a seq")).collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Whether `event` is `operation` on `entity` (`movie`, `add`) about the record `id`.
pub fn is_about(event: &Value, entity: &str, operation: &str, id: i64) -> bool {
    event["entity"] == entity && event["operation"] == operation && event["data"]["id"] == id
}
