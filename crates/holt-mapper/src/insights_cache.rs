//! The answers of `GET /v1/insights` kept while what they were computed from is unchanged, so that a page
//! polling every few seconds costs a lookup, not a computation (one costs about 0.6 s on 1,000 services).
//! In: the [`StateVersion`] of the state an answer was computed from, the request's query, the answer's
//! bytes. Out: the answer again for the same version and query; an `ETag` naming the version, so that a
//! client that already holds it is answered `304 Not Modified` with no body.
//!
//! The version is the change counters of the three sources the insights read: the store's intents
//! ([`crate::store::Store::generation`]: a new intent, not another sighting of a known one), the cluster
//! index ([`crate::cluster::ClusterIndex::generation`]: pods, Services, owners) and the declared state
//! ([`crate::declared::DeclaredState::generation`]). Each is bumped by every change its source counts, so an
//! answer is never served for a state other than the one it was computed from. Answers of one version
//! only are kept, at most [`MAX_QUERIES`] queries of it; a new version drops them all.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::body::Bytes;

/// Queries whose answers are kept for one version (the page asks one; a few people filtering may ask
/// more): past it, the answer is computed and not kept.
pub const MAX_QUERIES: usize = 8;

/// The change counters of what the insights read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateVersion {
    pub store: u64,
    pub index: u64,
    pub declared: u64,
}

/// Answers of one version, by query.
#[derive(Debug, Default)]
struct Answers {
    version: Option<StateVersion>,
    by_query: BTreeMap<String, Bytes>,
}

#[derive(Debug)]
pub struct InsightsCache {
    /// Names this process in every `ETag` (its start, in Unix milliseconds): counters start again at 0
    /// when the mapper restarts, and an answer of the process before must not match.
    epoch: u64,
    answers: Mutex<Answers>,
    /// Held while an answer is computed: requests that find no answer wait for the one computing, then
    /// find its answer, instead of computing the same at once.
    pub computing: tokio::sync::Mutex<()>,
}

impl InsightsCache {
    pub fn new(epoch: u64) -> Self {
        InsightsCache {
            epoch,
            answers: Mutex::default(),
            computing: tokio::sync::Mutex::new(()),
        }
    }

    /// The `ETag` of the answer to `query` computed from `version` (a strong validator: the same bytes).
    pub fn etag(&self, version: StateVersion, query: &str) -> String {
        format!(
            "\"{:x}-{}-{}-{}-{:x}\"",
            self.epoch,
            version.store,
            version.index,
            version.declared,
            crc32c::crc32c(query.as_bytes())
        )
    }

    /// Whether an `If-None-Match` header value names the `ETag` of `query` at `version` (or is `*`).
    pub fn matches(&self, if_none_match: &str, version: StateVersion, query: &str) -> bool {
        let etag = self.etag(version, query);
        if_none_match
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag == etag)
    }

    /// The answer kept for `query` computed from `version`.
    pub fn get(&self, version: StateVersion, query: &str) -> Option<Bytes> {
        let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        if answers.version != Some(version) {
            return None;
        }
        answers.by_query.get(query).cloned()
    }

    /// Keeps `answer` for `query` computed from `version`, dropping the answers of any other version; not
    /// kept when [`MAX_QUERIES`] other queries of this version are.
    pub fn put(&self, version: StateVersion, query: &str, answer: Bytes) {
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        if answers.version != Some(version) {
            answers.version = Some(version);
            answers.by_query.clear();
        }
        if answers.by_query.len() < MAX_QUERIES || answers.by_query.contains_key(query) {
            answers.by_query.insert(query.to_owned(), answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(store: u64) -> StateVersion {
        StateVersion {
            store,
            index: 7,
            declared: 3,
        }
    }

    #[test]
    fn an_answer_is_served_for_its_version_and_query_only() {
        let cache = InsightsCache::new(0xabc);
        cache.put(version(1), "namespace=a", Bytes::from_static(b"A"));
        assert_eq!(
            cache.get(version(1), "namespace=a"),
            Some(Bytes::from_static(b"A"))
        );
        assert_eq!(cache.get(version(1), "namespace=b"), None);
        assert_eq!(cache.get(version(2), "namespace=a"), None);
        // A new version drops the answers of the old one.
        cache.put(version(2), "", Bytes::from_static(b"all"));
        assert_eq!(cache.get(version(1), "namespace=a"), None);
        assert_eq!(cache.get(version(2), ""), Some(Bytes::from_static(b"all")));
    }

    #[test]
    fn at_most_max_queries_are_kept_per_version() {
        let cache = InsightsCache::new(1);
        for n in 0..MAX_QUERIES + 2 {
            cache.put(version(1), &format!("q{n}"), Bytes::from(n.to_string()));
        }
        assert!(cache.get(version(1), "q0").is_some());
        assert!(cache.get(version(1), &format!("q{}", MAX_QUERIES - 1)).is_some());
        assert_eq!(cache.get(version(1), &format!("q{MAX_QUERIES}")), None);
        // A kept query is still replaced.
        cache.put(version(1), "q0", Bytes::from_static(b"new"));
        assert_eq!(cache.get(version(1), "q0"), Some(Bytes::from_static(b"new")));
    }

    #[test]
    fn the_etag_names_the_process_every_counter_and_the_query() {
        let cache = InsightsCache::new(0xabc);
        let etag = cache.etag(version(5), "");
        assert!(etag.starts_with("\"abc-5-7-3-"), "{etag}");
        assert!(cache.matches(&etag, version(5), ""));
        assert!(cache.matches(&format!("\"x\", W/{etag}"), version(5), ""));
        assert!(cache.matches("*", version(5), ""));
        assert!(!cache.matches(&etag, version(4), ""));
        assert!(!cache.matches(&etag, version(5), "namespace=a"));
        assert!(!InsightsCache::new(0xabd).matches(&etag, version(5), ""));
    }
}
