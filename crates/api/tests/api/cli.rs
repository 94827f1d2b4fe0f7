//! The real `movies-api` binary, as an operator runs it: `create-admin`, and start-up refusing
//! bad configuration with one line that names the variable.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{WS_PATIENCE, fresh_database, spawn_app_over};

/// Runs the binary with only `env` set (nothing inherited), feeding `stdin`.
fn movies_api(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_movies-api"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin written");
    child.wait_with_output().expect("the binary ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn create_admin_makes_an_admin_that_can_log_in_with_no_server_running() {
    let database = fresh_database().await;
    let url = &database.url;
    let from_env = movies_api(
        &["create-admin", "--username", "root"],
        &[("DATABASE_URL", url), ("ADMIN_PASSWORD", "root-password-1"), ("RUST_LOG", "warn")],
        "",
    );
    assert!(from_env.status.success(), "stderr: {}", text(&from_env.stderr));
    assert!(text(&from_env.stdout).contains("admin root"), "{}", text(&from_env.stdout));
    // Again, from standard input: the password is reset.
    let from_stdin = movies_api(
        &["create-admin", "--username", "root"],
        &[("DATABASE_URL", url), ("RUST_LOG", "warn")],
        "root-password-2\n",
    );
    assert!(from_stdin.status.success(), "stderr: {}", text(&from_stdin.stderr));

    let app = spawn_app_over(url, &[]).await;
    let old = json!({ "username": "root", "hashedPassword": "root-password-1" });
    app.post_json("/auth/login/", &old).await.expect_error(StatusCode::UNAUTHORIZED);
    let token = app.login("root", "root-password-2").await;
    let me = app.send(app.request_as(Some(&token), reqwest::Method::GET, "/auth/me")).await;
    assert_eq!(me.expect(StatusCode::OK)["role"], "admin");
}

#[tokio::test]
async fn generate_seeds_movies_then_characters_and_reports_the_rate() {
    let database = fresh_database().await;
    let url = &database.url;
    let out = movies_api(
        &["generate", "--movies", "1500", "--characters", "700"],
        &[("DATABASE_URL", url), ("RUST_LOG", "warn")],
        "",
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(stdout.contains("1500 movies in") && stdout.contains("rows/s"), "{stdout}");
    assert!(stdout.contains("700 characters in"), "{stdout}");

    let app = spawn_app_over(url, &[]).await;
    assert_eq!(app.movie_count().await, 1500);
    assert_eq!(app.character_count().await, 700);
}

#[tokio::test]
async fn a_running_server_serves_what_generate_wrote_beside_it_once_its_log_says_so() {
    let database = fresh_database().await;
    let url = &database.url;
    let app = spawn_app_over(url, &[]).await;
    // Read twice each, so that the read cache holds the empty list and movie 1's absence.
    for _ in 0..2 {
        let reply = app.get("/movies?skip=0&limit=50").await;
        assert_eq!((reply.items().len(), reply.total_count()), (0, 0));
        app.get("/movies/1").await.expect(StatusCode::NOT_FOUND);
    }

    // Another process writes the same database: the server hears of it only through the log.
    let out = movies_api(
        &["generate", "--movies", "30"],
        &[("DATABASE_URL", url), ("RUST_LOG", "warn")],
        "",
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));

    let patience = std::time::Instant::now();
    loop {
        let reply = app.get("/movies?skip=0&limit=50").await;
        let found = app.get("/movies/1").await.status;
        if (reply.items().len(), reply.total_count(), found) == (30, 30, StatusCode::OK) {
            break;
        }
        assert!(
            patience.elapsed() < WS_PATIENCE,
            "still {} movies of {}, movie 1 {found}, {:?} after",
            reply.items().len(),
            reply.total_count(),
            patience.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    println!("the server served the other process's movies {:?} after", patience.elapsed());
}

#[test]
fn create_admin_refuses_a_short_password_without_touching_anything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/cli.db", dir.path().display());
    let out =
        movies_api(&["create-admin", "--username", "root"], &[("DATABASE_URL", &url)], "short\n");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("8 to 128 characters"), "{}", text(&out.stderr));
}

#[test]
fn bad_configuration_stops_the_start_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/cli.db", dir.path().display());
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("PORT", "eighty")], "PORT"),
        (&[("ALGORITHM", "RS256")], "ALGORITHM"),
        (&[("CORS_ORIGINS", "example.com")], "CORS_ORIGINS"),
        (&[("APP_ENV", "production")], "SECRET_KEY"),
        (&[("APP_ENV", "production"), ("SECRET_KEY", "too short")], "SECRET_KEY"),
    ];
    for (env, variable) in cases {
        let mut env = env.to_vec();
        env.push(("DATABASE_URL", &url));
        let out = movies_api(&[], &env, "");
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{env:?} started");
        assert!(stderr.contains(variable), "{env:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{env:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{env:?}: {stderr}");
    }
}
