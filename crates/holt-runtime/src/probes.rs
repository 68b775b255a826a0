//! The probe server of a controller: `/healthz` (the process serves), `/readyz` (what the controller calls
//! ready: its watches have listed and its first pass is done) and `/metrics` (the page the controller writes
//! at each scrape), over plain HTTP for the kubelet and Prometheus.
//!
//! In: the address, whether the controller is ready now, and a function that writes the metrics page. Out: a
//! server that runs until the process ends (or its listener fails).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

/// What the probes read at each request.
pub struct Probes {
    /// True when the controller is ready.
    pub ready: Arc<dyn Fn() -> bool + Send + Sync>,
    /// What `/readyz` says while it is not.
    pub not_ready_reason: &'static str,
    /// The `/metrics` page.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("not_ready_reason", &self.not_ready_reason)
            .finish_non_exhaustive()
    }
}

/// Serves the probes on `address` until the process ends.
pub async fn serve(address: SocketAddr, probes: Probes) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    serve_on(listener, probes).await
}

/// Serves the probes on a bound listener (tests bind port 0 and read the address first).
pub async fn serve_on(listener: tokio::net::TcpListener, probes: Probes) -> std::io::Result<()> {
    let Probes {
        ready,
        not_ready_reason,
        metrics,
    } = probes;
    let router = Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready();
                async move {
                    match ready {
                        true => (StatusCode::OK, "ready"),
                        false => (StatusCode::SERVICE_UNAVAILABLE, not_ready_reason),
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let text = metrics();
                async move { ([("content-type", crate::metrics::CONTENT_TYPE)], text) }
            }),
        );
    axum::serve(listener, router).await
}
