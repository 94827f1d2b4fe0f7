//! Production hardening, against the real server: the request-head and keep-alive timeouts, the
//! caps on connections and WebSocket listeners, a graceful stop on SIGTERM (of the real binary,
//! as a child process), and 503s with `Retry-After` when the database is locked (SQLite, in the
//! SQLite run) or cut off (PostgreSQL through a TCP proxy the test controls, in the PostgreSQL
//! run, `api_postgres`, which needs `TEST_DATABASE_URL`).
//!
//! No assertion is about how fast anything is: the timeouts are set to a second or so, and each
//! wait for an answer or a close is bounded only to turn a hang into a failure ([`HANG_GUARD`]).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectOptions, SqliteTransactionMode, TransactionOptions, TransactionTrait};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{
    ADMIN, ADMIN_PASSWORD, Reply, SECRET_KEY, TestApp, WsClient, fresh_database, on_postgres,
    spawn_anonymous_app_with, spawn_app_over, spawn_app_with,
};

/// How long a wait may last before the test fails instead of hanging: never a measure of speed.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// The body of a 503 for the database (`error::UNAVAILABLE`).
const UNAVAILABLE: &str = "The service is temporarily unavailable; try again shortly";

/// `future`, or a failure naming `what` after [`HANG_GUARD`].
async fn guarded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing after {HANG_GUARD:?}"))
}

/// `http://127.0.0.1:PORT` → `127.0.0.1:PORT`.
fn socket_of(address: &str) -> SocketAddr {
    address.trim_start_matches("http://").parse().expect("the app's address")
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(socket_of(&app.address)).await.expect("the server accepts")
}

/// `GET path` as HTTP/1.1 text, keeping the connection open.
fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n")
}

/// One answer read off a raw connection: the status and the head's lines (lower-cased names),
/// then a body of `content-length` bytes.
struct RawReply {
    status: u16,
    head: String,
    body: String,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Reads one answer with a `content-length` body off `stream`.
async fn read_reply(stream: &mut TcpStream) -> RawReply {
    guarded("reading an answer", async {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let n = stream.read(&mut chunk).await.expect("the connection stays open");
            assert!(n > 0, "the connection closed before a whole answer head: {bytes:?}");
            bytes.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
        let mut reply = RawReply { status, head, body: String::new() };
        let length: usize = reply.header("content-length").map_or(0, |l| l.parse().unwrap());
        let mut body = bytes[head_end + 4..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut chunk).await.expect("the body arrives");
            assert!(n > 0, "the connection closed inside a body");
            body.extend_from_slice(&chunk[..n]);
        }
        reply.body = String::from_utf8_lossy(&body).into_owned();
        reply
    })
    .await
}

/// Reads until the server closes the connection; returns what came before (an error such as a
/// reset also counts as closed).
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    guarded("waiting for the server to close the connection", async {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return bytes,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
}

#[tokio::test]
async fn silent_and_slow_header_clients_are_closed_after_the_header_timeout_while_others_are_served()
 {
    let app = spawn_anonymous_app_with(&["--header-read-timeout", "1s"]).await;
    let mut silent = connect(&app).await;
    let slow = connect(&app).await;
    let (mut slow_reads, mut slow_writes) = slow.into_split();
    // A head that never ends, a byte at a time, until the server stops taking them.
    let trickle = tokio::spawn(async move {
        let start = b"GET /health HTTP/1.1\r\nhost: test\r\nx-slow: ";
        if slow_writes.write_all(start).await.is_err() {
            return;
        }
        while slow_writes.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    for _ in 0..3 {
        app.get("/health").await.expect(StatusCode::OK);
    }
    let slow_got = guarded("the slow client being closed", async {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            match slow_reads.read(&mut chunk).await {
                Ok(0) | Err(_) => return bytes,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(slow_got.is_empty(), "the slow client got {:?}", String::from_utf8_lossy(&slow_got));
    assert!(read_until_closed(&mut silent).await.is_empty());
    trickle.abort();
    app.get("/health").await.expect(StatusCode::OK);
}

#[tokio::test]
async fn an_idle_connection_outlives_the_header_timeout_and_is_closed_after_the_keep_alive_timeout()
{
    let app =
        spawn_anonymous_app_with(&["--header-read-timeout", "1s", "--keep-alive-timeout", "5s"])
            .await;
    let mut conn = connect(&app).await;
    conn.write_all(get_request("/health").as_bytes()).await.unwrap();
    assert_eq!(read_reply(&mut conn).await.status, 200);
    // Idle for twice the header timeout, well inside the keep-alive timeout: still served.
    tokio::time::sleep(Duration::from_secs(2)).await;
    conn.write_all(get_request("/health").as_bytes()).await.unwrap();
    assert_eq!(read_reply(&mut conn).await.status, 200);
    // Then left idle: closed, with nothing more sent.
    assert!(read_until_closed(&mut conn).await.is_empty());
}

#[tokio::test]
async fn a_connection_over_the_cap_is_answered_503_with_retry_after_and_closed_at_once() {
    let app = spawn_anonymous_app_with(&["--max-connections", "2"]).await;
    let (mut first, mut second) = (connect(&app).await, connect(&app).await);
    for conn in [&mut first, &mut second] {
        conn.write_all(get_request("/health").as_bytes()).await.unwrap();
        assert_eq!(read_reply(conn).await.status, 200);
    }
    // The third is refused before it sends anything.
    let mut third = connect(&app).await;
    let refused = read_reply(&mut third).await;
    assert_eq!(refused.status, 503, "{}", refused.head);
    assert_eq!(refused.header("retry-after"), Some("5"));
    assert_eq!(refused.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(&refused.body).expect("a JSON body");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("connections")), "{body}");
    assert!(read_until_closed(&mut third).await.is_empty());
    // The two admitted are still served; once one leaves, its place is taken by the next.
    first.write_all(get_request("/health").as_bytes()).await.unwrap();
    assert_eq!(read_reply(&mut first).await.status, 200);
    drop(second);
    guarded("a new connection taking the freed place", async {
        loop {
            let mut next = connect(&app).await;
            // A refused connection is closed at once, which the write may or may not see.
            let _ = next.write_all(get_request("/health").as_bytes()).await;
            if read_reply(&mut next).await.status == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_websocket_listener_over_the_cap_is_refused_with_503_and_retry_after() {
    let app = spawn_anonymous_app_with(&["--ws-max-connections", "1"]).await;
    let first = app.listen().await;
    let refused = app.try_listen(None, None).await.err().expect("the second listener is refused");
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("expected an HTTP answer to the handshake, got {refused:?}");
    };
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    // Other requests are not affected.
    app.get("/health").await.expect(StatusCode::OK);
    first.close().await;
    guarded("a listener taking the freed place", async {
        while app.try_listen(None, None).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// A SQLite connection of the test's own (another process, as far as the server can tell).
async fn sqlite_holder(database_url: &str) -> sea_orm::DatabaseConnection {
    let mut options = ConnectOptions::new(database_url.to_owned());
    options.sqlx_logging(false).max_connections(1);
    sea_orm::Database::connect(options).await.expect("the test opens the file")
}

#[tokio::test]
async fn a_write_while_another_connection_holds_sqlites_write_lock_is_a_503_with_retry_after() {
    if on_postgres() {
        eprintln!("skipped: SQLite's write lock is checked in the SQLite run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/test.db", dir.path().display());
    let mut app = spawn_app_over(&database_url, &[]).await;
    app.token = Some(app.login(ADMIN, ADMIN_PASSWORD).await);
    let holder = sqlite_holder(&database_url).await;
    let immediate = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    let lock = holder.begin_with_options(immediate).await.expect("the test takes the write lock");
    let body = json!({ "name": "Locked out", "year": 1999 });
    // The server waits its busy timeout for the lock, then gives up.
    let reply = guarded("a write on a locked file", app.post_json("/movies", &body)).await;
    assert_eq!(reply.expect_error(StatusCode::SERVICE_UNAVAILABLE), UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), Some("5"));
    // Reads go on meanwhile (WAL), and once the lock is released writes do too.
    app.get("/movies").await.expect(StatusCode::OK);
    lock.rollback().await.unwrap();
    app.post_json("/movies", &body).await.expect(StatusCode::OK);
    holder.close().await.unwrap();
}

/// A TCP proxy on 127.0.0.1 in front of a database server, which the test can cut, as a
/// network that drops every packet would: nothing is forwarded either way and new connections
/// hang, until it is restored (then what was held goes through).
struct Proxy {
    addr: SocketAddr,
    open: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (open, _) = watch::channel(true);
        let gate = open.subscribe();
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone(), gate.clone()));
            }
        });
        Self { addr, open, accepting }
    }

    fn cut(&self) {
        self.open.send_replace(false);
    }

    fn restore(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn relay(client: TcpStream, upstream: String, mut gate: watch::Receiver<bool>) {
    let _ = gate.wait_for(|open| *open).await;
    let Ok(server) = TcpStream::connect(&upstream).await else { return };
    let (from_client, to_client) = client.into_split();
    let (from_server, to_server) = server.into_split();
    tokio::select! {
        () = forward(from_client, to_server, gate.clone()) => {}
        () = forward(from_server, to_client, gate) => {}
    }
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut gate: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if gate.wait_for(|open| *open).await.is_err() {
            return;
        }
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if gate.wait_for(|open| *open).await.is_err() || to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// The parts of `postgres://USER@HOST:PORT/DB?...`: before `HOST:PORT`, it, and after it.
fn split_server(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let start = url[start..].find('@').map_or(start, |i| start + i + 1);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    (&url[..start], &url[start..end], &url[end..])
}

#[tokio::test]
async fn postgresql_cut_off_by_the_network_answers_503_with_retry_after_and_recovers_when_back() {
    if !on_postgres() {
        eprintln!("skipped: runs in the PostgreSQL run (api_postgres, with TEST_DATABASE_URL)");
        return;
    }
    let database = fresh_database().await;
    let (before, server, after) = split_server(&database.url);
    let proxy = Proxy::start(server.to_owned()).await;
    let url = format!("{before}{}{after}", proxy.addr);
    let mut app = spawn_app_over(&url, &["--db-acquire-timeout", "1s"]).await;
    app.token = Some(app.login(ADMIN, ADMIN_PASSWORD).await);
    app.get("/ready").await.expect(StatusCode::OK);
    app.create_movie("Before the cut", 2001).await;

    proxy.cut();
    // Each answers 503 once its wait for a connection (which pings it first) runs out, rather
    // than hanging for as long as the network is down; the request timeout is not what ends it.
    let ready = guarded("/ready with the database cut off", app.get("/ready")).await;
    assert_eq!(ready.expect(StatusCode::SERVICE_UNAVAILABLE)["database"], "unavailable");
    assert_eq!(ready.header("retry-after"), Some("5"));
    let body = json!({ "name": "During the cut", "year": 2002 });
    let write = guarded("a write with the database cut off", app.post_json("/movies", &body)).await;
    assert_eq!(write.expect_error(StatusCode::SERVICE_UNAVAILABLE), UNAVAILABLE);
    assert_eq!(write.header("retry-after"), Some("5"));

    proxy.restore();
    app.get("/ready").await.expect(StatusCode::OK);
    app.post_json("/movies", &body).await.expect(StatusCode::OK);
    drop(app);
    drop(database);
}

/// The real binary, started over `database_url` on a free port, its log kept.
struct Binary {
    child: Child,
    address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    async fn start(database_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_movies-api"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .args(["--database-url", database_url, "--host", "127.0.0.1", "--port", "0"])
            .args(["--secret-key", SECRET_KEY, "--admin-username", ADMIN])
            .args(["--admin-password", ADMIN_PASSWORD])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("its log");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (listening, address) = std::sync::mpsc::channel();
        let lines = log.clone();
        // Reads the log for as long as the process writes it, so that it never blocks on a full
        // pipe; the address comes from the `listening addr=...` line.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, addr)) = line.split_once("listening addr=") {
                    let _ = listening.send(addr.split_whitespace().next().unwrap_or("").to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let waited = tokio::task::spawn_blocking(move || address.recv_timeout(HANG_GUARD));
        let Ok(addr) = waited.await.unwrap() else {
            let _ = child.kill();
            panic!("the binary did not start: {:?}", log.lock().unwrap());
        };
        Self { child, address: format!("http://{addr}"), log }
    }

    fn socket(&self) -> SocketAddr {
        socket_of(&self.address)
    }

    fn terminate(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill only sends a signal, to the child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "SIGTERM is sent");
    }

    /// Waits for the process to exit.
    async fn exit_status(mut self) -> ExitStatus {
        guarded("the process exiting", async {
            loop {
                if let Some(status) = self.child.try_wait().expect("the child's status") {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        // Leaves no process behind, whatever the test did.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client of the binary, sending `token`.
async fn call(
    address: &str,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Reply {
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("{address}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("the binary answers");
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.bytes().await.expect("a body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, headers, body }
}

async fn login(address: &str) -> String {
    let body = json!({ "username": ADMIN, "hashedPassword": ADMIN_PASSWORD });
    let reply = call(address, None, reqwest::Method::POST, "/auth/login/", Some(&body)).await;
    reply.expect(StatusCode::OK)["token"].as_str().expect("a token").to_owned()
}

/// The job's `status` (`GET /jobs/{id}`).
async fn job_status(address: &str, token: &str, id: &str) -> String {
    let reply =
        call(address, Some(token), reqwest::Method::GET, &format!("/jobs/{id}"), None).await;
    reply.expect(StatusCode::OK)["status"].as_str().expect("a status").to_owned()
}

#[tokio::test]
async fn on_sigterm_the_binary_answers_what_it_received_closes_listeners_with_1001_and_exits_0() {
    let database = fresh_database().await;
    let database_url = database.url.clone();
    let server = Binary::start(&database_url).await;
    let token = login(&server.address).await;
    let post = reqwest::Method::POST;

    // A generation job long enough to be running at SIGTERM.
    let job =
        call(&server.address, Some(&token), post.clone(), "/movies/generate/1000000", None).await;
    let job = job.expect(StatusCode::ACCEPTED)["jobId"].as_str().unwrap().to_owned();
    guarded("the job running", async {
        while job_status(&server.address, &token, &job).await != "running" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    let ws_url = format!("ws://{}/ws", server.socket());
    let tcp = TcpStream::connect(server.socket()).await.unwrap();
    let mut listener = WsClient::over(&ws_url, tcp).await.expect("a listener connects");

    // A bulk insert whose body is only half sent when the signal comes.
    let movies: Vec<Value> =
        (0..500).map(|i| json!({ "name": format!("In flight {i}"), "year": 2000 })).collect();
    let body = serde_json::to_vec(&movies).unwrap();
    let head = format!(
        "POST /movies/bulk/ HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut bulk = TcpStream::connect(server.socket()).await.unwrap();
    bulk.write_all(head.as_bytes()).await.unwrap();
    let (sent, rest) = body.split_at(body.len() / 2);
    bulk.write_all(sent).await.unwrap();
    // Whole requests on connections of their own, sent just before the signal and not read yet.
    let mut waiting = Vec::new();
    for _ in 0..20 {
        let mut conn = TcpStream::connect(server.socket()).await.unwrap();
        conn.write_all(get_request("/movies?limit=1").as_bytes()).await.unwrap();
        waiting.push(conn);
    }

    server.terminate();
    let close = guarded("the listener's close frame", listener.next_close()).await;
    assert_eq!(close.code, CloseCode::Away, "{close:?}");
    // The server has stopped accepting by the time it closes its listeners.
    assert!(TcpStream::connect(server.socket()).await.is_err(), "a new connection was accepted");
    bulk.write_all(rest).await.unwrap();
    let answer = read_reply(&mut bulk).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.header("connection"), Some("close"));
    let created: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(created["added_movies"].as_array().map(Vec::len), Some(500));
    for conn in &mut waiting {
        assert_eq!(read_reply(conn).await.status, 200);
    }
    let log = server.log();
    let status = server.exit_status().await;
    assert!(status.success(), "exited with {status}; log:\n{log}");

    // The job was left resumable: the next start takes it up again.
    let server = Binary::start(&database_url).await;
    let token = login(&server.address).await;
    let status = job_status(&server.address, &token, &job).await;
    assert!(["queued", "running"].contains(&status.as_str()), "the job is {status}");
    let cancel = reqwest::Method::DELETE;
    call(&server.address, Some(&token), cancel, &format!("/jobs/{job}"), None).await;
    server.terminate();
    let status = server.exit_status().await;
    assert!(status.success(), "the second run exited with {status}");
}

#[tokio::test]
async fn listeners_are_sent_1001_when_the_server_stops() {
    let mut app = spawn_app_with(&[]).await;
    let mut listener = app.listen().await;
    app.create_movie("Seen before the stop", 1999).await;
    let event = listener.next_json().await;
    assert_eq!(event["data"]["name"], "Seen before the stop");
    let stopping = tokio::spawn(async move { app.restart().await });
    let close = listener.next_close().await;
    assert_eq!(close.code, CloseCode::Away);
    assert_eq!(close.reason, "server stopping");
    stopping.await.unwrap();
}
