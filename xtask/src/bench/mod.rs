//! `cargo xtask bench`: builds the release server, starts it on a fresh SQLite database (and on
//! a fresh PostgreSQL database when `BENCH_DATABASE_URL` is set, `postgres.rs`; with
//! `--instances N`, on N instances sharing one behind nginx too, `nginx.rs`) seeded with
//! 100,000 movies and 200,000 characters, runs each scenario against it from a load generator
//! in this process (hyper and tokio-tungstenite on tokio, fixed concurrency, 127.0.0.1 only),
//! then writes `target/bench.json`, `docs/benchmarks.md` and `docs/img/benchmarks.png`, and ends
//! with the issue's targets, each met, not met or not run (`targets.rs`; in the page too, with
//! the hand-written `analysis.md` below them).
//!
//! The server and the load generator share the machine's cores, so each figure is also given as
//! a ratio to `ceiling` (`GET /health`, which touches nothing) measured in the same run: that
//! ratio, more than the raw figure, is what compares across machines.
//!
//! Two servers per database, each on a fresh one: the first for every scenario on 100,000
//! movies (the generation beside `get_movie` last, as it grows the table), the second for
//! `generate` (1,000,000 movies through `POST /movies/generate/{n}`, on its own) and `scale`
//! (the reads again on those 1,000,000 movies and 200,000 characters); before them, a small
//! server runs the same reads on 10,000 movies, the baseline of `scale`. The generation's rate
//! over its first 100,000 movies (`generate_first_100k`) and the gaps in its ids are read along
//! the way, for their targets. Behind nginx only the first runs, without `memory`.

mod chart;
mod comparison;
mod floor;
mod listeners;
mod load;
mod nginx;
mod options;
mod postgres;
mod report;
mod soak;
mod stats;
mod targets;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use std::{env, thread};

use serde_json::Value;
use tokio::runtime::Runtime;

use crate::http;
use crate::server::{self, Server, Settings};
pub use floor::floor;
use listeners::Fanout;
use load::{Load, MakeRequest, Outcome, Requests, Stop};
use nginx::Nginx;
use options::{Options, Parsed};
use postgres::{PgServer, ScratchDatabase};
use report::{Report, Row, Run, Unit};
use stats::per_second;

/// The seed of the first server: the issue's 100,000 movies and 200,000 characters.
const MOVIES: u64 = 100_000;
const CHARACTERS: u64 = 200_000;
/// The `generate` and `scale` database.
const SCALE_MOVIES: u64 = 1_000_000;
const SCALE_CHARACTERS: u64 = 200_000;
/// `scale`'s baseline: the same reads on a table of this size.
const SMALL_MOVIES: u64 = 10_000;
const SMALL_CHARACTERS: u64 = 2_000;
/// `bulk`: this many movies in [`BULK_REQUESTS`] requests.
const BULK_MOVIES: u64 = 100_000;
const BULK_REQUESTS: u64 = 10;
/// `ws_fanout`'s writer: creates per second.
const WS_RATE: u32 = 200;
/// How long after the 10,000-connection scenario memory is read again.
const MEMORY_SETTLE: Duration = Duration::from_secs(30);
/// `GET /movies/names` answers every name (30 MB at 1,000,000 movies): at most this many at
/// once, so that the server's memory, not the benchmark, is not what gives way.
const NAMES_CONNECTIONS: usize = 4;
/// Genres of the generated movies (crates/infra/src/jobs/generator.rs), URL-encoded.
const GENRES: &[&str] = &[
    "Action",
    "Adventure",
    "Comedy",
    "Crime",
    "Drama",
    "Fantasy",
    "Horror",
    "Mystery",
    "Science%20Fiction",
    "Thriller",
];
/// Substrings for `q`, common and rare in generated titles ("The Synergistic Paradigm").
const QUERIES: &[&str] = &["the", "ar", "ent", "ion", "ic", "syn", "xyz", "web", "ive", "ware"];

pub use soak::soak;

pub fn bench(args: &[String]) -> Result<(), String> {
    let options = match options::parse(args)? {
        Parsed::Help => {
            print!("{}", options::USAGE);
            return Ok(());
        }
        // Nothing is measured: a debug build writes the pages as well.
        Parsed::Run(Options { from_json: Some(path), write_docs, .. }) => {
            let report = read_report(&path)?;
            if write_docs {
                write_docs_for(&report)?;
            }
            for line in targets::console_lines(&report) {
                println!("{line}");
            }
            return Ok(());
        }
        Parsed::Run(_) if cfg!(debug_assertions) => return run_optimised("bench", args),
        Parsed::Run(options) => options,
    };
    // Read before the long run, so that a wrong path fails at once.
    let earlier = options.compare.as_deref().map(read_report).transpose()?;
    let postgres = match env::var("BENCH_DATABASE_URL") {
        Ok(url) => Some(PgServer::parse(&url)?),
        Err(_) => None,
    };
    match &postgres {
        Some(server) => server.check()?,
        None if options.instances > 1 => {
            return Err("--instances needs BENCH_DATABASE_URL: the instances share one \
                        PostgreSQL database (a SQLite file has one server)"
                .into());
        }
        None => {}
    }
    if options.instances > 1 {
        nginx::binary()?;
    }
    let wall = Instant::now();
    raise_open_files_limit();
    // A binary built elsewhere (an earlier commit's) measures the "before" of a change with
    // this harness.
    let binary = match env::var_os("BENCH_BINARY") {
        Some(path) => std::path::PathBuf::from(path),
        None => server::build_release()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting tokio: {e}"))?;
    let mut runs = vec![bench_database(&runtime, &binary, &options, &Backend::Sqlite)?];
    if let Some(server) = postgres {
        let one = Backend::Postgres { server: server.clone(), instances: 1 };
        runs.push(bench_database(&runtime, &binary, &options, &one)?);
        if options.instances > 1 {
            let several = Backend::Postgres { server, instances: options.instances };
            runs.push(bench_database(&runtime, &binary, &options, &several)?);
        }
    }
    let report = Report {
        date: today(),
        commit: commit(),
        cores: thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        quick: options.quick,
        seconds_per_scenario: options.duration.as_secs(),
        concurrency: options.concurrency,
        wall_seconds: wall.elapsed().as_secs_f64(),
        runs,
    };
    let json_path = crate::target_dir().join("bench.json");
    write(&json_path, &format!("{:#}\n", report.to_json()))?;
    println!("\n{}", report.markdown_tables());
    println!("wrote {}", json_path.display());
    if options.write_docs {
        write_docs_for(&report)?;
    }
    if let Some(earlier) = earlier {
        println!();
        for line in report::compare_lines(&report, &earlier) {
            println!("{line}");
        }
    }
    println!();
    for line in targets::console_lines(&report) {
        println!("{line}");
    }
    println!("bench: done in {:.0} s", wall.elapsed().as_secs_f64());
    Ok(())
}

/// Writes docs/benchmarks.md (and its chart) from `report`.
fn write_docs_for(report: &Report) -> Result<(), String> {
    let root = crate::workspace_root();
    let path = root.join("docs/benchmarks.md");
    let existing = fs::read_to_string(&path).ok();
    match (comparison::section(report), existing) {
        // A run on PostgreSQL rewrites its own section and keeps the rest of the page, chart
        // included (a quick comparison must not replace a full SQLite run).
        (Some(section), Some(page)) if page.contains("## Results") => {
            write(&path, &comparison::splice(&page, &section))?;
            println!("wrote its section of docs/benchmarks.md (the rest is kept)");
        }
        (section, existing) => {
            let kept = section
                .or_else(|| existing.as_deref().and_then(comparison::kept).map(str::to_owned));
            write(&path, &benchmarks_md(report, kept.as_deref()))?;
            let chart = root.join("docs/img/benchmarks.png");
            chart::draw(report, &chart)?;
            println!("wrote docs/benchmarks.md and {}", chart.display());
        }
    }
    Ok(())
}

/// Runs this task again from a release build of xtask: a debug build of hyper and tokio would
/// make the load generator, not the server, the bottleneck. The rest of xtask stays a debug
/// build, quick to compile.
fn run_optimised(task: &str, args: &[String]) -> Result<(), String> {
    println!("{task}: building the load generator (xtask) with optimisations");
    let mut cmd = crate::cargo();
    cmd.args(["build", "--release", "-p", "xtask"]);
    crate::run(&mut cmd)?;
    let mut cmd = Command::new(crate::target_dir().join("release").join("xtask"));
    cmd.arg(task).args(args);
    // The optimised run has reported its own failure.
    crate::run(&mut cmd).map_err(|_| "failed".to_owned())
}

fn read_report(path: &Path) -> Result<Report, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    Report::from_json(&value).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// 10,000 connections need more than the usual 1,024 open files, here and in the server (a
/// child, which inherits the limit): the soft limit goes up to the hard one.
fn raise_open_files_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < 10_500 => {
            println!(
                "bench: open files limited to {limit} (hard limit); the 10,000-connection \
                 scenarios may fail (raise it with `ulimit -Hn` as root)"
            );
            limit
        }
        Ok(limit) => {
            println!("bench: open files limit {limit}");
            limit
        }
        Err(e) => {
            println!("bench: could not raise the open files limit: {e}");
            1024
        }
    }
}

/// Where a run's servers keep their data, and how many serve it.
#[derive(Debug, Clone)]
enum Backend {
    /// A fresh SQLite file per server.
    Sqlite,
    /// A fresh database on this PostgreSQL server per server; `instances` share it, behind
    /// nginx when more than one.
    Postgres { server: PgServer, instances: usize },
}

impl Backend {
    fn database(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    fn instances(&self) -> usize {
        match self {
            Backend::Sqlite => 1,
            Backend::Postgres { instances, .. } => *instances,
        }
    }

    /// Starts the servers of `purpose` (`""` for the first, `small`, `scale`) on a fresh
    /// database seeded with `seed`, and nginx in front when there are several.
    fn deploy(
        &self,
        binary: &Path,
        purpose: &str,
        seed: Vec<(u64, u64)>,
    ) -> Result<Deployment, String> {
        let instances = self.instances();
        let database = match self {
            Backend::Sqlite => None,
            Backend::Postgres { server, .. } => {
                let suffix = match (purpose, instances) {
                    (_, 1) => purpose.to_owned(),
                    ("", n) => format!("x{n}"),
                    (purpose, n) => format!("x{n}_{purpose}"),
                };
                Some(server.create(&suffix)?)
            }
        };
        let database_url = database.as_ref().map(ScratchDatabase::url);
        let name = if purpose.is_empty() { "bench".to_owned() } else { format!("bench-{purpose}") };
        let settings = Settings {
            database_url: database_url.clone(),
            env: bench_env(),
            seed,
            ..Default::default()
        };
        let seeded = !settings.seed.is_empty();
        let server = Server::start_with(binary, &name, settings)?;
        if let (Some(database), true) = (&database, seeded) {
            // Right after `movies-api generate` the tables have no statistics: a page of
            // `list_movies` then sorts the whole table (44 ms at skip=73,000, 13 ms once
            // analysed), and when autovacuum steps in during the run is luck. Measure what a
            // server sees a minute after a bulk load, the same in every run.
            let started = Instant::now();
            database.vacuum_analyze()?;
            println!("    VACUUM ANALYZE after seeding: {:.1} s", started.elapsed().as_secs_f64());
        }
        let mut others = Vec::new();
        for _ in 1..instances {
            let settings = Settings {
                database_url: database_url.clone(),
                env: bench_env(),
                seed: Vec::new(),
                shared_secrets: Some(server.secrets()),
            };
            others.push(Server::start_with(binary, &name, settings)?);
        }
        let nginx = match instances {
            1 => None,
            _ => {
                let ports: Vec<u16> =
                    std::iter::once(&server).chain(&others).map(Server::port).collect();
                Some(Nginx::start(server::free_port()?, &ports)?)
            }
        };
        Ok(Deployment { nginx, server, others, database })
    }
}

/// The servers of one database and what stands in front of them; dropped in this order: nginx,
/// the servers, then their database.
struct Deployment {
    nginx: Option<Nginx>,
    /// The first instance: the one seeded, logged in to, and asked about jobs and memory.
    server: Server,
    /// The other instances, on the same database, key and admin.
    others: Vec<Server>,
    /// PostgreSQL's; dropped last.
    database: Option<ScratchDatabase>,
}

/// The scenarios of one run, and why those of `options` left out were.
fn plan(options: &Options, backend: &Backend) -> (Vec<&'static str>, Vec<String>) {
    let n = backend.instances();
    if n == 1 {
        return (options.scenarios.clone(), Vec::new());
    }
    let mut skipped = Vec::new();
    if options.runs("memory") {
        skipped.push(format!(
            "No `memory` behind nginx: it reads one process's RSS, and here {n} instances and \
             nginx serve (the one-instance PostgreSQL run has it)."
        ));
    }
    if options.second_server() {
        skipped.push(
            "No second server behind nginx: neither `scale` nor the 1,000,000-movie `generate`              (the one-instance runs have them)."
                .into(),
        );
    }
    let scenarios =
        options.scenarios.iter().copied().filter(|s| *s != "memory" && *s != "scale").collect();
    (scenarios, skipped)
}

/// One backend's scenarios (see [`Backend`]).
fn bench_database(
    runtime: &Runtime,
    binary: &Path,
    options: &Options,
    backend: &Backend,
) -> Result<Run, String> {
    let mut run = Run::new(backend.database());
    run.instances = backend.instances();
    let label = run.label();
    let load_at_start = load_average();
    let (scenarios, skipped) = plan(options, backend);
    for note in skipped {
        println!("    [{label}] {note}");
        run.notes.push(note);
    }
    if let Backend::Postgres { server, instances } = backend {
        let behind = match instances {
            1 => String::new(),
            n => format!(
                ", shared by {n} instances (one SECRET_KEY) behind nginx, which takes every \
                 request and WebSocket (round robin; config in xtask/src/bench/nginx.rs)"
            ),
        };
        run.notes.push(format!(
            "A fresh database per server, created by the bench on the PostgreSQL server of \
             BENCH_DATABASE_URL ({}...) and dropped after{behind}. After seeding, the bench runs \
             `VACUUM ANALYZE` (what autovacuum does within a minute or so of a bulk load).",
            server.name
        ));
    }
    println!(
        "==> bench [{label}]: seeding {} movies and {} characters, then starting the server{}",
        report::thousands(MOVIES as f64),
        report::thousands(CHARACTERS as f64),
        if run.instances > 1 { "s and nginx" } else { "" }
    );
    let deployment = backend.deploy(binary, "", vec![(MOVIES, CHARACTERS)])?;
    if let Some(took) = deployment.server.seed_times.first() {
        println!("    seeded in {:.1} s; ready", took.as_secs_f64());
    }
    let mut bench = Bench::new(runtime, deployment, options, scenarios)?;
    bench.main_scenarios(&mut run)?;
    bench.note_proxy_errors(&mut run);
    drop(bench);

    let second_server = options.second_server() && run.instances == 1;
    if second_server && options.runs("scale") {
        println!("==> bench [{label}]: a small server (10,000 movies), for `scale`'s baseline");
        let deployment = backend.deploy(binary, "small", vec![(SMALL_MOVIES, SMALL_CHARACTERS)])?;
        let mut bench = Bench::new(runtime, deployment, options, options.scenarios.clone())?;
        bench.list_reads(&mut run, "small", SMALL_CHARACTERS)?;
    }
    if second_server {
        println!("==> bench [{label}]: a second server, for `generate` and `scale`");
        let deployment = backend.deploy(binary, "scale", Vec::new())?;
        let mut bench = Bench::new(runtime, deployment, options, options.scenarios.clone())?;
        bench.scale_scenarios(&mut run)?;
    }
    if options.quick {
        let skipped = if options.second_server() || run.instances > 1 {
            ""
        } else {
            println!(
                "    (quick: no `scale`, no 1,000,000-movie `generate`; add --scale for them)"
            );
            " No second server: neither `scale` nor the 1,000,000-movie `generate` ran \
             (`--quick --scale` runs them)."
        };
        run.notes.push(format!(
            "Quick run: {} s per scenario; the generation beside `get_movie` asks for {} movies \
             (1,000,000 in a full run).{skipped}",
            options.duration.as_secs(),
            report::thousands(options.generate_beside() as f64)
        ));
    }
    // Whatever else runs on the machine takes cores from the server and the load generator:
    // the load average says how busy it was besides.
    if let (Some(start), Some(end)) = (load_at_start, load_average()) {
        run.notes.push(format!(
            "Load average (1 min) of the machine: {start:.1} as this run began, {end:.1} as it \
             ended, on {} cores.",
            thread::available_parallelism().map_or(1, |n| n.get())
        ));
    }
    run.fill_ratios();
    Ok(run)
}

/// The server's settings for a benchmark, besides those of every throwaway server.
fn bench_env() -> Vec<(&'static str, String)> {
    vec![
        // The `ceiling_bare` scenario's route.
        ("BENCH_BARE_ROUTE", "1".into()),
        // Errors only: a log line per WebSocket or connection would be measured too.
        ("RUST_LOG", "error".into()),
        // Generation runs one job at a time, as it does on a small server.
        ("JOBS_CONCURRENCY", "1".into()),
        // `connections_10000` opens every connection before any sends. It took 7 to 12 s
        // before the server's listen backlog was raised (0.3 s since), and with the default
        // 10 s the first ones were at times closed as slow clients before their first request
        // (up to 1,603 errors): a bench measures serving, not the slow-client defence.
        ("HEADER_READ_TIMEOUT", "60s".into()),
    ]
}

/// A running deployment (one server, or several behind nginx) and what the scenarios need of
/// it.
struct Bench<'a> {
    runtime: &'a Runtime,
    options: &'a Options,
    /// The scenarios of this run: those of `options`, less what this deployment leaves out.
    scenarios: Vec<&'static str>,
    /// Where the load goes: nginx's port, or the server's.
    addr: SocketAddr,
    requests: Requests,
    token: String,
    /// The smallest and largest movie id.
    ids: (u64, u64),
    /// Starts the name of every movie this run creates, so that names never collide.
    prefix: String,
    /// Last, so that it is dropped (nginx, the servers, the database) after the rest.
    deployment: Deployment,
}

impl<'a> Bench<'a> {
    fn new(
        runtime: &'a Runtime,
        mut deployment: Deployment,
        options: &'a Options,
        scenarios: Vec<&'static str>,
    ) -> Result<Self, String> {
        // Any instance would do: they share the key and the admin.
        let token = deployment.server.login()?;
        let port = deployment.nginx.as_ref().map_or(deployment.server.port(), Nginx::port);
        let requests = Requests { host: format!("127.0.0.1:{port}"), token: Some(token.clone()) };
        let prefix = format!(
            "bench-{}-",
            deployment.server.dir().file_name().map_or_else(
                || "run".into(),
                |name| name.to_string_lossy().rsplit('-').next().unwrap_or("run").to_owned(),
            )
        );
        Ok(Bench {
            runtime,
            options,
            scenarios,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            requests,
            token,
            // Read once there are movies (the second server starts empty).
            ids: (1, 1),
            prefix,
            deployment,
        })
    }

    fn runs(&self, scenario: &str) -> bool {
        self.scenarios.contains(&scenario)
    }

    /// The first instance, which the harness's own requests (jobs, counts, login) go to.
    fn server(&self) -> &Server {
        &self.deployment.server
    }

    /// Fails when a server, or nginx, is no longer running.
    fn check_running(&mut self) -> Result<(), String> {
        self.deployment.server.check_running()?;
        for other in &mut self.deployment.others {
            other.check_running()?;
        }
        match &mut self.deployment.nginx {
            Some(nginx) => nginx.check_running(),
            None => Ok(()),
        }
    }

    /// Open TCP connections to each instance, when there are several (to see how nginx spread
    /// the listeners): `None` with one instance.
    fn connections_per_instance(&self) -> Option<String> {
        self.deployment.nginx.as_ref()?;
        let ports = std::iter::once(&self.deployment.server)
            .chain(&self.deployment.others)
            .map(|s| established(s.port()).map_or_else(|| "?".into(), |n| n.to_string()));
        Some(ports.collect::<Vec<_>>().join(" / "))
    }

    /// nginx's complaints (a 502, an upstream that closed early) over the run, into its notes:
    /// they are what a proxy adds to the picture.
    fn note_proxy_errors(&self, run: &mut Run) {
        let Some(nginx) = &self.deployment.nginx else { return };
        let log: Vec<String> = nginx
            .error_log()
            .into_iter()
            .filter(|l| l.contains("[error]") || l.contains("[crit]") || l.contains("[alert]"))
            .collect();
        println!("    nginx's error log: {} lines at error and above", log.len());
        for line in log.iter().take(5) {
            println!("      {line}");
        }
        if !log.is_empty() {
            let first = log[0].split_once("] ").map_or(log[0].as_str(), |(_, rest)| rest);
            run.notes.push(format!(
                "nginx logged {} errors; the first: `{}`",
                log.len(),
                first.chars().take(300).collect::<String>()
            ));
        }
    }

    /// Every scenario of the first server, in order.
    fn main_scenarios(&mut self, run: &mut Run) -> Result<(), String> {
        let c = self.options.concurrency;
        self.ids = self.movie_ids()?;
        if self.runs("memory") {
            run.memory.push(("idle, after start and login".into(), self.rss_mb()?));
        }
        let r = self.requests.clone();
        self.timed(run, "ceiling", c, Arc::new(move |_, _| r.get("/health", false)))?;
        let r = self.requests.clone();
        if self.runs("ceiling_bare") {
            self.timed(
                run,
                "ceiling_bare",
                c,
                Arc::new(move |_, _| r.get("/_bench/health", false)),
            )?;
        }
        if self.runs("get_movie") {
            let make = self.get_movie(true);
            self.timed(run, "get_movie", c, make)?;
        }
        if self.runs("get_movie_public") {
            let make = self.get_movie(false);
            self.timed(run, "get_movie_public", c, make)?;
        }
        let movies = self.ids.1 - self.ids.0 + 1;
        if self.runs("list_movies") {
            let r = self.requests.clone();
            let make: MakeRequest = Arc::new(move |rng, _| {
                let skip = rng.between(0, movies.saturating_sub(50));
                r.get(&format!("/movies?skip={skip}&limit=50"), false)
            });
            self.timed(run, "list_movies", c, make)?;
        }
        if self.runs("filter_movies") {
            let make = self.filter();
            self.timed(run, "filter_movies", c, make)?;
        }
        if self.runs("create_movie") {
            let make = self.create_movie("create");
            self.timed(run, "create_movie", c, make)?;
        }
        if self.runs("mixed") {
            let (read, write) = (self.get_movie(true), self.create_movie("mixed"));
            let make: MakeRequest =
                Arc::new(move |rng, n| if rng.percent(10) { write(rng, n) } else { read(rng, n) });
            self.timed(run, "mixed", c, make)?;
            if let Some(row) = run.rows.last_mut() {
                row.note = "90% get_movie, 10% create_movie".into();
            }
        }
        if self.runs("bulk") {
            self.bulk(run)?;
        }
        if self.runs("ws_fanout") {
            for listeners in [1_000, 10_000] {
                self.ws_fanout(run, listeners)?;
            }
        }
        if self.runs("connections") {
            for connections in [1_000, 10_000] {
                let name = format!("connections_{connections}");
                let r = self.requests.clone();
                self.timed(run, &name, connections, Arc::new(move |_, _| r.get("/health", false)))?;
                if let Some(row) = run.rows.last_mut() {
                    row.note = format!("GET /health over {connections} connections");
                }
            }
            if self.runs("memory") {
                run.memory.push(("right after 10,000 connections".into(), self.rss_mb()?));
                println!("--> memory: waiting {} s", MEMORY_SETTLE.as_secs());
                thread::sleep(MEMORY_SETTLE);
                run.memory.push(("30 s after 10,000 connections".into(), self.rss_mb()?));
                self.print_memory(run);
            }
        }
        if self.runs("generate") {
            self.generate_beside_get_movie(run)?;
        }
        Ok(())
    }

    /// `generate` on its own, then `scale`, on the second server.
    fn scale_scenarios(&mut self, run: &mut Run) -> Result<(), String> {
        let characters = self.generate_for_scale(run)?;
        if !self.runs("scale") {
            return Ok(());
        }
        if let Some(database) = &self.deployment.database {
            // As after seeding: the reads measure a table a minute after its load, with
            // statistics, not the minute before autovacuum comes (on 1,000,000 movies without
            // them, `scale_genre` answered 40 req/s against 1,700 on 10,000).
            let started = Instant::now();
            database.vacuum_analyze()?;
            println!(
                "    VACUUM ANALYZE after generating: {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        self.list_reads(run, "scale", characters)
    }

    /// The list reads of `scale`, named `{prefix}_...`: on 1,000,000 movies (`scale`), and on
    /// 10,000 (`small`), the throughput each should keep half of at the larger size.
    fn list_reads(&mut self, run: &mut Run, prefix: &str, characters: u64) -> Result<(), String> {
        self.ids = self.movie_ids()?;
        let c = self.options.concurrency;
        let (low, movies) = (self.ids.0, self.ids.1 - self.ids.0 + 1);
        println!(
            "--> {prefix}: reads on {} movies and {} characters",
            report::thousands(movies as f64),
            report::thousands(characters as f64)
        );
        // Nine tenths of the way in: skip=900,000 and after=id 900,000 at a million movies.
        let far = movies * 9 / 10;
        let name = |scenario: &str| format!("{prefix}_{scenario}");
        let r = self.requests.clone();
        let first: MakeRequest = Arc::new(move |_, _| r.get("/movies?limit=50", false));
        self.timed(run, &name("first_page"), c, first)?;
        let r = self.requests.clone();
        let deep: MakeRequest = Arc::new(move |rng, _| {
            let skip = far + rng.between(0, 1000);
            r.get(&format!("/movies?skip={skip}&limit=50"), false)
        });
        self.timed(run, &name("deep_page"), c, deep.clone())?;
        let r = self.requests.clone();
        let cursor: MakeRequest = Arc::new(move |rng, _| {
            let after = low + far + rng.between(0, 1000);
            r.get(&format!("/movies?after={after}&limit=50"), false)
        });
        self.timed(run, &name("cursor_page"), c, cursor)?;
        let r = self.requests.clone();
        // A page anywhere, through the cursor (character ids run from 1 on a fresh database).
        let make: MakeRequest = Arc::new(move |rng, _| {
            let after = rng.between(0, characters.saturating_sub(50));
            r.get(&format!("/characters?after={after}&limit=50"), true)
        });
        self.timed(run, &name("characters"), c, make)?;
        let r = self.requests.clone();
        let q: MakeRequest = Arc::new(move |rng, _| {
            let q = QUERIES[rng.between(0, QUERIES.len() as u64 - 1) as usize];
            r.get(&format!("/movies?q={q}&limit=50"), false)
        });
        self.timed(run, &name("q"), c, q.clone())?;
        let r = self.requests.clone();
        let make: MakeRequest = Arc::new(move |rng, _| {
            let genre = GENRES[rng.between(0, GENRES.len() as u64 - 1) as usize];
            r.get(&format!("/movies?genre={genre}&limit=50"), false)
        });
        self.timed(run, &name("genre"), c, make)?;
        // How long one request takes with nothing else running: what "answers in under
        // 200 ms" and "under 10 ms" mean.
        self.timed(run, &name("deep_page_alone"), 1, deep)?;
        self.timed(run, &name("q_alone"), 1, q)?;
        let r = self.requests.clone();
        let names = NAMES_CONNECTIONS.min(c);
        self.timed(run, &name("names"), names, Arc::new(move |_, _| r.get("/movies/names", true)))?;
        if let Some(row) = run.rows.last_mut() {
            row.note = format!("every name in one streamed answer; {names} connections");
        }
        // What the names cost in memory (an allocator keeps what it took at the peak).
        run.memory.push((format!("{prefix}: right after `{prefix}_names`"), self.rss_mb()?));
        if prefix == "scale" {
            note_kept_throughput(run);
        }
        Ok(())
    }

    /// The `generate` scenario's first half (1,000,000 movies through the API, nothing else
    /// running), then the characters `scale` needs. Returns how many characters there are.
    fn generate_for_scale(&mut self, run: &mut Run) -> Result<u64, String> {
        println!(
            "--> generate: {} movies through POST /movies/generate",
            report::thousands(SCALE_MOVIES as f64)
        );
        let (took, first) = self.generate_job("movies", SCALE_MOVIES, MOVIES)?;
        let gaps = self.movie_id_gaps()?;
        println!("    movie ids missing between the smallest and the largest: {gaps}");
        run.movie_id_gaps = Some(gaps);
        if self.runs("generate") {
            let rows = per_second(SCALE_MOVIES, took);
            let note = format!(
                "{} movies in {:.1} s, wall time of the job, nothing else running",
                report::thousands(SCALE_MOVIES as f64),
                took.as_secs_f64()
            );
            let row = Row::throughput_only("generate", Unit::Rows, rows, note);
            print_row(&row);
            run.rows.push(row);
            // The same job's rate over its first 100,000 rows, which the whole million should
            // keep 0.8 of (the seeding's time also counts characters, and not through the API).
            if let Some((done, at)) = first {
                let note = format!(
                    "`generate`'s job at its first {} movies seen, in {:.1} s",
                    report::thousands(done as f64),
                    at.as_secs_f64()
                );
                let rate = per_second(done, at);
                let row = Row::throughput_only("generate_first_100k", Unit::Rows, rate, note);
                print_row(&row);
                run.rows.push(row);
            }
        }
        if !self.runs("scale") {
            return Ok(0);
        }
        println!(
            "--> scale: {} characters through POST /characters/generate",
            report::thousands(SCALE_CHARACTERS as f64)
        );
        let (took, _) = self.generate_job("characters", SCALE_CHARACTERS, u64::MAX)?;
        println!("    {:.1} s", took.as_secs_f64());
        Ok(SCALE_CHARACTERS)
    }

    /// Runs a generation job of `n` `kind` and waits for its end; returns its wall time, and
    /// the first progress seen at `mark` rows or more with its time (see [`wait_for_job`]).
    fn generate_job(
        &mut self,
        kind: &str,
        n: u64,
        mark: u64,
    ) -> Result<(Duration, Option<(u64, Duration)>), String> {
        let started = Instant::now();
        let job = self.submit_job(kind, n)?;
        let reached = wait_for_job(self.server().port(), &self.token, &job, started, mark)?;
        Ok((started.elapsed(), reached))
    }

    /// Movie ids missing between the smallest and the largest: 0 when they run without a gap.
    fn movie_id_gaps(&mut self) -> Result<u64, String> {
        let (low, high) = self.movie_ids()?;
        let answer = http::get(self.server().port(), "/movies/count")?;
        let count = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| body["count"].as_u64())
            .ok_or_else(|| {
                format!("GET /movies/count answered {} {}", answer.status, answer.body)
            })?;
        Ok((high - low + 1).saturating_sub(count))
    }

    fn submit_job(&mut self, kind: &str, n: u64) -> Result<String, String> {
        let path = format!("/{kind}/generate/{n}");
        let answer = http::post_json(self.server().port(), &path, Some(&self.token), &Value::Null)?;
        match (answer.status, answer.string_field("jobId")) {
            (202, Some(job)) => Ok(job),
            (status, _) => Err(self
                .deployment
                .server
                .failure(&format!("POST {path} answered {status} {}", answer.body))),
        }
    }

    /// The `generate` scenario's second half: a generation job while `get_movie` runs beside
    /// it, until the job ends.
    fn generate_beside_get_movie(&mut self, run: &mut Run) -> Result<(), String> {
        let n = self.options.generate_beside();
        println!(
            "--> generate: {} movies while get_movie runs on {} connections",
            report::thousands(n as f64),
            self.options.concurrency
        );
        let done = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let job = self.submit_job("movies", n)?;
        let (port, token, flag) = (self.server().port(), self.token.clone(), done.clone());
        let watcher = thread::spawn(move || {
            let result = wait_for_job(port, &token, &job, started, u64::MAX);
            flag.store(true, Ordering::Relaxed);
            result.map(|_| started.elapsed())
        });
        let load = Load {
            connections: self.options.concurrency,
            stop: Stop::Flag(done.clone()),
            make: self.get_movie(true),
        };
        let outcome = self.runtime.block_on(load::run(self.addr, load));
        // The job's end stops the load; should the load fail first, the job still has to end.
        let took = watcher.join().map_err(|_| "the job watcher panicked".to_owned())??;
        let outcome = outcome?;
        self.check_running()?;
        let note = format!(
            "{} movies in {:.1} s with get_movie running",
            report::thousands(n as f64),
            took.as_secs_f64()
        );
        let row = Row::throughput_only(
            "generate_beside_get_movie",
            Unit::Rows,
            per_second(n, took),
            note,
        );
        print_row(&row);
        run.rows.push(row);
        let mut row = self.row("get_movie_beside_generate", Unit::Requests, &outcome);
        row.note = "get_movie while the generation above ran".into();
        print_row(&row);
        run.rows.push(row);
        Ok(())
    }

    /// 100,000 movies in 10 `POST /movies/bulk/` requests, one after the other.
    fn bulk(&mut self, run: &mut Run) -> Result<(), String> {
        let per_request = BULK_MOVIES / BULK_REQUESTS;
        println!(
            "--> bulk: {} movies in {BULK_REQUESTS} requests",
            report::thousands(BULK_MOVIES as f64)
        );
        let (r, prefix) = (self.requests.clone(), self.prefix.clone());
        let make: MakeRequest = Arc::new(move |_, n| {
            let movies: Vec<Value> = (0..per_request)
                .map(|i| serde_json::json!({ "name": format!("{prefix}bulk-{n}-{i}"), "year": 1999 }))
                .collect();
            r.post_json("/movies/bulk/", Value::Array(movies).to_string())
        });
        let load = Load { connections: 1, stop: Stop::Requests(BULK_REQUESTS), make };
        let outcome = self.runtime.block_on(load::run(self.addr, load))?;
        self.check_running()?;
        let mut row = self.row("bulk", Unit::Rows, &outcome);
        row.throughput =
            per_second(per_request * (outcome.requests - outcome.errors), outcome.elapsed);
        row.note = format!(
            "{} movies in {} requests: {:.1} s",
            report::thousands(BULK_MOVIES as f64),
            BULK_REQUESTS,
            outcome.elapsed.as_secs_f64()
        );
        print_row(&row);
        run.rows.push(row);
        Ok(())
    }

    fn ws_fanout(&mut self, run: &mut Run, listeners: usize) -> Result<(), String> {
        println!(
            "--> ws_fanout: {} listeners, a writer at {WS_RATE} writes/s for {} s",
            report::thousands(listeners as f64),
            self.options.duration.as_secs()
        );
        let fanout = Fanout {
            listeners,
            rate: WS_RATE,
            duration: self.options.duration,
            prefix: format!("{}ws{listeners}-", self.prefix),
        };
        let pid = self.server().pid();
        let mut idle = None;
        let mut spread = None;
        let record_idle = listeners == 10_000 && self.runs("memory");
        let outcome = self.runtime.block_on(listeners::run(
            self.addr,
            self.requests.clone(),
            fanout,
            |connected| {
                println!("    {connected} listeners subscribed");
                if record_idle {
                    idle = Some(rss_mb(pid));
                }
                spread = self.connections_per_instance();
                if let Some(spread) = &spread {
                    println!("    connections open to each instance: {spread}");
                }
            },
        ))?;
        if let Some(mb) = idle {
            run.memory.push(("with 10,000 idle listeners".into(), mb?));
        }
        self.check_running()?;
        let row = Row {
            name: format!("ws_fanout_{listeners}"),
            unit: Unit::Events,
            throughput: per_second(outcome.received, outcome.elapsed),
            p50_ms: outcome.latencies.quantile_ms(0.5),
            p99_ms: outcome.latencies.quantile_ms(0.99),
            max_ms: outcome.latencies.max_ms(),
            errors: outcome.connect_errors + outcome.write_errors + outcome.lagged,
            ratio: None,
            note: format!(
                "{} listeners connected; {} writes; {} events lost; {} listeners lagged; \
                 {} events before their write's answer",
                outcome.connected, outcome.writes, outcome.lost, outcome.lagged, outcome.early
            ) + &format!(
                "; from each write's request: p50 {} ms, p99 {} ms; the writes themselves: \
                 p50 {} ms, p99 {} ms",
                report::ms(outcome.from_request.quantile_ms(0.5)),
                report::ms(outcome.from_request.quantile_ms(0.99)),
                report::ms(outcome.writes_latencies.quantile_ms(0.5)),
                report::ms(outcome.writes_latencies.quantile_ms(0.99)),
            ) + &spread.map_or_else(String::new, |spread| {
                format!("; connections to each instance while subscribed: {spread}")
            }),
            lost: Some(outcome.lost),
        };
        print_row(&row);
        if let Some(error) = &outcome.first_error {
            println!("    first error: {error}");
        }
        run.rows.push(row);
        Ok(())
    }

    /// A fixed-concurrency scenario for the configured duration.
    fn timed(
        &mut self,
        run: &mut Run,
        name: &str,
        connections: usize,
        make: MakeRequest,
    ) -> Result<(), String> {
        println!("--> {name}: {connections} connections for {} s", self.options.duration.as_secs());
        let load = Load { connections, stop: Stop::After(self.options.duration), make };
        let outcome = self.runtime.block_on(load::run(self.addr, load))?;
        self.check_running()?;
        let row = self.row(name, Unit::Requests, &outcome);
        print_row(&row);
        if let Some(error) = &outcome.first_error {
            println!("    first error: {error}");
        }
        run.rows.push(row);
        Ok(())
    }

    fn row(&self, name: &str, unit: Unit, outcome: &Outcome) -> Row {
        Row {
            name: name.into(),
            unit,
            throughput: per_second(outcome.requests, outcome.elapsed),
            p50_ms: outcome.latencies.quantile_ms(0.5),
            p99_ms: outcome.latencies.quantile_ms(0.99),
            max_ms: outcome.latencies.max_ms(),
            errors: outcome.errors,
            ratio: None,
            note: String::new(),
            lost: None,
        }
    }

    fn get_movie(&self, with_token: bool) -> MakeRequest {
        let (r, (low, high)) = (self.requests.clone(), self.ids);
        Arc::new(move |rng, _| r.get(&format!("/movies/{}", rng.between(low, high)), with_token))
    }

    fn filter(&self) -> MakeRequest {
        let r = self.requests.clone();
        Arc::new(move |rng, n| {
            if n % 2 == 0 {
                let q = QUERIES[rng.between(0, QUERIES.len() as u64 - 1) as usize];
                r.get(&format!("/movies?q={q}&limit=50"), false)
            } else {
                let genre = GENRES[rng.between(0, GENRES.len() as u64 - 1) as usize];
                r.get(&format!("/movies?genre={genre}&limit=50"), false)
            }
        })
    }

    fn create_movie(&self, scenario: &str) -> MakeRequest {
        let (r, prefix) = (self.requests.clone(), format!("{}{scenario}-", self.prefix));
        Arc::new(move |rng, n| {
            let body = serde_json::json!({
                "name": format!("{prefix}{n}"),
                "year": rng.between(1900, 2030),
                "genre": "Drama",
                "description": "Made by cargo xtask bench.",
            });
            r.post_json("/movies", body.to_string())
        })
    }

    /// The smallest and largest movie id (1 and 100,000 on the first fresh database).
    fn movie_ids(&mut self) -> Result<(u64, u64), String> {
        let port = self.server().port();
        let id = |path: &str| -> Result<Option<u64>, String> {
            let answer = http::get(port, path)?;
            let list: Value = serde_json::from_str(&answer.body)
                .map_err(|e| format!("GET {path}: {e}: {}", answer.body))?;
            Ok(list[0]["id"].as_u64())
        };
        match (id("/movies?limit=1")?, id("/movies?limit=1&sort=-id")?) {
            (Some(low), Some(high)) => Ok((low, high)),
            _ => Err(self.deployment.server.failure("the database has no movies")),
        }
    }

    fn rss_mb(&self) -> Result<f64, String> {
        rss_mb(self.server().pid())
    }

    fn print_memory(&self, run: &Run) {
        for (name, mb) in &run.memory {
            println!("    memory, {name}: {mb:.0} MB");
        }
    }
}

/// Polls `GET /jobs/{job}` until the job ends; `Err` unless it ended `done`. Returns the first
/// progress seen at `mark` rows or more while the job ran, with its time since `started`: how
/// fast the job went until then.
fn wait_for_job(
    port: u16,
    token: &str,
    job: &str,
    started: Instant,
    mark: u64,
) -> Result<Option<(u64, Duration)>, String> {
    let path = format!("/jobs/{job}");
    let mut reached = None;
    loop {
        let answer = http::get_as(port, &path, token)?;
        let status = answer.string_field("status");
        if reached.is_none() && status.as_deref() == Some("running") {
            let done = serde_json::from_str::<Value>(&answer.body)
                .ok()
                .and_then(|body| body["done"].as_u64())
                .filter(|done| *done >= mark);
            reached = done.map(|done| (done, started.elapsed()));
        }
        match status.as_deref() {
            Some("done") => return Ok(reached),
            Some("queued" | "running") => thread::sleep(Duration::from_millis(100)),
            _ => return Err(format!("job {job} ended: {} {}", answer.status, answer.body)),
        }
    }
}

/// The resident memory of process `pid`, in MB, from `/proc/PID/status`.
fn rss_mb(pid: u32) -> Result<f64, String> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    vm_rss_mb(&status).ok_or_else(|| format!("no VmRSS line in {path}"))
}

fn vm_rss_mb(status: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The machine's load average over the last minute, from `/proc/loadavg`.
fn load_average() -> Option<f64> {
    fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// Established TCP connections to `port` on 127.0.0.1, from `/proc/net/tcp`; `None` when it
/// cannot be read.
fn established(port: u16) -> Option<usize> {
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    Some(count_established(&table, port))
}

/// In `/proc/net/tcp`, each line after the header reads `sl local rem st ...`, the addresses
/// as `HEXIP:HEXPORT`, state `01` meaning established.
fn count_established(table: &str, port: u16) -> usize {
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let mut fields = line.split_whitespace().skip(1);
            let (Some(address), _, Some(state)) = (fields.next(), fields.next(), fields.next())
            else {
                return false;
            };
            address.ends_with(&local) && state == "01"
        })
        .count()
}

fn print_row(row: &Row) {
    let ms = |x: Option<f64>| x.map_or_else(|| "-".into(), |x| format!("{x:.2} ms"));
    println!(
        "    {} {}, p50 {}, p99 {}, max {}, errors {}{}",
        report::thousands(row.throughput),
        row.unit.label(),
        ms(row.p50_ms),
        ms(row.p99_ms),
        ms(row.max_ms),
        row.errors,
        if row.note.is_empty() { String::new() } else { format!(" ({})", row.note) }
    );
}

/// Today's date, UTC, as `YYYY-MM-DD`.
fn today() -> String {
    let days = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The calendar date `days` after 1970-01-01 (the proleptic Gregorian calendar, in 400-year
/// eras of 146,097 days, each starting on 1 March so that the leap day comes last).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The commit measured (`abc1234`, with `-dirty` when the tree has changes), or `unknown`.
fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(crate::workspace_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(hash) => {
            let dirty = git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{hash}-dirty") } else { hash }
        }
        None => "unknown".into(),
    }
}

/// docs/benchmarks.md: what was measured, how, the tables, the issue's targets, and the
/// PostgreSQL section (`postgres`: this run's, or the one the page had).
fn benchmarks_md(report: &Report, postgres: Option<&str>) -> String {
    let mode = if report.quick {
        format!("a **quick** run (`--quick`: {} s per scenario)", report.seconds_per_scenario)
    } else {
        format!("a full run ({} s per scenario)", report.seconds_per_scenario)
    };
    let databases: Vec<String> = report.runs.iter().map(Run::label).collect();
    format!(
        "# Benchmarks\n\n\
         Written by `cargo xtask bench` from {mode} on {date}: {cores} cores, commit `{commit}`, \
         database {databases}, {concurrency} connections for the fixed-concurrency scenarios, \
         {wall:.0} s in all. The server and the load generator share the cores, so the figures \
         say as much about the machine as about the server: compare each scenario's **ratio to \
         ceiling** (its requests/s over `GET /health`'s in the same run) rather than raw \
         requests/s across machines. **Targets**, below the results, holds each of the \
         issue's targets against this run's figures.\n\n\
         ![Each scenario's throughput as a ratio to the ceiling](img/benchmarks.png)\n\n\
         ## Results\n\n{tables}{targets}{postgres}\
         ## The scenarios\n\n\
         - `ceiling`: `GET /health`, which touches no database: the fastest this binary answers \
         through its middleware stack. `ceiling_bare`: the same handler on a route outside the \
         middleware (`BENCH_BARE_ROUTE`), so the difference is what the stack costs.\n\
         - `get_movie` (with a token: revocation, user and movie queries) and `get_movie_public` \
         (no token): `GET /movies/{{random id}}`.\n\
         - `list_movies`: `GET /movies?skip={{random}}&limit=50`; `filter_movies`: `q` (a \
         substring) and `genre`, in turn, 50 at most.\n\
         - `create_movie`: `POST /movies`; `mixed`: 90% `get_movie`, 10% `create_movie`.\n\
         - `bulk`: 100,000 movies in 10 `POST /movies/bulk/` requests, one after the other \
         (rows/s; latencies are the 10 requests').\n\
         - `ws_fanout_N`: N WebSocket listeners on `/ws` (movies only), a writer creating \
         200 movies/s; latency from each write's answer to each listener's receipt of its \
         event; events/s delivered; errors are failed connections and writes and listeners \
         dropped as `lagged`; lost events in the notes.\n\
         - `connections_N`: `GET /health` over N connections at once.\n\
         - Memory: the server's RSS idle, with 10,000 idle listeners, right after the \
         10,000-connection scenario and 30 s later.\n\
         - `generate`: 1,000,000 movies through `POST /movies/generate/{{n}}` on a fresh \
         database, wall time until the job is done; `generate_first_100k`: the same job's \
         rate up to its first progress seen past 100,000 movies (polled every 100 ms), and after \
         it the ids are checked for gaps (`GET /movies/count` against the smallest and largest \
         id); `generate_beside_get_movie`: a generation while `get_movie` runs \
         (`get_movie_beside_generate`), on the first database.\n\
         - `scale_*`: the reads again on 1,000,000 movies and 200,000 characters: the first \
         page, a deep page (`skip` nine tenths in), a page through the cursor (`after` an id \
         nine tenths in), `GET /characters` pages anywhere through the cursor (with a token), \
         `q`, `genre`, the deep page \
         and `q` again on one connection (`_alone`: how long one request takes), and \
         `GET /movies/names` (every name, streamed). `small_*`: the same on 10,000 movies and \
         2,000 characters, the baseline each `scale_` row keeps a share of (in its note).\n\n\
         ## How to run\n\n\
         ```sh\n\
         cargo xtask bench --quick            # 2 s per scenario, no `scale`: about 5 minutes\n\
         cargo xtask bench --quick --scale    # with `scale` and the 1,000,000-movie `generate`\n\
         cargo xtask bench                    # the full run, 10 s per scenario: 20 minutes and more\n\
         cargo xtask bench --only get_movie,mixed --compare target/bench-before.json\n\
         BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/movies_bench cargo xtask bench --quick\n\
         BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/movies_bench cargo xtask bench --quick --instances 2\n\
         cargo xtask floor fanout             # ws_fanout on plain TCP: no server, no WebSocket\n\
         cargo xtask floor fanout --one-writer\n\
         cargo xtask floor writes             # SQLite's own inserts (sqlite3 shell): minutes\n\
         ```\n\n\
         It builds the release binary, starts it on 127.0.0.1 over a fresh SQLite file seeded \
         with `movies-api generate` (100,000 movies, 200,000 characters), runs the scenarios \
         from a load generator inside xtask, and stops the server. It writes \
         `target/bench.json`, this page and its chart (`--no-write` leaves these two alone); \
         `--compare FILE` prints each figure beside the same figure of an earlier \
         `bench.json` (copy it aside first: each run overwrites it). With \
         `BENCH_DATABASE_URL=postgres://USER@HOST:PORT/NAME` every scenario runs again on \
         PostgreSQL: the bench creates database `NAME` on that server (refusing one it did not \
         make), fresh for each server it starts (`NAME_small`, `NAME_scale`, `NAME_x2`), and \
         drops each when its server stops; `--instances 2` adds a run on two instances sharing \
         one such database behind nginx (the bench writes its configuration, \
         `xtask/src/bench/nginx.rs`). Such a run rewrites only the PostgreSQL section of this \
         page, and a run without `BENCH_DATABASE_URL` keeps that section as it is; \
         `--from-json FILE` writes the page again from a `bench.json`, measuring nothing (after \
         an edit of `analysis.md` or `analysis_postgres.md` in xtask/src/bench). It raises its open-files limit to the hard limit \
         for the 10,000 connections (the server inherits it). \
         `cargo xtask bench --help` lists the options. `cargo xtask floor` measures what the \
         machine gives with the server taken out (see the targets' analysis above): `fanout` \
         the listeners' traffic on loopback TCP in one process, `writes` SQLite's own inserts \
         on the server's schema through the `sqlite3` shell.\n",
        date = report.date,
        cores = report.cores,
        commit = report.commit,
        databases = databases.join(" and "),
        concurrency = report.concurrency,
        wall = report.wall_seconds,
        tables = report.markdown_tables(),
        targets = targets::markdown(report),
        postgres = postgres.map_or_else(String::new, |section| format!("{section}\n")),
    )
}

/// Notes on each `scale_` list row the share it keeps of the same `small_` row's throughput:
/// the issue's "at least half its throughput on 10,000 rows".
fn note_kept_throughput(run: &mut Run) {
    let small: Vec<(String, f64)> = run
        .rows
        .iter()
        .filter_map(|r| r.name.strip_prefix("small_").map(|n| (n.to_owned(), r.throughput)))
        .collect();
    for row in &mut run.rows {
        let Some(scenario) = row.name.strip_prefix("scale_") else { continue };
        let Some((_, base)) = small.iter().find(|(n, _)| n == scenario) else { continue };
        if *base > 0.0 {
            let kept = format!("{:.2} of its throughput on 10,000 movies", row.throughput / base);
            row.note = if row.note.is_empty() { kept } else { format!("{}; {kept}", row.note) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_days_since_the_epoch() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(31 + 28), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_783), (2026, 11, 26));
        assert_eq!(today().len(), 10);
    }

    #[test]
    fn rss_is_read_from_the_status_file() {
        let status = "Name:\tmovies-api\nVmPeak:\t  9000 kB\nVmRSS:\t   51200 kB\nThreads:\t3\n";
        assert_eq!(vm_rss_mb(status), Some(50.0));
        assert_eq!(vm_rss_mb("Name:\tx\n"), None);
        assert!(rss_mb(std::process::id()).unwrap() > 0.0);
    }

    #[test]
    fn established_connections_are_counted_by_local_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue\n\
            0: 0100007F:1F90 0100007F:C350 01 00000000:00000000\n\
            1: 0100007F:1F90 0100007F:C351 0A 00000000:00000000\n\
            2: 0100007F:C350 0100007F:1F90 01 00000000:00000000\n\
            3: 0100007F:1F90 0100007F:C352 01 00000000:00000000\n";
        assert_eq!(count_established(table, 8080), 2);
        assert_eq!(count_established(table, 50000), 1);
        assert_eq!(count_established(table, 1), 0);
    }

    #[test]
    fn the_page_says_how_it_was_measured() {
        let report = Report {
            date: "2026-11-26".into(),
            commit: "abc1234".into(),
            cores: 2,
            quick: true,
            seconds_per_scenario: 2,
            concurrency: 64,
            wall_seconds: 200.0,
            runs: vec![Run::new("sqlite")],
        };
        let page = benchmarks_md(&report, None);
        for needle in ["**quick**", "2026-11-26", "2 cores", "`abc1234`", "database sqlite"] {
            assert!(page.contains(needle), "{needle}");
        }
        assert!(page.contains("## How to run"));
        let at = |needle: &str| page.find(needle).unwrap();
        assert!(at("## Results") < at("## Targets") && at("## Targets") < at("## The scenarios"));
        assert!(page.contains("Why the targets not met are not met:"));
    }
}
