//! docs/deploy/nginx.conf, as documented, in front of two instances: HTTP requests reach both,
//! a 16 MiB bulk body passes, and a WebSocket through nginx gets the events of writes made
//! through nginx (whichever instance each lands on).
//!
//! Runs where an `nginx` binary is found (Debian: `apt-get install nginx`), as an unprivileged,
//! foreground process with everything in a temporary directory; skipped, saying so, where it is
//! not, unless `REQUIRE_NGINX=1`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::events::two_instances;
use crate::harness::{EVENT_PATIENCE, Endpoint, Process, START_PATIENCE, TestDb, is_about};

/// The documented config.
const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/deploy/nginx.conf");

fn nginx_binary() -> Option<PathBuf> {
    let in_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join("nginx")).collect())
        .unwrap_or_default();
    [PathBuf::from("/usr/sbin/nginx")].into_iter().chain(in_path).find(|p| p.is_file())
}

/// `text` with `from` replaced by `to`, which must occur exactly once.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    let found = text.matches(from).count();
    assert_eq!(found, 1, "{CONFIG} should hold `{from}` exactly once (the test replaces it)");
    text.replace(from, to)
}

/// nginx running the documented config for `instances`, on its own port, in its own directory.
struct Nginx {
    process: Process,
    dir: tempfile::TempDir,
    http: Endpoint,
}

impl Nginx {
    fn start(binary: &Path, instances: [&str; 2]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let documented = std::fs::read_to_string(CONFIG).expect("the documented nginx config");
        let site = replace_once(
            &documented,
            "server 127.0.0.1:8001 ",
            &format!("server {} ", instances[0]),
        );
        let site =
            replace_once(&site, "server 127.0.0.1:8002 ", &format!("server {} ", instances[1]));
        let site = replace_once(&site, "listen 80;", &format!("listen 127.0.0.1:{port};"));
        let path = dir.path();
        std::fs::write(path.join("movies-api.conf"), site).expect("the site config is written");
        // As root, nginx would run its workers as `nobody`, who cannot enter the directory.
        // SAFETY: geteuid only reads the process's user id.
        let user = if unsafe { libc::geteuid() } == 0 { "user root;" } else { "" };
        let d = path.display();
        let main = format!(
            "{user}\nworker_processes 1;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n    access_log {d}/access.log;\n\
             client_body_temp_path {d}/client_body;\n    proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\n    include {d}/movies-api.conf;\n}}\n"
        );
        std::fs::write(path.join("nginx.conf"), main).expect("the main config is written");
        let mut command = Command::new(binary);
        command
            .arg("-p")
            .arg(path)
            .arg("-c")
            .arg(path.join("nginx.conf"))
            .arg("-e")
            .arg(path.join("error.log"))
            .arg("-g")
            .arg(format!("daemon off; pid {d}/nginx.pid;"));
        // SIGTERM: nginx's master then stops its workers too.
        let process = Process::spawn("nginx", command, libc::SIGTERM);
        let http = Endpoint::new("nginx", &format!("http://127.0.0.1:{port}"));
        Self { process, dir, http }
    }

    /// Waits until nginx answers `/health` (from an instance) with a 200.
    async fn ready(&mut self) {
        let started = tokio::time::Instant::now();
        loop {
            assert!(!self.process.has_exited(), "nginx stopped");
            let answer = self.http.request(Method::GET, "/health").send().await;
            if answer.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            assert!(started.elapsed() < START_PATIENCE, "nginx does not answer /health");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("error.log"));
            eprintln!("---- nginx's error.log ----\n{}", log.unwrap_or_default());
        }
    }
}

#[tokio::test]
async fn nginx_spreads_http_and_websockets_over_both_instances() {
    let Some(binary) = nginx_binary() else {
        let required = std::env::var("REQUIRE_NGINX").as_deref() == Ok("1");
        assert!(!required, "REQUIRE_NGINX=1 but no nginx binary was found");
        println!("skipped: no nginx binary (apt-get install nginx)");
        return;
    };
    let Some(db) = TestDb::create().await else { return };
    // `requests=debug` logs every answer, in the span that names its X-Request-Id.
    let (a, b) = two_instances(&db, &[("RUST_LOG", "info,requests=debug")]).await;
    let mut nginx = Nginx::start(&binary, [a.host(), b.host()]);
    nginx.ready().await;
    let through = &nginx.http;

    // Plain requests go round robin: both instances see some.
    for n in 0..10 {
        let probe = format!("nginx-probe-{n}");
        let request = through.request(Method::GET, "/health").header("x-request-id", &probe);
        let reply = through.execute(request).await;
        reply.expect(StatusCode::OK);
        let echoed = reply.headers.get("x-request-id").and_then(|v| v.to_str().ok());
        assert_eq!(echoed, Some(probe.as_str()), "the request id crosses nginx both ways");
    }
    // Which instance logged each probe (each logs it once the request reached it).
    let mut served = [BTreeSet::new(), BTreeSet::new()];
    for n in 0..10 {
        let word = format!("request_id=nginx-probe-{n}");
        let logged = |line: &str| line.split_whitespace().any(|w| w.starts_with(&word));
        let what = format!("probe {n}");
        let by = tokio::select! {
            _ = a.log().wait_for(&what, EVENT_PATIENCE, logged) => 0,
            _ = b.log().wait_for(&what, EVENT_PATIENCE, logged) => 1,
        };
        served[by].insert(n);
    }
    println!("A served the probes {:?}, B {:?}", served[0], served[1]);
    assert!(!served[0].is_empty() && !served[1].is_empty(), "nginx sends to both: {served:?}");

    // A write through nginx, then reads through nginx, from either instance.
    let token = through.login(crate::harness::ADMIN, crate::harness::ADMIN_PASSWORD).await;
    let movie = through.create_movie(&token, "Through nginx", 2024).await;
    let id = movie["id"].as_i64().expect("an id");
    for _ in 0..4 {
        assert_eq!(through.movie(id).await.expect(StatusCode::OK), &movie);
    }

    // A bulk body over nginx's default limit of 1 MiB.
    let description = "d".repeat(1000);
    let bulk: Vec<Value> = (0..2000)
        .map(|n| json!({ "name": format!("Bulk {n}"), "year": 2000, "description": description }))
        .collect();
    let body = Value::Array(bulk);
    assert!(body.to_string().len() > 2 * 1024 * 1024);
    let reply = through.send(Method::POST, "/movies/bulk/", Some(&token), Some(&body)).await;
    let added = &reply.expect(StatusCode::OK)["added_movies"];
    assert_eq!(added.as_array().map(Vec::len), Some(2000), "every movie of the bulk body is added");

    // A listener through nginx gets every write made through nginx, on whichever instance.
    let mut listener = through.listen().await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let movie = through.create_movie(&token, &format!("Listened {n}"), 2025).await;
        ids.push(movie["id"].as_i64().expect("an id"));
    }
    for id in ids {
        listener.wait_for("a write through nginx", |e| is_about(e, "movie", "add", id)).await;
    }
}
