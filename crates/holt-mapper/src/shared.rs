//! The state the HTTP handlers, watches and timers share: the [`Mapper`] behind a lock, the insights'
//! inputs (when they are on), readiness, and the counters of what the I/O side did.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use holt_model::Config;

use crate::access_review::AccessStats;
use crate::connections::ConnectionStats;
use crate::declared::{DeclaredKind, DeclaredState};
use crate::ingest::Mapper;
use crate::insights_cache::{InsightsCache, StateVersion};
use crate::intent_log::IntentLog;
use crate::kafka_discovery::KafkaDiscovery;
use crate::kafka_source_health::KafkaSourceHealth;
use crate::metrics::{AccessFigures, ConnectionFigures, DeclaredFigures, Metrics};
use crate::published_reset::PublishedReset;
use crate::watch::WatchedKind;

/// What the shadow-mode insights read besides the mapper: the operator's configuration and the declared
/// state. Lock order: the mapper first, then the declared state (never the other way round).
#[derive(Debug)]
pub struct InsightsInputs {
    /// The operator's configuration (`--operator-config`): its mode, enforced namespaces, mechanisms.
    pub config: Config,
    declared: Mutex<DeclaredState>,
    /// Insights computed, and how long the last one took (microseconds).
    pub computations: AtomicU64,
    pub last_computation_us: AtomicU64,
    /// The answers kept while the state is unchanged.
    pub cache: InsightsCache,
    /// Requests answered from [`InsightsInputs::cache`], and `304 Not Modified`.
    pub answered_from_cache: AtomicU64,
    pub not_modified: AtomicU64,
}

impl InsightsInputs {
    pub fn new(config: Config, declared: DeclaredState) -> Self {
        InsightsInputs {
            config,
            declared: Mutex::new(declared),
            computations: AtomicU64::new(0),
            last_computation_us: AtomicU64::new(0),
            cache: InsightsCache::new(now_ms()),
            answered_from_cache: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
        }
    }

    /// The version of what the insights read: the `mapper`'s (its lock held by the caller) and the declared
    /// state's `declared`.
    pub fn version(mapper: &Mapper, declared: &DeclaredState) -> StateVersion {
        StateVersion {
            store: mapper.store.generation(),
            index: mapper.index.generation(),
            declared: declared.generation(),
        }
    }

    /// The declared state (a poisoned lock is used as it is, as the mapper's).
    pub fn declared(&self) -> MutexGuard<'_, DeclaredState> {
        self.declared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Kafka topic-use records kept unless `--max-kafka-topic-records` says otherwise.
pub const DEFAULT_MAX_KAFKA_RECORDS: usize = 10_000;

#[derive(Debug)]
pub struct Shared {
    mapper: Mutex<Mapper>,
    /// The insights' inputs; `None`: the insights are off (no `--operator-config`).
    pub insights: Option<InsightsInputs>,
    /// Kinds whose watch has not listed yet: ready when empty.
    unsynced: Mutex<BTreeSet<WatchedKind>>,
    pub snapshot_writes: AtomicU64,
    pub snapshot_failures: AtomicU64,
    pub status_patches: AtomicU64,
    pub status_patch_failures: AtomicU64,
    /// The intent log; held while it is written (before the mapper's lock, never after).
    pub log: Mutex<IntentLog>,
    pub snapshot_compactions: AtomicU64,
    /// The intent log's size, after its last write.
    pub snapshot_bytes: AtomicU64,
    /// How long the last write took, in microseconds.
    pub snapshot_last_write_us: AtomicU64,
    /// When the intent log was last written or found up to date (Unix ms).
    pub snapshot_last_write_at_ms: AtomicU64,
    /// What the HTTP connections did.
    pub connections: Arc<ConnectionStats>,
    /// What the access checks did.
    pub access: Arc<AccessStats>,
    /// Resets whose published `resolvedIPs` are still to be taken back.
    pub published_reset: PublishedReset,
    /// Kafka topic use read from brokers' authorizer logs (after the mapper in lock order).
    kafka: Mutex<KafkaDiscovery>,
    /// Whether each source of Kafka authorizer lines (file, pod) could be read (after the Kafka records in
    /// lock order; never held across an await).
    kafka_sources: Mutex<KafkaSourceHealth>,
}

impl Shared {
    /// Shared state around `mapper` (and the `insights` inputs, when they are on), ready once every kind
    /// in `watched` has listed.
    pub fn new(
        mapper: Mapper,
        insights: Option<InsightsInputs>,
        watched: BTreeSet<WatchedKind>,
        log: IntentLog,
        published_reset: PublishedReset,
    ) -> Self {
        Shared {
            mapper: Mutex::new(mapper),
            insights,
            unsynced: Mutex::new(watched),
            snapshot_writes: AtomicU64::new(0),
            snapshot_failures: AtomicU64::new(0),
            status_patches: AtomicU64::new(0),
            status_patch_failures: AtomicU64::new(0),
            snapshot_bytes: AtomicU64::new(log.bytes()),
            log: Mutex::new(log),
            snapshot_compactions: AtomicU64::new(0),
            snapshot_last_write_us: AtomicU64::new(0),
            snapshot_last_write_at_ms: AtomicU64::new(now_ms()),
            connections: Arc::default(),
            access: Arc::default(),
            published_reset,
            kafka: Mutex::new(KafkaDiscovery::new(DEFAULT_MAX_KAFKA_RECORDS)),
            kafka_sources: Mutex::default(),
        }
    }

    /// The same, with `kafka` (its limit, and what was read back from the intent log) as the Kafka topic
    /// use.
    pub fn with_kafka(mut self, kafka: KafkaDiscovery) -> Self {
        self.kafka = Mutex::new(kafka);
        self
    }

    /// The Kafka topic use discovered (a poisoned lock is used as it is, as the mapper's).
    pub fn kafka(&self) -> MutexGuard<'_, KafkaDiscovery> {
        self.kafka.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The health of the sources of Kafka authorizer lines (a poisoned lock is used as it is).
    pub fn kafka_sources(&self) -> MutexGuard<'_, KafkaSourceHealth> {
        self.kafka_sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The mapper. A panic while holding the lock cannot leave it half-updated in a way that matters more
    /// than losing the service, so a poisoned lock is used as it is.
    pub fn mapper(&self) -> MutexGuard<'_, Mapper> {
        self.mapper
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn synced(&self, kind: &WatchedKind) {
        self.unsynced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(kind);
    }

    /// The kinds still listing (none once ready), for `/readyz`.
    pub fn unsynced(&self) -> Vec<WatchedKind> {
        self.unsynced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    pub fn metrics(&self) -> Metrics {
        let mapper = self.mapper();
        let kafka = self.kafka();
        let (pods, services, _) = mapper.index.sizes();
        let declared = self.insights.as_ref().map(|insights| {
            let declared = insights.declared();
            DeclaredFigures {
                objects: DeclaredKind::ALL.map(|kind| (kind, declared.len(kind))).to_vec(),
                refused: DeclaredKind::ALL
                    .map(|kind| (kind, declared.refused(kind)))
                    .to_vec(),
                computations: insights.computations.load(Ordering::Relaxed),
                last_computation_us: insights.last_computation_us.load(Ordering::Relaxed),
                answered_from_cache: insights.answered_from_cache.load(Ordering::Relaxed),
                not_modified: insights.not_modified.load(Ordering::Relaxed),
            }
        });
        Metrics {
            stats: mapper.stats.clone(),
            intents: mapper.store.len(),
            dns_addresses: mapper.store.dns_len(),
            store: mapper.store.stats.clone(),
            snapshot_compactions: self.snapshot_compactions.load(Ordering::Relaxed),
            snapshot_bytes: self.snapshot_bytes.load(Ordering::Relaxed),
            snapshot_last_write_us: self.snapshot_last_write_us.load(Ordering::Relaxed),
            snapshot_age_ms: now_ms().saturating_sub(self.snapshot_last_write_at_ms.load(Ordering::Relaxed)),
            held: mapper.held(),
            pods,
            services,
            snapshot_writes: self.snapshot_writes.load(Ordering::Relaxed),
            snapshot_failures: self.snapshot_failures.load(Ordering::Relaxed),
            status_patches: self.status_patches.load(Ordering::Relaxed),
            status_patch_failures: self.status_patch_failures.load(Ordering::Relaxed),
            connections: ConnectionFigures::of(&self.connections),
            access: AccessFigures::of(&self.access),
            declared,
            kafka: kafka.stats,
            kafka_records: kafka.len(),
            kafka_sources: self
                .kafka_sources()
                .states()
                .map(|(name, state)| (name.to_owned(), state.clone()))
                .collect(),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
