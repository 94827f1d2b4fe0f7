//! The HTTP server: accepts connections up to `MAX_CONNECTIONS` (one more is answered 503 and
//! closed at once), serves each with hyper's HTTP/1.1 (upgrades included, for WebSockets) under
//! the request-head and keep-alive timeouts (`connection.rs`), and stops in three steps: stop
//! accepting, let every connection answer what it has received, give up on those still open
//! after `SHUTDOWN_TIMEOUT`.
//!
//! It replaces `axum::serve`, which has no header or idle timeout and no connection limit. Like
//! `axum::serve` with axum's default features, it speaks HTTP/1.1 only; hyper-util's `auto`
//! builder would first wait for the 24 bytes of an HTTP/2 preface with no timer running.

mod connection;

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use serde_json::json;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{RETRY_AFTER_SECS, TOO_MANY_CONNECTIONS};
use crate::routes::App;
use connection::Shared;

/// The connection limits (see the configuration of the same names).
#[derive(Clone, Debug)]
pub struct Settings {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

/// A listening server and the connections it serves.
pub struct Server {
    /// `None` once it has stopped accepting.
    listener: Option<TcpListener>,
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    connections: TaskTracker,
    /// What a connection over the limit is sent before it is closed.
    refusal: Box<[u8]>,
}

impl Server {
    /// Serves `app` on `listener` under `settings`, once [`Server::serve_until`] runs.
    pub fn new(listener: TcpListener, app: App, settings: &Settings) -> Self {
        let mut http = http1::Builder::new();
        // hyper's header timer runs from the moment a connection waits for a request, so it is
        // the idle timer here; the head's own deadline is kept in `connection.rs`.
        http.timer(TokioTimer::new())
            .header_read_timeout(settings.keep_alive_timeout)
            .keep_alive(true);
        let shared = Arc::new(Shared {
            http,
            app,
            header_read_timeout: settings.header_read_timeout,
            stopping: CancellationToken::new(),
            abort: CancellationToken::new(),
        });
        Self {
            listener: Some(listener),
            shared,
            slots: Arc::new(Semaphore::new(settings.max_connections.max(1))),
            connections: TaskTracker::new(),
            refusal: refusal(),
        }
    }

    /// Accepts and serves connections until `stop` completes.
    pub async fn serve_until(&mut self, stop: impl Future<Output = ()>) {
        let Some(listener) = &self.listener else { return };
        tokio::pin!(stop);
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = &mut stop => return,
            };
            match accepted {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(e) if is_connection_error(&e) => {}
                // Out of file descriptors, most likely: try again in a while rather than spin;
                // connections that close meanwhile make room.
                Err(e) => {
                    tracing::error!(error = %e, "cannot accept connections");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = &mut stop => return,
                    }
                }
            }
        }
    }

    /// Stops accepting: takes the connections already waiting in the listen queue (their
    /// clients have connected and may have sent a request), then closes the socket, so that new
    /// ones are refused from here on.
    pub fn stop_accepting(&mut self) {
        let Some(listener) = self.listener.take() else { return };
        // tokio's `accept` waits for readiness it may not have learnt of yet; the kernel's queue
        // is read directly until it is empty.
        match listener.into_std() {
            Ok(listener) => {
                while let Ok((stream, peer)) = listener.accept() {
                    let stream =
                        stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream));
                    if let Ok(stream) = stream {
                        self.admit(stream, peer);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not take the waiting connections"),
        }
    }

    /// Stops accepting if it has not yet, tells every connection to finish (answer what it has
    /// received, then close; one between requests closes at once) and waits until they have,
    /// and `also` has completed, for `timeout` at most; then closes what is still open. Returns
    /// whether everything finished in time.
    pub async fn finish(mut self, timeout: Duration, also: impl Future<Output = ()>) -> bool {
        self.stop_accepting();
        self.shared.stopping.cancel();
        self.connections.close();
        let finished = tokio::time::timeout(timeout, async {
            tokio::join!(self.connections.wait(), also);
        })
        .await
        .is_ok();
        if !finished {
            tracing::warn!(
                connections = self.connections.len(),
                "connections still open after SHUTDOWN_TIMEOUT; closing them"
            );
            self.shared.abort.cancel();
            self.connections.wait().await;
        }
        finished
    }

    /// Serves `stream` if there is room for it; otherwise answers 503 and closes it at once.
    fn admit(&self, stream: TcpStream, peer: SocketAddr) {
        match self.slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let shared = self.shared.clone();
                self.connections.spawn(connection::serve(stream, peer, shared, slot));
            }
            Err(_) => refuse(stream, &self.refusal),
        }
    }
}

/// Answers a connection over `MAX_CONNECTIONS` without reading its request or spending a task
/// on it: what the client has sent so far is read and dropped (closing a socket with unread
/// data resets the connection, which may discard the answer before the client reads it), the
/// 503 written if the socket takes it at once, and the socket closed. Best effort: a client that
/// sends its request after this sees the connection closed or reset.
fn refuse(stream: TcpStream, refusal: &[u8]) {
    let Ok(mut stream) = stream.into_std() else { return };
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        match stream.read(&mut sink) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
    let _ = stream.write(refusal);
    let _ = stream.shutdown(Shutdown::Write);
}

/// The 503 a connection over the limit gets: the shape and `Retry-After` of every other 503.
fn refusal() -> Box<[u8]> {
    let body = json!({ "detail": TOO_MANY_CONNECTIONS }).to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: {RETRY_AFTER_SECS}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    [head.as_bytes(), body.as_bytes()].concat().into()
}

/// Connections the kernel may hold completed but not yet accepted (capped by the system's
/// `net.core.somaxconn`, 4096 on Debian). tokio's `TcpListener::bind` asks for 1,024: a burst
/// of new connections overflowed it (`TcpExtListenOverflows`), and each dropped SYN is tried
/// again by its client a second later.
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `addr` (a name is resolved; the first address that binds is used), with
/// [`LISTEN_BACKLOG`].
///
/// # Errors
/// When no address of `addr` can be bound.
pub async fn listen(addr: &str) -> io::Result<TcpListener> {
    let mut failed = None;
    for address in tokio::net::lookup_host(addr).await? {
        let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        // As `TcpListener::bind` does on Unix: a restarted server binds at once.
        socket.set_reuseaddr(true)?;
        match socket.bind(address) {
            Ok(()) => return socket.listen(LISTEN_BACKLOG),
            Err(e) => failed = Some(e),
        }
    }
    Err(failed.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to bind")))
}

/// An error of one connection being accepted (the client gave up), not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_503_with_retry_after_and_a_json_body() {
        let text = String::from_utf8(refusal().to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains(&format!("retry-after: {RETRY_AFTER_SECS}")), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body, json!({ "detail": TOO_MANY_CONNECTIONS }));
    }
}
