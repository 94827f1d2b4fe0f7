//! One HTTP connection: hyper's HTTP/1.1 over the socket, the request-head deadline, and the
//! connection's part in a graceful stop (answer what the client has already sent, then close).
//!
//! hyper's own `header_read_timeout` starts as soon as a connection waits for a request, so it
//! cannot tell a client slowly sending a head from a kept-alive connection waiting for its next
//! request: it is given `KEEP_ALIVE_TIMEOUT`, and the head's shorter deadline is kept here, in
//! the socket's reads ([`Guarded`]), knowing from the service ([`Answering`]) when a request
//! has been read and when its answer has gone out.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::metrics::ConnectionGuard;
use crate::routes::App;

/// What a connection task needs besides its socket; shared by all of them.
pub(super) struct Shared {
    pub http: http1::Builder,
    /// Cloned for each connection: an `Arc`.
    pub app: App,
    pub header_read_timeout: Duration,
    /// Cancelled when the server stops: answer what was received, then close.
    pub stopping: CancellationToken,
    /// Cancelled when `SHUTDOWN_TIMEOUT` has passed: close now.
    pub abort: CancellationToken,
}

/// A request's head is awaited and has started to arrive (or the connection is new): its
/// deadline runs, unless a request is being answered (`REQUEST_TIMEOUT` bounds that).
const HEAD: u8 = 0;
/// No head has started since the last one was read: hyper's timer (`KEEP_ALIVE_TIMEOUT`) runs.
const IDLE: u8 = 1;
/// Handed to a WebSocket session, which checks its peer's liveness itself.
const UPGRADED: u8 = 2;

/// Where a connection is in its request/answer cycle, and a signal that its socket was read.
struct State {
    phase: AtomicU8,
    /// Requests whose head was read and whose answer hyper has not finished with.
    answering: AtomicUsize,
    read: Notify,
}

impl State {
    fn phase(&self) -> u8 {
        self.phase.load(Ordering::Relaxed)
    }

    fn answering(&self) -> usize {
        self.answering.load(Ordering::Relaxed)
    }

    /// `from` → `to`, unless the phase has moved on (an upgraded connection stays upgraded).
    fn advance(&self, from: u8, to: u8) -> bool {
        self.phase.compare_exchange(from, to, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

/// One request being answered, from its head read until hyper is done with its answer's body
/// (or drops the answer unfinished).
struct Answering(Arc<State>);

impl Answering {
    fn start(state: &Arc<State>) -> Self {
        state.advance(HEAD, IDLE);
        state.answering.fetch_add(1, Ordering::Relaxed);
        Self(state.clone())
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.answering.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `stream`, from `peer`, until the client leaves, a deadline passes, it is upgraded to a
/// WebSocket or the server stops. `_slot` is its place among `MAX_CONNECTIONS`, given back when
/// it ends (an upgraded connection then counts among the WebSocket listeners instead).
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    _slot: OwnedSemaphorePermit,
) {
    // In `http_connections_open` for as long as the socket is open, the upgraded one included.
    let open = crate::metrics::connection_opened();
    let unread = Unread::of(&stream);
    let state = Arc::new(State {
        phase: AtomicU8::new(HEAD),
        answering: AtomicUsize::new(0),
        read: Notify::new(),
    });
    let mut deadline = Box::pin(tokio::time::sleep(shared.header_read_timeout));
    // Until its first bytes a connection costs its socket and this task only: hyper takes its
    // buffers (8 KiB) when it starts reading. One that sends nothing is closed at the deadline.
    // (`peek`, not `readable`: tokio reports a socket readable at first, whether it is or not.)
    let mut first = [0u8; 1];
    let first_bytes = tokio::select! {
        peeked = stream.peek(&mut first) => peeked.is_ok(),
        () = deadline.as_mut() => false,
        // A client that has sent its request by now is answered below.
        () = shared.stopping.cancelled() => unread.any(),
    };
    if !first_bytes {
        return;
    }
    let io = Guarded {
        stream,
        state: state.clone(),
        header_read_timeout: shared.header_read_timeout,
        deadline,
        _open: open,
    };
    let service = Service { app: shared.app.clone(), peer, state: state.clone() };
    let conn = shared.http.serve_connection(TokioIo::new(io), service).with_upgrades();
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => Some(ended),
        () = shared.stopping.cancelled() => None,
    };
    let ended = match ended {
        Some(ended) => ended,
        None => {
            // Stopping. A request the client has sent but hyper has not read yet (still in the
            // socket's buffer) is answered too: let hyper read it before asking it to finish,
            // which closes a connection that is between requests at once.
            let read_first = async {
                while state.answering() == 0 && unread.any() {
                    state.read.notified().await;
                }
            };
            tokio::select! {
                ended = conn.as_mut() => ended,
                () = read_first => {
                    conn.as_mut().graceful_shutdown();
                    tokio::select! {
                        ended = conn.as_mut() => ended,
                        () = shared.abort.cancelled() => return,
                    }
                }
                () = shared.abort.cancelled() => return,
            }
        }
    };
    // The future also ends when the connection was upgraded: its socket is the session's now.
    state.phase.store(UPGRADED, Ordering::Relaxed);
    if let Err(e) = ended {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Whether bytes the client sent wait in the socket's receive buffer, unread by hyper. Asked of
/// the kernel, not of tokio's readiness, which a connection accepted a moment ago has not
/// learnt yet.
struct Unread {
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl Unread {
    fn of(stream: &TcpStream) -> Self {
        #[cfg(unix)]
        {
            Self { fd: std::os::fd::AsRawFd::as_raw_fd(stream) }
        }
        #[cfg(not(unix))]
        {
            let _ = stream;
            Self {}
        }
    }

    /// Only while the connection that owns the socket is still being served (so the descriptor
    /// is still its socket's).
    fn any(&self) -> bool {
        #[cfg(unix)]
        {
            let mut byte = 0u8;
            // SAFETY: `fd` is the socket of the connection future that the caller holds and that
            // has not completed, so it is open and still that socket; MSG_PEEK leaves the byte
            // where it is, MSG_DONTWAIT makes the call return at once.
            let n = unsafe {
                libc::recv(self.fd, (&raw mut byte).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT)
            };
            n > 0
        }
        #[cfg(not(unix))]
        {
            false
        }
    }
}

/// The socket, read under the request head's deadline.
struct Guarded {
    stream: TcpStream,
    state: Arc<State>,
    header_read_timeout: Duration,
    /// When the head being waited for must have arrived: set at accept, then at the first byte
    /// after each answer.
    deadline: Pin<Box<Sleep>>,
    _open: ConnectionGuard,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                // The first bytes after a request start the next one's head (bytes read while
                // one is answered are its body, or a pipelined request's head).
                if this.state.answering() == 0 && this.state.advance(IDLE, HEAD) {
                    let deadline = Instant::now() + this.header_read_timeout;
                    this.deadline.as_mut().reset(deadline);
                }
                this.state.read.notify_one();
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let waiting = this.state.phase() == HEAD && this.state.answering() == 0;
                if waiting && this.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no complete request head within HEADER_READ_TIMEOUT",
                    )));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The application as hyper calls it, counting the requests being answered ([`Answering`]) and
/// telling each the peer's address (`ConnectInfo`, as `into_make_service_with_connect_info`
/// did: login throttling and `/metrics` start from it).
#[derive(Clone)]
struct Service {
    app: App,
    peer: SocketAddr,
    state: Arc<State>,
}

type Answered = Result<Response<Answer>, Infallible>;

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Answer>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Answered> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let answering = Answering::start(&self.state);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let answer = self.app.clone().oneshot(request.map(Body::new));
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| Answer { body, _answering: answering }))
        })
    }
}

/// An answer's body; when hyper is done with it, its request is answered.
struct Answer {
    body: Body,
    _answering: Answering,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
