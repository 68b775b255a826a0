//! `/healthz` (the controller loop is alive) and `/readyz` (every watch has listed and the first full pass
//! is applied), over plain HTTP for the kubelet's probes.

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::sync::watch;

use crate::controller::Progress;

/// Serves the probes until the process ends.
pub async fn serve(address: SocketAddr, progress: watch::Receiver<Progress>) -> std::io::Result<()> {
    let router = Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .route(
            "/readyz",
            get(move || {
                let ready = progress.borrow().ready;
                async move {
                    if ready {
                        (StatusCode::OK, "ready")
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "caches not synced or first pass not applied",
                        )
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, router).await
}
