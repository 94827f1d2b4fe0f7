//! A throwaway `movies-api` for the tasks that need one running (`fuzz`, `screenshots`, and
//! `bench` with the release binary and [`Settings`]): the binary on a free port, a fresh SQLite
//! file in a temporary directory (or the database [`Settings`] names, which several servers may
//! share with the same key and admin), one admin, and a fake TMDB on 127.0.0.1 (`fake_tmdb.rs`) for the `/moviesTMDB` routes. The process is killed,
//! the fake stopped and the directory removed when the [`Server`] is dropped, on success, error
//! or panic alike.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use std::{env, thread};

use serde_json::json;

use crate::fake_tmdb::FakeTmdb;
use crate::http;

/// How long a fresh server may take to migrate its database and answer `GET /ready`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How many lines of the server's log an error shows.
const LOG_TAIL_LINES: usize = 40;

/// The admin the server creates at start.
pub struct Admin {
    pub username: String,
    pub password: String,
}

/// A running server; dropping it stops it.
pub struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
    pub admin: Admin,
    secrets: Secrets,
    /// How long each seeding of [`Settings::seed`] took, in order.
    pub seed_times: Vec<Duration>,
    /// Dropped after the server is killed (`Drop` runs before the fields are dropped).
    _tmdb: FakeTmdb,
}

/// Builds the server (debug) and returns the binary's path. Built as `cargo test --workspace`
/// builds it (with the dev-dependencies' features), so that right after the tests, as in CI,
/// nothing is compiled again; `cargo build` would rebuild two dozen crates.
pub fn build() -> Result<PathBuf, String> {
    let mut cmd = crate::cargo();
    cmd.args(["test", "--workspace", "--no-run"]);
    crate::run(&mut cmd)?;
    Ok(crate::target_dir().join("debug").join("movies-api"))
}

/// Builds the release server (as `cargo build --release` does) for `bench`; returns its path.
pub fn build_release() -> Result<PathBuf, String> {
    let mut cmd = crate::cargo();
    cmd.args(["build", "--release", "-p", "movies-api"]);
    crate::run(&mut cmd)?;
    Ok(crate::target_dir().join("release").join("movies-api"))
}

/// What a server gets beyond the defaults of [`Server::start`].
#[derive(Debug, Default)]
pub struct Settings {
    /// A database to use instead of a fresh SQLite file in the temporary directory.
    pub database_url: Option<String>,
    /// More environment for the server (and its seeding), after the defaults.
    pub env: Vec<(&'static str, String)>,
    /// `movies-api generate --movies M --characters C` for each `(M, C)`, in order, over the
    /// database before the server starts; their output is shown.
    pub seed: Vec<(u64, u64)>,
    /// The key and the admin's password of another server on the same database, so that its
    /// tokens are valid here and its admin logs in here (instances behind one proxy); else new
    /// ones.
    pub shared_secrets: Option<Secrets>,
}

/// A server's `SECRET_KEY` and admin password, for another instance on the same database.
#[derive(Clone)]
pub struct Secrets {
    secret_key: String,
    admin_password: String,
}

/// Secrets stay out of `Debug`, as the server keeps them out of its logs.
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

impl Server {
    /// Starts `binary` on a free port and a fresh database in a new temporary directory named
    /// after `purpose`, and waits until `GET /ready` answers 200.
    pub fn start(binary: &Path, purpose: &str) -> Result<Server, String> {
        Self::start_with(binary, purpose, Settings::default())
    }

    /// As [`Server::start`], with `settings`.
    pub fn start_with(binary: &Path, purpose: &str, settings: Settings) -> Result<Server, String> {
        let dir = env::temp_dir().join(format!(
            "movies-xtask-{purpose}-{}-{}",
            std::process::id(),
            random_hex(8)
        ));
        fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let log = dir.join("server.log");
        let log_file =
            File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let port = free_port()?;
        let secrets = settings.shared_secrets.unwrap_or_else(|| Secrets {
            secret_key: random_hex(64),
            admin_password: random_hex(24),
        });
        let admin = Admin { username: "admin".into(), password: secrets.admin_password.clone() };
        let tmdb = FakeTmdb::start()?;
        let mut environment = server_env(&dir, port, &admin, &secrets.secret_key);
        if let Some(url) = settings.database_url {
            environment.retain(|(name, _)| *name != "DATABASE_URL");
            environment.push(("DATABASE_URL", url));
        }
        environment.extend(settings.env);
        let command = || server_command(binary, &environment);
        let mut seed_times = Vec::new();
        for (movies, characters) in settings.seed {
            let mut cmd = command();
            cmd.args(["generate", "--movies", &movies.to_string()]);
            cmd.args(["--characters", &characters.to_string()]);
            let started = Instant::now();
            crate::run(&mut cmd).map_err(|e| {
                let _ = fs::remove_dir_all(&dir);
                format!("seeding the database: {e}")
            })?;
            seed_times.push(started.elapsed());
        }
        let mut cmd = command();
        cmd.envs(tmdb.env()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file);
        let child = cmd.spawn().map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let mut server = Server { child, port, dir, log, admin, secrets, seed_times, _tmdb: tmdb };
        server.wait_until_healthy()?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What another instance on the same database needs to share this one's tokens and admin.
    pub fn secrets(&self) -> Secrets {
        self.secrets.clone()
    }

    /// The server's process id (to read its memory in `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The temporary directory, removed with the server: for other scratch files of the task.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Logs the admin in (`POST /auth/login/`) and returns its access token.
    pub fn login(&mut self) -> Result<String, String> {
        let body =
            json!({ "username": self.admin.username, "hashedPassword": self.admin.password });
        let response = http::post_json(self.port, "/auth/login/", None, &body)
            .map_err(|e| self.failure(&e))?;
        match (response.status, response.string_field("token")) {
            (200, Some(token)) => Ok(token),
            (status, _) => Err(self.failure(&format!(
                "POST /auth/login/ answered {status} {}, expected 200 with a token",
                response.body
            ))),
        }
    }

    /// `message`, followed by the end of the server's log and, if it stopped, how.
    pub fn failure(&mut self, message: &str) -> String {
        let exited = match self.child.try_wait() {
            Ok(Some(status)) => format!(" (the server has exited: {status})"),
            _ => String::new(),
        };
        format!("{message}{exited}{}", self.log_tail())
    }

    /// Fails when the server is no longer running.
    pub fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            _ => Err(self.failure("the server stopped during the run")),
        }
    }

    fn wait_until_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // The server was started by us but announces readiness only through its port: poll.
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(self.failure("the server stopped before answering GET /ready"));
            }
            match http::get(self.port, "/ready") {
                Ok(response) if response.status == 200 => return Ok(()),
                _ if Instant::now() > deadline => {
                    let waited = START_TIMEOUT.as_secs();
                    return Err(
                        self.failure(&format!("GET /ready did not answer 200 in {waited} s"))
                    );
                }
                _ => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// The lines of the server's log (its stderr so far) that contain `needle`.
    pub fn log_lines_containing(&self, needle: &str) -> Vec<String> {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter(|l| l.contains(needle)).map(str::to_owned).collect()
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        if tail.is_empty() {
            return "\n(the server wrote nothing to stderr)".into();
        }
        format!(
            "\n--- the server's stderr, last {} lines ---\n{}\n--- end of the server's stderr ---",
            tail.len(),
            tail.join("\n")
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `binary` to run with `environment` and nothing else of the caller's but its `PATH`, `HOME`,
/// `TMPDIR` and `RUST_BACKTRACE`: a DATABASE_URL or APP_ENV in the caller's shell must not leak in.
pub fn server_command<N: AsRef<OsStr>, V: AsRef<OsStr>>(
    binary: &Path,
    environment: &[(N, V)],
) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env_clear();
    for name in ["PATH", "HOME", "TMPDIR", "RUST_BACKTRACE"] {
        if let Some(value) = env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.envs(environment.iter().map(|(n, v)| (n, v)));
    cmd
}

/// The server's whole configuration (names from crates/api/src/config.rs).
fn server_env(
    dir: &Path,
    port: u16,
    admin: &Admin,
    secret_key: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", format!("sqlite://{}", dir.join("server.db").display())),
        ("HOST", "127.0.0.1".into()),
        ("PORT", port.to_string()),
        ("SECRET_KEY", secret_key.into()),
        ("ADMIN_USERNAME", admin.username.clone()),
        ("ADMIN_PASSWORD", admin.password.clone()),
        ("RUST_LOG", "warn".into()),
        ("APP_ENV", "development".into()),
        // Long enough for any run: the fuzzer's token must not expire halfway.
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "1440".into()),
        // One generation job at a time: a throwaway server on a shared machine.
        ("JOBS_CONCURRENCY", "1".into()),
    ]
}

/// A port free right now: bind port 0, read the port, let it go. Another process could take it
/// before the server binds it; unlikely enough on a developer machine or a CI runner.
pub fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("finding a free port: {e}"))
}

/// `len` hex digits from std's randomly keyed hasher: unguessable enough for the secrets of a
/// server that lives for one task on 127.0.0.1, without a dependency.
fn random_hex(len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(out.len());
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_gets_a_fresh_sqlite_file_a_strong_key_and_an_admin() {
        let admin = Admin { username: "admin".into(), password: "pw".into() };
        let env = server_env(Path::new("/tmp/x"), 4321, &admin, &random_hex(64));
        let get = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("DATABASE_URL"), Some("sqlite:///tmp/x/server.db"));
        assert_eq!(get("PORT"), Some("4321"));
        assert_eq!(get("ADMIN_USERNAME"), Some("admin"));
        assert_eq!(get("ADMIN_PASSWORD"), Some("pw"));
        assert!(get("SECRET_KEY").is_some_and(|key| key.len() >= 40));
        assert!(get("JOBS_CONCURRENCY").is_some_and(|n| (1..=64).contains(&n.parse().unwrap())));
    }

    #[test]
    fn a_server_command_sees_its_settings_and_not_the_callers_environment() {
        // cargo sets CARGO_PKG_NAME for the tests it runs: the caller's environment here.
        assert!(env::var_os("CARGO_PKG_NAME").is_some());
        let out = server_command(Path::new("env"), &[("DATABASE_URL", "sqlite://x.db")])
            .output()
            .unwrap();
        let seen = String::from_utf8(out.stdout).unwrap();
        assert!(seen.lines().any(|l| l == "DATABASE_URL=sqlite://x.db"), "{seen}");
        assert!(seen.lines().any(|l| l.starts_with("PATH=")), "{seen}");
        assert!(!seen.contains("CARGO_PKG_NAME"), "{seen}");
    }

    #[test]
    fn random_hex_has_the_asked_length_and_differs_each_time() {
        let (a, b) = (random_hex(40), random_hex(40));
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}
