//! What the API server answered to a review, kept for a while so that a sniffer reporting every second
//! costs one TokenReview and one SubjectAccessReview a minute, not two a second. In: a key, an answer
//! and how long it stays good. Out: the answer while it is good. Bounded: at most `capacity` entries;
//! past it the expired ones go, then those that would expire soonest. Pure: time is passed in.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Review answers by key, each until its expiry.
#[derive(Debug)]
pub struct ReviewCache<K, V> {
    entries: HashMap<K, (Instant, V)>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> ReviewCache<K, V> {
    /// An empty cache of at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        ReviewCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The answer for `key`, if it is still good at `now`.
    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        self.entries
            .get(key)
            .filter(|(expires, _)| *expires > now)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` for `key` until `now + ttl`.
    pub fn insert(&mut self, key: K, value: V, now: Instant, ttl: Duration) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, (expires, _)| *expires > now);
            if self.entries.len() >= self.capacity {
                // A tenth of the entries, those expiring soonest, make room for the next ones too.
                let mut expiries: Vec<Instant> = self.entries.values().map(|(e, _)| *e).collect();
                let drop = (self.capacity / 10).max(1).min(expiries.len());
                expiries.select_nth_unstable(drop - 1);
                let cutoff = expiries[drop - 1];
                self.entries.retain(|_, (expires, _)| *expires > cutoff);
            }
        }
        self.entries.insert(key, (now + ttl, value));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_until_it_expires() {
        let start = Instant::now();
        let mut cache = ReviewCache::new(8);
        cache.insert("a", true, start, Duration::from_secs(10));
        assert_eq!(cache.get(&"a", start + Duration::from_secs(9)), Some(true));
        assert_eq!(cache.get(&"a", start + Duration::from_secs(10)), None);
        assert_eq!(cache.get(&"b", start), None);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity_and_keeps_the_freshest() {
        let start = Instant::now();
        let mut cache = ReviewCache::new(100);
        for n in 0..10_000u32 {
            // Each entry expires later than the one before.
            cache.insert(n, n, start, Duration::from_secs(u64::from(n) + 1));
            assert!(cache.len() <= 100, "{} entries", cache.len());
        }
        assert_eq!(cache.get(&9_999, start), Some(9_999));
        assert_eq!(cache.get(&0, start), None);
        // Expired entries make room before live ones are dropped.
        let later = start + Duration::from_secs(20_000);
        cache.insert(1_000_000, 0, later, Duration::from_secs(1));
        assert_eq!(cache.len(), 1);
    }
}
