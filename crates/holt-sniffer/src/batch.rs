//! What the sniffer saw since its last delivered report, deduplicated. In: DNS answers
//! (client, name, address, TTL, time), connections (source, destination, port, how seen, time) and
//! HTTP requests (source, destination, port, method, path, time). Out: the `dns`, `connections` and
//! `http` lists of a [`holt_mapper_api::Report`].
//!
//! DNS answers are keyed by (client, name, address), connections by (source, destination, port, how
//! seen): a SYN and a socket-scan sighting of the same flow are both kept, since they say different
//! things (an attempt; an established connection with the source's host name). Repeats keep the latest
//! time and that sighting's TTL (the TTL counts from then on). The batch is bounded: a new key past `capacity` is not stored and is
//! counted in [`Batch::overflow`]; HTTP requests have their own bound within it,
//! [`MAX_HTTP_REQUESTS`] distinct (source, destination, port, method, path) per batch. Recording a key
//! already present never allocates; names and paths are looked up by `&str`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use holt_decode::Method;
use holt_mapper_api::{Connection, DnsAnswer, HttpRequest, SeenBy};
use indexmap::IndexSet;

/// The batch's hash tables. Keys come from the network, so the hash is seeded per process (foldhash's
/// `RandomState`): colliding keys cannot be chosen without the seed, and the batch is bounded anyway.
/// Keyed SipHash (std's default) cost a fifth of the CPU on traffic that never repeats.
type Table<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DnsSeen {
    ttl_seconds: u32,
    last_seen_ms: u64,
}

/// A DNS answer: the question name (an index into the batch's `names`), the client it was sent to, and
/// one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DnsKey {
    name: u32,
    client: IpAddr,
    ip: IpAddr,
}

// Keys are hashed as two 128-bit words and one 32-bit word: three multiplications with foldhash,
// where hashing the same 36 bytes as a slice costs a loop (a tenth of recording a new packet).
impl Hash for DnsKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(address_word(self.client));
        state.write_u128(address_word(self.ip));
        state.write_u32(self.name);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnectionKey {
    src: IpAddr,
    dst: IpAddr,
    dst_port: u16,
    seen_by: SeenBy,
}

impl Hash for ConnectionKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(address_word(self.src));
        state.write_u128(address_word(self.dst));
        state.write_u32(u32::from(self.dst_port) << 8 | self.seen_by as u32);
    }
}

/// The most distinct HTTP requests (source, destination, port, method, path) a batch holds; more are
/// turned away and counted in [`Batch::overflow`], like observations past the batch's capacity.
pub const MAX_HTTP_REQUESTS: usize = 10_000;

/// An HTTP request: the path is an index into the batch's `paths`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HttpKey {
    src: IpAddr,
    dst: IpAddr,
    dst_port: u16,
    method: Method,
    path: u32,
}

impl Hash for HttpKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(address_word(self.src));
        state.write_u128(address_word(self.dst));
        state.write_u64(u64::from(self.dst_port) << 40 | (self.method as u64) << 32 | u64::from(self.path));
    }
}

/// IPv4 as IPv4-mapped IPv6; IPv6 as is (a mapped IPv6 key then shares the hash of its IPv4 twin,
/// which only costs an equality check).
fn address_word(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().to_bits(),
        IpAddr::V6(v6) => v6.to_bits(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ConnectionSeen {
    src_hostname: Option<Box<str>>,
    last_seen_ms: u64,
}

/// A bounded, deduplicated set of observations.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Unique within the process (see [`crate::recent`]).
    id: u64,
    /// The question names of `dns`, each stored once; a key holds its name's index.
    names: IndexSet<Box<str>, foldhash::fast::RandomState>,
    dns: Table<DnsKey, DnsSeen>,
    connections: Table<ConnectionKey, ConnectionSeen>,
    /// The paths of `http`, each stored once; a key holds its path's index.
    paths: IndexSet<Box<str>, foldhash::fast::RandomState>,
    /// HTTP requests and when each was last seen.
    http: Table<HttpKey, u64>,
    capacity: usize,
    overflow: u64,
    evicted: u64,
}

/// One observation of a batch, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    Dns(DnsEntry<'a>),
    Connection(ConnectionEntry<'a>),
    Http(HttpEntry<'a>),
}

impl Batch {
    /// An empty batch that holds at most `capacity` distinct observations.
    pub fn new(capacity: usize) -> Self {
        Self {
            id: next_id(),
            names: IndexSet::default(),
            dns: Table::default(),
            connections: Table::default(),
            paths: IndexSet::default(),
            http: Table::default(),
            capacity,
            overflow: 0,
            evicted: 0,
        }
    }

    /// This batch, emptied (a new identity, no overflow) to hold at most `capacity` observations. Its
    /// tables keep their allocations: a recycled batch fills up again without growing them.
    pub fn recycled(mut self, capacity: usize) -> Self {
        self.clear();
        self.capacity = capacity;
        self
    }

    /// This batch's identity: no other batch of the process has the same.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Distinct observations held.
    pub fn len(&self) -> usize {
        self.dns.len() + self.connections.len() + self.http.len()
    }

    /// Distinct observations it holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// New observations turned away because the batch was full, since it was created.
    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    /// Observations dropped by [`Batch::absorb`] (the oldest) to stay within capacity.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Records that `name` resolved to `ip` in a response sent to `client`.
    pub fn add_dns(&mut self, client: IpAddr, name: &str, ip: IpAddr, ttl_seconds: u32, at_ms: u64) {
        self.add_dns_addresses(client, name, [(ip, ttl_seconds)], at_ms);
    }

    /// Records that `name` resolved to each of `addresses` (with their TTLs) in a response sent to
    /// `client`: one name lookup for all of them.
    pub fn add_dns_addresses(
        &mut self,
        client: IpAddr,
        name: &str,
        addresses: impl IntoIterator<Item = (IpAddr, u32)>,
        at_ms: u64,
    ) {
        let index = match self.names.get_index_of(name) {
            Some(index) => Some(index),
            // A new name brings at least one new observation: none fits in a full batch.
            None if self.len() < self.capacity => Some(self.names.insert_full(name.into()).0),
            None => None,
        };
        let Some(name) = index.and_then(|index| u32::try_from(index).ok()) else {
            self.overflow += addresses.into_iter().count() as u64;
            return;
        };
        for (ip, ttl_seconds) in addresses {
            let seen = DnsSeen {
                ttl_seconds,
                last_seen_ms: at_ms,
            };
            let key = DnsKey { name, client, ip };
            if let Some(existing) = self.dns.get_mut(&key) {
                merge_dns(existing, seen);
            } else if self.len() >= self.capacity {
                self.overflow += 1;
            } else {
                self.dns.insert(key, seen);
            }
        }
    }

    /// Records a connection from `src` to `dst:dst_port`.
    pub fn add_connection(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        dst_port: u16,
        seen_by: SeenBy,
        src_hostname: Option<&str>,
        at_ms: u64,
    ) {
        let key = ConnectionKey {
            src,
            dst,
            dst_port,
            seen_by,
        };
        // Looked up before inserting: std's `entry` reserves room first, which can grow a full table
        // (allocate) for a key that is already there.
        if let Some(existing) = self.connections.get_mut(&key) {
            existing.last_seen_ms = existing.last_seen_ms.max(at_ms);
            if let Some(hostname) = src_hostname.filter(|h| existing.src_hostname.as_deref() != Some(*h)) {
                existing.src_hostname = Some(hostname.into());
            }
        } else if self.len() >= self.capacity {
            self.overflow += 1;
        } else {
            self.connections.insert(
                key,
                ConnectionSeen {
                    src_hostname: src_hostname.map(Into::into),
                    last_seen_ms: at_ms,
                },
            );
        }
    }

    /// Records an HTTP request from `src` to `dst:dst_port` with `method` and `path`.
    pub fn add_http(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        dst_port: u16,
        method: Method,
        path: &str,
        at_ms: u64,
    ) {
        let room = self.len() < self.capacity && self.http.len() < MAX_HTTP_REQUESTS;
        let index = match self.paths.get_index_of(path) {
            Some(index) => Some(index),
            None if room => Some(self.paths.insert_full(path.into()).0),
            None => None,
        };
        let Some(path) = index.and_then(|index| u32::try_from(index).ok()) else {
            self.overflow += 1;
            return;
        };
        let key = HttpKey {
            src,
            dst,
            dst_port,
            method,
            path,
        };
        if let Some(last_seen_ms) = self.http.get_mut(&key) {
            *last_seen_ms = (*last_seen_ms).max(at_ms);
        } else if room {
            self.http.insert(key, at_ms);
        } else {
            self.overflow += 1;
        }
    }

    /// Moves everything from `other` into this batch; `other`'s overflow and evictions are added to this
    /// one's. Into an empty batch of at least the same capacity this is a move, not a re-insertion.
    /// Past this batch's capacity, the observations seen longest ago (in either) are dropped and
    /// counted in [`Batch::evicted`]; for a moment the batch holds both.
    pub fn absorb(&mut self, mut other: Batch) {
        if self.is_empty() && other.capacity <= self.capacity {
            other.capacity = self.capacity;
            other.overflow += self.overflow;
            other.evicted += self.evicted;
            *self = other;
            return;
        }
        self.overflow += other.overflow;
        self.evicted += other.evicted;
        let capacity = self.capacity;
        self.capacity = capacity.saturating_add(other.len());
        for (key, seen) in &other.dns {
            let name = other.name(key);
            self.add_dns(key.client, name, key.ip, seen.ttl_seconds, seen.last_seen_ms);
        }
        for (key, last_seen_ms) in &other.http {
            let path = other.path(key);
            self.add_http(key.src, key.dst, key.dst_port, key.method, path, *last_seen_ms);
        }
        for (key, seen) in other.connections {
            self.add_connection(
                key.src,
                key.dst,
                key.dst_port,
                key.seen_by,
                seen.src_hostname.as_deref(),
                seen.last_seen_ms,
            );
        }
        self.capacity = capacity;
        if self.len() > capacity {
            let excess = self.len() - capacity;
            self.evict_oldest(excess);
            self.evicted += excess as u64;
        }
    }

    /// Removes the `count` observations seen longest ago (ties broken arbitrarily).
    fn evict_oldest(&mut self, count: usize) {
        if count == 0 {
            return;
        }
        let mut times: Vec<u64> = self
            .dns
            .values()
            .map(|seen| seen.last_seen_ms)
            .chain(self.connections.values().map(|seen| seen.last_seen_ms))
            .chain(self.http.values().copied())
            .collect();
        if count >= times.len() {
            self.dns.clear();
            self.connections.clear();
            self.http.clear();
            self.compact_names();
            self.compact_paths();
            return;
        }
        // Everything older than the count-th oldest time goes, then as many at that time as needed.
        let (_, threshold, _) = times.select_nth_unstable(count - 1);
        let threshold = *threshold;
        drop(times);
        let mut left = count;
        let mut keep = |last_seen_ms: u64, at_threshold: bool| -> bool {
            let older = if at_threshold {
                last_seen_ms == threshold
            } else {
                last_seen_ms < threshold
            };
            if older && left > 0 {
                left -= 1;
                false
            } else {
                true
            }
        };
        for at_threshold in [false, true] {
            self.dns.retain(|_, seen| keep(seen.last_seen_ms, at_threshold));
            self.connections
                .retain(|_, seen| keep(seen.last_seen_ms, at_threshold));
            self.http
                .retain(|_, last_seen_ms| keep(*last_seen_ms, at_threshold));
        }
        self.compact_names();
        self.compact_paths();
    }

    /// Drops paths no HTTP request refers to any more, once they are most of the table (as
    /// [`Batch::compact_names`] does for names).
    fn compact_paths(&mut self) {
        if self.paths.len() <= 64 || self.paths.len() <= 2 * self.http.len() {
            return;
        }
        let old_paths = std::mem::take(&mut self.paths);
        let entries: Vec<(HttpKey, u64)> = self.http.drain().collect();
        for (mut key, last_seen_ms) in entries {
            let path = usize::try_from(key.path)
                .ok()
                .and_then(|index| old_paths.get_index(index))
                .map_or("", |path| path);
            let (index, _) = self.paths.insert_full(path.into());
            key.path = u32::try_from(index).unwrap_or(u32::MAX);
            self.http.insert(key, last_seen_ms);
        }
    }

    /// Drops names no DNS answer refers to any more, once they are most of the table (after
    /// evictions and splits), so that a batch that is never emptied does not collect names forever.
    fn compact_names(&mut self) {
        if self.names.len() <= 64 || self.names.len() <= 2 * self.dns.len() {
            return;
        }
        let old_names = std::mem::take(&mut self.names);
        let entries: Vec<(DnsKey, DnsSeen)> = self.dns.drain().collect();
        for (mut key, seen) in entries {
            let name = usize::try_from(key.name)
                .ok()
                .and_then(|index| old_names.get_index(index))
                .map_or("", |name| name);
            let (index, _) = self.names.insert_full(name.into());
            key.name = u32::try_from(index).unwrap_or(u32::MAX);
            self.dns.insert(key, seen);
        }
    }

    /// Moves observations out of this batch into a new one (of the same capacity), in no particular
    /// order, while `admit` accepts them: it sees each in turn and the first it refuses ends the
    /// split (and stays here).
    pub fn split_off_while(&mut self, mut admit: impl FnMut(&Entry<'_>) -> bool) -> Batch {
        let mut dns = Vec::new();
        let mut connections = Vec::new();
        let mut http = Vec::new();
        let mut refused = false;
        for entry in self.dns_entries() {
            if !admit(&Entry::Dns(entry)) {
                refused = true;
                break;
            }
            dns.push(entry);
        }
        if !refused {
            for entry in self.connection_entries() {
                if !admit(&Entry::Connection(entry)) {
                    refused = true;
                    break;
                }
                connections.push(entry);
            }
        }
        if !refused {
            for entry in self.http_entries() {
                if !admit(&Entry::Http(entry)) {
                    break;
                }
                http.push(entry);
            }
        }
        let mut part = Batch::new(self.capacity);
        for entry in &dns {
            part.add_dns(
                entry.client_ip,
                entry.name,
                entry.ip,
                entry.ttl_seconds,
                entry.last_seen_ms,
            );
        }
        for entry in &connections {
            part.add_connection(
                entry.src_ip,
                entry.dst_ip,
                entry.dst_port,
                entry.seen_by,
                entry.src_hostname,
                entry.last_seen_ms,
            );
        }
        for entry in &http {
            part.add_http(
                entry.src_ip,
                entry.dst_ip,
                entry.dst_port,
                entry.method,
                entry.path,
                entry.last_seen_ms,
            );
        }
        let http_keys: Vec<HttpKey> = http
            .iter()
            .filter_map(|entry| {
                let path = u32::try_from(self.paths.get_index_of(entry.path)?).ok()?;
                Some(HttpKey {
                    src: entry.src_ip,
                    dst: entry.dst_ip,
                    dst_port: entry.dst_port,
                    method: entry.method,
                    path,
                })
            })
            .collect();
        let dns_keys: Vec<DnsKey> = dns
            .iter()
            .filter_map(|entry| {
                let name = u32::try_from(self.names.get_index_of(entry.name)?).ok()?;
                Some(DnsKey {
                    name,
                    client: entry.client_ip,
                    ip: entry.ip,
                })
            })
            .collect();
        let connection_keys: Vec<ConnectionKey> = connections
            .iter()
            .map(|entry| ConnectionKey {
                src: entry.src_ip,
                dst: entry.dst_ip,
                dst_port: entry.dst_port,
                seen_by: entry.seen_by,
            })
            .collect();
        drop((dns, connections, http));
        for key in &http_keys {
            self.http.remove(key);
        }
        for key in &dns_keys {
            self.dns.remove(key);
        }
        for key in &connection_keys {
            self.connections.remove(key);
        }
        if self.is_empty() {
            self.names.clear();
            self.paths.clear();
        } else {
            self.compact_names();
            self.compact_paths();
        }
        part
    }

    /// Returns the overflow count and resets it.
    pub fn take_overflow(&mut self) -> u64 {
        std::mem::take(&mut self.overflow)
    }

    /// Returns the eviction count and resets it.
    pub fn take_evicted(&mut self) -> u64 {
        std::mem::take(&mut self.evicted)
    }

    /// Empties the batch, keeping its capacity and allocations; returns the overflow count it had (the
    /// eviction count is reset too).
    pub fn clear(&mut self) -> u64 {
        self.id = next_id();
        self.names.clear();
        self.dns.clear();
        self.connections.clear();
        self.paths.clear();
        self.http.clear();
        self.evicted = 0;
        std::mem::take(&mut self.overflow)
    }

    /// Every observation, borrowed, in no particular order: DNS answers first.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        self.dns_entries()
            .map(Entry::Dns)
            .chain(self.connection_entries().map(Entry::Connection))
            .chain(self.http_entries().map(Entry::Http))
    }

    /// The HTTP requests, borrowed, in no particular order.
    pub fn http_entries(&self) -> impl Iterator<Item = HttpEntry<'_>> {
        self.http.iter().map(|(key, last_seen_ms)| HttpEntry {
            src_ip: key.src,
            dst_ip: key.dst,
            dst_port: key.dst_port,
            method: key.method,
            path: self.path(key),
            last_seen_ms: *last_seen_ms,
        })
    }

    fn path(&self, key: &HttpKey) -> &str {
        usize::try_from(key.path)
            .ok()
            .and_then(|index| self.paths.get_index(index))
            .map_or("", |path| path)
    }

    /// The HTTP requests, in no particular order.
    pub fn http_requests(&self) -> Vec<HttpRequest> {
        self.http_entries()
            .map(|entry| HttpRequest {
                src_ip: entry.src_ip,
                dst_ip: entry.dst_ip,
                dst_port: entry.dst_port,
                method: entry.method.as_str().to_owned(),
                path: entry.path.to_owned(),
                last_seen_ms: entry.last_seen_ms,
            })
            .collect()
    }

    /// The DNS answers, in no particular order (sorting a large report costs more than building it).
    pub fn dns_answers(&self) -> Vec<DnsAnswer> {
        self.dns_entries()
            .map(|entry| DnsAnswer {
                client_ip: entry.client_ip,
                name: entry.name.to_owned(),
                ip: entry.ip,
                ttl_seconds: entry.ttl_seconds,
                last_seen_ms: entry.last_seen_ms,
            })
            .collect()
    }

    /// The DNS answers, borrowed, in no particular order.
    pub fn dns_entries(&self) -> impl Iterator<Item = DnsEntry<'_>> {
        self.dns.iter().map(|(key, seen)| DnsEntry {
            client_ip: key.client,
            name: self.name(key),
            ip: key.ip,
            ttl_seconds: seen.ttl_seconds,
            last_seen_ms: seen.last_seen_ms,
        })
    }

    /// The connections, borrowed, in no particular order.
    pub fn connection_entries(&self) -> impl Iterator<Item = ConnectionEntry<'_>> {
        self.connections.iter().map(|(key, seen)| ConnectionEntry {
            src_ip: key.src,
            dst_ip: key.dst,
            dst_port: key.dst_port,
            seen_by: key.seen_by,
            src_hostname: seen.src_hostname.as_deref(),
            last_seen_ms: seen.last_seen_ms,
        })
    }

    fn name(&self, key: &DnsKey) -> &str {
        usize::try_from(key.name)
            .ok()
            .and_then(|index| self.names.get_index(index))
            .map_or("", |name| name)
    }

    /// The connections, in no particular order.
    pub fn connections(&self) -> Vec<Connection> {
        self.connection_entries()
            .map(|entry| Connection {
                src_ip: entry.src_ip,
                dst_ip: entry.dst_ip,
                dst_port: entry.dst_port,
                seen_by: entry.seen_by,
                src_hostname: entry.src_hostname.map(str::to_owned),
                last_seen_ms: entry.last_seen_ms,
            })
            .collect()
    }
}

/// A [`DnsAnswer`] borrowed from a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsEntry<'a> {
    pub client_ip: IpAddr,
    pub name: &'a str,
    pub ip: IpAddr,
    pub ttl_seconds: u32,
    pub last_seen_ms: u64,
}

/// A [`Connection`] borrowed from a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionEntry<'a> {
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    pub seen_by: SeenBy,
    pub src_hostname: Option<&'a str>,
    pub last_seen_ms: u64,
}

/// An [`HttpRequest`] borrowed from a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpEntry<'a> {
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    pub method: Method,
    pub path: &'a str,
    pub last_seen_ms: u64,
}

/// A batch identity never used before in this process.
fn next_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

fn merge_dns(existing: &mut DnsSeen, seen: DnsSeen) {
    if seen.last_seen_ms >= existing.last_seen_ms {
        // The latest answer's TTL is the one that counts from its time on.
        existing.ttl_seconds = seen.ttl_seconds;
        existing.last_seen_ms = seen.last_seen_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_dns(batch: &Batch) -> Vec<DnsAnswer> {
        let mut out = batch.dns_answers();
        out.sort_by(|a, b| (&a.name, a.client_ip, a.ip).cmp(&(&b.name, b.client_ip, b.ip)));
        out
    }

    fn sorted_connections(batch: &Batch) -> Vec<Connection> {
        let mut out = batch.connections();
        out.sort_by_key(|c| (c.src_ip, c.dst_ip, c.dst_port, c.seen_by));
        out
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn repeats_collapse_and_keep_the_latest_sighting() {
        let mut batch = Batch::new(10);
        batch.add_dns(ip("10.0.0.1"), "web.ns.svc", ip("10.1.0.1"), 30, 100);
        batch.add_dns(ip("10.0.0.1"), "web.ns.svc", ip("10.1.0.1"), 20, 200);
        batch.add_dns(ip("10.0.0.1"), "web.ns.svc", ip("10.1.0.1"), 50, 150);
        batch.add_dns(ip("10.0.0.1"), "web.ns.svc", ip("10.1.0.1"), 40, 300);
        batch.add_dns(ip("10.0.0.1"), "web.ns.svc", ip("fd00::1"), 30, 100);
        batch.add_dns(ip("10.0.0.2"), "web.ns.svc", ip("10.1.0.1"), 30, 100);
        assert_eq!(batch.len(), 3);
        let answers = sorted_dns(&batch);
        assert_eq!(answers.len(), 3);
        assert_eq!(
            (answers[0].ttl_seconds, answers[0].last_seen_ms),
            (40, 300),
            "the latest sighting's TTL, not the smallest"
        );
        assert_eq!(answers[1].ip, ip("fd00::1"));
        assert_eq!(answers[2].client_ip, ip("10.0.0.2"));
    }

    #[test]
    fn syn_and_socket_scan_sightings_are_kept_apart() {
        let mut batch = Batch::new(10);
        batch.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 80, SeenBy::Syn, None, 5);
        batch.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 80, SeenBy::Syn, None, 7);
        batch.add_connection(
            ip("10.0.0.1"),
            ip("10.0.0.9"),
            80,
            SeenBy::SocketScan,
            Some("pod-a"),
            6,
        );
        let connections = sorted_connections(&batch);
        assert_eq!(connections.len(), 2);
        assert_eq!(
            (connections[0].seen_by, connections[0].last_seen_ms),
            (SeenBy::Syn, 7)
        );
        assert_eq!(connections[1].src_hostname.as_deref(), Some("pod-a"));
    }

    #[test]
    fn a_full_batch_counts_what_it_turns_away_but_updates_what_it_has() {
        let mut batch = Batch::new(2);
        batch.add_dns(ip("10.0.0.1"), "a", ip("10.1.0.1"), 30, 1);
        batch.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 80, SeenBy::Syn, None, 1);
        batch.add_dns(ip("10.0.0.1"), "b", ip("10.1.0.1"), 30, 1);
        batch.add_dns(ip("10.0.0.1"), "a", ip("10.1.0.2"), 30, 1);
        batch.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 81, SeenBy::Syn, None, 1);
        batch.add_dns(ip("10.0.0.1"), "a", ip("10.1.0.1"), 30, 9);
        assert_eq!((batch.len(), batch.overflow()), (2, 3));
        assert_eq!(sorted_dns(&batch)[0].last_seen_ms, 9);
        assert_eq!(batch.clear(), 3);
        assert!(batch.is_empty());
    }

    #[test]
    fn absorbing_into_an_empty_batch_moves_everything() {
        let mut pending = Batch::new(10);
        let mut fresh = Batch::new(5);
        fresh.add_dns(ip("10.0.0.1"), "a", ip("10.1.0.1"), 30, 5);
        fresh.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 80, SeenBy::Syn, None, 5);
        pending.absorb(fresh);
        assert_eq!(pending.len(), 2);
        for n in 0..9 {
            pending.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 1000 + n, SeenBy::Syn, None, 5);
        }
        assert_eq!(
            (pending.len(), pending.overflow()),
            (10, 1),
            "the pending batch keeps its capacity"
        );
    }

    #[test]
    fn absorbing_past_capacity_drops_the_oldest_observations() {
        let mut pending = Batch::new(3);
        pending.add_dns(ip("10.0.0.1"), "a", ip("10.1.0.1"), 30, 1);
        pending.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 79, SeenBy::Syn, None, 2);
        let mut fresh = Batch::new(10);
        fresh.add_dns(ip("10.0.0.1"), "a", ip("10.1.0.1"), 30, 5);
        fresh.add_dns(ip("10.0.0.1"), "b", ip("10.1.0.1"), 30, 6);
        fresh.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 80, SeenBy::Syn, None, 4);
        fresh.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 81, SeenBy::Syn, None, 7);
        pending.absorb(fresh);
        assert_eq!((pending.len(), pending.overflow(), pending.evicted()), (3, 0, 2));
        let answers = sorted_dns(&pending);
        assert_eq!(
            answers
                .iter()
                .map(|a| (a.name.as_str(), a.last_seen_ms))
                .collect::<Vec<_>>(),
            [("a", 5), ("b", 6)],
            "a was seen again at 5: merged, not dropped"
        );
        let ports: Vec<u16> = sorted_connections(&pending).iter().map(|c| c.dst_port).collect();
        assert_eq!(ports, [81], "the connections seen at 2 and 4 were the oldest");
        assert_eq!(pending.take_evicted(), 2);
    }

    #[test]
    fn a_split_moves_what_is_admitted_and_keeps_the_rest() {
        let mut batch = Batch::new(100);
        for n in 0..10u8 {
            batch.add_dns(ip("10.0.0.1"), &format!("name-{n}"), ip("10.1.0.1"), 30, 1);
            batch.add_connection(
                ip("10.0.0.1"),
                ip("10.0.0.9"),
                u16::from(n),
                SeenBy::Syn,
                Some("h"),
                1,
            );
        }
        let mut seen = 0;
        let part = batch.split_off_while(|_| {
            seen += 1;
            seen <= 13
        });
        assert_eq!((part.len(), batch.len()), (13, 7));
        assert_eq!(part.dns_answers().len(), 10, "DNS answers first");
        let mut everything = part.connections();
        everything.extend(batch.connections());
        everything.sort_by_key(|c| c.dst_port);
        assert_eq!(everything.len(), 10, "nothing lost, nothing doubled");
        assert!(everything.iter().all(|c| c.src_hostname.as_deref() == Some("h")));
        let rest = batch.split_off_while(|_| true);
        assert_eq!((rest.len(), batch.len()), (7, 0));
        assert!(batch.names.is_empty());
    }

    #[test]
    fn names_no_answer_refers_to_are_dropped_once_they_are_most_of_the_table() {
        let mut batch = Batch::new(1_000);
        for n in 0..200 {
            batch.add_dns(ip("10.0.0.1"), &format!("name-{n}"), ip("10.1.0.1"), 30, n);
        }
        let _ = batch.split_off_while({
            let mut left = 150;
            move |_| {
                left -= 1;
                left >= 0
            }
        });
        assert_eq!(batch.len(), 50);
        assert_eq!(batch.names.len(), 50);
        let mut names: Vec<String> = batch.dns_answers().into_iter().map(|a| a.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 50, "each answer still has its own name");
    }

    #[test]
    fn http_requests_collapse_by_method_and_path_split_and_evict_with_the_rest() {
        let mut batch = Batch::new(10);
        let (client, server) = (ip("10.0.0.1"), ip("10.0.0.9"));
        batch.add_http(client, server, 80, Method::Get, "/orders/17", 5);
        batch.add_http(client, server, 80, Method::Get, "/orders/17", 9);
        batch.add_http(client, server, 80, Method::Post, "/orders/17", 6);
        batch.add_http(client, server, 80, Method::Get, "/charge", 7);
        let mut requests = batch.http_requests();
        requests.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        let seen: Vec<(&str, &str, u64)> = requests
            .iter()
            .map(|r| (r.method.as_str(), r.path.as_str(), r.last_seen_ms))
            .collect();
        assert_eq!(
            seen,
            [
                ("GET", "/charge", 7),
                ("GET", "/orders/17", 9),
                ("POST", "/orders/17", 6)
            ]
        );
        let mut taken = 0;
        let part = batch.split_off_while(|_| {
            taken += 1;
            taken <= 2
        });
        assert_eq!((part.len(), batch.len()), (2, 1));
        let mut whole = Batch::new(2);
        whole.absorb(part);
        whole.absorb(batch);
        assert_eq!((whole.len(), whole.evicted()), (2, 1));
        assert!(
            whole
                .http_entries()
                .all(|entry| entry.last_seen_ms > 5 && !entry.path.is_empty())
        );
    }

    #[test]
    fn http_requests_have_their_own_bound() {
        let mut batch = Batch::new(MAX_HTTP_REQUESTS + 10);
        for n in 0..MAX_HTTP_REQUESTS + 5 {
            batch.add_http(
                ip("10.0.0.1"),
                ip("10.0.0.9"),
                80,
                Method::Get,
                &format!("/{n}"),
                1,
            );
        }
        assert_eq!((batch.len(), batch.overflow()), (MAX_HTTP_REQUESTS, 5));
        batch.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 80, SeenBy::Syn, None, 1);
        assert_eq!(batch.len(), MAX_HTTP_REQUESTS + 1, "other observations still fit");
    }
}
