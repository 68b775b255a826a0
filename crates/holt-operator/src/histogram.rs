//! A histogram of durations with fixed buckets, in the Prometheus text format: how long reconcile passes
//! take, as a distribution rather than only a total.

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

    /// The `_bucket` (cumulative, with `le` in seconds), `_sum` and `_count` series of `name`.
    pub fn render(&self, name: &str, help: &str) -> String {
        let mut text = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        let mut cumulative = 0;
        for (bound, count) in BOUNDS_MICROS.iter().zip(self.buckets) {
            cumulative += count;
            let le = *bound as f64 / 1e6;
            text.push_str(&format!("{name}_bucket{{le=\"{le}\"}} {cumulative}\n"));
        }
        text.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {}\n", self.count));
        text.push_str(&format!("{name}_sum {:.6}\n", self.sum_micros as f64 / 1e6));
        text.push_str(&format!("{name}_count {}\n", self.count));
        text
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
        let text = histogram.render("pass_seconds", "passes");
        assert!(text.starts_with("# HELP pass_seconds passes\n# TYPE pass_seconds histogram\n"));
        for line in [
            "pass_seconds_bucket{le=\"0.001\"} 2\n",
            "pass_seconds_bucket{le=\"0.005\"} 2\n",
            "pass_seconds_bucket{le=\"0.01\"} 3\n",
            "pass_seconds_bucket{le=\"1\"} 3\n",
            "pass_seconds_bucket{le=\"5\"} 4\n",
            "pass_seconds_bucket{le=\"30\"} 4\n",
            "pass_seconds_bucket{le=\"+Inf\"} 5\n",
            "pass_seconds_sum 62.008500\n",
            "pass_seconds_count 5\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
