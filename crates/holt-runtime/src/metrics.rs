//! A `/metrics` page in the Prometheus text format (0.0.4), written by `prometheus-client`. The binaries
//! keep their figures where they count them (a progress snapshot, counters under a lock) and write a page
//! from them at each scrape: counters, gauges, labelled counters and histograms, in the order added.
//!
//! In: names (as they appear on the page: counters with their `_total`), help texts, values. Out: the page
//! ([`MetricsPage::render`]) and its content type ([`CONTENT_TYPE`]). [`MetricsPage::process`] adds the
//! process's own figures (memory, CPU, file descriptors, start time; see [`crate::process`]).
//!
//! Names kept for another project's dashboards that count without the `_total` suffix (the reference's
//! `network_policies_created`, ...) are written [`MetricsPage::untyped`]: `prometheus-client` follows
//! OpenMetrics and gives every counter a `_total` suffix, and a query by name (`rate(...)`,
//! `increase(...)`) treats an untyped series as it treats a counter.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The content type of the page.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Label names and values of one sample.
pub type Labels = Vec<(&'static str, String)>;

/// The metrics of one page, in the order added.
#[derive(Clone, Debug, Default)]
pub struct MetricsPage {
    families: Vec<Family>,
}

#[derive(Clone, Debug)]
struct Family {
    /// The name without the `_total` prometheus-client adds to counters.
    name: String,
    help: String,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Counter(Vec<(Labels, u64)>),
    FloatCounter(f64),
    Gauge(Vec<(Labels, u64)>),
    FloatGauge(f64),
    Untyped(u64),
    Histogram(Labels, Histogram),
}

/// A histogram's figures: `buckets` holds each upper bound with the observations above the previous bound
/// and at most this one (not cumulative); larger ones count only in `count`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum: f64,
}

impl MetricsPage {
    pub fn new() -> MetricsPage {
        MetricsPage::default()
    }

    /// A counter without labels; `name` ends with `_total`.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) -> &mut Self {
        self.counters(name, help, [(Labels::new(), value)])
    }

    /// A counter with one sample per label set (none: only its help and type are written); `name` ends
    /// with `_total`.
    pub fn counters(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Labels, u64)>,
    ) -> &mut Self {
        let name = name.strip_suffix("_total").unwrap_or(name);
        self.push(name, help, Kind::Counter(samples.into_iter().collect()))
    }

    /// A counter of a fractional quantity (seconds); `name` ends with `_total`.
    pub fn float_counter(&mut self, name: &str, help: &str, value: f64) -> &mut Self {
        let name = name.strip_suffix("_total").unwrap_or(name);
        self.push(name, help, Kind::FloatCounter(value))
    }

    /// A gauge without labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: u64) -> &mut Self {
        self.gauges(name, help, [(Labels::new(), value)])
    }

    /// A gauge with one sample per label set.
    pub fn gauges(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Labels, u64)>,
    ) -> &mut Self {
        self.push(name, help, Kind::Gauge(samples.into_iter().collect()))
    }

    /// A gauge of a fractional quantity (seconds since the epoch).
    pub fn float_gauge(&mut self, name: &str, help: &str, value: f64) -> &mut Self {
        self.push(name, help, Kind::FloatGauge(value))
    }

    /// A sample written exactly under `name`, typed `untyped`: for counters whose name another project's
    /// dashboards know without the `_total` suffix (see the module's documentation).
    pub fn untyped(&mut self, name: &str, help: &str, value: u64) -> &mut Self {
        self.push(name, help, Kind::Untyped(value))
    }

    /// A histogram: `name_bucket` (with `le`), `name_sum` and `name_count`.
    pub fn histogram(&mut self, name: &str, help: &str, histogram: Histogram) -> &mut Self {
        self.labelled_histogram(name, help, Labels::new(), histogram)
    }

    /// A histogram whose samples all carry `labels` (before `le`).
    pub fn labelled_histogram(
        &mut self,
        name: &str,
        help: &str,
        labels: Labels,
        histogram: Histogram,
    ) -> &mut Self {
        self.push(name, help, Kind::Histogram(labels, histogram))
    }

    fn push(&mut self, name: &str, help: &str, kind: Kind) -> &mut Self {
        self.families.push(Family {
            name: name.to_owned(),
            help: help.to_owned(),
            kind,
        });
        self
    }

    /// The page.
    pub fn render(self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        let mut text = String::new();
        // Writing to a String cannot fail; a metric that could not be written would end the page early.
        if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry) {
            tracing::error!(%error, "the metrics page is incomplete");
        }
        text
    }
}

impl Collector for MetricsPage {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.families {
            let metric_type = match family.kind {
                Kind::Counter(_) | Kind::FloatCounter(_) => MetricType::Counter,
                Kind::Gauge(_) | Kind::FloatGauge(_) => MetricType::Gauge,
                Kind::Untyped(_) => MetricType::Unknown,
                Kind::Histogram(..) => MetricType::Histogram,
            };
            let mut metric = encoder.encode_descriptor(&family.name, &family.help, None, metric_type)?;
            match &family.kind {
                Kind::Counter(samples) => {
                    for (labels, value) in samples {
                        match labels.is_empty() {
                            true => metric.encode_counter::<NoLabelSet, u64, u64>(value, None)?,
                            false => metric
                                .encode_family(labels)?
                                .encode_counter::<NoLabelSet, u64, u64>(value, None)?,
                        }
                    }
                }
                Kind::FloatCounter(value) => metric.encode_counter::<NoLabelSet, f64, u64>(value, None)?,
                Kind::Gauge(samples) => {
                    for (labels, value) in samples {
                        match labels.is_empty() {
                            true => metric.encode_gauge(value)?,
                            false => metric.encode_family(labels)?.encode_gauge(value)?,
                        }
                    }
                }
                Kind::FloatGauge(value) => metric.encode_gauge(value)?,
                Kind::Untyped(value) => metric.encode_gauge(value)?,
                Kind::Histogram(labels, histogram) => {
                    let (sum, count, buckets) = (histogram.sum, histogram.count, &histogram.buckets);
                    match labels.is_empty() {
                        true => metric.encode_histogram::<NoLabelSet>(sum, count, buckets, None)?,
                        false => metric
                            .encode_family(labels)?
                            .encode_histogram::<NoLabelSet>(sum, count, buckets, None)?,
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_histograms_are_written_in_order() {
        let mut page = MetricsPage::new();
        page.counter("holt_writes_total", "writes sent", 7)
            .gauge("holt_ready", "1 when ready", 1)
            .counters(
                "holt_refused_total",
                "refused, by reason",
                [
                    (vec![("reason", "forbidden".to_owned())], 2),
                    (vec![("reason", "a \"quoted\" \\ one".to_owned())], 3),
                ],
            )
            .counters("holt_none_total", "nothing yet", [])
            .histogram(
                "holt_pass_duration_seconds",
                "pass durations",
                Histogram {
                    buckets: vec![(0.005, 1), (1.0, 2), (30.0, 0)],
                    count: 4,
                    sum: 62.0085,
                },
            )
            .untyped(
                "network_policies_created",
                "created, under the reference's name",
                5,
            )
            .gauges(
                "workqueue_depth",
                "waiting",
                [(vec![("name", "holt".to_owned())], 2)],
            )
            .float_counter("process_cpu_seconds_total", "cpu", 1.25)
            .labelled_histogram(
                "reconcile_time_seconds",
                "by controller",
                vec![("controller", "holt".to_owned())],
                Histogram {
                    buckets: vec![(0.1, 1)],
                    count: 1,
                    sum: 0.05,
                },
            );
        let text = page.render();
        let expected = "\
# HELP holt_writes_total writes sent
# TYPE holt_writes_total counter
holt_writes_total 7
# HELP holt_ready 1 when ready
# TYPE holt_ready gauge
holt_ready 1
# HELP holt_refused_total refused, by reason
# TYPE holt_refused_total counter
holt_refused_total{reason=\"forbidden\"} 2
holt_refused_total{reason=\"a \\\"quoted\\\" \\\\ one\"} 3
# HELP holt_none_total nothing yet
# TYPE holt_none_total counter
# HELP holt_pass_duration_seconds pass durations
# TYPE holt_pass_duration_seconds histogram
holt_pass_duration_seconds_bucket{le=\"0.005\"} 1
holt_pass_duration_seconds_bucket{le=\"1\"} 3
holt_pass_duration_seconds_bucket{le=\"30\"} 3
holt_pass_duration_seconds_bucket{le=\"+Inf\"} 4
holt_pass_duration_seconds_sum 62.0085
holt_pass_duration_seconds_count 4
# HELP network_policies_created created, under the reference's name
# TYPE network_policies_created untyped
network_policies_created 5
# HELP workqueue_depth waiting
# TYPE workqueue_depth gauge
workqueue_depth{name=\"holt\"} 2
# HELP process_cpu_seconds_total cpu
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.25
# HELP reconcile_time_seconds by controller
# TYPE reconcile_time_seconds histogram
reconcile_time_seconds_bucket{controller=\"holt\",le=\"0.1\"} 1
reconcile_time_seconds_bucket{controller=\"holt\",le=\"+Inf\"} 1
reconcile_time_seconds_sum{controller=\"holt\"} 0.05
reconcile_time_seconds_count{controller=\"holt\"} 1
";
        assert_eq!(text, expected);
    }
}
