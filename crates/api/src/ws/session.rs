//! One listener's session: replay from the log, then live events from the hub, with the
//! listener's entity filter, backpressure (`lagged`), liveness pings and its own messages.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use movies_domain::events::{Delivery, Event, EventSubject, Subscription};
use serde_json::{Value, json};
use tokio::time::{Instant, interval};

use crate::dto::events::{control_json, event_text};
use crate::state::AppState;

/// The largest message a client may send.
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(30);
/// How long a listener may stay silent (no pong, no message) before it is dropped.
pub const PONG_WITHIN: Duration = Duration::from_secs(60);
/// Events read from the log per query while replaying.
const REPLAY_BATCH: u64 = 500;
/// How long a session that sent a close frame waits for the client's, the end of the closing
/// handshake, before it drops the connection anyway.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Live events already waiting that go out with the one just received, in one write: a busy
/// server then makes one system call for several events. Bounded, so that the listener's own
/// messages and pings are not kept waiting behind a long backlog.
const LIVE_BATCH: usize = 32;

type Sink = SplitSink<WebSocket, Message>;

/// The reason of the 1001 close frame a stopping server sends.
const SERVER_STOPPING: &str = "server stopping";

/// Why a session ends.
enum End {
    /// The client left, or the connection failed.
    Gone,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

struct Session {
    sink: Sink,
    /// `None`: every entity.
    entities: Option<BTreeSet<EventSubject>>,
    /// The newest `seq` handled (sent or filtered out): the seam between replay and live.
    last_seq: i64,
}

/// Serves one listener. `live` was subscribed, and `bounds` read from the log, before the
/// handshake was answered; the replay starts from there, and what arrives twice (in the log and
/// on `live`) is skipped by `seq`.
pub async fn run(
    socket: WebSocket,
    state: AppState,
    live: Box<dyn Subscription>,
    bounds: Option<(i64, i64)>,
    since: Option<i64>,
) {
    let (sink, mut stream) = socket.split();
    let mut session = Session { sink, entities: None, last_seq: 0 };
    let end = match session.replay(&state, bounds, since).await {
        Ok(()) => session.serve(live, &mut stream).await,
        Err(end) => end,
    };
    if let End::Close(code, reason) = end {
        let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
        if session.sink.send(Message::Close(Some(frame))).await.is_ok() {
            // Closing the socket while the client's own messages (a pong) are unread would
            // reset the connection, which may discard the close frame before the client reads
            // it: read until the client's close frame comes back, as the closing handshake has it.
            let answered = async {
                while let Some(Ok(message)) = stream.next().await {
                    if matches!(message, Message::Close(_)) {
                        return;
                    }
                }
            };
            let _ = tokio::time::timeout(CLOSE_WAIT, answered).await;
        }
    }
}

impl Session {
    /// Sends `value` now, after whatever was queued.
    async fn send(&mut self, value: &Value) -> Result<(), End> {
        self.sink.send(Message::Text(value.to_string().into())).await.map_err(|_| End::Gone)
    }

    /// Writes out what [`Session::queue`] left in the socket's buffer.
    async fn flush(&mut self) -> Result<(), End> {
        self.sink.flush().await.map_err(|_| End::Gone)
    }

    /// Queues `event` for the listener, unless it was handled already or is filtered out. Its
    /// `text`, when the feed rendered it, is shared rather than rendered again.
    async fn queue(&mut self, event: &Event, text: Option<&Arc<str>>) -> Result<(), End> {
        if event.seq <= self.last_seq {
            return Ok(());
        }
        self.last_seq = event.seq;
        // Internal events are for the servers only: the listener sees a gap in `seq`.
        if !event.is_internal() && self.entities.as_ref().is_none_or(|e| e.contains(&event.entity))
        {
            let text = match text {
                Some(text) => shared(text),
                None => event_text(event).into(),
            };
            self.sink.feed(Message::Text(text)).await.map_err(|_| End::Gone)?;
        }
        Ok(())
    }

    /// Sends `first` and up to [`LIVE_BATCH`] more deliveries the feed already holds, then
    /// flushes; a lag or a close ends the session (after what came before it).
    async fn forward(
        &mut self,
        first: Delivery,
        live: &mut Box<dyn Subscription>,
    ) -> Result<(), End> {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(delivery) = next.take() {
            match delivery {
                Delivery::Event(event) => self.queue(&event, event.text.as_ref()).await?,
                Delivery::Lagged => {
                    let resume = json!({ "resume_from": self.last_seq });
                    let _ = self.send(&control_json("lagged", resume)).await;
                    return Err(End::Close(close_code::NORMAL, "lagged: reconnect with ?since"));
                }
                // The hub is closed when the server stops: the listener reconnects (with
                // `?since`) to another instance or to this one restarted.
                Delivery::Closed => return Err(End::Close(close_code::AWAY, SERVER_STOPPING)),
            }
            taken += 1;
            if taken < LIVE_BATCH {
                // `next` is cancel-safe: when nothing is waiting, dropping its future loses nothing.
                next = live.next().now_or_never();
            }
        }
        self.flush().await
    }

    /// Sends what the listener missed since `since`, or `reset` if that is no longer kept.
    async fn replay(
        &mut self,
        state: &AppState,
        bounds: Option<(i64, i64)>,
        since: Option<i64>,
    ) -> Result<(), End> {
        let latest = bounds.map(|(_, max)| max).unwrap_or(0);
        let Some(since) = since else {
            self.last_seq = latest;
            return Ok(());
        };
        if let Some((oldest, _)) = bounds
            && since < oldest - 1
        {
            self.send(&control_json("reset", json!({ "oldest": oldest }))).await?;
            self.last_seq = latest;
            return Ok(());
        }
        self.last_seq = since;
        loop {
            // A long replay stops with the server; the listener resumes elsewhere from here.
            if state.listeners.is_stopping() {
                return Err(End::Close(close_code::AWAY, SERVER_STOPPING));
            }
            let batch = state
                .events
                .since(self.last_seq, REPLAY_BATCH)
                .await
                .map_err(|_| End::Close(close_code::ERROR, "event log unavailable"))?;
            let done = (batch.len() as u64) < REPLAY_BATCH;
            for event in &batch {
                self.queue(event, None).await?;
            }
            self.flush().await?;
            if done {
                return Ok(());
            }
        }
    }

    async fn serve(
        &mut self,
        mut live: Box<dyn Subscription>,
        stream: &mut SplitStream<WebSocket>,
    ) -> End {
        let mut ping = interval(PING_EVERY);
        ping.reset();
        let mut heard = Instant::now();
        loop {
            let step = tokio::select! {
                received = live.next() => self.forward(received, &mut live).await,
                incoming = stream.next() => {
                    heard = Instant::now();
                    match incoming {
                        Some(Ok(message)) => self.answer(message).await,
                        Some(Err(e)) if is_too_big(&e) => Err(End::Close(close_code::SIZE, "message too big")),
                        Some(Err(_)) | None => Err(End::Gone),
                    }
                },
                _ = ping.tick() => {
                    if heard.elapsed() > PONG_WITHIN {
                        Err(End::Gone)
                    } else {
                        self.sink.send(Message::Ping(Default::default())).await.map_err(|_| End::Gone)
                    }
                },
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// What a client may send: `{"subscribe": [...]}`; anything else gets an `error`.
    async fn answer(&mut self, message: Message) -> Result<(), End> {
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(bytes) => {
                if bytes.len() > MAX_CLIENT_MESSAGE {
                    return Err(End::Close(close_code::SIZE, "message too big"));
                }
                return self.error("binary messages are not supported; send JSON text").await;
            }
            Message::Close(_) => return Err(End::Gone),
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
        };
        if text.len() > MAX_CLIENT_MESSAGE {
            return Err(End::Close(close_code::SIZE, "message too big"));
        }
        match parse_subscribe(&text) {
            Ok(entities) => {
                let names: Vec<&str> = entities.iter().map(|e| e.as_str()).collect();
                let reply = control_json("subscribed", json!({ "entities": names }));
                self.entities = Some(entities);
                self.send(&reply).await
            }
            Err(detail) => self.error(&detail).await,
        }
    }

    async fn error(&mut self, detail: &str) -> Result<(), End> {
        self.send(&control_json("error", json!({ "detail": detail }))).await
    }
}

/// `{"subscribe": ["movie", "character", ...]}` → the entities, or why not.
fn parse_subscribe(text: &str) -> Result<BTreeSet<EventSubject>, String> {
    const EXPECTED: &str =
        r#"expected {"subscribe": [...]} with entities among "movie", "character", "user", "job""#;
    let value: Value = serde_json::from_str(text).map_err(|_| format!("not JSON: {EXPECTED}"))?;
    let list =
        value.get("subscribe").and_then(Value::as_array).ok_or_else(|| EXPECTED.to_owned())?;
    list.iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| s.parse::<EventSubject>().ok())
                .filter(|s| !s.is_internal())
                .ok_or_else(|| format!("unknown entity {v}: {EXPECTED}"))
        })
        .collect()
}

/// An event's text as a frame's payload, without copying it: the frame shares the text.
fn shared(text: &Arc<str>) -> Utf8Bytes {
    struct Shared(Arc<str>);
    impl AsRef<[u8]> for Shared {
        fn as_ref(&self) -> &[u8] {
            self.0.as_bytes()
        }
    }
    // A `str` is UTF-8, so the copy is never made; it spares an `expect`.
    Utf8Bytes::try_from(Bytes::from_owner(Shared(text.clone())))
        .unwrap_or_else(|_| Utf8Bytes::from(&**text))
}

/// A read that failed because the client's message was over the size limit.
fn is_too_big(e: &axum::Error) -> bool {
    let text = e.to_string();
    text.contains("too long") || text.contains("Space limit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_takes_known_entities_only() {
        let set = parse_subscribe(r#"{"subscribe": ["movie", "character"]}"#).unwrap();
        assert_eq!(set.len(), 2);
        assert!(parse_subscribe(r#"{"subscribe": []}"#).unwrap().is_empty());
        assert!(parse_subscribe(r#"{"subscribe": ["film"]}"#).is_err());
        assert!(parse_subscribe(r#"{"subscribe": ["auth"]}"#).is_err());
        assert!(parse_subscribe(r#"{"subscribe": "movie"}"#).is_err());
        assert!(parse_subscribe("hello").is_err());
    }

    #[test]
    fn a_shared_text_is_the_text_itself() {
        let text: Arc<str> = Arc::from(r#"{"data":"héllo"}"#);
        assert_eq!(shared(&text).as_str(), &*text);
    }
}
