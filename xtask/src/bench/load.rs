//! The HTTP load generator: a fixed number of connections, each a tokio task that owns one
//! hyper HTTP/1 connection and sends its next request as soon as the last answer is read
//! (a closed loop, as wrk and oha do), until a stop condition. Latencies go to a few shared
//! histograms (one per worker would cost 10,000 x 140 KB at 10,000 connections).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Semaphore};

use super::stats::Latencies;

/// A request body as the load generator sends it.
pub type Body = Full<Bytes>;

/// Makes each request: given the worker's random numbers and the index of the request in the
/// whole run (0, 1, 2, ... across workers).
pub type MakeRequest = Arc<dyn Fn(&mut Rng, u64) -> Request<Body> + Send + Sync>;

/// When the workers stop sending.
#[derive(Clone)]
pub enum Stop {
    /// After this long, counted from the moment every connection is open.
    After(Duration),
    /// After this many requests in all.
    Requests(u64),
    /// When the flag is set (by whoever runs beside the load).
    Flag(Arc<AtomicBool>),
}

/// One load to run.
pub struct Load {
    pub connections: usize,
    pub stop: Stop,
    pub make: MakeRequest,
}

/// What a load produced.
#[derive(Debug)]
pub struct Outcome {
    /// Answers read, successful or not.
    pub requests: u64,
    /// Answers that were not 2xx, and requests or connections that failed.
    pub errors: u64,
    /// From the moment every connection was open to the last answer.
    pub elapsed: Duration,
    pub latencies: Latencies,
    /// The first error, to show what went wrong.
    pub first_error: Option<String>,
    /// The answers that were not 2xx, by status.
    pub statuses: BTreeMap<u16, u64>,
}

/// How many connections are opened at once: more would overflow the server's accept queue
/// (its backlog) and turn into SYN retries a second later.
const CONNECT_PARALLELISM: usize = 256;
/// Shards of the latency histogram.
const SHARDS: usize = 16;
/// How long one request may take before it counts as an error (and its connection is dropped):
/// a guard against a server that stopped answering, far above any latency worth measuring.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a worker whose connection failed waits before opening another.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

/// The numbers the workers share.
struct Shared {
    next: AtomicU64,
    answers: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    statuses: Mutex<BTreeMap<u16, u64>>,
    shards: Vec<Mutex<Histogram<u64>>>,
    started: Mutex<Option<Instant>>,
}

impl Shared {
    fn error(&self, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock()
            && first.is_none()
        {
            *first = Some(message);
        }
    }
}

/// Runs `load` against `addr` and returns what it measured.
pub async fn run(addr: SocketAddr, load: Load) -> Result<Outcome, String> {
    let shards: Vec<_> = (0..SHARDS).map(|_| Latencies::histogram().map(Mutex::new)).collect();
    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        answers: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        first_error: Mutex::new(None),
        statuses: Mutex::new(BTreeMap::new()),
        shards: shards.into_iter().collect::<Result<_, _>>()?,
        started: Mutex::new(None),
    });
    let connections = load.connections.max(1);
    let barrier = Arc::new(Barrier::new(connections + 1));
    let gate = Arc::new(Semaphore::new(CONNECT_PARALLELISM));
    let mut workers = Vec::with_capacity(connections);
    for index in 0..connections {
        let worker = Worker {
            addr,
            index,
            shared: shared.clone(),
            make: load.make.clone(),
            stop: load.stop.clone(),
            barrier: barrier.clone(),
            gate: gate.clone(),
        };
        workers.push(tokio::spawn(worker.run()));
    }
    let opening = Instant::now();
    barrier.wait().await;
    // A connection that waits long for the others sends its first request late: past the
    // server's HEADER_READ_TIMEOUT (10 s) it is closed, and counts as an error here.
    if connections >= 1000 {
        println!("    {connections} connections open in {:.1} s", opening.elapsed().as_secs_f64());
    }
    let started = Instant::now();
    if let Ok(mut slot) = shared.started.lock() {
        *slot = Some(started);
    }
    for worker in workers {
        worker.await.map_err(|e| format!("a load worker failed: {e}"))?;
    }
    let elapsed = started.elapsed();
    let mut latencies = Latencies::new()?;
    for shard in &shared.shards {
        let shard = shard.lock().map_err(|_| "a latency shard was poisoned".to_owned())?;
        latencies.add(&shard)?;
    }
    let first_error = shared.first_error.lock().ok().and_then(|e| e.clone());
    let statuses = shared.statuses.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(Outcome {
        requests: shared.answers.load(Ordering::Relaxed),
        errors: shared.errors.load(Ordering::Relaxed),
        elapsed,
        latencies,
        first_error,
        statuses,
    })
}

struct Worker {
    addr: SocketAddr,
    index: usize,
    shared: Arc<Shared>,
    make: MakeRequest,
    stop: Stop,
    barrier: Arc<Barrier>,
    gate: Arc<Semaphore>,
}

type Sender = http1::SendRequest<Body>;

impl Worker {
    async fn run(self) {
        // Every connection opens before the clock starts, so that 10,000 of them measure
        // serving, not connecting.
        let mut sender = {
            let _permit = self.gate.acquire().await;
            self.connect().await
        };
        self.barrier.wait().await;
        let started = self.shared.started.lock().ok().and_then(|s| *s).unwrap_or_else(Instant::now);
        let mut rng = Rng::new(self.index as u64 + 1);
        let shard = &self.shared.shards[self.index % SHARDS];
        loop {
            let n = self.shared.next.fetch_add(1, Ordering::Relaxed);
            if self.stopped(started, n) {
                break;
            }
            let Some(connection) = sender.as_mut() else {
                tokio::time::sleep(RECONNECT_PAUSE).await;
                sender = self.connect().await;
                continue;
            };
            let request = (self.make)(&mut rng, n);
            let sent = Instant::now();
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, send(connection, request)).await;
            match answer.unwrap_or_else(|_| Err("no answer within 60 s".into())) {
                Ok(status) => {
                    let micros = sent.elapsed().as_micros().try_into().unwrap_or(u64::MAX);
                    if let Ok(mut histogram) = shard.lock() {
                        histogram.saturating_record(micros.max(1));
                    }
                    self.shared.answers.fetch_add(1, Ordering::Relaxed);
                    if !(200..300).contains(&status) {
                        self.shared.error(format!("answered {status}"));
                        if let Ok(mut statuses) = self.shared.statuses.lock() {
                            *statuses.entry(status).or_default() += 1;
                        }
                    }
                }
                Err(e) => {
                    self.shared.error(e);
                    sender = None;
                }
            }
        }
    }

    fn stopped(&self, started: Instant, n: u64) -> bool {
        match &self.stop {
            Stop::After(duration) => started.elapsed() >= *duration,
            Stop::Requests(total) => n >= *total,
            Stop::Flag(flag) => flag.load(Ordering::Relaxed),
        }
    }

    /// A new connection, or `None` (the error counted) when it cannot be opened.
    async fn connect(&self) -> Option<Sender> {
        match open(self.addr).await {
            Ok(sender) => Some(sender),
            Err(e) => {
                self.shared.error(e);
                None
            }
        }
    }
}

/// Opens an HTTP/1 connection to `addr`; the connection's driver runs as its own task.
pub async fn open(addr: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("connecting: {e}"))?;
    stream.set_nodelay(true).map_err(|e| format!("setting TCP_NODELAY: {e}"))?;
    let (sender, connection) =
        http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        // Its end (the server closing, or the sender dropped) shows at the next request.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends `request` and reads the whole answer; returns its status.
pub async fn send(sender: &mut Sender, request: Request<Body>) -> Result<u16, String> {
    let (status, _) = send_read(sender, request).await?;
    Ok(status)
}

/// Sends `request` and returns its status and body.
pub async fn send_read(
    sender: &mut Sender,
    request: Request<Body>,
) -> Result<(u16, Bytes), String> {
    sender.ready().await.map_err(|e| format!("connection closed: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.map_err(|e| format!("reading: {e}"))?;
    Ok((status, body.to_bytes()))
}

/// Requests to one server: the host header and the token every request needs.
#[derive(Clone)]
pub struct Requests {
    pub host: String,
    pub token: Option<String>,
}

impl Requests {
    pub fn get(&self, path: &str, with_token: bool) -> Request<Body> {
        self.build("GET", path, with_token, None)
    }

    pub fn post_json(&self, path: &str, body: String) -> Request<Body> {
        self.build("POST", path, true, Some(body))
    }

    pub fn put_json(&self, path: &str, body: String) -> Request<Body> {
        self.build("PUT", path, true, Some(body))
    }

    pub fn delete(&self, path: &str) -> Request<Body> {
        self.build("DELETE", path, true, None)
    }

    fn build(
        &self,
        method: &str,
        path: &str,
        with_token: bool,
        body: Option<String>,
    ) -> Request<Body> {
        let mut builder =
            Request::builder().method(method).uri(path).header("host", self.host.as_str());
        if let (true, Some(token)) = (with_token, &self.token) {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                builder = builder.header("content-type", "application/json");
                Full::new(Bytes::from(body))
            }
            None => Full::new(Bytes::new()),
        };
        // Only a bad method, URI or header value fails here; ours are all literals or numbers,
        // so the fallback (a request the server answers 404) is never sent in practice.
        builder.body(body).unwrap_or_else(|_| Request::new(Full::new(Bytes::new())))
    }
}

/// SplitMix64: random enough to pick ids and pages, seeded per worker, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high` (`low` when the range is empty).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low + 1)
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_numbers_stay_in_range_and_cover_it() {
        let mut rng = Rng::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let n = rng.between(3, 7);
            assert!((3..=7).contains(&n), "{n}");
            seen[(n - 3) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(rng.between(5, 5), 5);
        assert_eq!(rng.between(9, 2), 9);
    }

    #[test]
    fn requests_carry_the_host_and_the_token_only_when_asked() {
        let requests = Requests { host: "127.0.0.1:9".into(), token: Some("t".into()) };
        let public = requests.get("/movies/1", false);
        assert_eq!(public.headers()["host"], "127.0.0.1:9");
        assert!(public.headers().get("authorization").is_none());
        let private = requests.post_json("/movies", "{}".into());
        assert_eq!(private.headers()["authorization"], "Bearer t");
        assert_eq!(private.headers()["content-type"], "application/json");
        assert_eq!(private.method(), "POST");
    }
}
