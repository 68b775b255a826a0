//! The discovered intents: one record per (client, target) with first-seen and last-seen times, merged
//! as observations arrive, plus the addresses seen for each internet name (for `status.resolvedIPs`).
//!
//! Bounded by [`StoreLimits`], each a flag of the mapper: intents in all, intents per client, internet
//! targets per client (past a number of single addresses, a client's new ones are kept as their network,
//! IPv4 /24 or IPv6 /64: the operator's rule for egress peers), addresses listed per target, and DNS
//! answers (names and addresses: the ones seen longest ago are forgotten first), distinct HTTP paths per
//! server. What is refused, forgotten or folded is counted in [`StoreStats`].
//!
//! HTTP paths: each in-cluster record keeps the distinct paths its client was seen requesting with
//! their methods, each path first folded by [`PathFold`] (`/orders/17` → `/orders/*`). The bound is per
//! server, across all its clients: once `max_http_paths_per_server` distinct paths are kept for a server,
//! a path none of its clients was seen with is kept in its coarsest form ([`crate::path_fold::coarsest`],
//! `/orders/*`) when the server has that already, or else as `/*`, which is always admitted (so a server
//! has at most one path more than the bound): counted in [`StoreStats::http_paths_folded`]. Nothing is
//! lost: a folded path allows at least what it stands for.
//!
//! Plain data: [`Store::take_changes`] hands what changed since the last call to the durable store
//! ([`crate::durable`]), the HTTP layer reads through [`Store::intents`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use holt_mapper_api::{DiscoveredIntent, Filters, HttpPath, IpBlock, Target, Workload};
use holt_model::Identity;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::path_fold::{PathFold, coarsest};

/// What a client called, as the store keys it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetKey {
    Workload(Identity),
    /// An internet domain.
    Domain(String),
    /// An internet address with no name seen.
    Address(IpAddr),
    /// The network of a client's internet addresses past the grouping limit.
    Network(IpBlock),
}

impl TargetKey {
    fn is_internet(&self) -> bool {
        !matches!(self, TargetKey::Workload(_))
    }
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
    /// Addresses seen for an internet target, sorted (a vector: most targets have one or none, and a
    /// B-tree set allocates room for eleven).
    pub ips: Vec<IpAddr>,
    /// HTTP paths of an in-cluster target and the methods seen with each ([`HTTP_METHODS`] bits).
    pub http: BTreeMap<String, u8>,
}

/// The HTTP methods a record keeps, bit `i` of a path's methods for `HTTP_METHODS[i]`: the methods a
/// ClientIntents `http` resource can name (less `CONNECT`, which never has a path).
pub const HTTP_METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"];

/// The bit of `method` in a path's methods.
pub fn method_bit(method: &str) -> Option<u8> {
    HTTP_METHODS.iter().position(|m| *m == method).map(|at| 1 << at)
}

/// The store's bounds (the mapper's flags of the same names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_intents: usize,
    pub max_intents_per_client: usize,
    pub max_internet_targets_per_client: usize,
    pub group_internet_addresses_after: usize,
    pub max_addresses_per_target: usize,
    pub max_dns_addresses: usize,
    pub max_addresses_per_dns_name: usize,
    pub max_http_paths_per_server: usize,
    pub http_path_fold: PathFold,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_intents: 100_000,
            max_intents_per_client: 1_000,
            max_internet_targets_per_client: 500,
            group_internet_addresses_after: 50,
            max_addresses_per_target: 64,
            max_dns_addresses: 200_000,
            max_addresses_per_dns_name: 64,
            max_http_paths_per_server: 100,
            http_path_fold: PathFold::default(),
        }
    }
}

/// The prefix a client's internet addresses are grouped into past the limit.
pub const GROUP_PREFIX_V4: u8 = 24;
pub const GROUP_PREFIX_V6: u8 = 64;

/// Why a new intent was not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Refused {
    /// `max_intents` in the store.
    StoreFull,
    /// `max_intents_per_client` for this client.
    ClientFull,
    /// `max_internet_targets_per_client` for this client.
    InternetFull,
}

impl Refused {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refused::StoreFull => "store_full",
            Refused::ClientFull => "client_full",
            Refused::InternetFull => "internet_full",
        }
    }
}

/// What the bounds cost, for `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// New intents not kept, by reason.
    pub refused: BTreeMap<Refused, u64>,
    /// Addresses of an internet target not listed because it lists `max_addresses_per_target`.
    pub addresses_not_listed: u64,
    /// Internet addresses kept as their network (grouped).
    pub addresses_grouped: u64,
    /// DNS answers (name, address) forgotten to stay within the DNS bounds.
    pub dns_addresses_forgotten: u64,
    /// HTTP paths kept in a coarser form because their server had `max_http_paths_per_server`.
    pub http_paths_folded: u64,
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

/// What each client has in the store, to bound it.
#[derive(Clone, Copy, Debug, Default)]
struct ClientCounts {
    intents: usize,
    internet: usize,
    addresses: usize,
}

/// The addresses an internet name resolved to, each with the last time it was seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsName {
    /// (address, last seen), at most `max_addresses_per_dns_name`.
    pub addresses: Vec<(IpAddr, u64)>,
    pub last_seen_ms: u64,
}

impl DnsName {
    pub fn ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.addresses.iter().map(|(ip, _)| *ip)
    }
}

/// What changed since the last [`Store::take_changes`]: the keys, not yet their values.
#[derive(Debug, Default)]
struct Pending {
    reset: bool,
    intents: HashSet<IntentKey>,
    dns: HashSet<String>,
}

/// What changed, with the current values: `None` for what is gone.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// Everything was forgotten first.
    pub reset: bool,
    pub intents: Vec<(IntentKey, Option<Record>)>,
    pub dns: Vec<(String, Option<DnsName>)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        !self.reset && self.intents.is_empty() && self.dns.is_empty()
    }
}

/// Discovered intents and internet DNS answers.
#[derive(Debug, Default)]
pub struct Store {
    intents: BTreeMap<IntentKey, Record>,
    clients: HashMap<Identity, ClientCounts>,
    /// Internet name → the addresses it was seen to resolve to.
    dns: BTreeMap<String, DnsName>,
    /// (name, address) pairs in `dns`.
    dns_addresses: usize,
    /// Address → the internet name last seen resolving to it (to name later connections).
    names_by_ip: HashMap<IpAddr, String>,
    /// Server → its distinct HTTP paths, each with the number of records (clients) that keep it: what
    /// `max_http_paths_per_server` bounds.
    server_paths: HashMap<Identity, HashMap<String, u32>>,
    limits: StoreLimits,
    pub stats: StoreStats,
    pending: Pending,
    /// Bumped when the set of intents changes (one added, a reset, records loaded) or a record's Service does;
    /// not by another sighting of a known intent, nor by DNS answers. What is served of the intents apart
    /// from their times is the same while it is.
    generation: u64,
}

impl Store {
    /// An empty store within `limits`.
    pub fn new(limits: StoreLimits) -> Store {
        Store {
            limits,
            ..Store::default()
        }
    }

    /// Records that `client` called `target` at `seen_ms`; `ip` is an internet target's address. A new
    /// intent past a bound is refused (and counted).
    pub fn record(
        &mut self,
        client: Identity,
        target: TargetKey,
        seen_ms: u64,
        service: Option<String>,
        ip: Option<IpAddr>,
    ) -> Result<(), Refused> {
        let counts = self.clients.get(&client).copied().unwrap_or_default();
        let target = match target {
            TargetKey::Address(address)
                if counts.addresses >= self.limits.group_internet_addresses_after
                    && !self.intents.contains_key(&IntentKey {
                        client: client.clone(),
                        target: TargetKey::Address(address),
                    }) =>
            {
                self.stats.addresses_grouped += 1;
                let prefix = if address.is_ipv4() {
                    GROUP_PREFIX_V4
                } else {
                    GROUP_PREFIX_V6
                };
                TargetKey::Network(IpBlock::network(address, prefix))
            }
            other => other,
        };
        let grouped = matches!(target, TargetKey::Network(_));
        let key = IntentKey { client, target };
        if let Some(record) = self.intents.get_mut(&key) {
            record.first_seen_ms = record.first_seen_ms.min(seen_ms);
            record.last_seen_ms = record.last_seen_ms.max(seen_ms);
            if service.is_some() && record.service != service {
                record.service = service;
                self.generation += 1;
            }
            if let Some(ip) = ip.filter(|_| !grouped)
                && let Err(at) = record.ips.binary_search(&ip)
            {
                if record.ips.len() < self.limits.max_addresses_per_target {
                    record.ips.insert(at, ip);
                } else {
                    self.stats.addresses_not_listed += 1;
                }
            }
            self.pending.intents.insert(key);
            return Ok(());
        }
        let refused = if self.intents.len() >= self.limits.max_intents {
            Some(Refused::StoreFull)
        } else if counts.intents >= self.limits.max_intents_per_client {
            Some(Refused::ClientFull)
        } else if key.target.is_internet() && counts.internet >= self.limits.max_internet_targets_per_client {
            Some(Refused::InternetFull)
        } else {
            None
        };
        if let Some(refused) = refused {
            *self.stats.refused.entry(refused).or_default() += 1;
            return Err(refused);
        }
        self.count(&key, 1);
        self.generation += 1;
        self.intents.insert(
            key.clone(),
            Record {
                first_seen_ms: seen_ms,
                last_seen_ms: seen_ms,
                service,
                ips: ip.filter(|_| !grouped).into_iter().collect(),
                http: BTreeMap::new(),
            },
        );
        self.pending.intents.insert(key);
        Ok(())
    }

    /// Records that `client` requested `path` with `method` (one of [`HTTP_METHODS`]) from the in-cluster
    /// `server` at `seen_ms`: the call itself as [`Store::record`] does, then the path, folded and
    /// bounded (see the module docs).
    pub fn record_http(
        &mut self,
        client: Identity,
        server: Identity,
        seen_ms: u64,
        service: Option<String>,
        method: u8,
        path: &str,
    ) -> Result<(), Refused> {
        let key = IntentKey {
            client,
            target: TargetKey::Workload(server),
        };
        self.record(key.client.clone(), key.target.clone(), seen_ms, service, None)?;
        let Some(record) = self.intents.get_mut(&key) else {
            return Ok(());
        };
        let folded = self.limits.http_path_fold.fold(path);
        // The common case, a path this client was seen with, touches nothing else.
        let path = if record.http.contains_key(&folded) {
            folded
        } else {
            let TargetKey::Workload(server) = &key.target else {
                return Ok(());
            };
            let known = self.server_paths.entry(server.clone()).or_default();
            let path = if known.contains_key(&folded) || known.len() < self.limits.max_http_paths_per_server {
                folded
            } else {
                self.stats.http_paths_folded += 1;
                let coarse = coarsest(&folded);
                if known.contains_key(&coarse) {
                    coarse
                } else {
                    "/*".to_owned()
                }
            };
            if !record.http.contains_key(&path) {
                *known.entry(path.clone()).or_default() += 1;
            }
            path
        };
        let methods = record.http.entry(path).or_insert(0);
        if *methods & method != method {
            *methods |= method;
            self.generation += 1;
        }
        Ok(())
    }

    /// Adds `add` (1 or -1) to the count of records keeping each of `record`'s paths for `key`'s server.
    fn count_paths(&mut self, key: &IntentKey, record: &Record, add: i64) {
        let TargetKey::Workload(server) = &key.target else {
            return;
        };
        if record.http.is_empty() {
            return;
        }
        let known = self.server_paths.entry(server.clone()).or_default();
        for path in record.http.keys() {
            let count = known.entry(path.clone()).or_default();
            *count = u32::try_from(i64::from(*count) + add).unwrap_or(0);
            if *count == 0 {
                known.remove(path);
            }
        }
        if known.is_empty() {
            self.server_paths.remove(server);
        }
    }

    /// Adds `sign` (1 or -1 as +1/-1) to the counts of `key`'s client.
    fn count(&mut self, key: &IntentKey, add: isize) {
        // Looked up before inserting: most intents' client is known, and a key is cloned only for a new one.
        let counts = match self.clients.get_mut(&key.client) {
            Some(counts) => counts,
            None => self.clients.entry(key.client.clone()).or_default(),
        };
        let apply = |n: &mut usize| *n = n.saturating_add_signed(add);
        apply(&mut counts.intents);
        if key.target.is_internet() {
            apply(&mut counts.internet);
        }
        if matches!(key.target, TargetKey::Address(_)) {
            apply(&mut counts.addresses);
        }
    }

    /// Remembers that the internet name `name` resolved to `ip` at `seen_ms`. Past the DNS bounds, the
    /// name's address seen longest ago, or the names seen longest ago, are forgotten.
    pub fn record_dns(&mut self, name: &str, ip: IpAddr, seen_ms: u64) {
        let limits = self.limits;
        if !self.dns.contains_key(name) && self.dns_addresses >= limits.max_dns_addresses {
            self.forget_oldest_names(limits.max_dns_addresses / 10 + 1);
        }
        let entry = self.dns.entry(name.to_owned()).or_default();
        entry.last_seen_ms = entry.last_seen_ms.max(seen_ms);
        let mut forgotten = None;
        match entry.addresses.iter_mut().find(|(known, _)| *known == ip) {
            Some((_, last)) => *last = (*last).max(seen_ms),
            None => {
                entry.addresses.push((ip, seen_ms));
                self.dns_addresses += 1;
                if entry.addresses.len() > limits.max_addresses_per_dns_name.max(1)
                    && let Some(oldest) = (0..entry.addresses.len()).min_by_key(|&i| entry.addresses[i].1)
                {
                    forgotten = Some(entry.addresses.swap_remove(oldest).0);
                }
            }
        }
        if let Some(old) = forgotten {
            self.dns_addresses -= 1;
            self.stats.dns_addresses_forgotten += 1;
            if self.names_by_ip.get(&old).is_some_and(|n| n == name) {
                self.names_by_ip.remove(&old);
            }
        }
        match self.names_by_ip.get_mut(&ip) {
            Some(known) if known == name => {}
            Some(known) => name.clone_into(known),
            None => {
                self.names_by_ip.insert(ip, name.to_owned());
            }
        }
        self.pending.dns.insert(name.to_owned());
    }

    /// Forgets the `count` names seen longest ago, with their addresses.
    fn forget_oldest_names(&mut self, count: usize) {
        let mut times: Vec<(u64, &String)> = self.dns.iter().map(|(n, e)| (e.last_seen_ms, n)).collect();
        let count = count.min(times.len());
        if count == 0 {
            return;
        }
        times.select_nth_unstable(count - 1);
        let oldest: Vec<String> = times[..count].iter().map(|(_, n)| (*n).clone()).collect();
        for name in oldest {
            if let Some(entry) = self.dns.remove(&name) {
                for (ip, _) in &entry.addresses {
                    if self.names_by_ip.get(ip).is_some_and(|n| *n == name) {
                        self.names_by_ip.remove(ip);
                    }
                }
                self.dns_addresses -= entry.addresses.len();
                self.stats.dns_addresses_forgotten += entry.addresses.len() as u64;
                self.pending.dns.insert(name);
            }
        }
    }

    /// The internet name last seen resolving to `ip`.
    pub fn name_of(&self, ip: &IpAddr) -> Option<&str> {
        self.names_by_ip.get(ip).map(String::as_str)
    }

    /// Every internet name seen and its addresses.
    pub fn dns(&self) -> &BTreeMap<String, DnsName> {
        &self.dns
    }

    pub fn len(&self) -> usize {
        self.intents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.intents.is_empty()
    }

    /// (name, address) pairs of DNS answers kept.
    pub fn dns_len(&self) -> usize {
        self.dns_addresses
    }

    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    pub fn reset(&mut self) {
        self.generation += 1;
        self.intents.clear();
        self.clients.clear();
        self.dns.clear();
        self.dns_addresses = 0;
        self.names_by_ip.clear();
        self.server_paths.clear();
        self.pending = Pending {
            reset: true,
            ..Pending::default()
        };
    }

    /// The count of changes to the set of intents (and their Services) so far: see [`Store`]'s field.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether anything changed since the last [`Store::take_changes`].
    pub fn is_dirty(&self) -> bool {
        self.pending.reset || !self.pending.intents.is_empty() || !self.pending.dns.is_empty()
    }

    /// What changed since the last call, with the current values (a cost in proportion to the changes,
    /// not to the store).
    pub fn take_changes(&mut self) -> Changes {
        let pending = std::mem::take(&mut self.pending);
        Changes {
            reset: pending.reset,
            intents: pending
                .intents
                .into_iter()
                .map(|key| {
                    let record = self.intents.get(&key).cloned();
                    (key, record)
                })
                .collect(),
            dns: pending
                .dns
                .into_iter()
                .map(|name| {
                    let entry = self.dns.get(&name).cloned();
                    (name, entry)
                })
                .collect(),
        }
    }

    /// Puts changes taken but not written back among the pending ones (a failed write): they are
    /// taken again, with the values of then, next time.
    pub fn restore_changes(&mut self, changes: &Changes) {
        self.pending.reset |= changes.reset;
        self.pending
            .intents
            .extend(changes.intents.iter().map(|(key, _)| key.clone()));
        self.pending
            .dns
            .extend(changes.dns.iter().map(|(name, _)| name.clone()));
    }

    /// Loads a record read back from disk (not a change). Bounds are not applied: what was kept stays.
    pub fn load_intent(&mut self, key: IntentKey, record: Record) {
        self.generation += 1;
        self.count_paths(&key, &record, 1);
        match self.intents.insert(key.clone(), record) {
            Some(old) => self.count_paths(&key, &old, -1),
            None => self.count(&key, 1),
        }
    }

    /// Loads the intents read back from disk into an empty store at once (not changes).
    pub fn load_intents(&mut self, intents: BTreeMap<IntentKey, Record>) {
        self.generation += 1;
        if !self.intents.is_empty() {
            for (key, record) in intents {
                self.load_intent(key, record);
            }
            return;
        }
        for (key, record) in &intents {
            self.count(key, 1);
            self.count_paths(key, record, 1);
        }
        self.intents = intents;
    }

    /// Loads a DNS name read back from disk (not a change).
    pub fn load_dns(&mut self, name: String, entry: DnsName) {
        for (ip, _) in &entry.addresses {
            self.names_by_ip.insert(*ip, name.clone());
        }
        self.dns_addresses += entry.addresses.len();
        if let Some(old) = self.dns.insert(name, entry) {
            self.dns_addresses -= old.addresses.len();
        }
    }

    /// Every intent with its record, sorted by client then target.
    pub fn records(&self) -> impl Iterator<Item = (&IntentKey, &Record)> {
        self.intents.iter()
    }

    /// The intents matching `filter`, sorted by client then target.
    pub fn intents(&self, filter: &Filter) -> Vec<DiscoveredIntent> {
        self.intents
            .iter()
            .filter(|(key, _)| filter.matches(key))
            .map(|(key, record)| to_api(key, record))
            .collect()
    }

    /// The intents and DNS answers as the JSON snapshot of earlier versions had them.
    pub fn contents(&self) -> StoreContents {
        StoreContents {
            intents: self.intents(&Filter::default()),
            dns: self
                .dns
                .iter()
                .map(|(name, entry)| (name.clone(), entry.ips().collect()))
                .collect(),
        }
    }

    /// Loads what an earlier version's JSON snapshot held (as changes: they are written to the durable
    /// store next).
    pub fn import(&mut self, contents: StoreContents, now_ms: u64) {
        for intent in contents.intents {
            let (key, record) = from_api(intent);
            self.load_intent(key.clone(), record);
            self.pending.intents.insert(key);
        }
        for (name, ips) in contents.dns {
            for ip in ips {
                self.record_dns(&name, ip, now_ms);
            }
        }
    }
}

/// The store as earlier versions wrote it to disk (`intents.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreContents {
    pub intents: Vec<DiscoveredIntent>,
    #[serde(default)]
    pub dns: BTreeMap<String, BTreeSet<IpAddr>>,
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
    let ips = record.ips.iter().copied().map(IpBlock::from).collect();
    let target = match &key.target {
        TargetKey::Workload(server) => Target::Kubernetes {
            server: workload(server),
            service: record.service.clone(),
            http: record
                .http
                .iter()
                .map(|(path, methods)| HttpPath {
                    path: path.clone(),
                    methods: HTTP_METHODS
                        .iter()
                        .enumerate()
                        .filter(|(at, _)| methods & (1 << at) != 0)
                        .map(|(_, method)| (*method).to_owned())
                        .collect(),
                })
                .collect(),
        },
        TargetKey::Domain(domain) => Target::Internet {
            domain: Some(domain.clone()),
            ips,
        },
        TargetKey::Address(_) => Target::Internet { domain: None, ips },
        TargetKey::Network(block) => Target::Internet {
            domain: None,
            ips: vec![*block],
        },
    };
    DiscoveredIntent {
        client: workload(&key.client),
        target,
        first_seen: timestamp(record.first_seen_ms),
        last_seen: timestamp(record.last_seen_ms),
    }
}

fn from_api(intent: DiscoveredIntent) -> (IntentKey, Record) {
    let mut http = BTreeMap::new();
    let (target, service, ips) = match intent.target {
        Target::Kubernetes {
            server,
            service,
            http: paths,
        } => {
            for path in paths {
                let methods = path
                    .methods
                    .iter()
                    .filter_map(|m| method_bit(m))
                    .fold(0, |all, bit| all | bit);
                http.insert(path.path, methods);
            }
            (TargetKey::Workload(identity(&server)), service, Vec::new())
        }
        Target::Internet {
            domain: Some(domain),
            ips,
        } => (
            TargetKey::Domain(domain),
            None,
            ips.iter()
                .filter_map(IpBlock::single)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        ),
        Target::Internet { domain: None, ips } => {
            let first = ips
                .first()
                .copied()
                .unwrap_or_else(|| IpBlock::from(IpAddr::from([0, 0, 0, 0])));
            match first.single() {
                Some(address) => (TargetKey::Address(address), None, vec![address]),
                None => (TargetKey::Network(first), None, Vec::new()),
            }
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
        http,
    };
    (key, record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ns: &str, name: &str) -> Identity {
        Identity::new(ns, name, Some("Deployment"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn the_generation_moves_with_the_set_of_intents_not_with_sightings() {
        let mut store = Store::default();
        let server = TargetKey::Workload(id("ns", "server"));
        let start = store.generation();
        store
            .record(id("ns", "client"), server.clone(), 1, None, None)
            .expect("kept");
        let added = store.generation();
        assert!(added > start);
        store
            .record(id("ns", "client"), server.clone(), 2, None, None)
            .expect("kept");
        store.record_dns("example.com", ip("203.0.113.1"), 2);
        assert_eq!(store.generation(), added, "another sighting, a DNS answer");
        store
            .record(id("ns", "client"), server, 3, Some("server".into()), None)
            .expect("kept");
        let through_service = store.generation();
        assert!(through_service > added, "the Service it dialed changed");
        store.reset();
        assert!(store.generation() > through_service);
    }

    #[test]
    fn repeated_observations_merge_into_one_intent_with_first_and_last_seen() {
        let mut store = Store::default();
        let server = TargetKey::Workload(id("ns", "server"));
        let client = || id("ns", "client");
        store
            .record(client(), server.clone(), 2_000, None, None)
            .expect("kept");
        store
            .record(client(), server.clone(), 1_000, Some("server".into()), None)
            .expect("kept");
        store.record(client(), server, 3_000, None, None).expect("kept");
        let intents = store.intents(&Filter::default());
        assert_eq!(intents.len(), 1);
        assert_eq!(intents[0].first_seen.as_millisecond(), 1_000);
        assert_eq!(intents[0].last_seen.as_millisecond(), 3_000);
        assert_eq!(
            intents[0].target,
            Target::Kubernetes {
                server: workload(&id("ns", "server")),
                service: Some("server".into()),
                http: Vec::new(),
            }
        );
        assert!(store.is_dirty());
        let changes = store.take_changes();
        assert_eq!(changes.intents.len(), 1);
        assert!(!store.is_dirty());
        store.reset();
        assert!(store.is_empty() && store.is_dirty());
        assert!(store.take_changes().reset);
    }

    #[test]
    fn filters_select_by_client_namespace_client_and_server() {
        let mut store = Store::default();
        let _ = store.record(id("a", "c1"), TargetKey::Workload(id("a", "s")), 1, None, None);
        let _ = store.record(id("b", "c2"), TargetKey::Workload(id("a", "s")), 1, None, None);
        let _ = store.record(
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
    fn an_earlier_json_snapshot_is_imported_including_internet_targets_and_dns() {
        let mut store = Store::default();
        let address = ip("93.184.216.34");
        let _ = store.record(
            id("a", "c"),
            TargetKey::Workload(id("a", "s")),
            10,
            Some("s".into()),
            None,
        );
        let _ = store.record(
            id("a", "c"),
            TargetKey::Domain("example.com".into()),
            20,
            None,
            Some(address),
        );
        let _ = store.record(id("a", "c"), TargetKey::Address(address), 30, None, Some(address));
        store.record_dns("example.com", address, 20);
        let contents = store.contents();
        let json = serde_json::to_string(&contents).expect("serialize");
        let back: StoreContents = serde_json::from_str(&json).expect("deserialize");
        let mut restored = Store::default();
        restored.import(back, 40);
        assert_eq!(restored.contents(), contents);
        assert_eq!(restored.name_of(&address), Some("example.com"));
        assert_eq!(
            restored.take_changes().intents.len(),
            3,
            "written to the durable store next"
        );
    }

    fn limited() -> Store {
        Store::new(StoreLimits {
            max_intents: 10,
            max_intents_per_client: 6,
            max_internet_targets_per_client: 4,
            group_internet_addresses_after: 2,
            max_addresses_per_target: 2,
            max_dns_addresses: 6,
            max_addresses_per_dns_name: 3,
            max_http_paths_per_server: 3,
            http_path_fold: PathFold::default(),
        })
    }

    #[test]
    fn past_the_grouping_limit_a_clients_addresses_are_kept_as_their_network() {
        let mut store = limited();
        let client = || id("a", "c");
        for address in [
            "1.1.1.1",
            "2.2.2.2",
            "93.184.216.34",
            "93.184.216.99",
            "2001:db8:1:2::7",
        ] {
            let address = ip(address);
            store
                .record(client(), TargetKey::Address(address), 5, None, Some(address))
                .expect("kept");
        }
        // An address kept singly before the limit stays single.
        store
            .record(
                client(),
                TargetKey::Address(ip("1.1.1.1")),
                6,
                None,
                Some(ip("1.1.1.1")),
            )
            .expect("kept");
        let ips: Vec<String> = store
            .intents(&Filter::default())
            .into_iter()
            .flat_map(|intent| match intent.target {
                Target::Internet { ips, .. } => ips.into_iter().map(|b| b.to_string()).collect(),
                Target::Kubernetes { .. } => Vec::new(),
            })
            .collect();
        assert_eq!(
            ips,
            ["1.1.1.1", "2.2.2.2", "93.184.216.0/24", "2001:db8:1:2::/64"]
        );
        assert_eq!(store.stats.addresses_grouped, 3);
    }

    #[test]
    fn new_intents_past_a_bound_are_refused_and_counted_and_known_ones_still_update() {
        let mut store = limited();
        let client = || id("a", "c");
        for n in 0..4 {
            store
                .record(
                    client(),
                    TargetKey::Domain(format!("d{n}.example.com")),
                    1,
                    None,
                    None,
                )
                .expect("kept");
        }
        assert_eq!(
            store.record(
                client(),
                TargetKey::Domain("d9.example.com".into()),
                1,
                None,
                None
            ),
            Err(Refused::InternetFull)
        );
        for n in 0..2 {
            store
                .record(
                    client(),
                    TargetKey::Workload(id("a", &format!("s{n}"))),
                    1,
                    None,
                    None,
                )
                .expect("kept");
        }
        assert_eq!(
            store.record(client(), TargetKey::Workload(id("a", "s9")), 1, None, None),
            Err(Refused::ClientFull)
        );
        for n in 0..4 {
            store
                .record(
                    id("b", "other"),
                    TargetKey::Workload(id("a", &format!("s{n}"))),
                    1,
                    None,
                    None,
                )
                .expect("kept");
        }
        assert_eq!(store.len(), 10);
        assert_eq!(
            store.record(
                id("c", "third"),
                TargetKey::Workload(id("a", "s0")),
                1,
                None,
                None
            ),
            Err(Refused::StoreFull)
        );
        // Known intents still update; the addresses listed per target are bounded.
        for address in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            store
                .record(
                    client(),
                    TargetKey::Domain("d0.example.com".into()),
                    9,
                    None,
                    Some(ip(address)),
                )
                .expect("known");
        }
        assert_eq!(store.stats.addresses_not_listed, 1);
        assert_eq!(store.stats.refused.values().sum::<u64>(), 3);
        assert_eq!(store.len(), 10);
    }

    #[test]
    fn dns_answers_are_bounded_forgetting_what_was_seen_longest_ago() {
        let mut store = limited();
        for (n, address) in ["1.0.0.1", "1.0.0.2", "1.0.0.3", "1.0.0.4"]
            .into_iter()
            .enumerate()
        {
            store.record_dns("cdn.example.com", ip(address), n as u64);
        }
        let kept: Vec<IpAddr> = store.dns()["cdn.example.com"].ips().collect();
        assert_eq!(kept.len(), 3);
        assert!(!kept.contains(&ip("1.0.0.1")), "the oldest went");
        assert_eq!(store.name_of(&ip("1.0.0.1")), None);
        store.record_dns("a.example.com", ip("2.0.0.1"), 10);
        store.record_dns("b.example.com", ip("2.0.0.2"), 11);
        store.record_dns("b.example.com", ip("2.0.0.3"), 12);
        assert_eq!(store.dns_len(), 6);
        // A new name past the total: the names seen longest ago go.
        store.record_dns("c.example.com", ip("2.0.0.4"), 13);
        assert!(store.dns_len() <= 6, "{}", store.dns_len());
        assert!(!store.dns().contains_key("cdn.example.com"));
        assert_eq!(store.name_of(&ip("1.0.0.4")), None);
        assert_eq!(store.name_of(&ip("2.0.0.4")), Some("c.example.com"));
        let changes = store.take_changes();
        assert!(
            changes
                .dns
                .iter()
                .any(|(name, entry)| name == "cdn.example.com" && entry.is_none())
        );
    }

    #[test]
    fn http_paths_fold_ids_and_past_the_bound_fold_further() {
        let mut store = limited();
        let (client, server) = (id("ns", "client"), id("ns", "server"));
        let get = method_bit("GET").expect("GET");
        let post = method_bit("POST").expect("POST");
        let mut request = |method: u8, path: &str| {
            store
                .record_http(client.clone(), server.clone(), 5, None, method, path)
                .expect("kept");
        };
        request(get, "/orders/17");
        request(get, "/orders/18");
        request(post, "/charge");
        request(get, "/inventory/*");
        // The bound (3) is reached: new paths fold further.
        request(get, "/orders/19/items");
        request(post, "/reports/2024/summary");
        request(get, "/other");
        let intents = store.intents(&Filter::default());
        let Target::Kubernetes { http, .. } = &intents[0].target else {
            panic!("{intents:?}");
        };
        let paths: Vec<(&str, Vec<&str>)> = http
            .iter()
            .map(|p| (p.path.as_str(), p.methods.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            paths,
            [
                ("/*", vec!["GET", "POST"]),
                ("/charge", vec!["POST"]),
                ("/inventory/*", vec!["GET"]),
                ("/orders/*", vec!["GET"]),
            ]
        );
        assert_eq!(
            store.stats.http_paths_folded, 2,
            "/reports/* and /other; /orders/19/items was kept folded"
        );
        let (key, record) = from_api(intents[0].clone());
        assert_eq!(key.target, TargetKey::Workload(server));
        assert_eq!(record.http.len(), 4, "read back from the API form");
    }

    #[test]
    fn the_http_path_bound_is_per_server_across_clients_and_survives_a_reload() {
        let get = method_bit("GET").expect("GET");
        let server = id("ns", "server");
        let paths_of = |store: &Store, client: &str| -> Vec<String> {
            let key = IntentKey {
                client: id("ns", client),
                target: TargetKey::Workload(server.clone()),
            };
            store.intents[&key].http.keys().cloned().collect()
        };
        let mut store = limited();
        for (client, path) in [
            ("a", "/orders/1"),
            ("a", "/charge"),
            ("b", "/charge"),
            ("b", "/stock"),
        ] {
            store
                .record_http(id("ns", client), server.clone(), 5, None, get, path)
                .expect("kept");
        }
        // The server has 3 distinct paths (the bound): a path it has is kept for any client, a new one
        // folds, whichever client asks.
        let mut after_reload = Store::new(store.limits());
        after_reload.load_intents(store.intents.clone());
        for store in [&mut store, &mut after_reload] {
            for (client, path) in [
                ("c", "/stock"),
                ("c", "/orders/2"),
                ("c", "/refund"),
                ("a", "/other"),
            ] {
                store
                    .record_http(id("ns", client), server.clone(), 6, None, get, path)
                    .expect("kept");
            }
            assert_eq!(paths_of(store, "c"), ["/*", "/orders/*", "/stock"]);
            assert_eq!(paths_of(store, "a"), ["/*", "/charge", "/orders/*"]);
            assert_eq!(store.stats.http_paths_folded, 2, "/refund and /other");
        }
        // Another server has a bound of its own.
        store
            .record_http(id("ns", "a"), id("ns", "other"), 7, None, get, "/refund")
            .expect("kept");
        let key = IntentKey {
            client: id("ns", "a"),
            target: TargetKey::Workload(id("ns", "other")),
        };
        assert_eq!(store.intents[&key].http.keys().collect::<Vec<_>>(), ["/refund"]);
    }
}
