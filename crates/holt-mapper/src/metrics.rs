//! `/metrics` in the Prometheus text format: what the mapper received and made of it, and each node's
//! sniffer counters (packets, kernel drops, decode errors by category, report drops).

use std::fmt::Write;

use crate::ingest::Stats;

/// Everything `/metrics` shows, gathered under the state lock.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub stats: Stats,
    pub intents: usize,
    pub held: usize,
    pub pods: usize,
    pub services: usize,
    pub snapshot_writes: u64,
    pub snapshot_failures: u64,
    pub status_patches: u64,
    pub status_patch_failures: u64,
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
        let text = render(&m);
        assert!(text.contains("holt_mapper_reports_received_total 2\n"), "{text}");
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
