//! A `/metrics` page in the Prometheus text format (0.0.4), written by `prometheus-client`. The binaries
//! keep their figures where they count them (a progress snapshot, counters under a lock) and write a page
//! from them at each scrape: counters, gauges, labelled counters and histograms, in the order added.
//!
//! In: names (as they appear on the page: counters with their `_total`), help texts, values. Out: the page
//! ([`MetricsPage::render`]) and its content type ([`CONTENT_TYPE`]).

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
    Gauge(u64),
    Histogram(Histogram),
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

    /// A gauge without labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: u64) -> &mut Self {
        self.push(name, help, Kind::Gauge(value))
    }

    /// A histogram: `name_bucket` (with `le`), `name_sum` and `name_count`.
    pub fn histogram(&mut self, name: &str, help: &str, histogram: Histogram) -> &mut Self {
        self.push(name, help, Kind::Histogram(histogram))
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
                Kind::Counter(_) => MetricType::Counter,
                Kind::Gauge(_) => MetricType::Gauge,
                Kind::Histogram(_) => MetricType::Histogram,
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
                Kind::Gauge(value) => metric.encode_gauge(value)?,
                Kind::Histogram(histogram) => metric.encode_histogram::<NoLabelSet>(
                    histogram.sum,
                    histogram.count,
                    &histogram.buckets,
                    None,
                )?,
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
";
        assert_eq!(text, expected);
    }
}
