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
    reference_metrics(&mut page, progress);
    page.process();
    page.render()
}

/// The reference's metric names with the same meaning (docs/reference-behaviour.md#metrics), so that
/// dashboards and alerts built for it keep working: its own counters, and controller-runtime's reconcile and
/// work-queue series, for which Holt's controller is one reconciler (`controller="holt"`) whose reconciles
/// are its render-and-apply passes and whose queue holds render units.
fn reference_metrics(page: &mut MetricsPage, progress: &Progress) {
    let tally = &progress.tally;
    let counters: [(&str, &str, u64); 5] = [
        (
            "clientintents_applied",
            "The total number of ClientIntents applied (per ClientIntents applied, the calls all declare)",
            progress.intents_applied,
        ),
        (
            "network_policies_created",
            "The total number of network policies created",
            tally.network_policies_created,
        ),
        (
            "network_policies_deleted",
            "The total number of network policies deleted",
            tally.network_policies_deleted,
        ),
        (
            "pods_labeled_for_network_policy",
            "The total number of pods labeled to participate in a network policy",
            tally.pods_labeled,
        ),
        (
            "pods_unlabeled_for_network_policy",
            "The total number of pods unlabeled so they no longer participate in a network policy",
            tally.pods_unlabeled,
        ),
    ];
    for (name, help, value) in counters {
        page.untyped(name, help, value);
    }
    page.gauge(
        "protected_services_applied",
        "The total number of ProtectedService resources applied",
        progress.protected_services as u64,
    );
    let controller = || vec![("controller", "holt".to_owned())];
    let queue = || vec![("name", "holt".to_owned())];
    let failed = progress.failed_passes.min(progress.passes);
    page.counters(
        "controller_runtime_reconcile_total",
        "Total number of reconciliations per controller (Holt: render-and-apply passes)",
        [
            (
                vec![
                    ("controller", "holt".to_owned()),
                    ("result", "success".to_owned()),
                ],
                progress.passes - failed,
            ),
            (
                vec![("controller", "holt".to_owned()), ("result", "error".to_owned())],
                failed,
            ),
        ],
    );
    page.counters(
        "controller_runtime_reconcile_errors_total",
        "Total number of reconciliation errors per controller (Holt: passes with a failed write)",
        [(controller(), failed)],
    );
    page.labelled_histogram(
        "controller_runtime_reconcile_time_seconds",
        "Length of time per reconciliation per controller",
        controller(),
        progress.pass_durations.figures(),
    );
    page.gauges(
        "workqueue_depth",
        "Current depth of workqueue (Holt: render units waiting for the next pass)",
        [(queue(), progress.units_pending as u64)],
    );
    page.counters(
        "workqueue_adds_total",
        "Total number of adds handled by workqueue (Holt: render units rendered)",
        [(queue(), progress.units_rendered)],
    );
    page.counters(
        "workqueue_retries_total",
        "Total number of retries handled by workqueue (Holt: failed units rendered again)",
        [(queue(), progress.units_retried)],
    );
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
        let holt_samples = text.lines().filter(|l| l.starts_with("holt_")).count();
        assert_eq!(holt_samples, 21 + 13);
    }

    #[test]
    fn the_reference_names_carry_the_same_figures() {
        let mut progress = Progress {
            passes: 5,
            failed_passes: 2,
            units_pending: 4,
            units_rendered: 30,
            units_retried: 3,
            intents_applied: 12,
            protected_services: 2,
            tally: crate::apply::WriteTally {
                network_policies_created: 6,
                network_policies_deleted: 1,
                pods_labeled: 9,
                pods_unlabeled: 2,
            },
            ..Progress::default()
        };
        progress.pass_durations.observe(1500);
        let text = metrics(&progress);
        for sample in [
            "clientintents_applied 12\n",
            "network_policies_created 6\n",
            "network_policies_deleted 1\n",
            "pods_labeled_for_network_policy 9\n",
            "pods_unlabeled_for_network_policy 2\n",
            "protected_services_applied 2\n",
            "controller_runtime_reconcile_total{controller=\"holt\",result=\"success\"} 3\n",
            "controller_runtime_reconcile_total{controller=\"holt\",result=\"error\"} 2\n",
            "controller_runtime_reconcile_errors_total{controller=\"holt\"} 2\n",
            "controller_runtime_reconcile_time_seconds_count{controller=\"holt\"} 1\n",
            "workqueue_depth{name=\"holt\"} 4\n",
            "workqueue_adds_total{name=\"holt\"} 30\n",
            "workqueue_retries_total{name=\"holt\"} 3\n",
            "process_resident_memory_bytes ",
        ] {
            assert!(text.contains(sample), "{sample:?} missing from\n{text}");
        }
    }
}
