//! The health server: `GET /healthz` (200 while the process runs) and `GET /metrics` (the counters in
//! Prometheus text format).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::shared::Shared;

/// Why the health server stopped.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("health server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Binds `address`; the returned future serves until `shutdown` completes.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, HealthError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| HealthError::Bind { address, source })
}

/// Serves `/healthz` and `/metrics` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HealthError> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(HealthError::Serve)
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, holt_runtime::metrics::CONTENT_TYPE)],
        shared.tally().render_metrics(),
    )
}
