//! Where every request enters the mapper: the accept loop and each connection's HTTP/1.1 server, with
//! the bounds that hold whatever clients do. In: a bound listener and the API's [`Router`] (with its
//! own per-request layers, [`crate::http::app`]). Out: served connections until shutdown.
//!
//! - **Connection limit**: at most `max_connections` open at once; one more is accepted and closed at
//!   once (counted), so the kernel's backlog never fills with clients waiting for nothing.
//! - **Idle timeout**: a connection with no request in progress and no byte of the next one is closed
//!   once it has been so for `idle`, counted from its opening or from the end of its last response.
//! - **Header timeout**: from the first byte of a request to its complete head, at most `header`.
//! - **Head size**: at most [`MAX_HEAD_BYTES`] buffered per connection (`431` past it).
//! - **Request timeout**: from the complete head to the response written in full, at most `request`
//!   plus [`WRITE_GRACE`] (the router itself answers `408` at `request`, see [`crate::http`]); a client
//!   that trickles its body or does not read its answer is cut off.
//!
//! Each connection has a watchdog that reads its phase (idle, head, request) and when it began: the
//! phase changes when bytes arrive ([`Watched`] around the socket), when the router is called, and
//! when the response body is done ([`Tracked`] around it).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower_service::Service;

/// Time beyond the request timeout to write the `408` the router answers.
pub const WRITE_GRACE: Duration = Duration::from_secs(5);

/// The most a connection buffers while reading (a request head can be no longer): with the connection
/// limit, what heads can hold at once is bounded (1,024 × 64 KiB = 64 MiB by default).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The bounds on connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub idle: Duration,
    pub header: Duration,
    pub request: Duration,
}

/// What the connections did, for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    pub open: AtomicU64,
    pub accepted: AtomicU64,
    /// Closed at once because `max_connections` were open.
    pub refused: AtomicU64,
    pub timed_out_idle: AtomicU64,
    pub timed_out_header: AtomicU64,
    pub timed_out_request: AtomicU64,
}

/// A connection's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle = 0,
    Head = 1,
    Request = 2,
}

/// The phase of one connection and when it began, shared by the socket, the service, the response
/// body and the watchdog.
#[derive(Debug)]
struct Activity {
    start: Instant,
    phase: AtomicU8,
    /// Milliseconds from `start` to the phase's beginning.
    since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            phase: AtomicU8::new(Phase::Idle as u8),
            since_ms: AtomicU64::new(0),
        }
    }

    fn enter(&self, phase: Phase) {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.since_ms.store(elapsed, Ordering::Release);
        self.phase.store(phase as u8, Ordering::Release);
    }

    fn phase(&self) -> (Phase, Instant) {
        let phase = match self.phase.load(Ordering::Acquire) {
            1 => Phase::Head,
            2 => Phase::Request,
            _ => Phase::Idle,
        };
        let since = self.start + Duration::from_millis(self.since_ms.load(Ordering::Acquire));
        (phase, since)
    }

    /// Bytes arrived: an idle connection now receives a request head.
    fn bytes_arrived(&self) {
        if self.phase.load(Ordering::Acquire) == Phase::Idle as u8 {
            self.enter(Phase::Head);
        }
    }
}

/// Accepts connections on `listener` and serves `app` on each until `shutdown` completes; then stops
/// accepting and waits (at most the request timeout and its grace) for requests in progress.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        if stats.open.load(Ordering::Relaxed) >= limits.max_connections as u64 {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "connection limit reached: closed");
            drop(socket);
            continue;
        }
        let _ = socket.set_nodelay(true);
        stats.open.fetch_add(1, Ordering::Relaxed);
        let (app, stats, closing) = (app.clone(), stats.clone(), closing.clone());
        tasks.spawn(async move {
            serve_connection(socket, app, limits, &stats, closing).await;
            stats.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.request + WRITE_GRACE, drain)
        .await
        .is_err()
    {
        tracing::warn!("requests still in progress at shutdown were cut off");
    }
    Ok(())
}

async fn serve_connection(
    socket: tokio::net::TcpStream,
    app: Router,
    limits: ConnectionLimits,
    stats: &ConnectionStats,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: socket,
        activity: activity.clone(),
    });
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let activity = service_activity.clone();
        activity.enter(Phase::Request);
        let mut app = app.clone();
        async move {
            let response = app.call(request.map(Body::new)).await;
            response.map(|response| {
                response.map(|body| {
                    Body::new(Tracked {
                        inner: body,
                        activity: Some(activity),
                    })
                })
            })
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let watchdog = watchdog(&activity, limits);
    tokio::pin!(watchdog);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            phase = &mut watchdog => {
                let counter = match phase {
                    Phase::Idle => &stats.timed_out_idle,
                    Phase::Head => &stats.timed_out_header,
                    Phase::Request => &stats.timed_out_request,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(?phase, "connection timed out: closed");
                return;
            }
            _ = closing.wait_for(|closing| *closing), if !shutting_down => {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Completes with the phase a connection stayed in for longer than its limit.
async fn watchdog(activity: &Activity, limits: ConnectionLimits) -> Phase {
    loop {
        let (phase, since) = activity.phase();
        let limit = match phase {
            Phase::Idle => limits.idle,
            Phase::Head => limits.header,
            Phase::Request => limits.request + WRITE_GRACE,
        };
        let deadline = since + limit;
        if Instant::now() >= deadline {
            return phase;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// The socket, noting when bytes arrive.
struct Watched {
    inner: tokio::net::TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A response body that turns its connection idle again once it is done (or dropped).
struct Tracked {
    inner: Body,
    activity: Option<Arc<Activity>>,
}

impl Tracked {
    fn done(&mut self) {
        if let Some(activity) = self.activity.take() {
            activity.enter(Phase::Idle);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.done();
    }
}

impl HttpBody for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let result = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(result, Poll::Ready(None)) {
            self.done();
        }
        result
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
