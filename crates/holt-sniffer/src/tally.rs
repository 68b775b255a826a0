//! The sniffer's cumulative counters since it started: packets, kernel drops, decode errors and skips by
//! category, reports sent and failed, observations lost. In: increments from the capture loop and the
//! reporter. Out: the report's [`holt_mapper_api::Counters`] and the `/metrics` page.

use std::collections::BTreeMap;

use holt_mapper_api::Counters;
use holt_runtime::MetricsPage;
use holt_runtime::metrics::Labels;

/// Cumulative counters. Categories are `holt_decode`'s stable `category()` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Packets read from the ring.
    pub packets: u64,
    /// Packets the kernel dropped because the ring was full.
    pub kernel_drops: u64,
    /// Malformed or truncated packets, by category.
    pub decode_errors: BTreeMap<&'static str, u64>,
    /// Well-formed packets of no interest, by reason (DNS errors, responses without addresses, ...).
    pub skipped: BTreeMap<&'static str, u64>,
    /// DNS responses identical to one already recorded in the current batch (not decoded again).
    pub dns_repeats: u64,
    /// HTTP request lines recorded, by how much of the path was known: `whole`, `cut_by_segment` (the
    /// line was split across TCP segments: a prefix is reported), `too_long` (a prefix too).
    pub http_requests: BTreeMap<&'static str, u64>,
    /// Observations lost, by [`DropReason`].
    pub report_drops: BTreeMap<DropReason, u64>,
    /// Observations waiting to be delivered (the reporter's backlog), at its last tick.
    pub backlog: u64,
    /// The mapper's report limit the reporter works with, in bytes (0 until known).
    pub max_report_bytes: u64,
    pub reports_sent: u64,
    /// Exchanges that got no final answer (no connection, timeout, `5xx`): tried again later.
    pub reports_failed: u64,
    /// Reports the mapper refused with a `4xx` other than `401`, `403`, `413` and `429` (their observations dropped).
    pub reports_rejected: u64,
    /// Reports the mapper found too large (`413`): cut smaller and sent again.
    pub reports_too_large: u64,
    /// Reports whose credential the mapper refused (`401`, `403`): kept and tried again later.
    pub reports_unauthorized: u64,
    /// Socket scans that failed to read a process's tables (the process usually just exited).
    pub scan_errors: u64,
}

/// Why observations were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// The capture batch of one report interval was full (`--max-batch` distinct observations).
    BatchFull,
    /// The backlog was full while the mapper could not be reached: the oldest observations went.
    BacklogFull,
    /// The mapper answered a `4xx` other than `401`, `403`, `413` and `429`: that report is dropped, never sent again.
    Rejected,
    /// One observation alone made a report larger than the mapper's limit.
    TooLarge,
    /// Still undelivered when the sniffer stopped.
    Shutdown,
}

impl DropReason {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::BatchFull => "batch_full",
            DropReason::BacklogFull => "backlog_full",
            DropReason::Rejected => "rejected",
            DropReason::TooLarge => "too_large",
            DropReason::Shutdown => "shutdown",
        }
    }

    pub const ALL: [DropReason; 5] = [
        DropReason::BatchFull,
        DropReason::BacklogFull,
        DropReason::Rejected,
        DropReason::TooLarge,
        DropReason::Shutdown,
    ];
}

impl Tally {
    /// Counts `count` observations lost for `reason`.
    pub fn dropped(&mut self, reason: DropReason, count: u64) {
        if count > 0 {
            *self.report_drops.entry(reason).or_default() += count;
        }
    }

    /// Observations lost, whatever the reason.
    pub fn report_drops_total(&self) -> u64 {
        self.report_drops.values().sum()
    }

    pub fn decode_error(&mut self, category: &'static str) {
        *self.decode_errors.entry(category).or_default() += 1;
    }

    pub fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// The counters a report carries.
    pub fn counters(&self) -> Counters {
        Counters {
            packets: self.packets,
            kernel_drops: self.kernel_drops,
            decode_errors: self
                .decode_errors
                .iter()
                .map(|(category, count)| ((*category).to_owned(), *count))
                .collect(),
            report_drops: self.report_drops_total(),
        }
    }

    /// The Prometheus text exposition of every counter.
    pub fn render_metrics(&self) -> String {
        let labelled = |label: &'static str, map: &BTreeMap<&'static str, u64>| -> Vec<(Labels, u64)> {
            map.iter()
                .map(|(key, value)| (vec![(label, (*key).to_owned())], *value))
                .collect()
        };
        let result = |result: &str, value: u64| (vec![("result", result.to_owned())], value);
        let mut page = MetricsPage::new();
        page.counter(
            "holt_sniffer_packets_total",
            "Packets read from the capture ring.",
            self.packets,
        )
        .counter(
            "holt_sniffer_kernel_drops_total",
            "Packets the kernel dropped because the capture ring was full.",
            self.kernel_drops,
        )
        .counters(
            "holt_sniffer_decode_errors_total",
            "Malformed or truncated packets, by category.",
            labelled("category", &self.decode_errors),
        )
        .counters(
            "holt_sniffer_skipped_total",
            "Well-formed packets that carried nothing to record, by reason.",
            labelled("reason", &self.skipped),
        )
        .counter(
            "holt_sniffer_dns_repeats_total",
            "DNS responses identical to one already recorded in the current batch, not decoded again.",
            self.dns_repeats,
        )
        .counters(
            "holt_sniffer_http_requests_total",
            "HTTP request lines recorded, by path: whole, cut_by_segment or too_long (reported as a prefix).",
            labelled("path", &self.http_requests),
        )
        .counters(
            "holt_sniffer_report_drops_total",
            "Observations lost, by reason: batch_full, backlog_full, rejected (by the mapper, 4xx), too_large, shutdown.",
            DropReason::ALL.iter().map(|reason| {
                (
                    vec![("reason", reason.label().to_owned())],
                    self.report_drops.get(reason).copied().unwrap_or(0),
                )
            }),
        )
        .counters(
            "holt_sniffer_reports_total",
            "Reports posted to the mapper, by result.",
            [
                result("sent", self.reports_sent),
                result("failed", self.reports_failed),
                result("rejected", self.reports_rejected),
                result("too_large", self.reports_too_large),
                result("unauthorized", self.reports_unauthorized),
            ],
        )
        .counter(
            "holt_sniffer_scan_errors_total",
            "Processes whose socket tables could not be read during a socket scan.",
            self.scan_errors,
        )
        .gauge(
            "holt_sniffer_backlog_observations",
            "Observations waiting to be delivered to the mapper.",
            self.backlog,
        )
        .gauge(
            "holt_sniffer_max_report_bytes",
            "The mapper's report limit in use (0 until known).",
            self.max_report_bytes,
        );
        page.process();
        page.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_metrics_carry_the_categories() {
        let mut tally = Tally {
            packets: 7,
            kernel_drops: 2,
            ..Tally::default()
        };
        tally.decode_error("truncated");
        tally.decode_error("truncated");
        tally.decode_error("bad_length");
        tally.skip("dns_rcode");
        tally.reports_failed = 1;
        tally.dropped(DropReason::Rejected, 3);
        tally.dropped(DropReason::BacklogFull, 2);
        let counters = tally.counters();
        assert_eq!(counters.packets, 7);
        assert_eq!(counters.decode_errors.get("truncated"), Some(&2));
        let metrics = tally.render_metrics();
        assert!(metrics.contains("holt_sniffer_decode_errors_total{category=\"truncated\"} 2\n"));
        assert!(metrics.contains("holt_sniffer_skipped_total{reason=\"dns_rcode\"} 1\n"));
        assert!(metrics.contains("holt_sniffer_reports_total{result=\"failed\"} 1\n"));
        assert!(metrics.contains("holt_sniffer_kernel_drops_total 2\n"));
        assert!(metrics.contains("holt_sniffer_report_drops_total{reason=\"rejected\"} 3\n"));
        assert!(metrics.contains("holt_sniffer_report_drops_total{reason=\"shutdown\"} 0\n"));
        assert_eq!(counters.report_drops, 5);
    }
}
