//! `cargo xtask floor`: what this machine gives before the server does any work of its own, for
//! the targets docs/benchmarks.md calls out of reach. Two floors, each the bench's scenario with
//! the server taken out:
//!
//! - `fanout`: the `ws_fanout` scenario's traffic on plain loopback TCP, in one process: a
//!   sender at the scenario's rate, one task per socket writing each message (several waiting
//!   ones in one write, as the server's sessions do), one task per socket reading it, and the
//!   time from the send to each receipt. No WebSocket framing, no JSON, no HTTP.
//! - `writes`: SQLite's own insert rate on the server's schema, through the `sqlite3` shell: the
//!   generator's movies copied from a plain table in commits of 10,000 (the generator's and a
//!   bulk post's size), with the writer's pragmas, on the schema as migrated and on two smaller
//!   ones (without the trigram index; with the unique name index alone). No Rust, no HTTP.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

use crate::server::server_command;

pub const USAGE: &str = "\
Usage: cargo xtask floor fanout [--listeners N] [--rate N] [--seconds N] [--size BYTES]
                               [--one-writer]
       cargo xtask floor writes [--movies N]

  fanout   the ws_fanout scenario on plain loopback TCP (defaults: as many listeners up to
           10,000 as the open-files limit allows, 200 messages/s for 5 s, 300 bytes each);
           --one-writer: the sender writes every socket itself, in turn, instead of a task
           per socket
  writes   SQLite's own insert rate on the server's schema with the sqlite3 shell (Debian's
           package `sqlite3`); default 1,000,000 movies, which takes a few minutes
";

pub fn floor(args: &[String]) -> Result<(), String> {
    let (which, rest) = args.split_first().ok_or_else(|| USAGE.to_owned())?;
    let number = |name: &str, default: u64| -> Result<u64, String> {
        match rest.iter().position(|a| a == name) {
            None => Ok(default),
            Some(at) => rest
                .get(at + 1)
                .and_then(|v| v.replace([',', '_'], "").parse().ok())
                .ok_or_else(|| format!("{name} takes a number\n\n{USAGE}")),
        }
    };
    match which.as_str() {
        "fanout" => {
            let limit = super::raise_open_files_limit();
            // Each listener is two sockets here (both ends live in this process).
            let room = limit.saturating_sub(200) / 2;
            let fanout = Fanout {
                listeners: number("--listeners", 10_000.min(room))? as usize,
                rate: number("--rate", 200)?.max(1),
                seconds: number("--seconds", 5)?.max(1),
                size: (number("--size", 300)? as usize).max(8),
                one_writer: rest.iter().any(|a| a == "--one-writer"),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("starting tokio: {e}"))?;
            runtime.block_on(fanout.run())
        }
        "writes" => writes(number("--movies", 1_000_000)?.max(COMMIT * 4)),
        "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown floor `{other}`\n\n{USAGE}")),
    }
}

struct Fanout {
    listeners: usize,
    rate: u64,
    seconds: u64,
    size: usize,
    /// The sender writes each socket in turn (no task per socket, no wake-ups on its side).
    one_writer: bool,
}

/// Where messages go: to each socket's task, or written by the sender itself.
enum Sockets {
    Tasks(broadcast::Sender<Arc<[u8]>>),
    Owned(Vec<TcpStream>),
}

impl Sockets {
    async fn send(&mut self, message: Arc<[u8]>) {
        match self {
            Sockets::Tasks(sender) => {
                let _ = sender.send(message);
            }
            Sockets::Owned(sockets) => {
                for socket in sockets {
                    let _ = socket.write_all(&message).await;
                }
            }
        }
    }
}

/// What the readers share: receipts, and each one's latencies once it stops.
struct Receipts {
    received: AtomicU64,
    latencies: Mutex<Vec<u32>>,
}

impl Receipts {
    /// Until `count` messages in all were read, or `at_most` has passed.
    async fn wait_for(&self, count: u64, at_most: Duration) {
        let read_all = || self.received.load(Ordering::Relaxed) >= count;
        until(read_all, at_most, Duration::from_micros(500)).await;
    }
}

/// Until `done()`, looked at every `every`, or `at_most` has passed.
async fn until(done: impl Fn() -> bool, at_most: Duration, every: Duration) {
    let end = Instant::now() + at_most;
    while !done() && Instant::now() < end {
        tokio::time::sleep(every).await;
    }
}

impl Fanout {
    async fn run(self) -> Result<(), String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (sender, _) = broadcast::channel::<Arc<[u8]>>(4096);
        let mut owned = Vec::new();
        let receipts =
            Arc::new(Receipts { received: AtomicU64::new(0), latencies: Mutex::new(Vec::new()) });
        let start = Instant::now();
        // A watch, not a notification: a reader busy when it is set still sees it at its next
        // wait.
        let (stop, stopped) = watch::channel(false);
        for _ in 0..self.listeners {
            let client = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
            let (server, _) = listener.accept().await.map_err(|e| format!("accept: {e}"))?;
            for socket in [&client, &server] {
                socket.set_nodelay(true).map_err(|e| e.to_string())?;
            }
            match self.one_writer {
                true => owned.push(server),
                false => drop(tokio::spawn(write_each(server, sender.subscribe()))),
            }
            tokio::spawn(read_each(client, self.size, start, receipts.clone(), stopped.clone()));
        }
        let mut sockets = match self.one_writer {
            true => Sockets::Owned(owned),
            false => Sockets::Tasks(sender),
        };
        println!(
            "floor fanout: {} listeners, {} messages/s for {} s, {} bytes each, {}",
            self.listeners,
            self.rate,
            self.seconds,
            self.size,
            if self.one_writer { "one writer for every socket" } else { "a task per socket" }
        );
        // One message alone first: how long the last socket waits when nothing queues.
        for pass in 1..=3 {
            let before = receipts.received.load(Ordering::Relaxed);
            let sent = Instant::now();
            sockets.send(message(self.size, 0)).await;
            receipts.wait_for(before + self.listeners as u64, Duration::from_secs(10)).await;
            println!(
                "  one message alone, pass {pass}: all received in {:.1} ms",
                ms(sent.elapsed())
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let before = receipts.received.load(Ordering::Relaxed);
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / self.rate as f64));
        let count = self.rate * self.seconds;
        for _ in 0..count {
            ticks.tick().await;
            let at = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
            sockets.send(message(self.size, at)).await;
        }
        let expected = before + count * self.listeners as u64;
        receipts.wait_for(expected, Duration::from_secs(10)).await;
        let _ = stop.send(true);
        // Each reader hands its latencies over as it stops: one for each timed message it read.
        let handed_over = || {
            receipts.latencies.lock().map(|l| l.len() as u64).unwrap_or(0)
                >= receipts.received.load(Ordering::Relaxed) - before
        };
        until(handed_over, Duration::from_secs(5), Duration::from_millis(20)).await;
        let mut latencies =
            receipts.latencies.lock().map_err(|_| "latencies poisoned".to_owned())?.clone();
        latencies.sort_unstable();
        let received = receipts.received.load(Ordering::Relaxed) - before;
        println!(
            "  at {}/s: received {received} of {} ({} lost); from send to receipt p50 {:.1} ms, \
             p99 {:.1} ms, max {:.1} ms",
            self.rate,
            expected - before,
            (expected - before).saturating_sub(received),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0),
        );
        Ok(())
    }
}

/// A message of `size` bytes that says when it was sent (microseconds since the start; 0: not
/// timed).
fn message(size: usize, at: u64) -> Arc<[u8]> {
    let mut bytes = vec![0u8; size];
    bytes[..8].copy_from_slice(&at.to_le_bytes());
    bytes.into()
}

/// The server's side of one socket: each message, with those already waiting, in one write.
async fn write_each(mut socket: TcpStream, mut messages: broadcast::Receiver<Arc<[u8]>>) {
    let mut out = Vec::new();
    while let Ok(first) = messages.recv().await {
        out.clear();
        out.extend_from_slice(&first);
        while let Ok(next) = messages.try_recv() {
            out.extend_from_slice(&next);
        }
        if socket.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// A listener: reads messages of `size` bytes and notes each timed one's latency.
async fn read_each(
    mut socket: TcpStream,
    size: usize,
    start: Instant,
    receipts: Arc<Receipts>,
    mut stop: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut held = 0;
    let mut mine = Vec::new();
    loop {
        let read = tokio::select! {
            read = socket.read(&mut buffer[held..]) => read,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let Ok(read @ 1..) = read else { break };
        held += read;
        let now = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        let whole = held / size * size;
        for one in buffer[..whole].chunks_exact(size) {
            let sent = u64::from_le_bytes(one[..8].try_into().unwrap_or_default());
            if sent > 0 {
                mine.push(u32::try_from(now.saturating_sub(sent)).unwrap_or(u32::MAX));
            }
        }
        receipts.received.fetch_add((whole / size) as u64, Ordering::Relaxed);
        buffer.copy_within(whole..held, 0);
        held -= whole;
    }
    if let Ok(mut all) = receipts.latencies.lock() {
        all.extend_from_slice(&mine);
    }
}

/// The `p` quantile (0 to 1) of sorted microseconds, in milliseconds.
fn percentile(sorted: &[u32], p: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => f64::from(sorted[((n - 1) as f64 * p).round() as usize]) / 1000.0,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Rows per commit: the generator's batch, and a bulk post of the bench's.
const COMMIT: u64 = 10_000;
/// The first rows, whose rate the `generate` ratio target compares with.
const FIRST: u64 = 100_000;

/// The schemas measured: the one the migrations make, and smaller ones (statements run on it).
const SCHEMAS: &[(&str, &str)] = &[
    ("the server's schema", ""),
    ("without the trigram index", "DROP TRIGGER movies_fts_insert;"),
    (
        "the unique name index alone",
        "DROP TRIGGER movies_fts_insert; DROP INDEX idx_movies_year; \
         DROP INDEX idx_movies_genre; DROP INDEX idx_movies_editor_id; DROP INDEX idx_movies_id;",
    ),
];

/// The columns copied (all but `id`, which SQLite assigns as the server's inserts let it).
const COLUMNS: &str = "name,year,duration,genre,description,nr_characters,editor_id";

/// The writer connection's pragmas (crates/infra/src/db/mod.rs).
const WRITER_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
     PRAGMA foreign_keys=ON; PRAGMA temp_store=memory; PRAGMA cache_size=-16384; \
     PRAGMA wal_autocheckpoint=20000;";

fn writes(movies: u64) -> Result<(), String> {
    sqlite3(Path::new(":memory:"), "SELECT 1;")
        .map_err(|e| format!("{e} (install Debian's `sqlite3` package)"))?;
    let binary = match std::env::var_os("BENCH_BINARY") {
        Some(path) => PathBuf::from(path),
        None => crate::server::build_release()?,
    };
    let dir = std::env::temp_dir().join(format!("movies-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let result = measure_writes(&binary, &dir, movies);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure_writes(binary: &Path, dir: &Path, movies: u64) -> Result<(), String> {
    println!("floor writes: generating {movies} movies to copy ...");
    let generated = dir.join("generated.db");
    generate(binary, &generated, movies)?;
    let staged = dir.join("staged.db");
    sqlite3(
        &staged,
        &format!(
            "ATTACH '{}' AS g; CREATE TABLE m AS SELECT {COLUMNS} FROM g.movies ORDER BY id;",
            generated.display()
        ),
    )?;
    let _ = std::fs::remove_file(&generated);
    let empty = dir.join("empty.db");
    generate(binary, &empty, 0)?;
    sqlite3(&empty, "PRAGMA wal_checkpoint(TRUNCATE);")?;
    let segments = segments(movies);
    let fresh = |db: &Path| -> Result<(), String> {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        std::fs::copy(&empty, db).map(drop).map_err(|e| format!("copying the schema: {e}"))
    };
    // The `bulk` scenario's rows (its names, year 1999, nothing else) onto 100,000 movies.
    let db = dir.join("copy.db");
    fresh(&db)?;
    timed_copy(&db, &staged, 1, FIRST)?;
    let started = Instant::now();
    sqlite3(&db, &bulk_script())?;
    let rate = (BULK_COMMITS * COMMIT) as f64 / started.elapsed().as_secs_f64();
    println!(
        "  the bulk scenario's {} movies onto {FIRST}, {COMMIT} a commit: {rate:.0}/s",
        BULK_COMMITS * COMMIT
    );
    for (name, change) in SCHEMAS {
        fresh(&db)?;
        if !change.is_empty() {
            sqlite3(&db, change)?;
        }
        let mut line = format!("  {name}:");
        let mut whole = Duration::ZERO;
        let mut first = None;
        for (from, to) in &segments {
            let took = timed_copy(&db, &staged, *from, *to)?;
            whole += took;
            let rate = (to - from + 1) as f64 / took.as_secs_f64();
            first.get_or_insert(rate);
            let _ = write!(line, " rows {from}-{to} {rate:.0}/s;");
        }
        let average = movies as f64 / whole.as_secs_f64();
        let ratio = average / first.unwrap_or(average);
        println!(
            "{line} all {movies} in {:.1} s ({average:.0}/s, {ratio:.2} of the first {FIRST})",
            whole.as_secs_f64()
        );
    }
    Ok(())
}

/// The row ranges timed: the first 100,000 (the `generate` ratio's reference), the next
/// 100,000 (a bulk load onto the bench's 100,000), the middle, and the last 100,000.
fn segments(movies: u64) -> Vec<(u64, u64)> {
    let mut cuts = vec![1, FIRST + 1, 2 * FIRST + 1, movies - FIRST + 1, movies + 1];
    cuts.retain(|c| *c <= movies + 1);
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).filter(|w| w[0] < w[1]).map(|w| (w[0], w[1] - 1)).collect()
}

/// Commits of the bulk floor: the bench's 10 requests.
const BULK_COMMITS: u64 = 10;

/// The shell's script inserting the `bulk` scenario's movies (`floor-bulk-N-I`, year 1999), a
/// commit for each of its requests.
fn bulk_script() -> String {
    let mut script = format!("{WRITER_PRAGMAS}\n");
    for n in 0..BULK_COMMITS {
        let _ = writeln!(
            script,
            "BEGIN; WITH RECURSIVE i(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM i WHERE x < {}) \
             INSERT INTO movies(name, year) SELECT 'floor-bulk-{n}-' || x, 1999 FROM i; COMMIT;",
            COMMIT - 1
        );
    }
    script
}

/// The shell's script copying rows `from..=to` of the staged table, `COMMIT` to a transaction.
fn copy_script(staged: &Path, from: u64, to: u64) -> String {
    let mut script = format!("{WRITER_PRAGMAS}\nATTACH '{}' AS s;\n", staged.display());
    let mut first = from;
    while first <= to {
        let last = (first + COMMIT - 1).min(to);
        let _ = writeln!(
            script,
            "BEGIN; INSERT INTO movies({COLUMNS}) SELECT {COLUMNS} FROM s.m \
             WHERE rowid BETWEEN {first} AND {last}; COMMIT;"
        );
        first = last + 1;
    }
    script
}

fn timed_copy(db: &Path, staged: &Path, from: u64, to: u64) -> Result<Duration, String> {
    let script = copy_script(staged, from, to);
    let started = Instant::now();
    sqlite3(db, &script)?;
    Ok(started.elapsed())
}

fn generate(binary: &Path, db: &Path, movies: u64) -> Result<(), String> {
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let output = server_command(binary, &[("DATABASE_URL", url.as_str()), ("RUST_LOG", "warn")])
        .args(["generate", "--movies", &movies.to_string()])
        .output()
        .map_err(|e| format!("running {}: {e}", binary.display()))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(format!("generate failed: {}", String::from_utf8_lossy(&output.stderr))),
    }
}

/// Runs `script` in the `sqlite3` shell on `db`; its output is dropped, its errors returned.
fn sqlite3(db: &Path, script: &str) -> Result<(), String> {
    let mut child = Command::new("sqlite3")
        .arg("-bail")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running sqlite3: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).map_err(|e| format!("writing to sqlite3: {e}"))?;
    }
    let output = child.wait_with_output().map_err(|e| format!("sqlite3: {e}"))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(format!("sqlite3 failed: {}", String::from_utf8_lossy(&output.stderr))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_is_timed_in_four_ranges_and_a_small_run_in_fewer() {
        assert_eq!(
            segments(1_000_000),
            [(1, 100_000), (100_001, 200_000), (200_001, 900_000), (900_001, 1_000_000)]
        );
        assert_eq!(segments(300_000), [(1, 100_000), (100_001, 200_000), (200_001, 300_000)]);
        assert_eq!(segments(200_000), [(1, 100_000), (100_001, 200_000)]);
    }

    #[test]
    fn the_copy_commits_every_ten_thousand_rows_and_the_rest() {
        let script = copy_script(Path::new("/s.db"), 1, 25_000);
        assert!(script.starts_with(WRITER_PRAGMAS));
        assert_eq!(script.matches("COMMIT;").count(), 3);
        assert!(script.contains("BETWEEN 20001 AND 25000;"));
    }

    #[test]
    fn the_bulk_floor_inserts_ten_commits_of_the_scenarios_names() {
        let script = bulk_script();
        assert_eq!(script.matches("COMMIT;").count(), 10);
        assert!(script.contains("'floor-bulk-9-' || x, 1999"));
        assert!(script.contains("WHERE x < 9999"));
    }

    #[test]
    fn percentiles_come_from_the_sorted_latencies() {
        let sorted: Vec<u32> = (1..=100).map(|n| n * 1000).collect();
        assert_eq!(percentile(&sorted, 0.5), 51.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&sorted, 1.0), 100.0);
        assert_eq!(percentile(&[], 0.99), 0.0);
    }

    #[test]
    fn a_message_carries_its_send_time() {
        let sent = message(300, 123_456);
        assert_eq!(sent.len(), 300);
        assert_eq!(u64::from_le_bytes(sent[..8].try_into().unwrap()), 123_456);
    }
}
