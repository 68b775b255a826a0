//! Whether each source of Kafka authorizer lines (a file of `--kafka-authorizer-log`, a pod of
//! `--kafka-broker-pod`) could be read the last time it was tried, and how many reads failed.
//!
//! In: the outcome of each read, by source name (`file <path>`, `pod <namespace>/<name>`). Out: what
//! `/metrics` shows (`holt_mapper_kafka_log_source_up`, `holt_mapper_kafka_log_read_failures_total`, one
//! sample per configured source: bounded by the flags) and whether an error is new, so that the readers log
//! once per change of error rather than every interval.

use std::collections::BTreeMap;

/// One source's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceState {
    /// The last read succeeded.
    pub up: bool,
    /// Reads that failed, in all.
    pub failures: u64,
    /// The last read's error, if it failed.
    pub last_error: Option<String>,
}

/// Every source's state, by source name.
#[derive(Debug, Default)]
pub struct KafkaSourceHealth {
    sources: BTreeMap<String, SourceState>,
}

impl KafkaSourceHealth {
    /// Lists `source` as not read yet (down until its first read succeeds).
    pub fn register(&mut self, source: &str) {
        self.sources.entry(source.to_owned()).or_default();
    }

    /// Records a read that worked. True when the source was failing before (a recovery worth logging).
    pub fn succeeded(&mut self, source: &str) -> bool {
        let state = self.sources.entry(source.to_owned()).or_default();
        let recovered = state.last_error.is_some();
        state.up = true;
        state.last_error = None;
        recovered
    }

    /// Records a failed read. True when `error` differs from the source's previous one (worth logging).
    pub fn failed(&mut self, source: &str, error: &str) -> bool {
        let state = self.sources.entry(source.to_owned()).or_default();
        state.up = false;
        state.failures += 1;
        let changed = state.last_error.as_deref() != Some(error);
        if changed {
            state.last_error = Some(error.to_owned());
        }
        changed
    }

    /// Every source with its state, by name.
    pub fn states(&self) -> impl Iterator<Item = (&str, &SourceState)> {
        self.sources.iter().map(|(name, state)| (name.as_str(), state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_new_once_until_it_changes_or_the_source_recovers() {
        let mut health = KafkaSourceHealth::default();
        health.register("pod kafka/kafka-0");
        assert!(!health.states().next().expect("registered").1.up);
        assert!(health.failed("pod kafka/kafka-0", "not found"));
        assert!(
            !health.failed("pod kafka/kafka-0", "not found"),
            "the same error again"
        );
        assert!(health.failed("pod kafka/kafka-0", "forbidden"), "another error");
        assert!(health.succeeded("pod kafka/kafka-0"), "a recovery");
        assert!(!health.succeeded("pod kafka/kafka-0"));
        assert!(
            health.failed("pod kafka/kafka-0", "not found"),
            "failing again is new"
        );
        let (_, state) = health.states().next().expect("one");
        assert_eq!(state.failures, 4);
        assert!(!state.up);
    }
}
