//! `cargo xtask soak`: a long mixed load on the release server, to see what minutes of it do
//! that a 10 s scenario cannot show: errors that come late, listeners dropped or starved,
//! memory that grows and stays.
//!
//! One server on a fresh database (SQLite, or PostgreSQL with `BENCH_DATABASE_URL`) seeded like
//! the bench's first (100,000 movies, 200,000 characters). Listeners subscribe to `/ws` first;
//! then, for the duration, HTTP connections each send a mix of reads and writes in a closed
//! loop (the mix is [`MIX`]) while the listeners' own writer creates movies at a fixed rate and
//! checks that every listener receives each of them (`listeners.rs`). The server's RSS is read
//! every [`SAMPLE_EVERY`]; after the load, again once it has settled.
//!
//! It prints, and writes to `target/soak.json`: requests and their answers by status (5xx
//! apart), the events lost and the listeners lagged, RSS at start, peak, end and settled, and the
//! lines the server logged at error level.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use std::{env, thread};

use serde_json::{Value, json};

use super::listeners::{self, Fanout};
use super::load::{self, Load, MakeRequest, Requests, Stop};
use super::stats::per_second;
use super::{Backend, CHARACTERS, GENRES, MOVIES, PgServer, QUERIES, report, rss_mb};
use crate::server;

pub const USAGE: &str = "\
Usage: cargo xtask soak [--duration SECS] [--connections N] [--listeners N] [--rate N]

  --duration SECS    how long the load runs (default 300)
  --connections N    HTTP connections of the mixed load, each in a closed loop (default 200)
  --listeners N      WebSocket listeners on /ws, subscribed before the load (default 1000)
  --rate N           movies a second that the listeners' writer creates, each checked to reach
                     every listener (default 20), besides the load's own writes

The server is the release build (BENCH_BINARY=PATH: that binary instead, an earlier commit's)
on a fresh SQLite file, or on a fresh PostgreSQL database when BENCH_DATABASE_URL is set (as for
`cargo xtask bench`), seeded with 100,000 movies and 200,000 characters. Writes target/soak.json.
";

/// How often the server's RSS is read.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// How long the server is left alone after the load before its RSS is read once more.
const SETTLE: Duration = Duration::from_secs(30);

/// The mixed load, in percent of requests: what a web front end and a few scripts send.
const MIX: &[(u64, Kind)] = &[
    (30, Kind::GetMovie),
    (10, Kind::GetMoviePublic),
    (10, Kind::ListMovies),
    (5, Kind::CursorPage),
    (8, Kind::Filter),
    (6, Kind::ListCharacters),
    (4, Kind::MovieCharacters),
    (4, Kind::GetCharacter),
    (8, Kind::CreateMovie),
    (5, Kind::UpdateMovie),
    (4, Kind::CreateCharacter),
    (2, Kind::DeleteMovie),
    (2, Kind::Me),
    (2, Kind::Health),
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    GetMovie,
    GetMoviePublic,
    ListMovies,
    CursorPage,
    Filter,
    ListCharacters,
    MovieCharacters,
    GetCharacter,
    CreateMovie,
    UpdateMovie,
    CreateCharacter,
    DeleteMovie,
    Me,
    Health,
}

/// What the command line asked for.
#[derive(Debug, PartialEq)]
struct Options {
    duration: Duration,
    connections: usize,
    listeners: usize,
    rate: u32,
}

pub fn soak(args: &[String]) -> Result<(), String> {
    let Some(options) = parse(args)? else {
        print!("{USAGE}");
        return Ok(());
    };
    if cfg!(debug_assertions) {
        return super::run_optimised("soak", args);
    }
    let postgres = match env::var("BENCH_DATABASE_URL") {
        Ok(url) => {
            let server = PgServer::parse(&url)?;
            server.check()?;
            Some(server)
        }
        Err(_) => None,
    };
    super::raise_open_files_limit();
    let binary = match env::var_os("BENCH_BINARY") {
        Some(path) => std::path::PathBuf::from(path),
        None => server::build_release()?,
    };
    let backend = match postgres {
        Some(server) => Backend::Postgres { server, instances: 1 },
        None => Backend::Sqlite,
    };
    println!(
        "==> soak [{}]: seeding {} movies and {} characters, then starting the server",
        backend.database(),
        report::thousands(MOVIES as f64),
        report::thousands(CHARACTERS as f64)
    );
    let mut deployment = backend.deploy(&binary, "soak", vec![(MOVIES, CHARACTERS)])?;
    let token = deployment.server.login()?;
    let port = deployment.server.port();
    let pid = deployment.server.pid();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting tokio: {e}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let requests = Requests { host: format!("127.0.0.1:{port}"), token: Some(token) };

    let rss_start = rss_mb(pid)?;
    println!("    RSS at start (seeded, logged in, idle): {rss_start:.0} MB");
    let samples = Arc::new(Mutex::new(Vec::<(f64, f64)>::new()));
    let sampling = Arc::new(AtomicBool::new(true));
    let (fanout_outcome, load_outcome) = runtime.block_on(async {
        let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
        let fanout = Fanout {
            listeners: options.listeners,
            rate: options.rate,
            duration: options.duration,
            prefix: "soak-ws-".into(),
        };
        let listening = listeners::run(addr, requests.clone(), fanout, |connected| {
            println!("    {connected} listeners subscribed; the load starts");
            let _ = subscribed_tx.send(());
        });
        let make = mixed_load(&requests, options.connections);
        let loading = async {
            // The load starts once the listeners are in, as the writer does.
            let _ = subscribed_rx.await;
            let sampler = sample_rss(pid, samples.clone(), sampling.clone(), Instant::now());
            let load = Load {
                connections: options.connections,
                stop: Stop::After(options.duration),
                make,
            };
            let outcome = load::run(addr, load).await;
            sampling.store(false, Ordering::Relaxed);
            let _ = sampler.join();
            outcome
        };
        tokio::join!(listening, loading)
    });
    let fanout = fanout_outcome?;
    let outcome = load_outcome?;
    deployment.server.check_running()?;
    let rss_end = rss_mb(pid)?;
    println!("    RSS right after the load: {rss_end:.0} MB; waiting {} s", SETTLE.as_secs());
    thread::sleep(SETTLE);
    let rss_settled = rss_mb(pid)?;
    deployment.server.check_running()?;
    let error_lines = deployment.server.log_lines_containing("ERROR");

    let statuses = &outcome.statuses;
    let server_errors: u64 = statuses.iter().filter(|(s, _)| **s >= 500).map(|(_, n)| n).sum();
    let samples = samples.lock().map_err(|_| "the samples were poisoned".to_owned())?.clone();
    let peak = samples.iter().map(|(_, mb)| *mb).fold(rss_end.max(rss_start), f64::max);
    let summary = json!({
        "date": super::today(),
        "commit": super::commit(),
        // The server measured, when it is not this tree's build (an earlier commit's).
        "server_binary": env::var("BENCH_BINARY").ok(),
        "database": backend.database(),
        "duration_s": options.duration.as_secs(),
        "connections": options.connections,
        "listeners": options.listeners,
        "listener_writes_per_s": options.rate,
        "requests": outcome.requests,
        "requests_per_s": per_second(outcome.requests, outcome.elapsed).round(),
        "p50_ms": outcome.latencies.quantile_ms(0.5),
        "p99_ms": outcome.latencies.quantile_ms(0.99),
        "max_ms": outcome.latencies.max_ms(),
        "not_2xx_by_status": statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "server_errors_5xx": server_errors,
        "failed_requests": outcome.errors.saturating_sub(statuses.values().sum::<u64>()),
        "first_error": outcome.first_error,
        "listeners_connected": fanout.connected,
        "listener_connect_errors": fanout.connect_errors,
        "checked_writes": fanout.writes,
        "checked_write_errors": fanout.write_errors,
        "events_received": fanout.received,
        "events_lost": fanout.lost,
        "listeners_lagged": fanout.lagged,
        "event_p50_ms": fanout.latencies.quantile_ms(0.5),
        "event_p99_ms": fanout.latencies.quantile_ms(0.99),
        "listener_first_error": fanout.first_error,
        "rss_mb": {
            "start": rss_start,
            "peak": peak,
            "end": rss_end,
            "settled": rss_settled,
            "samples": samples.iter().map(|(s, mb)| json!([s.round(), mb.round()])).collect::<Vec<_>>(),
        },
        "server_error_lines": error_lines.len(),
        "server_first_error_line": error_lines.first(),
        "load_average": super::load_average(),
    });
    let path = crate::target_dir().join("soak.json");
    super::write(&path, &format!("{summary:#}\n"))?;
    for line in summary_lines(&summary) {
        println!("{line}");
    }
    println!("wrote {}", path.display());
    Ok(())
}

/// The closing lines: what a reader of the run wants first.
fn summary_lines(s: &Value) -> Vec<String> {
    let n = |key: &str| s[key].as_f64().unwrap_or(0.0);
    let rss = &s["rss_mb"];
    let mb = |key: &str| rss[key].as_f64().unwrap_or(0.0);
    vec![
        format!(
            "soak: {} s, {} connections ({} requests, {}/s, p50 {} ms, p99 {} ms), {} listeners",
            s["duration_s"],
            s["connections"],
            report::thousands(n("requests")),
            report::thousands(n("requests_per_s")),
            report::ms(s["p50_ms"].as_f64()),
            report::ms(s["p99_ms"].as_f64()),
            s["listeners_connected"],
        ),
        format!(
            "  answers not 2xx by status: {}; 5xx: {}; requests that failed outright: {}",
            s["not_2xx_by_status"], s["server_errors_5xx"], s["failed_requests"]
        ),
        format!(
            "  events: {} checked writes to {} listeners, {} received, {} lost, {} listeners \
             lagged (p50 {} ms, p99 {} ms)",
            s["checked_writes"],
            s["listeners_connected"],
            report::thousands(n("events_received")),
            s["events_lost"],
            s["listeners_lagged"],
            report::ms(s["event_p50_ms"].as_f64()),
            report::ms(s["event_p99_ms"].as_f64()),
        ),
        format!(
            "  RSS: {:.0} MB at start, {:.0} MB at peak, {:.0} MB at the end, {:.0} MB {} s later",
            mb("start"),
            mb("peak"),
            mb("end"),
            mb("settled"),
            SETTLE.as_secs()
        ),
        format!("  the server logged {} lines at error level", s["server_error_lines"]),
    ]
}

/// Reads the RSS of `pid` every [`SAMPLE_EVERY`] into `samples` (seconds since `from`, MB),
/// printing each, until `running` is cleared.
fn sample_rss(
    pid: u32,
    samples: Arc<Mutex<Vec<(f64, f64)>>>,
    running: Arc<AtomicBool>,
    from: Instant,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut next = from + SAMPLE_EVERY;
        while running.load(Ordering::Relaxed) {
            if Instant::now() < next {
                thread::sleep(Duration::from_millis(100));
                continue;
            }
            next += SAMPLE_EVERY;
            if let Ok(mb) = rss_mb(pid) {
                let at = from.elapsed().as_secs_f64();
                println!("    {at:>4.0} s: RSS {mb:.0} MB");
                if let Ok(mut samples) = samples.lock() {
                    samples.push((at, mb));
                }
            }
        }
    })
}

/// The requests of the mixed load. Every one of them should succeed, so that any other answer
/// is the server's doing: reads and new characters take the lower half of the seeded movies,
/// updates the third quarter, and deletes only movies the load created, by name, each once and
/// well after its create was sent (a create's name is numbered by its own counter).
fn mixed_load(requests: &Requests, connections: usize) -> MakeRequest {
    // Twice the creates that can be in flight at once: one a connection.
    let behind = 2 * connections as u64;
    let r = requests.clone();
    let (created, deleted) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let read_high = MOVIES / 2;
    let total: u64 = MIX.iter().map(|(p, _)| p).sum();
    let make: MakeRequest = Arc::new(move |rng, n| {
        let mut pick = rng.between(0, total - 1);
        let kind = MIX
            .iter()
            .find(|(p, _)| {
                let hit = pick < *p;
                pick = pick.saturating_sub(*p);
                hit
            })
            .map_or(Kind::Health, |(_, k)| *k);
        let movie = rng.between(1, read_high);
        match kind {
            Kind::GetMovie => r.get(&format!("/movies/{movie}"), true),
            Kind::GetMoviePublic => r.get(&format!("/movies/{movie}"), false),
            Kind::ListMovies => {
                r.get(&format!("/movies?skip={}&limit=50", rng.between(0, read_high)), false)
            }
            Kind::CursorPage => r.get(&format!("/movies?after={movie}&limit=50"), false),
            Kind::Filter if n % 2 == 0 => {
                let q = QUERIES[rng.between(0, QUERIES.len() as u64 - 1) as usize];
                r.get(&format!("/movies?q={q}&limit=50"), false)
            }
            Kind::Filter => {
                let genre = GENRES[rng.between(0, GENRES.len() as u64 - 1) as usize];
                r.get(&format!("/movies?genre={genre}&limit=50"), false)
            }
            Kind::ListCharacters => r.get(
                &format!("/characters?skip={}&limit=50", rng.between(0, CHARACTERS / 2)),
                true,
            ),
            Kind::MovieCharacters => r.get(&format!("/movies/{movie}/characters"), true),
            Kind::GetCharacter => {
                r.get(&format!("/characters/{}", rng.between(1, CHARACTERS / 4)), true)
            }
            Kind::CreateMovie => {
                let c = created.fetch_add(1, Ordering::Relaxed);
                r.post_json("/movies", movie_body(rng, &format!("soak-new-{c}")))
            }
            Kind::UpdateMovie => r.put_json(
                &format!("/movies/{}", rng.between(read_high + 1, MOVIES * 3 / 4)),
                movie_body(rng, &format!("soak-upd-{n}")),
            ),
            Kind::CreateCharacter => r.post_json(
                "/characters",
                json!({"name": format!("soak-char-{n}"), "movieId": movie, "description": "A soak."})
                    .to_string(),
            ),
            Kind::DeleteMovie => {
                let d = deleted.load(Ordering::Relaxed);
                let ready = d + behind < created.load(Ordering::Relaxed);
                if ready && deleted.compare_exchange(d, d + 1, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                    r.delete(&format!("/movies/by_name/soak-new-{d}"))
                } else {
                    r.get("/health", false)
                }
            }
            Kind::Me => r.get("/auth/me", true),
            Kind::Health => r.get("/health", false),
        }
    });
    make
}

fn movie_body(rng: &mut load::Rng, name: &str) -> String {
    json!({
        "name": name,
        "year": rng.between(1900, 2030),
        "genre": GENRES[rng.between(0, GENRES.len() as u64 - 1) as usize],
        "description": "Made by cargo xtask soak.",
    })
    .to_string()
}

/// The options, or `None` for `--help`.
fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options =
        Options { duration: Duration::from_secs(300), connections: 200, listeners: 1000, rate: 20 };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |name: &str, max: u64| -> Result<u64, String> {
            let text = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            text.parse()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("{name} {text}: expected a number from 1 to {max}"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--duration" => options.duration = Duration::from_secs(number("--duration", 86_400)?),
            "--connections" => options.connections = number("--connections", 10_000)? as usize,
            "--listeners" => options.listeners = number("--listeners", 20_000)? as usize,
            "--rate" => options.rate = number("--rate", 1_000)? as u32,
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(Some(options))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_defaults_are_the_issues_soak() {
        let options = parse(&[]).unwrap().unwrap();
        assert_eq!(options.duration, Duration::from_secs(300));
        assert_eq!((options.connections, options.listeners), (200, 1000));
        assert_eq!(parse(&args(&["--help"])).unwrap(), None);
    }

    #[test]
    fn options_are_checked() {
        let options = parse(&args(&["--duration", "20", "--listeners", "10"])).unwrap().unwrap();
        assert_eq!((options.duration.as_secs(), options.listeners), (20, 10));
        assert!(parse(&args(&["--duration", "0"])).unwrap_err().contains("--duration 0"));
        assert!(parse(&args(&["--connections"])).unwrap_err().contains("needs a value"));
        assert!(parse(&args(&["--nope"])).unwrap_err().contains("unknown option"));
    }

    #[test]
    fn the_mix_covers_every_kind_of_request() {
        let requests = Requests { host: "127.0.0.1:9".into(), token: Some("t".into()) };
        let make = mixed_load(&requests, 10);
        let mut rng = load::Rng::new(3);
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..5000 {
            let request = make(&mut rng, n);
            let path = request.uri().path().to_owned();
            let shape: String = path.split('/').nth(1).unwrap_or("").into();
            seen.insert(format!("{} {shape}", request.method()));
        }
        for expected in
            ["GET movies", "POST movies", "PUT movies", "DELETE movies", "POST characters"]
        {
            assert!(seen.contains(expected), "{expected} not in {seen:?}");
        }
        // Deletes never reach below the upper quarter, which reads and updates do not touch.
        assert_eq!(MIX.iter().map(|(p, _)| p).sum::<u64>(), 100);
    }
}
