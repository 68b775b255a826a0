//! The discovered intents: one record per (client, target) with first-seen and last-seen times, merged
//! as observations arrive, plus the addresses seen for each internet name (for `status.resolvedIPs`).
//!
//! Plain data: the snapshot module writes it to disk, the HTTP layer reads it through [`Store::intents`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use holt_mapper_api::{DiscoveredIntent, Filters, Target, Workload};
use holt_model::Identity;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What a client called, as the store keys it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetKey {
    Workload(Identity),
    /// An internet domain.
    Domain(String),
    /// An internet address with no name seen.
    Address(IpAddr),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntentKey {
    pub client: Identity,
    pub target: TargetKey,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    /// The Service the client last dialed for this server.
    pub service: Option<String>,
    /// Addresses seen for an internet target.
    pub ips: BTreeSet<IpAddr>,
}

/// Filters parsed once: client namespaces, `name.namespace` of client and server, excluded workloads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub namespaces: BTreeSet<String>,
    pub client: Option<(String, String)>,
    pub server: Option<(String, String)>,
    /// Workload names and `name.namespace`s left out as client and as server.
    pub excluded: BTreeSet<String>,
    /// Pod labels (`key`, and the value or any) whose workloads are left out as client and as server;
    /// applied by [`crate::ingest::Mapper::intents`], which knows the pods.
    pub excluded_labels: Vec<(String, Option<String>)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("{field} must be name.namespace, got {value:?}")]
    NotDotted { field: &'static str, value: String },
}

impl Filter {
    pub fn parse(filters: &Filters) -> Result<Filter, FilterError> {
        let dotted = |field: &'static str, value: &Option<String>| -> Result<_, FilterError> {
            match value.as_deref().filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => match v.split_once('.') {
                    Some((name, ns)) if !name.is_empty() && !ns.is_empty() => {
                        Ok(Some((name.to_owned(), ns.to_owned())))
                    }
                    _ => Err(FilterError::NotDotted {
                        field,
                        value: v.to_owned(),
                    }),
                },
            }
        };
        let list = |value: &Option<String>| -> BTreeSet<String> {
            value
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()
        };
        Ok(Filter {
            namespaces: list(&filters.namespace),
            client: dotted("client", &filters.client)?,
            server: dotted("server", &filters.server)?,
            excluded: list(&filters.exclude_services),
            excluded_labels: list(&filters.exclude_labels)
                .into_iter()
                .map(|label| match label.split_once('=') {
                    Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
                    None => (label, None),
                })
                .collect(),
        })
    }

    /// Whether `id` is excluded by name or by `name.namespace` (as the reference CLI matches them).
    fn excludes(&self, id: &Identity) -> bool {
        !self.excluded.is_empty()
            && (self.excluded.contains(&id.name)
                || self.excluded.contains(&format!("{}.{}", id.name, id.namespace)))
    }

    pub fn matches(&self, key: &IntentKey) -> bool {
        let is = |id: &Identity, (name, ns): &(String, String)| &id.name == name && &id.namespace == ns;
        (self.namespaces.is_empty() || self.namespaces.contains(&key.client.namespace))
            && !self.excludes(&key.client)
            && !matches!(&key.target, TargetKey::Workload(server) if self.excludes(server))
            && self.client.as_ref().is_none_or(|c| is(&key.client, c))
            && self.server.as_ref().is_none_or(|s| match &key.target {
                TargetKey::Workload(server) => is(server, s),
                _ => false,
            })
    }
}

/// Discovered intents and internet DNS answers.
#[derive(Debug, Default)]
pub struct Store {
    intents: BTreeMap<IntentKey, Record>,
    /// Internet name → every address it was seen to resolve to.
    dns: BTreeMap<String, BTreeSet<IpAddr>>,
    /// Address → the internet name last seen resolving to it (to name later connections).
    names_by_ip: HashMap<IpAddr, String>,
    dirty: bool,
}

/// The store as written to disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreContents {
    pub intents: Vec<DiscoveredIntent>,
    #[serde(default)]
    pub dns: BTreeMap<String, BTreeSet<IpAddr>>,
}

impl Store {
    /// Records that `client` called `target` at `seen_ms`; `ip` is an internet target's address.
    pub fn record(
        &mut self,
        client: Identity,
        target: TargetKey,
        seen_ms: u64,
        service: Option<String>,
        ip: Option<IpAddr>,
    ) {
        let record = self
            .intents
            .entry(IntentKey { client, target })
            .or_insert_with(|| Record {
                first_seen_ms: seen_ms,
                last_seen_ms: seen_ms,
                service: None,
                ips: BTreeSet::new(),
            });
        record.first_seen_ms = record.first_seen_ms.min(seen_ms);
        record.last_seen_ms = record.last_seen_ms.max(seen_ms);
        if service.is_some() {
            record.service = service;
        }
        record.ips.extend(ip);
        self.dirty = true;
    }

    /// Remembers that the internet name `name` resolved to `ip`.
    pub fn record_dns(&mut self, name: &str, ip: IpAddr) {
        if self.dns.entry(name.to_owned()).or_default().insert(ip) {
            self.dirty = true;
        }
        self.names_by_ip.insert(ip, name.to_owned());
    }

    /// The internet name last seen resolving to `ip`.
    pub fn name_of(&self, ip: &IpAddr) -> Option<&str> {
        self.names_by_ip.get(ip).map(String::as_str)
    }

    /// Every internet name seen and its addresses.
    pub fn dns(&self) -> &BTreeMap<String, BTreeSet<IpAddr>> {
        &self.dns
    }

    pub fn len(&self) -> usize {
        self.intents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.intents.is_empty()
    }

    pub fn reset(&mut self) {
        self.intents.clear();
        self.dns.clear();
        self.names_by_ip.clear();
        self.dirty = true;
    }

    /// Whether anything changed since the last [`Store::mark_clean`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn mark_clean(&mut self) {
        self.dirty = false;
    }

    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// The intents matching `filter`, sorted by client then target.
    pub fn intents(&self, filter: &Filter) -> Vec<DiscoveredIntent> {
        self.intents
            .iter()
            .filter(|(key, _)| filter.matches(key))
            .map(|(key, record)| to_api(key, record))
            .collect()
    }

    pub fn contents(&self) -> StoreContents {
        StoreContents {
            intents: self.intents(&Filter::default()),
            dns: self.dns.clone(),
        }
    }

    pub fn from_contents(contents: StoreContents) -> Store {
        let mut store = Store::default();
        for intent in contents.intents {
            let (key, record) = from_api(intent);
            store.intents.insert(key, record);
        }
        for (name, ips) in &contents.dns {
            for ip in ips {
                store.names_by_ip.insert(*ip, name.clone());
            }
        }
        store.dns = contents.dns;
        store
    }
}

fn workload(identity: &Identity) -> Workload {
    Workload {
        name: identity.name.clone(),
        namespace: identity.namespace.clone(),
        kind: identity.kind.clone(),
    }
}

fn identity(workload: &Workload) -> Identity {
    Identity::new(&workload.namespace, &workload.name, workload.kind.as_deref())
}

fn timestamp(ms: u64) -> Timestamp {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn millis(t: Timestamp) -> u64 {
    u64::try_from(t.as_millisecond()).unwrap_or(0)
}

fn to_api(key: &IntentKey, record: &Record) -> DiscoveredIntent {
    let ips = record.ips.iter().copied().collect();
    let target = match &key.target {
        TargetKey::Workload(server) => Target::Kubernetes {
            server: workload(server),
            service: record.service.clone(),
        },
        TargetKey::Domain(domain) => Target::Internet {
            domain: Some(domain.clone()),
            ips,
        },
        TargetKey::Address(_) => Target::Internet { domain: None, ips },
    };
    DiscoveredIntent {
        client: workload(&key.client),
        target,
        first_seen: timestamp(record.first_seen_ms),
        last_seen: timestamp(record.last_seen_ms),
    }
}

fn from_api(intent: DiscoveredIntent) -> (IntentKey, Record) {
    let (target, service, ips) = match intent.target {
        Target::Kubernetes { server, service } => {
            (TargetKey::Workload(identity(&server)), service, BTreeSet::new())
        }
        Target::Internet {
            domain: Some(domain),
            ips,
        } => (TargetKey::Domain(domain), None, ips.into_iter().collect()),
        Target::Internet { domain: None, ips } => {
            let first = ips.first().copied().unwrap_or(IpAddr::from([0, 0, 0, 0]));
            (TargetKey::Address(first), None, ips.into_iter().collect())
        }
    };
    let key = IntentKey {
        client: identity(&intent.client),
        target,
    };
    let record = Record {
        first_seen_ms: millis(intent.first_seen),
        last_seen_ms: millis(intent.last_seen),
        service,
        ips,
    };
    (key, record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ns: &str, name: &str) -> Identity {
        Identity::new(ns, name, Some("Deployment"))
    }

    #[test]
    fn repeated_observations_merge_into_one_intent_with_first_and_last_seen() {
        let mut store = Store::default();
        let server = TargetKey::Workload(id("ns", "server"));
        store.record(id("ns", "client"), server.clone(), 2_000, None, None);
        store.record(
            id("ns", "client"),
            server.clone(),
            1_000,
            Some("server".into()),
            None,
        );
        store.record(id("ns", "client"), server, 3_000, None, None);
        let intents = store.intents(&Filter::default());
        assert_eq!(intents.len(), 1);
        assert_eq!(intents[0].first_seen.as_millisecond(), 1_000);
        assert_eq!(intents[0].last_seen.as_millisecond(), 3_000);
        assert_eq!(
            intents[0].target,
            Target::Kubernetes {
                server: workload(&id("ns", "server")),
                service: Some("server".into())
            }
        );
        assert!(store.is_dirty());
        store.mark_clean();
        store.reset();
        assert!(store.is_empty() && store.is_dirty());
    }

    #[test]
    fn filters_select_by_client_namespace_client_and_server() {
        let mut store = Store::default();
        store.record(id("a", "c1"), TargetKey::Workload(id("a", "s")), 1, None, None);
        store.record(id("b", "c2"), TargetKey::Workload(id("a", "s")), 1, None, None);
        store.record(
            id("b", "c2"),
            TargetKey::Domain("example.com".into()),
            1,
            None,
            None,
        );
        let count = |filters: Filters| store.intents(&Filter::parse(&filters).expect("filter")).len();
        assert_eq!(count(Filters::default()), 3);
        assert_eq!(
            count(Filters {
                namespace: Some("b".into()),
                ..Filters::default()
            }),
            2
        );
        assert_eq!(
            count(Filters {
                namespace: Some("a, b".into()),
                ..Filters::default()
            }),
            3
        );
        assert_eq!(
            count(Filters {
                client: Some("c2.b".into()),
                ..Filters::default()
            }),
            2
        );
        assert_eq!(
            count(Filters {
                server: Some("s.a".into()),
                ..Filters::default()
            }),
            2
        );
        // Excluded as a client (both its calls) and as a server (the calls to it), by name or
        // name.namespace; internet targets are not workloads and stay.
        let excluding = |names: &str| {
            count(Filters {
                exclude_services: Some(names.into()),
                ..Filters::default()
            })
        };
        assert_eq!(excluding("c2"), 1);
        assert_eq!(excluding("c2.a"), 3, "c2 is in namespace b");
        assert_eq!(excluding("s"), 1);
        assert_eq!(excluding("s.a, c1"), 1);
        assert_eq!(excluding("example.com"), 3);
        assert_eq!(
            Filter::parse(&Filters {
                server: Some("nodot".into()),
                ..Filters::default()
            }),
            Err(FilterError::NotDotted {
                field: "server",
                value: "nodot".into()
            })
        );
    }

    #[test]
    fn contents_round_trip_including_internet_targets_and_dns() {
        let mut store = Store::default();
        let ip: IpAddr = "93.184.216.34".parse().expect("ip");
        store.record(
            id("a", "c"),
            TargetKey::Workload(id("a", "s")),
            10,
            Some("s".into()),
            None,
        );
        store.record(
            id("a", "c"),
            TargetKey::Domain("example.com".into()),
            20,
            None,
            Some(ip),
        );
        store.record(id("a", "c"), TargetKey::Address(ip), 30, None, Some(ip));
        store.record_dns("example.com", ip);
        let contents = store.contents();
        let json = serde_json::to_string(&contents).expect("serialize");
        let back: StoreContents = serde_json::from_str(&json).expect("deserialize");
        let restored = Store::from_contents(back);
        assert_eq!(restored.contents(), contents);
        assert_eq!(restored.name_of(&ip), Some("example.com"));
    }
}
