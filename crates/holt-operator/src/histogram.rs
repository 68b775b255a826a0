//! A histogram of durations with fixed buckets: how long reconcile passes take, as a distribution rather
//! than only a total. Its figures go on the `/metrics` page ([`DurationHistogram::figures`]).

use holt_runtime::metrics::Histogram;

/// Upper bounds of the buckets, in microseconds: 1 ms to 30 s (and `+Inf`).
const BOUNDS_MICROS: [u64; 10] = [
    1_000, 5_000, 10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000, 30_000_000,
];

/// Observed durations: how many fell at or under each bound (not cumulative), how many in all, their sum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DurationHistogram {
    buckets: [u64; BOUNDS_MICROS.len()],
    count: u64,
    sum_micros: u64,
}

impl DurationHistogram {
    pub fn observe(&mut self, micros: u64) {
        if let Some(at) = BOUNDS_MICROS.iter().position(|&bound| micros <= bound)
            && let Some(bucket) = self.buckets.get_mut(at)
        {
            *bucket += 1;
        }
        self.count += 1;
        self.sum_micros = self.sum_micros.saturating_add(micros);
    }

    /// The figures for the `/metrics` page: each bound in seconds with its (not cumulative) count, the count
    /// and the sum in seconds.
    pub fn figures(&self) -> Histogram {
        Histogram {
            buckets: BOUNDS_MICROS
                .iter()
                .zip(self.buckets)
                .map(|(bound, count)| (*bound as f64 / 1e6, count))
                .collect(),
            count: self.count,
            sum: self.sum_micros as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_slowest_only_count_in_inf() {
        let mut histogram = DurationHistogram::default();
        for micros in [500, 1_000, 7_000, 2_000_000, 60_000_000] {
            histogram.observe(micros);
        }
        let mut page = holt_runtime::MetricsPage::new();
        page.histogram("pass_seconds", "passes", histogram.figures());
        let text = page.render();
        assert!(text.starts_with("# HELP pass_seconds passes\n# TYPE pass_seconds histogram\n"));
        for line in [
            "pass_seconds_bucket{le=\"0.001\"} 2\n",
            "pass_seconds_bucket{le=\"0.005\"} 2\n",
            "pass_seconds_bucket{le=\"0.01\"} 3\n",
            "pass_seconds_bucket{le=\"1\"} 3\n",
            "pass_seconds_bucket{le=\"5\"} 4\n",
            "pass_seconds_bucket{le=\"30\"} 4\n",
            "pass_seconds_bucket{le=\"+Inf\"} 5\n",
            "pass_seconds_sum 62.0085\n",
            "pass_seconds_count 5\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
