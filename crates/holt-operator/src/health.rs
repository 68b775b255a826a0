//! `/healthz` (the controller loop is alive), `/readyz` (every watch has listed and the first full pass is
//! done: failing units do not make the operator unready, they are metrics, conditions and Events) and
//! `/metrics` (Prometheus text format, written by `holt_runtime::MetricsPage`), served by
//! `holt_runtime::probes`.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use holt_runtime::MetricsPage;
use holt_runtime::probes::{self, Probes};

use crate::controller::Progress;

/// Serves the probes until the process ends.
pub async fn serve(address: SocketAddr, progress: watch::Receiver<Progress>) -> std::io::Result<()> {
    let metrics_progress = progress.clone();
    let probes = Probes {
        ready: Arc::new(move || progress.borrow().ready),
        not_ready_reason: "caches not synced or first pass not done",
        metrics: Arc::new(move || metrics(&metrics_progress.borrow())),
    };
    probes::serve(address, probes).await
}

/// The controller's progress in the Prometheus text format.
pub fn metrics(progress: &Progress) -> String {
    let figures: [(&str, &str, &str, u64); 21] = [
        (
            "holt_ready",
            "gauge",
            "1 when every watch has listed and the first full pass is applied",
            u64::from(progress.ready),
        ),
        (
            "holt_reconcile_passes_total",
            "counter",
            "render-and-apply passes completed",
            progress.passes,
        ),
        (
            "holt_api_writes_total",
            "counter",
            "writes sent to the API server",
            progress.writes,
        ),
        (
            "holt_api_write_errors_total",
            "counter",
            "writes the API server refused or that failed (each is retried)",
            progress.write_errors,
        ),
        (
            "holt_kafka_reconciles_total",
            "counter",
            "Kafka broker ACL reconciles finished",
            progress.kafka_reconciles,
        ),
        (
            "holt_kafka_reconcile_errors_total",
            "counter",
            "Kafka broker ACL reconciles that failed (each is retried with back-off)",
            progress.kafka_failures,
        ),
        (
            "holt_kafka_brokers_failing",
            "gauge",
            "brokers whose last ACL reconcile failed",
            progress.kafka_brokers_failing as u64,
        ),
        (
            "holt_kafka_broker_tasks",
            "gauge",
            "broker tasks running: brokers with a KafkaServerConfig, or with ACLs of Holt's left to remove",
            progress.kafka_broker_tasks as u64,
        ),
        (
            "holt_units_failing",
            "gauge",
            "render units whose last write failed (each retried on its own back-off)",
            progress.failing as u64,
        ),
        (
            "holt_units_waiting_for_namespace",
            "gauge",
            "render units with objects waiting for a namespace that does not exist yet",
            progress.waiting_for_namespace as u64,
        ),
        (
            "holt_object_names_taken",
            "gauge",
            "objects Holt wants whose names are taken by objects it did not create (left alone)",
            progress.names_taken as u64,
        ),
        (
            "holt_drift_repairs_total",
            "counter",
            "objects of Holt's rewritten because they were changed or deleted behind its back",
            progress.drift_repairs,
        ),
        (
            "holt_reference_objects_adopted_total",
            "counter",
            "the reference operator's objects Holt replaced in place and owns since (migration)",
            progress.reference_adopted,
        ),
        (
            "holt_reference_objects_deleted_total",
            "counter",
            "the reference operator's objects Holt did not want, deleted after its first full pass (migration)",
            progress.reference_deleted,
        ),
        (
            "holt_events_dropped_total",
            "counter",
            "Kubernetes Events dropped because too many were waiting to be published",
            progress.events_dropped,
        ),
        (
            "holt_status_writes_total",
            "counter",
            "ClientIntents status writes (part of holt_api_writes_total)",
            progress.status_writes,
        ),
        (
            "holt_finalizer_writes_total",
            "counter",
            "finalizer patches (part of holt_api_writes_total)",
            progress.finalizer_writes,
        ),
        (
            "holt_index_pods",
            "gauge",
            "pods in the model",
            progress.pods as u64,
        ),
        (
            "holt_index_services",
            "gauge",
            "Services in the model",
            progress.services as u64,
        ),
        (
            "holt_index_client_intents",
            "gauge",
            "ClientIntents in the model",
            progress.intents as u64,
        ),
        (
            "holt_index_servers",
            "gauge",
            "servers with declared clients",
            progress.servers as u64,
        ),
    ];
    let mut page = MetricsPage::new();
    for (name, kind, help, value) in figures {
        match kind {
            "counter" => page.counter(name, help, value),
            _ => page.gauge(name, help, value),
        };
    }
    page.histogram(
        "holt_reconcile_pass_duration_seconds",
        "how long render-and-apply passes took",
        progress.pass_durations.figures(),
    );
    page.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_in_the_prometheus_text_format() {
        let mut progress = Progress {
            ready: true,
            writes: 7,
            pods: 3,
            ..Progress::default()
        };
        progress.pass_durations.observe(1500);
        let text = metrics(&progress);
        assert!(
            text.contains("# TYPE holt_api_writes_total counter\nholt_api_writes_total 7\n"),
            "{text}"
        );
        assert!(text.contains("holt_ready 1\n") && text.contains("holt_index_pods 3\n"));
        assert!(
            text.contains("holt_reconcile_pass_duration_seconds_bucket{le=\"0.005\"} 1\n")
                && text.contains("holt_reconcile_pass_duration_seconds_sum 0.0015\n"),
            "{text}"
        );
        // 21 gauges and counters, and the histogram's 11 buckets, sum and count.
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 21 + 13);
    }
}
