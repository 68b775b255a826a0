//! The credentials operator's `/healthz`, `/readyz` and `/metrics`, served by `holt_runtime::probes`.
//!
//! In: the controller's [`Progress`]. Out: the probe server; `/readyz` answers 200 once every pod has been
//! listed and the certificate provider answers (the CA loaded, the SPIRE server's bundle read); failing
//! Secrets do not make it unready: they are metrics and Events.

use std::net::SocketAddr;
use std::sync::Arc;

use holt_runtime::MetricsPage;
use holt_runtime::probes::{self, Probes};
use jiff::Timestamp;
use tokio::sync::watch;

use crate::controller::Progress;

/// Serves the probes on `address` until the process ends.
pub async fn serve(address: SocketAddr, progress: watch::Receiver<Progress>) -> std::io::Result<()> {
    probes::serve(address, probes_of(progress)).await
}

/// Serves the probes on a bound listener (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    progress: watch::Receiver<Progress>,
) -> std::io::Result<()> {
    probes::serve_on(listener, probes_of(progress)).await
}

fn probes_of(progress: watch::Receiver<Progress>) -> Probes {
    let metrics_progress = progress.clone();
    Probes {
        ready: Arc::new(move || progress.borrow().ready),
        not_ready_reason: "pods not listed yet, or the certificate provider fails (the CA Secret unreadable, the \
                           SPIRE server down: see holt_credentials_provider_available and the log)",
        metrics: Arc::new(move || metrics(&metrics_progress.borrow(), Timestamp::now())),
    }
}

/// Seconds from `now` to `at` (0 when past; absent when unknown).
fn seconds_until(at: Option<Timestamp>, now: Timestamp) -> u64 {
    at.map_or(0, |at| {
        u64::try_from(at.as_second() - now.as_second()).unwrap_or(0)
    })
}

/// The progress in the Prometheus text format.
pub fn metrics(progress: &Progress, now: Timestamp) -> String {
    let mut page = MetricsPage::new();
    page.gauge(
        "holt_credentials_ready",
        "1 when every pod is listed and the certificate provider answers",
        u64::from(progress.ready),
    )
    .counter(
        "holt_credentials_certificates_issued_total",
        "certificates issued (first issues and renewals)",
        progress.issued,
    )
    .counter(
        "holt_credentials_renewals_total",
        "certificates issued again for a Secret that had one (renewal, new settings, new trust bundle)",
        progress.renewals,
    )
    .counter(
        "holt_credentials_failures_total",
        "failed attempts to bring a Secret up to date (each retried with back-off)",
        progress.failures,
    )
    .gauge(
        "holt_credentials_earliest_expiry_seconds",
        "seconds until the earliest end of a certificate in Holt's Secrets (0: none, or already ended)",
        seconds_until(progress.earliest_expiry, now),
    )
    .gauge(
        "holt_credentials_secrets",
        "Secrets asked for by pods",
        progress.secrets as u64,
    )
    .gauge(
        "holt_credentials_secrets_failing",
        "Secrets whose last attempt failed",
        progress.failing as u64,
    )
    .gauge(
        "holt_credentials_secret_names_taken",
        "Secrets asked for whose name a Secret Holt did not create holds (left alone)",
        progress.names_taken as u64,
    )
    .gauge(
        "holt_credentials_pods",
        "pods asking for a certificate",
        progress.pods as u64,
    )
    .gauge(
        "holt_credentials_pods_invalid",
        "pods whose credentials annotations Holt cannot act on",
        progress.invalid_pods as u64,
    )
    .counter(
        "holt_credentials_api_writes_total",
        "writes sent to the API server (Secrets, workload restarts)",
        progress.writes,
    )
    .counter(
        "holt_credentials_restarts_total",
        "workloads restarted after a renewal",
        progress.restarts,
    )
    .counter(
        "holt_credentials_ca_rotations_total",
        "built-in CAs created or rotated in",
        progress.ca_rotations,
    )
    .counter(
        "holt_credentials_provider_failures_total",
        "failed calls to the certificate provider outside a Secret's update (built-in CA Secret reads, SPIRE \
         bundle reads and entry pruning), each retried with back-off",
        progress.provider_failures,
    )
    .gauge(
        "holt_credentials_provider_available",
        "1 while the certificate provider answers (0: the CA Secret unreadable, the SPIRE server down)",
        u64::from(progress.provider_error.is_none()),
    )
    .counter(
        "holt_credentials_spire_entries_pruned_total",
        "Holt's SPIRE entries deleted because their workload is gone",
        progress.entries_pruned,
    )
    .gauge(
        "holt_credentials_ca_expiry_seconds",
        "seconds until the newest CA ends",
        seconds_until(progress.newest_ca_expiry, now),
    )
    .counter(
        "holt_credentials_events_dropped_total",
        "Kubernetes Events dropped because too many were waiting",
        progress.events_dropped,
    );
    page.process();
    page.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_the_figures_and_seconds_to_the_earliest_expiry() {
        let now = Timestamp::from_second(1_000).expect("time");
        let progress = Progress {
            ready: true,
            issued: 7,
            renewals: 2,
            failures: 1,
            earliest_expiry: Some(Timestamp::from_second(1_090).expect("time")),
            ..Progress::default()
        };
        let text = metrics(&progress, now);
        for line in [
            "holt_credentials_ready 1\n",
            "holt_credentials_certificates_issued_total 7\n",
            "holt_credentials_renewals_total 2\n",
            "holt_credentials_failures_total 1\n",
            "holt_credentials_earliest_expiry_seconds 90\n",
            "# TYPE holt_credentials_certificates_issued_total counter\n",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
        let later = metrics(&progress, Timestamp::from_second(2_000).expect("time"));
        assert!(later.contains("holt_credentials_earliest_expiry_seconds 0\n"));
    }
}
