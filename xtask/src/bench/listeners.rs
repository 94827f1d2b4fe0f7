//! The `ws_fanout` scenario: many WebSocket listeners on `/ws` (movies only), a writer creating
//! movies at a fixed rate, and for every listener and every write the time from the write's
//! answer to the listener's receipt of its `add` event; events that never arrive are lost.
//!
//! An event may arrive before its write's answer (counted as 0 above, and as `early`): behind
//! nginx most do, the answer queued in nginx behind the events it relays. So the time from the
//! write's request to each receipt is measured too, which no early event escapes; and the
//! writes' own latencies, which say how much of it the write took.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::load::{self, Requests};
use super::stats::Latencies;

/// One fan-out to run.
pub struct Fanout {
    pub listeners: usize,
    /// Writes per second.
    pub rate: u32,
    pub duration: Duration,
    /// Starts the name of every movie written, so that listeners tell ours apart.
    pub prefix: String,
}

/// What a fan-out measured.
#[derive(Debug)]
pub struct FanoutOutcome {
    pub connected: usize,
    pub connect_errors: u64,
    pub writes: u64,
    pub write_errors: u64,
    /// Events received, over all listeners.
    pub received: u64,
    /// Events a listener should have received (one per successful write) and did not.
    pub lost: u64,
    /// Listeners the server dropped for falling behind.
    pub lagged: u64,
    /// Events that arrived before their write's answer did (counted as 0 latency).
    pub early: u64,
    /// From the first write to the last event received (or the end of the wait for them).
    pub elapsed: Duration,
    pub latencies: Latencies,
    /// From each write's request to each listener's receipt of its event, early ones included.
    pub from_request: Latencies,
    /// Each write's own latency, request to answer.
    pub writes_latencies: Latencies,
    pub first_error: Option<String>,
}

/// Connections opened at once (as in `load.rs`, to stay within the server's accept queue).
const CONNECT_PARALLELISM: usize = 256;
/// Writer connections; the rate is split between them so that one slow write does not stall it.
/// With 4, a write answered late (the server busy fanning out the previous ones) held back its
/// writer's next ones: 1,000 listeners got 316-370 of the 400 writes of a 2 s quick run; with 16,
/// all of them. At 10,000 listeners neither reaches the rate: the server answers too slowly.
const WRITERS: u32 = 16;
/// How long listeners may take to receive the last writes once the writer stops.
const DRAIN: Duration = Duration::from_secs(10);
const SHARDS: usize = 16;

/// When a write was sent and when its answer was read.
#[derive(Clone, Copy)]
struct Written {
    sent: Instant,
    answered: Instant,
}

struct Shared {
    /// Each write's times, by movie id.
    written: RwLock<HashMap<i64, Written>>,
    /// Events that came before their write's answer: the movie id and the time of receipt, to
    /// measure from the write's request once its answer is in.
    early_arrivals: Mutex<Vec<(i64, Instant)>>,
    received: AtomicU64,
    lagged: AtomicU64,
    early: AtomicU64,
    connect_errors: AtomicU64,
    ready: AtomicUsize,
    first_error: Mutex<Option<String>>,
    shards: Vec<Mutex<Histogram<u64>>>,
    /// Latencies from the write's request, for the events that came after its answer.
    from_request: Vec<Mutex<Histogram<u64>>>,
    prefix: String,
}

impl Shared {
    fn note_error(&self, message: String) {
        if let Ok(mut first) = self.first_error.lock()
            && first.is_none()
        {
            *first = Some(message);
        }
    }
}

/// Connects the listeners, calls `when_idle` once they are all subscribed (to measure memory
/// with idle listeners), then writes for the duration and waits for the events.
pub async fn run(
    addr: SocketAddr,
    requests: Requests,
    fanout: Fanout,
    when_idle: impl FnOnce(usize),
) -> Result<FanoutOutcome, String> {
    let shards = (0..SHARDS).map(|_| Latencies::histogram().map(Mutex::new));
    let from_request = (0..SHARDS).map(|_| Latencies::histogram().map(Mutex::new));
    let shared = Arc::new(Shared {
        written: RwLock::new(HashMap::new()),
        early_arrivals: Mutex::new(Vec::new()),
        received: AtomicU64::new(0),
        lagged: AtomicU64::new(0),
        early: AtomicU64::new(0),
        connect_errors: AtomicU64::new(0),
        ready: AtomicUsize::new(0),
        first_error: Mutex::new(None),
        shards: shards.collect::<Result<_, _>>()?,
        from_request: from_request.collect::<Result<_, _>>()?,
        prefix: fanout.prefix.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(CONNECT_PARALLELISM));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let url = format!("ws://{addr}/ws");
    for index in 0..fanout.listeners {
        let listener = Listener {
            url: url.clone(),
            index,
            shared: shared.clone(),
            stop: stop_rx.clone(),
            gate: gate.clone(),
            done: done_tx.clone(),
        };
        tokio::spawn(listener.run());
    }
    drop(done_tx);
    // Every listener either subscribes or fails to; wait for all of them.
    loop {
        let settled = shared.ready.load(Ordering::Relaxed)
            + shared.connect_errors.load(Ordering::Relaxed) as usize;
        if settled >= fanout.listeners {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connected = shared.ready.load(Ordering::Relaxed);
    when_idle(connected);

    let started = Instant::now();
    let writes = AtomicU64::new(0);
    let write_errors = AtomicU64::new(0);
    let writers = (0..WRITERS)
        .map(|w| write(addr, &requests, &fanout, w, &shared, &writes, &write_errors, started));
    futures_util::future::join_all(writers).await;
    let writes = writes.load(Ordering::Relaxed);
    let expected = writes * connected as u64;
    let drain_until = Instant::now() + DRAIN;
    while shared.received.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop_tx.send(true);
    let mut lost = 0;
    while let Some(received) = done_rx.recv().await {
        lost += writes.saturating_sub(received);
    }
    let mut latencies = Latencies::new()?;
    for shard in &shared.shards {
        let shard = shard.lock().map_err(|_| "a latency shard was poisoned".to_owned())?;
        latencies.add(&shard)?;
    }
    let mut from_request = Latencies::new()?;
    for shard in &shared.from_request {
        let shard = shard.lock().map_err(|_| "a latency shard was poisoned".to_owned())?;
        from_request.add(&shard)?;
    }
    let mut writes_latencies = Latencies::new()?;
    {
        let written = shared.written.read().map_err(|_| "the writes were poisoned".to_owned())?;
        let early = shared.early_arrivals.lock().map_err(|_| "poisoned".to_owned())?;
        for (id, arrived) in early.iter() {
            if let Some(w) = written.get(id) {
                from_request.record(arrived.saturating_duration_since(w.sent));
            }
        }
        for w in written.values() {
            writes_latencies.record(w.answered.saturating_duration_since(w.sent));
        }
    }
    let first_error = shared.first_error.lock().ok().and_then(|e| e.clone());
    Ok(FanoutOutcome {
        connected,
        connect_errors: shared.connect_errors.load(Ordering::Relaxed),
        writes,
        write_errors: write_errors.load(Ordering::Relaxed),
        received: shared.received.load(Ordering::Relaxed),
        lost,
        lagged: shared.lagged.load(Ordering::Relaxed),
        early: shared.early.load(Ordering::Relaxed),
        elapsed,
        latencies,
        from_request,
        writes_latencies,
        first_error,
    })
}

/// One writer: `rate / WRITERS` movies per second on its own connection until the duration
/// has passed, each answer's time recorded by the movie's id.
#[allow(clippy::too_many_arguments)]
async fn write(
    addr: SocketAddr,
    requests: &Requests,
    fanout: &Fanout,
    writer: u32,
    shared: &Shared,
    writes: &AtomicU64,
    errors: &AtomicU64,
    started: Instant,
) {
    let period = Duration::from_secs_f64(f64::from(WRITERS) / f64::from(fanout.rate.max(1)));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sender = None;
    let mut n = 0u64;
    while started.elapsed() < fanout.duration {
        ticks.tick().await;
        if sender.is_none() {
            sender = match load::open(addr).await {
                Ok(s) => Some(s),
                Err(e) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    shared.note_error(format!("writer: {e}"));
                    continue;
                }
            };
        }
        let Some(connection) = sender.as_mut() else { continue };
        n += 1;
        let name = format!("{}{writer}-{n}", fanout.prefix);
        let body = serde_json::json!({ "name": name, "year": 2001 }).to_string();
        let sent = Instant::now();
        match load::send_read(connection, requests.post_json("/movies", body)).await {
            Ok((200, body)) => {
                let answered = Instant::now();
                let id = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["id"].as_i64());
                match (id, shared.written.write()) {
                    (Some(id), Ok(mut written)) => {
                        written.insert(id, Written { sent, answered });
                        writes.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        shared.note_error("writer: an answer without an id".into());
                    }
                }
            }
            Ok((status, body)) => {
                errors.fetch_add(1, Ordering::Relaxed);
                let body = String::from_utf8_lossy(&body).into_owned();
                shared.note_error(format!("writer: POST /movies answered {status}: {body}"));
            }
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                shared.note_error(format!("writer: {e}"));
                sender = None;
            }
        }
    }
}

struct Listener {
    url: String,
    index: usize,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    gate: Arc<Semaphore>,
    /// Receives how many of our events this listener got, when it ends.
    done: tokio::sync::mpsc::UnboundedSender<u64>,
}

impl Listener {
    async fn run(mut self) {
        let socket = {
            let _permit = self.gate.acquire().await;
            self.subscribe().await
        };
        let mut socket = match socket {
            Ok(socket) => socket,
            Err(e) => {
                self.shared.connect_errors.fetch_add(1, Ordering::Relaxed);
                self.shared.note_error(format!("listener: {e}"));
                return;
            }
        };
        self.shared.ready.fetch_add(1, Ordering::Relaxed);
        let shard = &self.shared.shards[self.index % SHARDS];
        let from_request = &self.shared.from_request[self.index % SHARDS];
        let mut received = 0u64;
        loop {
            let message = tokio::select! {
                _ = self.stop.changed() => break,
                message = socket.next() => message,
            };
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            };
            let arrived = Instant::now();
            if text.contains("\"lagged\"") {
                self.shared.lagged.fetch_add(1, Ordering::Relaxed);
                break;
            }
            let Some(id) = our_movie_added(&text, &self.shared.prefix) else { continue };
            received += 1;
            self.shared.received.fetch_add(1, Ordering::Relaxed);
            let written = self.shared.written.read().ok().and_then(|w| w.get(&id).copied());
            let latency = match written {
                Some(written) => {
                    record(from_request, arrived.saturating_duration_since(written.sent));
                    arrived.saturating_duration_since(written.answered)
                }
                None => {
                    self.shared.early.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut early) = self.shared.early_arrivals.lock() {
                        early.push((id, arrived));
                    }
                    Duration::ZERO
                }
            };
            record(shard, latency);
        }
        // Stay connected until told to stop, so that `lost` counts what the server dropped.
        let _ = self.done.send(received);
        let _ = socket.close(None).await;
    }

    async fn subscribe(
        &self,
    ) -> Result<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        String,
    > {
        // Small buffers: 10,000 listeners at tungstenite's default 128 KiB each would take
        // 2.5 GB of the machine the server is measured on.
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(4096);
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(self.url.as_str(), Some(config), true)
                .await
                .map_err(|e| format!("connecting to /ws: {e}"))?;
        let subscribe = r#"{"subscribe": ["movie"]}"#;
        socket.send(Message::text(subscribe)).await.map_err(|e| format!("subscribing: {e}"))?;
        let answer = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(message) = socket.next().await {
                if let Ok(Message::Text(text)) = message
                    && text.contains("\"subscribed\"")
                {
                    return Ok(());
                }
            }
            Err("the server closed the socket before `subscribed`".to_owned())
        })
        .await;
        match answer {
            Ok(Ok(())) => Ok(socket),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("no `subscribed` within 60 s".into()),
        }
    }
}

fn record(shard: &Mutex<Histogram<u64>>, latency: Duration) {
    if let Ok(mut histogram) = shard.lock() {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        histogram.saturating_record(micros.max(1));
    }
}

/// The id of the movie an `add` event carries, when its name starts with `prefix`. A text scan
/// first, as 10,000 listeners each parsing every event as JSON would take the load generator
/// more CPU than the server; the full parse only when the scan does not recognise the shape.
/// The scan takes the first `"id":` after `"data":{`, wherever `id` stands among the movie's
/// keys (the server sends them sorted, so after `duration` and `editorId`): a movie's `data` is
/// flat, and inside a JSON string a quote is escaped, so `"id":` cannot come from a value.
fn our_movie_added(text: &str, prefix: &str) -> Option<i64> {
    if !text.contains(prefix) {
        return None;
    }
    let quick = text
        .contains("\"operation\":\"add\"")
        .then(|| text.contains("\"entity\":\"movie\""))
        .filter(|ok| *ok)
        .and_then(|_| text.split_once("\"data\":{"))
        .and_then(|(_, data)| data.split_once("\"id\":"))
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        });
    quick.or_else(|| {
        let event: Value = serde_json::from_str(text).ok()?;
        let ours = event["operation"] == "add"
            && event["entity"] == "movie"
            && event["data"]["name"].as_str().is_some_and(|n| n.starts_with(prefix));
        ours.then(|| event["data"]["id"].as_i64()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_add_events_are_recognised_with_their_id() {
        let compact = r#"{"operation":"add","entity":"movie","seq":42,"at":"2026-11-25T10:02:05.424Z","data":{"id":7,"name":"ws-1-3","year":1979},"message":"New data is available. Please refresh."}"#;
        assert_eq!(our_movie_added(compact, "ws-1-"), Some(7));
        let reordered =
            r#"{"data": {"name": "ws-1-3", "id": 8}, "entity": "movie", "operation": "add"}"#;
        assert_eq!(our_movie_added(reordered, "ws-1-"), Some(8));
        let sorted = r#"{"at":"2026-11-25T10:02:05.424Z","data":{"description":"","duration":"","editorId":1,"genre":"","id":9,"name":"ws-1-4","nrCharacters":0,"year":2001},"entity":"movie","message":"New data is available. Please refresh.","operation":"add","seq":43}"#;
        assert_eq!(our_movie_added(sorted, "ws-1-"), Some(9));
        let other_prefix = compact.replace("ws-1-3", "Alien");
        assert_eq!(our_movie_added(&other_prefix, "ws-1-"), None);
        let update = compact.replace("\"add\"", "\"update\"");
        assert_eq!(our_movie_added(&update, "ws-1-"), None);
    }
}
