//! Kafka topic use discovered from brokers' authorizer logs: per (client workload, broker, topic), the
//! operations the broker allowed and the ones it denied (a denied one is a call that is blocked now, or
//! would be once the broker enforces), first and last seen.
//!
//! In: [`AuthzDecision`]s of one broker, each with the client workload the caller resolved (from the
//! client's address, else from a principal in Holt's form, see [`client_of`]). Out: [`KafkaUse`] records for
//! the JSON API and the export's `kafka` targets ([`kafka_targets`]). Bounded by
//! [`KafkaDiscovery::new`]'s limit; what is left out is counted in [`KafkaStats`]. Kept across restarts
//! in the intent log ([`crate::intent_log`]): [`KafkaDiscovery::take_changes`] hands it what changed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

use holt_api::v2beta1::{KafkaOperation, KafkaTarget, KafkaTopic};
use holt_mapper_api::{KafkaTopicUse, Workload};
use holt_model::Identity;

use crate::kafka_authz::{AuthzDecision, principal_workload};
use crate::resolve::Resolver;
use crate::store::Filter;

/// One client's use of one topic of one broker (served as a [`KafkaTopicUse`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaUse {
    pub client: Workload,
    /// The broker, `name.namespace` as a ClientIntents' `kafka` target names it.
    pub broker: String,
    pub topic: String,
    /// Operations the broker allowed, and those it denied.
    pub allowed: BTreeSet<KafkaOperation>,
    pub denied: BTreeSet<KafkaOperation>,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
}

impl From<KafkaUse> for KafkaTopicUse {
    fn from(used: KafkaUse) -> Self {
        let names = |operations: BTreeSet<KafkaOperation>| {
            operations
                .into_iter()
                .map(|operation| operation.as_str().to_owned())
                .collect()
        };
        KafkaTopicUse {
            client: used.client,
            broker: used.broker,
            topic: used.topic,
            allowed: names(used.allowed),
            denied: names(used.denied),
            first_seen_ms: used.first_seen_ms,
            last_seen_ms: used.last_seen_ms,
        }
    }
}

/// What happened to the decisions read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KafkaStats {
    /// Decisions on topics read from the logs.
    pub decisions: u64,
    /// Decisions whose client was found (by address or principal).
    pub attributed: u64,
    /// Decisions whose client matched no workload.
    pub unattributed: u64,
    /// Decisions on a (client, broker, topic) not kept because the limit was reached.
    pub over_limit: u64,
}

/// What is kept of one (client, broker, topic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaRecord {
    pub client_kind: Option<String>,
    pub allowed: BTreeSet<KafkaOperation>,
    pub denied: BTreeSet<KafkaOperation>,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
}

/// The client's (namespace, name), the broker (`name.namespace`), the topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaKey {
    pub client: (String, String),
    pub broker: String,
    pub topic: String,
}

/// What changed since the last [`KafkaDiscovery::take_changes`], with the current values.
#[derive(Debug, Default, PartialEq)]
pub struct KafkaChanges {
    /// Every record was forgotten first.
    pub reset: bool,
    pub records: Vec<(KafkaKey, KafkaRecord)>,
}

/// The discovered topic use, bounded.
#[derive(Debug)]
pub struct KafkaDiscovery {
    records: BTreeMap<KafkaKey, KafkaRecord>,
    max_records: usize,
    pub stats: KafkaStats,
    /// Records changed (or the reset) since the last [`KafkaDiscovery::take_changes`].
    pending: HashSet<KafkaKey>,
    pending_reset: bool,
}

impl KafkaDiscovery {
    /// Keeps at most `max_records` (client, broker, topic) records.
    pub fn new(max_records: usize) -> Self {
        KafkaDiscovery {
            records: BTreeMap::new(),
            max_records,
            stats: KafkaStats::default(),
            pending: HashSet::new(),
            pending_reset: false,
        }
    }

    /// Records one decision of `broker` (`name.namespace`) about `client` (`None`: not found), seen at
    /// `seen_ms` (decisions may come out of order: a restarted container's earlier lines).
    pub fn record(&mut self, broker: &str, decision: &AuthzDecision, client: Option<Identity>, seen_ms: u64) {
        self.stats.decisions += 1;
        let Some(client) = client else {
            self.stats.unattributed += 1;
            return;
        };
        self.stats.attributed += 1;
        let key = KafkaKey {
            client: (client.namespace.clone(), client.name.clone()),
            broker: broker.to_owned(),
            topic: decision.topic.clone(),
        };
        let len = self.records.len();
        let record = match self.records.get_mut(&key) {
            Some(record) => record,
            None if len >= self.max_records => {
                self.stats.over_limit += 1;
                return;
            }
            None => self.records.entry(key.clone()).or_insert(KafkaRecord {
                client_kind: None,
                allowed: BTreeSet::new(),
                denied: BTreeSet::new(),
                first_seen_ms: seen_ms,
                last_seen_ms: seen_ms,
            }),
        };
        if client.kind.is_some() {
            record.client_kind = client.kind;
        }
        record.first_seen_ms = record.first_seen_ms.min(seen_ms);
        record.last_seen_ms = record.last_seen_ms.max(seen_ms);
        match decision.allowed {
            true => record.allowed.insert(decision.operation),
            false => record.denied.insert(decision.operation),
        };
        self.pending.insert(key);
    }

    /// The records `filter` selects (its client namespaces, client, and server as the broker), by client,
    /// broker and topic.
    pub fn uses(&self, filter: &Filter) -> Vec<KafkaUse> {
        let selected = |(namespace, name): &(String, String), broker: &str| {
            (filter.namespaces.is_empty() || filter.namespaces.contains(namespace))
                && filter
                    .client
                    .as_ref()
                    .is_none_or(|(n, ns)| n == name && ns == namespace)
                && filter
                    .server
                    .as_ref()
                    .is_none_or(|(n, ns)| broker.split_once('.') == Some((n.as_str(), ns.as_str())))
        };
        self.records
            .iter()
            .filter(|(key, _)| selected(&key.client, &key.broker))
            .map(|(key, record)| KafkaUse {
                client: Workload {
                    name: key.client.1.clone(),
                    namespace: key.client.0.clone(),
                    kind: record.client_kind.clone(),
                },
                broker: key.broker.clone(),
                topic: key.topic.clone(),
                allowed: record.allowed.clone(),
                denied: record.denied.clone(),
                first_seen_ms: record.first_seen_ms,
                last_seen_ms: record.last_seen_ms,
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Forgets every record (a reset of the discovered intents).
    pub fn clear(&mut self) {
        self.records.clear();
        self.pending.clear();
        self.pending_reset = true;
    }

    /// Every record, by client, broker and topic (for a compaction of the intent log).
    pub fn records(&self) -> impl Iterator<Item = (&KafkaKey, &KafkaRecord)> {
        self.records.iter()
    }

    /// What changed since the last call, with the current values.
    pub fn take_changes(&mut self) -> KafkaChanges {
        let pending = std::mem::take(&mut self.pending);
        KafkaChanges {
            reset: std::mem::take(&mut self.pending_reset),
            records: pending
                .into_iter()
                .filter_map(|key| self.records.get(&key).cloned().map(|record| (key, record)))
                .collect(),
        }
    }

    /// Whether anything changed since the last [`KafkaDiscovery::take_changes`].
    pub fn is_dirty(&self) -> bool {
        self.pending_reset || !self.pending.is_empty()
    }

    /// Puts changes taken but not written back among the pending ones (a failed write).
    pub fn restore_changes(&mut self, changes: &KafkaChanges) {
        self.pending_reset |= changes.reset;
        self.pending
            .extend(changes.records.iter().map(|(key, _)| key.clone()));
    }

    /// Loads records read back from disk (not changes). The limit is not applied: what was kept stays.
    pub fn load(&mut self, records: BTreeMap<KafkaKey, KafkaRecord>) {
        self.records.extend(records);
    }
}

/// The client of a decision: the pod that had the client's address when it was logged, else the workload a
/// principal in Holt's form names (`User:CN=<workload>.<namespace>`, which Holt's certificates carry; its
/// kind is then the one a pod of that workload has, when one is known).
pub fn client_of(resolver: &Resolver<'_>, host: &IpAddr, principal: &str, seen_ms: u64) -> Option<Identity> {
    if let Ok(identity) = resolver.source(host, seen_ms, None) {
        return Some(identity);
    }
    let (name, namespace) = principal_workload(principal)?;
    let kind = resolver
        .index
        .pods_in(namespace)
        .map(|pod| resolver.index.identity(pod))
        .find(|identity| identity.name == name)
        .and_then(|identity| identity.kind);
    Some(Identity::new(namespace, name, kind.as_deref()))
}

/// The `kafka` targets of one client's ClientIntents: per broker, its topics with every operation seen
/// (allowed or denied: both are what the client does), sorted.
pub fn kafka_targets<'a>(uses: impl IntoIterator<Item = &'a KafkaUse>) -> Vec<KafkaTarget> {
    let mut brokers: BTreeMap<&str, BTreeMap<&str, BTreeSet<KafkaOperation>>> = BTreeMap::new();
    for u in uses {
        brokers
            .entry(&u.broker)
            .or_default()
            .entry(&u.topic)
            .or_default()
            .extend(u.allowed.iter().chain(&u.denied).copied());
    }
    brokers
        .into_iter()
        .map(|(broker, topics)| KafkaTarget {
            name: broker.to_owned(),
            topics: topics
                .into_iter()
                .map(|(topic, operations)| KafkaTopic {
                    name: topic.to_owned(),
                    operations: operations.into_iter().collect(),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ClusterIndex;
    use crate::cluster::fixtures;

    fn decision(principal: &str, allowed: bool, operation: KafkaOperation, topic: &str) -> AuthzDecision {
        AuthzDecision {
            principal: principal.into(),
            allowed,
            operation,
            host: "127.0.0.1".parse().expect("address"),
            topic: topic.into(),
        }
    }

    #[test]
    fn operations_are_kept_per_client_broker_and_topic() {
        let mut kafka = KafkaDiscovery::new(10);
        let client = Identity::new("shop", "client", Some("Deployment"));
        let produce = decision("User:CN=client.shop", true, KafkaOperation::Produce, "orders");
        let describe = decision("User:CN=client.shop", false, KafkaOperation::Describe, "payments");
        kafka.record("kafka.kafka", &produce, Some(client.clone()), 2_000);
        kafka.record("kafka.kafka", &produce, Some(client.clone()), 1_000);
        kafka.record("kafka.kafka", &describe, Some(client.clone()), 3_000);
        kafka.record("kafka.kafka", &describe, None, 3_000);
        let uses = kafka.uses(&Filter::default());
        assert_eq!(uses.len(), 2);
        assert_eq!(uses[0].topic, "orders");
        assert_eq!(uses[0].allowed, BTreeSet::from([KafkaOperation::Produce]));
        assert_eq!((uses[0].first_seen_ms, uses[0].last_seen_ms), (1_000, 2_000));
        assert_eq!(uses[1].denied, BTreeSet::from([KafkaOperation::Describe]));
        assert_eq!(uses[1].client.kind.as_deref(), Some("Deployment"));
        assert_eq!(
            kafka.stats,
            KafkaStats {
                decisions: 4,
                attributed: 3,
                unattributed: 1,
                over_limit: 0
            }
        );
        assert_eq!(
            kafka_targets(&uses),
            vec![KafkaTarget {
                name: "kafka.kafka".into(),
                topics: vec![
                    KafkaTopic {
                        name: "orders".into(),
                        operations: vec![KafkaOperation::Produce]
                    },
                    KafkaTopic {
                        name: "payments".into(),
                        operations: vec![KafkaOperation::Describe]
                    },
                ],
            }]
        );
        let elsewhere = Filter {
            namespaces: ["other".to_owned()].into(),
            ..Filter::default()
        };
        assert!(kafka.uses(&elsewhere).is_empty());
        let other_broker = Filter {
            server: Some(("kafka".to_owned(), "other".to_owned())),
            ..Filter::default()
        };
        assert!(kafka.uses(&other_broker).is_empty());
        let this_broker = Filter {
            server: Some(("kafka".to_owned(), "kafka".to_owned())),
            client: Some(("client".to_owned(), "shop".to_owned())),
            ..Filter::default()
        };
        assert_eq!(kafka.uses(&this_broker), uses);
    }

    #[test]
    fn records_past_the_limit_are_counted_not_kept() {
        let mut kafka = KafkaDiscovery::new(1);
        let client = Identity::new("shop", "client", None);
        for topic in ["a", "b", "a"] {
            let seen = decision("User:CN=client.shop", true, KafkaOperation::Consume, topic);
            kafka.record("kafka.kafka", &seen, Some(client.clone()), 1);
        }
        assert_eq!(kafka.len(), 1);
        assert_eq!(kafka.stats.over_limit, 1, "only the new topic is refused");
    }

    #[test]
    fn the_client_is_the_pod_at_the_address_else_the_principals_workload() {
        let mut index = ClusterIndex::default();
        index.apply_pod(fixtures::pod(
            "shop",
            "client-7d9f-abcde",
            "10.244.1.7",
            Some(("ReplicaSet", "client-7d9f")),
            0,
        ));
        index.apply_owner(fixtures::owner(
            "shop",
            "ReplicaSet",
            "client-7d9f",
            Some(("Deployment", "client")),
        ));
        index.apply_owner(fixtures::owner("shop", "Deployment", "client", None));
        let resolver = Resolver {
            index: &index,
            cluster_domain: "cluster.local",
        };
        let by_address = client_of(
            &resolver,
            &"10.244.1.7".parse().expect("ip"),
            "User:ANONYMOUS",
            u64::MAX,
        );
        assert_eq!(
            by_address,
            Some(Identity::new("shop", "client", Some("Deployment")))
        );
        let local: IpAddr = "127.0.0.1".parse().expect("ip");
        assert_eq!(
            client_of(&resolver, &local, "User:CN=client.shop,O=SPIRE,C=US", 0),
            Some(Identity::new("shop", "client", Some("Deployment"))),
            "the principal, with the kind of the workload's pods"
        );
        assert_eq!(
            client_of(&resolver, &local, "User:CN=batch.jobs", 0),
            Some(Identity::new("jobs", "batch", None))
        );
        assert_eq!(client_of(&resolver, &local, "User:ANONYMOUS", 0), None);
    }
}
