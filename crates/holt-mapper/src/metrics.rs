//! `/metrics` in the Prometheus text format (written by `holt_runtime::MetricsPage`): what the mapper received and made of it, and each node's
//! sniffer counters (packets, kernel drops, decode errors by category, report drops).

use holt_runtime::MetricsPage;
use holt_runtime::metrics::Labels;

use crate::ingest::Stats;

/// Everything `/metrics` shows, gathered under the state lock.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub stats: Stats,
    pub intents: usize,
    pub dns_addresses: usize,
    pub store: crate::store::StoreStats,
    pub snapshot_compactions: u64,
    pub snapshot_bytes: u64,
    pub snapshot_last_write_us: u64,
    /// Since the last write ended (nothing to write counts as written).
    pub snapshot_age_ms: u64,
    pub held: usize,
    pub pods: usize,
    pub services: usize,
    pub snapshot_writes: u64,
    pub snapshot_failures: u64,
    pub status_patches: u64,
    pub status_patch_failures: u64,
    pub connections: ConnectionFigures,
    pub access: AccessFigures,
    /// The insights' declared state; `None` while the insights are off.
    pub declared: Option<DeclaredFigures>,
    /// What the Kafka authorizer logs gave, and the records kept.
    pub kafka: crate::kafka_discovery::KafkaStats,
    pub kafka_records: usize,
    /// Each source of Kafka authorizer lines (`file <path>`, `pod <namespace>/<name>`) and its state.
    pub kafka_sources: Vec<(String, crate::kafka_source_health::SourceState)>,
}

/// The insights' declared state and computations, read once.
#[derive(Clone, Debug, Default)]
pub struct DeclaredFigures {
    /// Objects held, by kind.
    pub objects: Vec<(crate::declared::DeclaredKind, usize)>,
    /// Objects left out (`--max-declared-objects`), by kind.
    pub refused: Vec<(crate::declared::DeclaredKind, u64)>,
    pub computations: u64,
    pub last_computation_us: u64,
    /// Insights requests answered from the cache, and `304 Not Modified`.
    pub answered_from_cache: u64,
    pub not_modified: u64,
}

/// The access checks' counters, read once.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessFigures {
    pub enabled: bool,
    pub token_reviews: u64,
    pub access_reviews: u64,
    pub refused_no_credential: u64,
    pub refused_not_authenticated: u64,
    pub refused_forbidden: u64,
    pub refused_rate_limited: u64,
    pub refused_review_failed: u64,
}

impl AccessFigures {
    pub fn of(stats: &crate::access_review::AccessStats) -> AccessFigures {
        use std::sync::atomic::Ordering::Relaxed;
        AccessFigures {
            enabled: stats.enabled.load(Relaxed),
            token_reviews: stats.token_reviews.load(Relaxed),
            access_reviews: stats.access_reviews.load(Relaxed),
            refused_no_credential: stats.refused_no_credential.load(Relaxed),
            refused_not_authenticated: stats.refused_not_authenticated.load(Relaxed),
            refused_forbidden: stats.refused_forbidden.load(Relaxed),
            refused_rate_limited: stats.refused_rate_limited.load(Relaxed),
            refused_review_failed: stats.refused_review_failed.load(Relaxed),
        }
    }
}

/// The HTTP connections' counters, read once.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnectionFigures {
    pub open: u64,
    pub accepted: u64,
    pub refused: u64,
    pub timed_out_idle: u64,
    pub timed_out_header: u64,
    pub timed_out_request: u64,
}

impl ConnectionFigures {
    pub fn of(stats: &crate::connections::ConnectionStats) -> ConnectionFigures {
        use std::sync::atomic::Ordering::Relaxed;
        ConnectionFigures {
            open: stats.open.load(Relaxed),
            accepted: stats.accepted.load(Relaxed),
            refused: stats.refused.load(Relaxed),
            timed_out_idle: stats.timed_out_idle.load(Relaxed),
            timed_out_header: stats.timed_out_header.load(Relaxed),
            timed_out_request: stats.timed_out_request.load(Relaxed),
        }
    }
}

/// Renders the metrics.
pub fn render(m: &Metrics) -> String {
    let mut page = MetricsPage::new();
    page.counter(
        "holt_mapper_reports_received_total",
        "Sniffer reports received.",
        m.stats.reports,
    );
    page.counter(
        "holt_mapper_dns_answers_received_total",
        "DNS answers received in reports.",
        m.stats.dns_answers,
    );
    page.counter(
        "holt_mapper_connections_received_total",
        "Connections received in reports.",
        m.stats.connections,
    );
    page.counter(
        "holt_mapper_http_requests_received_total",
        "HTTP requests (method and path) received in reports.",
        m.stats.http_requests,
    );
    page.counter(
        "holt_mapper_observations_attributed_total",
        "DNS answers and connections attributed to a client workload.",
        m.stats.attributed.total(),
    );
    page.counter(
        "holt_mapper_observations_retried_total",
        "Held observations tried again.",
        m.stats.retried,
    );
    page.counter(
        "holt_mapper_observations_held_overflow_total",
        "Held observations dropped because too many were held.",
        m.stats.pending_overflow.total(),
    );
    page.gauge(
        "holt_mapper_observations_held",
        "Observations waiting for their pod or Service to be known.",
        m.held as u64,
    );
    page.gauge("holt_mapper_intents", "Discovered intents.", m.intents as u64);
    page.gauge("holt_mapper_pods", "Pods in the mapper's cache.", m.pods as u64);
    page.gauge(
        "holt_mapper_services",
        "Services in the mapper's cache.",
        m.services as u64,
    );
    page.counter(
        "holt_mapper_snapshot_writes_total",
        "Snapshots written to the state directory.",
        m.snapshot_writes,
    );
    page.counter(
        "holt_mapper_snapshot_failures_total",
        "Snapshots that could not be written.",
        m.snapshot_failures,
    );
    page.counter(
        "holt_mapper_intent_log_compactions_total",
        "Rewrites of the whole intent log (compactions).",
        m.snapshot_compactions,
    );
    page.gauge(
        "holt_mapper_intent_log_bytes",
        "Size of the intent log after its last write.",
        m.snapshot_bytes,
    );
    page.gauge(
        "holt_mapper_intent_log_last_write_microseconds",
        "How long the last write of the intent log took (changes appended, or a compaction).",
        m.snapshot_last_write_us,
    );
    page.gauge(
        "holt_mapper_intent_log_age_milliseconds",
        "Time since the intent log was last found up to date or written.",
        m.snapshot_age_ms,
    );
    page.gauge(
        "holt_mapper_dns_addresses",
        "(name, address) pairs of internet DNS answers kept.",
        m.dns_addresses as u64,
    );
    page.counter(
        "holt_mapper_internet_addresses_grouped_total",
        "Internet addresses kept as their network (a client past --group-internet-addresses-after).",
        m.store.addresses_grouped,
    );
    page.counter(
        "holt_mapper_target_addresses_not_listed_total",
        "Addresses of an internet target not listed (--max-addresses-per-target).",
        m.store.addresses_not_listed,
    );
    page.counter(
        "holt_mapper_dns_addresses_forgotten_total",
        "DNS answers (name, address) forgotten, the ones seen longest ago (--max-dns-addresses, --max-addresses-per-dns-name).",
        m.store.dns_addresses_forgotten,
    );
    page.counter(
        "holt_mapper_http_paths_folded_total",
        "HTTP paths kept in a coarser form because their server had --max-http-paths-per-server paths.",
        m.store.http_paths_folded,
    );
    page.counter(
        "holt_mapper_nodes_not_kept_total",
        "Reports whose node's sniffer counters were not kept (--max-nodes).",
        m.stats.nodes_not_kept,
    );
    page.counter(
        "holt_mapper_resolved_ips_patches_total",
        "ClientIntents status.resolvedIPs updates written.",
        m.status_patches,
    );
    page.counter(
        "holt_mapper_resolved_ips_patch_failures_total",
        "ClientIntents status.resolvedIPs updates that failed.",
        m.status_patch_failures,
    );

    page.gauge(
        "holt_mapper_authentication_enabled",
        "1 when reports, reads and resets need a credential and an RBAC verb; 0 with --insecure-skip-authentication.",
        u64::from(m.access.enabled),
    );
    page.counter(
        "holt_mapper_token_reviews_total",
        "TokenReviews asked of the API server (answers kept in the cache are not counted).",
        m.access.token_reviews,
    );
    page.counter(
        "holt_mapper_access_reviews_total",
        "SubjectAccessReviews asked of the API server (answers kept in the cache are not counted).",
        m.access.access_reviews,
    );
    page.gauge(
        "holt_mapper_connections",
        "HTTP connections open.",
        m.connections.open,
    );
    page.counter(
        "holt_mapper_connections_accepted_total",
        "HTTP connections accepted.",
        m.connections.accepted,
    );
    page.counter(
        "holt_mapper_connections_refused_total",
        "HTTP connections closed at once because --max-connections were open.",
        m.connections.refused,
    );
    page.counters(
        "holt_mapper_connections_timed_out_total",
        "HTTP connections closed by a timeout, by phase: idle, header, request.",
        [
            ("idle", m.connections.timed_out_idle),
            ("header", m.connections.timed_out_header),
            ("request", m.connections.timed_out_request),
        ]
        .map(|(phase, count)| (labels("phase", phase), count)),
    );
    page.counters(
        "holt_mapper_requests_refused_total",
        "API requests refused, by reason: no_credential and not_authenticated (401), forbidden (403), rate_limited (429, --max-reviews-per-second), review_failed (503).",
        [
            ("no_credential", m.access.refused_no_credential),
            ("not_authenticated", m.access.refused_not_authenticated),
            ("forbidden", m.access.refused_forbidden),
            ("rate_limited", m.access.refused_rate_limited),
            ("review_failed", m.access.refused_review_failed),
        ]
        .map(|(reason, count)| (labels("reason", reason), count)),
    );
    page.counters(
        "holt_mapper_intents_refused_total",
        "New intents not kept, by reason: store_full (--max-intents), client_full (--max-intents-per-client), internet_full (--max-internet-targets-per-client).",
        [
            crate::store::Refused::StoreFull,
            crate::store::Refused::ClientFull,
            crate::store::Refused::InternetFull,
        ]
        .map(|refused| {
            let count = m.store.refused.get(&refused).copied().unwrap_or(0);
            (labels("reason", refused.label()), count)
        }),
    );
    if let Some(declared) = &m.declared {
        page.gauge(
            "holt_mapper_declared_objects",
            "Objects the insights read (Namespaces, ClientIntents, ProtectedServices, NetworkPolicies not Holt's, Ingresses), all kinds together.",
            declared.objects.iter().map(|(_, n)| *n as u64).sum(),
        );
        page.counters(
            "holt_mapper_declared_objects_refused_total",
            "Objects the insights could not keep (--max-declared-objects), by kind; the insights answer 503 until a relist fits.",
            declared
                .refused
                .iter()
                .map(|(kind, count)| (labels("kind", kind.name()), *count)),
        );
        page.counter(
            "holt_mapper_insights_computations_total",
            "Insights computed (GET /v1/insights).",
            declared.computations,
        );
        page.gauge(
            "holt_mapper_insights_last_computation_microseconds",
            "How long the last insights computation took.",
            declared.last_computation_us,
        );
        page.counter(
            "holt_mapper_insights_answered_from_cache_total",
            "Insights requests answered with the answer kept for the unchanged state (no computation).",
            declared.answered_from_cache,
        );
        page.counter(
            "holt_mapper_insights_not_modified_total",
            "Insights requests answered 304 Not Modified (the caller's ETag names the unchanged state).",
            declared.not_modified,
        );
    }
    page.counters(
        "holt_mapper_observations_unresolved_total",
        "Observations dropped, by reason.",
        m.stats
            .unresolved
            .iter()
            .map(|(reason, count)| (labels("reason", reason), *count)),
    );
    type Field = fn(&holt_mapper_api::Counters) -> u64;
    let per_node: [(&str, &str, Field); 3] = [
        (
            "holt_sniffer_packets_total",
            "Frames the node's sniffer read.",
            |c| c.packets,
        ),
        (
            "holt_sniffer_kernel_drops_total",
            "Frames the kernel dropped before the node's sniffer read them.",
            |c| c.kernel_drops,
        ),
        (
            "holt_sniffer_report_drops_total",
            "Observations the node's sniffer could not deliver.",
            |c| c.report_drops,
        ),
    ];
    for (name, help, value) in per_node {
        page.counters(
            name,
            help,
            m.stats
                .sniffers
                .iter()
                .map(|(node, counters)| (labels("node", node), value(counters))),
        );
    }
    page.counters(
        "holt_sniffer_decode_errors_total",
        "Malformed frames, by node and category.",
        m.stats.sniffers.iter().flat_map(|(node, counters)| {
            counters.decode_errors.iter().map(move |(category, count)| {
                (
                    vec![("node", node.clone()), ("category", category.clone())],
                    *count,
                )
            })
        }),
    );
    page.gauge(
        "holt_mapper_kafka_topic_records",
        "(client, broker, topic) records of Kafka topic use kept (--max-kafka-topic-records).",
        m.kafka_records as u64,
    );
    page.counter(
        "holt_mapper_kafka_decisions_unattributed_total",
        "Kafka authorizer decisions whose client matched no workload (address or principal).",
        m.kafka.unattributed,
    );
    page.gauges(
        "holt_mapper_kafka_log_source_up",
        "1 when the last read of a source of Kafka authorizer lines (file, broker pod) worked, 0 when it failed or none was tried yet.",
        m.kafka_sources
            .iter()
            .map(|(source, state)| (labels("source", source), u64::from(state.up))),
    );
    page.counters(
        "holt_mapper_kafka_log_read_failures_total",
        "Reads of a source of Kafka authorizer lines (file, broker pod) that failed; retried every --kafka-log-interval-ms.",
        m.kafka_sources
            .iter()
            .map(|(source, state)| (labels("source", source), state.failures)),
    );
    reference_metrics(&mut page, m);
    page.process();
    page.render()
}

/// The reference mapper's counters under its names (docs/reference-behaviour.md#metrics), for dashboards built on
/// it. Its "socket scan" source is Holt's connections; "incoming" counts what reports brought, "reported"
/// what was attributed to a workload, "dropped" what was held and dropped because too many were held.
/// Kafka's are the decisions read from brokers' authorizer logs: incoming, attributed to a client
/// workload, and not kept past `--max-kafka-topic-records`. Holt reads no Istio telemetry yet: written as 0.
fn reference_metrics(page: &mut MetricsPage, m: &Metrics) {
    let stats = &m.stats;
    let figures: [(&str, &str, u64); 12] = [
        (
            "socketscan_reported_connections",
            "The total number of socket scan-sourced successfully reported connections (Holt: connections attributed)",
            stats.attributed.connections,
        ),
        (
            "dns_reported_connections",
            "The total number of DNS-sourced successfully reported connections (Holt: DNS answers attributed)",
            stats.attributed.dns,
        ),
        (
            "kafka_reported_topics",
            "The total number of Kafka-sourced successfully reported topics (Holt: authorizer decisions attributed)",
            m.kafka.attributed,
        ),
        (
            "istio_reported_connections",
            "The total number of Istio-sourced successfully reported connections (Holt: no Istio source yet)",
            0,
        ),
        (
            "socketscan_incoming_connections",
            "The total number of socket scan-sourced incoming connections (Holt: connections received)",
            stats.connections,
        ),
        (
            "dns_incoming_connections",
            "The total number of DNS-sourced incoming connections (Holt: DNS answers received)",
            stats.dns_answers,
        ),
        (
            "kafka_incoming_topics",
            "The total number of Kafka-sourced incoming topics (Holt: authorizer decisions on topics read)",
            m.kafka.decisions,
        ),
        (
            "istio_incoming_connections",
            "The total number of Istio-sourced incoming connections (Holt: no Istio source yet)",
            0,
        ),
        (
            "socketscan_dropped_connections",
            "The total number of socket scan-sourced reported connections that were dropped for performance",
            stats.pending_overflow.connections,
        ),
        (
            "dns_dropped_connections",
            "The total number of DNS-sourced reported connections that were dropped for performance",
            stats.pending_overflow.dns,
        ),
        (
            "kafka_dropped_topics",
            "The total number of Kafka-sourced reported topics that were dropped for performance",
            m.kafka.over_limit,
        ),
        (
            "istio_dropped_connections",
            "The total number of Istio-sourced reported connections that were dropped for performance",
            0,
        ),
    ];
    for (name, help, value) in figures {
        page.untyped(name, help, value);
    }
}

/// One label.
fn labels(name: &'static str, value: &str) -> Labels {
    vec![(name, value.to_owned())]
}

#[cfg(test)]
mod tests {
    use holt_mapper_api::Counters;

    use super::*;

    #[test]
    fn counters_and_per_node_sniffer_figures_are_rendered() {
        let mut m = Metrics {
            intents: 3,
            ..Metrics::default()
        };
        m.stats.reports = 2;
        m.stats.unresolved.insert("no_pod", 4);
        m.stats.sniffers.insert(
            "node-\"1\"".into(),
            Counters {
                packets: 10,
                kernel_drops: 1,
                decode_errors: [("truncated".to_owned(), 5)].into(),
                report_drops: 0,
            },
        );
        m.access.enabled = true;
        m.access.refused_forbidden = 6;
        m.stats.dns_answers = 7;
        m.stats.connections = 9;
        m.stats.attributed = crate::ingest::BySource {
            dns: 5,
            connections: 8,
            http: 2,
        };
        m.stats.pending_overflow.connections = 1;
        let text = render(&m);
        for sample in [
            "# TYPE dns_incoming_connections untyped\ndns_incoming_connections 7\n",
            "dns_reported_connections 5\n",
            "socketscan_incoming_connections 9\n",
            "socketscan_reported_connections 8\n",
            "socketscan_dropped_connections 1\n",
            "dns_dropped_connections 0\n",
            "kafka_reported_topics 0\n",
        ] {
            assert!(text.contains(sample), "{sample:?} missing from\n{text}");
        }
        assert!(text.contains("holt_mapper_reports_received_total 2\n"), "{text}");
        assert!(text.contains("holt_mapper_authentication_enabled 1\n"), "{text}");
        assert!(
            text.contains("holt_mapper_requests_refused_total{reason=\"forbidden\"} 6\n"),
            "{text}"
        );
        assert!(text.contains("holt_mapper_intents 3\n"), "{text}");
        assert!(
            text.contains("holt_mapper_observations_unresolved_total{reason=\"no_pod\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("holt_sniffer_kernel_drops_total{node=\"node-\\\"1\\\"\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "holt_sniffer_decode_errors_total{node=\"node-\\\"1\\\"\",category=\"truncated\"} 5\n"
            ),
            "{text}"
        );
    }
}
