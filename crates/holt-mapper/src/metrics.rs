//! `/metrics` in the Prometheus text format: what the mapper received and made of it, and each node's
//! sniffer counters (packets, kernel drops, decode errors by category, report drops).

use std::fmt::Write;

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

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Renders the metrics.
pub fn render(m: &Metrics) -> String {
    let mut out = String::new();
    let mut single = |name: &str, kind: &str, help: &str, value: u64| {
        family(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    };
    single(
        "holt_mapper_reports_received_total",
        "counter",
        "Sniffer reports received.",
        m.stats.reports,
    );
    single(
        "holt_mapper_dns_answers_received_total",
        "counter",
        "DNS answers received in reports.",
        m.stats.dns_answers,
    );
    single(
        "holt_mapper_connections_received_total",
        "counter",
        "Connections received in reports.",
        m.stats.connections,
    );
    single(
        "holt_mapper_observations_attributed_total",
        "counter",
        "DNS answers and connections attributed to a client workload.",
        m.stats.attributed,
    );
    single(
        "holt_mapper_observations_retried_total",
        "counter",
        "Held observations tried again.",
        m.stats.retried,
    );
    single(
        "holt_mapper_observations_held_overflow_total",
        "counter",
        "Held observations dropped because too many were held.",
        m.stats.pending_overflow,
    );
    single(
        "holt_mapper_observations_held",
        "gauge",
        "Observations waiting for their pod or Service to be known.",
        m.held as u64,
    );
    single(
        "holt_mapper_intents",
        "gauge",
        "Discovered intents.",
        m.intents as u64,
    );
    single(
        "holt_mapper_pods",
        "gauge",
        "Pods in the mapper's cache.",
        m.pods as u64,
    );
    single(
        "holt_mapper_services",
        "gauge",
        "Services in the mapper's cache.",
        m.services as u64,
    );
    single(
        "holt_mapper_snapshot_writes_total",
        "counter",
        "Snapshots written to the state directory.",
        m.snapshot_writes,
    );
    single(
        "holt_mapper_snapshot_failures_total",
        "counter",
        "Snapshots that could not be written.",
        m.snapshot_failures,
    );
    single(
        "holt_mapper_intent_log_compactions_total",
        "counter",
        "Rewrites of the whole intent log (compactions).",
        m.snapshot_compactions,
    );
    single(
        "holt_mapper_intent_log_bytes",
        "gauge",
        "Size of the intent log after its last write.",
        m.snapshot_bytes,
    );
    single(
        "holt_mapper_intent_log_last_write_microseconds",
        "gauge",
        "How long the last write of the intent log took (changes appended, or a compaction).",
        m.snapshot_last_write_us,
    );
    single(
        "holt_mapper_intent_log_age_milliseconds",
        "gauge",
        "Time since the intent log was last found up to date or written.",
        m.snapshot_age_ms,
    );
    single(
        "holt_mapper_dns_addresses",
        "gauge",
        "(name, address) pairs of internet DNS answers kept.",
        m.dns_addresses as u64,
    );
    single(
        "holt_mapper_internet_addresses_grouped_total",
        "counter",
        "Internet addresses kept as their network (a client past --group-internet-addresses-after).",
        m.store.addresses_grouped,
    );
    single(
        "holt_mapper_target_addresses_not_listed_total",
        "counter",
        "Addresses of an internet target not listed (--max-addresses-per-target).",
        m.store.addresses_not_listed,
    );
    single(
        "holt_mapper_dns_addresses_forgotten_total",
        "counter",
        "DNS answers (name, address) forgotten, the ones seen longest ago (--max-dns-addresses, --max-addresses-per-dns-name).",
        m.store.dns_addresses_forgotten,
    );
    single(
        "holt_mapper_nodes_not_kept_total",
        "counter",
        "Reports whose node's sniffer counters were not kept (--max-nodes).",
        m.stats.nodes_not_kept,
    );
    single(
        "holt_mapper_resolved_ips_patches_total",
        "counter",
        "ClientIntents status.resolvedIPs updates written.",
        m.status_patches,
    );
    single(
        "holt_mapper_resolved_ips_patch_failures_total",
        "counter",
        "ClientIntents status.resolvedIPs updates that failed.",
        m.status_patch_failures,
    );

    single(
        "holt_mapper_authentication_enabled",
        "gauge",
        "1 when reports, reads and resets need a credential and an RBAC verb; 0 with --insecure-skip-authentication.",
        u64::from(m.access.enabled),
    );
    single(
        "holt_mapper_token_reviews_total",
        "counter",
        "TokenReviews asked of the API server (answers kept in the cache are not counted).",
        m.access.token_reviews,
    );
    single(
        "holt_mapper_access_reviews_total",
        "counter",
        "SubjectAccessReviews asked of the API server (answers kept in the cache are not counted).",
        m.access.access_reviews,
    );
    single(
        "holt_mapper_connections",
        "gauge",
        "HTTP connections open.",
        m.connections.open,
    );
    single(
        "holt_mapper_connections_accepted_total",
        "counter",
        "HTTP connections accepted.",
        m.connections.accepted,
    );
    single(
        "holt_mapper_connections_refused_total",
        "counter",
        "HTTP connections closed at once because --max-connections were open.",
        m.connections.refused,
    );
    family(
        &mut out,
        "holt_mapper_connections_timed_out_total",
        "counter",
        "HTTP connections closed by a timeout, by phase: idle, header, request.",
    );
    for (phase, count) in [
        ("idle", m.connections.timed_out_idle),
        ("header", m.connections.timed_out_header),
        ("request", m.connections.timed_out_request),
    ] {
        let _ = writeln!(
            out,
            "holt_mapper_connections_timed_out_total{{phase=\"{phase}\"}} {count}"
        );
    }
    family(
        &mut out,
        "holt_mapper_requests_refused_total",
        "counter",
        "API requests refused, by reason: no_credential and not_authenticated (401), forbidden (403), rate_limited (429, --max-reviews-per-second), review_failed (503).",
    );
    for (reason, count) in [
        ("no_credential", m.access.refused_no_credential),
        ("not_authenticated", m.access.refused_not_authenticated),
        ("forbidden", m.access.refused_forbidden),
        ("rate_limited", m.access.refused_rate_limited),
        ("review_failed", m.access.refused_review_failed),
    ] {
        let _ = writeln!(
            out,
            "holt_mapper_requests_refused_total{{reason=\"{reason}\"}} {count}"
        );
    }
    family(
        &mut out,
        "holt_mapper_intents_refused_total",
        "counter",
        "New intents not kept, by reason: store_full (--max-intents), client_full (--max-intents-per-client), internet_full (--max-internet-targets-per-client).",
    );
    for refused in [
        crate::store::Refused::StoreFull,
        crate::store::Refused::ClientFull,
        crate::store::Refused::InternetFull,
    ] {
        let count = m.store.refused.get(&refused).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "holt_mapper_intents_refused_total{{reason=\"{}\"}} {count}",
            refused.label()
        );
    }
    family(
        &mut out,
        "holt_mapper_observations_unresolved_total",
        "counter",
        "Observations dropped, by reason.",
    );
    for (reason, count) in &m.stats.unresolved {
        let _ = writeln!(
            out,
            "holt_mapper_observations_unresolved_total{{reason=\"{reason}\"}} {count}"
        );
    }
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
        family(&mut out, name, "counter", help);
        for (node, counters) in &m.stats.sniffers {
            let _ = writeln!(out, "{name}{{node=\"{}\"}} {}", escape(node), value(counters));
        }
    }
    family(
        &mut out,
        "holt_sniffer_decode_errors_total",
        "counter",
        "Malformed frames, by node and category.",
    );
    for (node, counters) in &m.stats.sniffers {
        for (category, count) in &counters.decode_errors {
            let _ = writeln!(
                out,
                "holt_sniffer_decode_errors_total{{node=\"{}\",category=\"{}\"}} {count}",
                escape(node),
                escape(category)
            );
        }
    }
    out
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
        let text = render(&m);
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
