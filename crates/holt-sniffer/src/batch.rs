//! What the sniffer saw since its last delivered report, deduplicated. In: DNS answers
//! (client, name, address, TTL, time) and connections (source, destination, port, how seen, time).
//! Out: the `dns` and `connections` lists of a [`holt_mapper_api::Report`].
//!
//! DNS answers are keyed by (client, name, address), connections by (source, destination, port, how
//! seen): a SYN and a socket-scan sighting of the same flow are both kept, since they say different
//! things (an attempt; an established connection with the source's host name). Repeats keep the latest
//! time and the smallest TTL. The batch is bounded: a new key past `capacity` is not stored and is
//! counted in [`Batch::overflow`]. Recording a key already present never allocates; names are looked
//! up by `&str`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use holt_mapper_api::{Connection, DnsAnswer, SeenBy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DnsSeen {
    ttl_seconds: u32,
    last_seen_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnectionKey {
    src: IpAddr,
    dst: IpAddr,
    dst_port: u16,
    seen_by: SeenBy,
}

// Hashing a key as one packed byte string costs one hasher call instead of one per field (SipHash
// stays: keys come from the network, so the hash must resist chosen collisions).
impl Hash for ConnectionKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut bytes = [0u8; 35];
        bytes[..16].copy_from_slice(&address_bytes(self.src));
        bytes[16..32].copy_from_slice(&address_bytes(self.dst));
        bytes[32..34].copy_from_slice(&self.dst_port.to_ne_bytes());
        bytes[34] = self.seen_by as u8;
        state.write(&bytes);
    }
}

/// A DNS answer's (client, address) pair, hashed as one byte string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pair(IpAddr, IpAddr);

impl Hash for Pair {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(&address_bytes(self.0));
        bytes[16..].copy_from_slice(&address_bytes(self.1));
        state.write(&bytes);
    }
}

/// IPv4 as IPv4-mapped IPv6; IPv6 as is (a mapped IPv6 key then shares the hash of its IPv4 twin,
/// which only costs an equality check).
fn address_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ConnectionSeen {
    src_hostname: Option<Box<str>>,
    last_seen_ms: u64,
}

/// A bounded, deduplicated set of observations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Unique within the process (see [`crate::recent`]).
    id: u64,
    /// name → (client, address) → seen
    dns: HashMap<Box<str>, HashMap<Pair, DnsSeen>>,
    connections: HashMap<ConnectionKey, ConnectionSeen>,
    len: usize,
    capacity: usize,
    overflow: u64,
}

impl Batch {
    /// An empty batch that holds at most `capacity` distinct observations.
    pub fn new(capacity: usize) -> Self {
        Self {
            id: next_id(),
            dns: HashMap::new(),
            connections: HashMap::new(),
            len: 0,
            capacity,
            overflow: 0,
        }
    }

    /// This batch's identity: no other batch of the process has the same.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Distinct observations held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Distinct observations it holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// New observations turned away because the batch was full, since it was created.
    pub fn overflow(&self) -> u64 {
        self.overflow
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
        let known = match self.dns.get_mut(name) {
            Some(known) => known,
            None => {
                if self.len >= self.capacity {
                    self.overflow += addresses.into_iter().count() as u64;
                    return;
                }
                self.dns.entry(name.into()).or_default()
            }
        };
        for (ip, ttl_seconds) in addresses {
            let seen = DnsSeen {
                ttl_seconds,
                last_seen_ms: at_ms,
            };
            if let Some(existing) = known.get_mut(&Pair(client, ip)) {
                merge_dns(existing, seen);
            } else if self.len >= self.capacity {
                self.overflow += 1;
            } else {
                known.insert(Pair(client, ip), seen);
                self.len += 1;
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
        if let Some(existing) = self.connections.get_mut(&key) {
            existing.last_seen_ms = existing.last_seen_ms.max(at_ms);
            if let Some(hostname) = src_hostname.filter(|h| existing.src_hostname.as_deref() != Some(*h)) {
                existing.src_hostname = Some(hostname.into());
            }
            return;
        }
        if self.len >= self.capacity {
            self.overflow += 1;
            return;
        }
        self.connections.insert(
            key,
            ConnectionSeen {
                src_hostname: src_hostname.map(Into::into),
                last_seen_ms: at_ms,
            },
        );
        self.len += 1;
    }

    /// Moves everything from `other` into this batch (within this batch's capacity); `other`'s
    /// overflow is added to this one's. Into an empty batch of at least the same capacity this is a
    /// move, not a re-insertion.
    pub fn absorb(&mut self, mut other: Batch) {
        if self.is_empty() && other.capacity <= self.capacity {
            other.capacity = self.capacity;
            other.overflow += self.overflow;
            *self = other;
            return;
        }
        self.overflow += other.overflow;
        for (name, addresses) in other.dns {
            for (Pair(client, ip), seen) in addresses {
                self.add_dns(client, &name, ip, seen.ttl_seconds, seen.last_seen_ms);
            }
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
    }

    /// Returns the overflow count and resets it.
    pub fn take_overflow(&mut self) -> u64 {
        std::mem::take(&mut self.overflow)
    }

    /// Empties the batch, keeping its capacity and allocations; returns the overflow count it had.
    pub fn clear(&mut self) -> u64 {
        self.id = next_id();
        self.dns.clear();
        self.connections.clear();
        self.len = 0;
        std::mem::take(&mut self.overflow)
    }

    /// The DNS answers, in no particular order (sorting a large report costs more than building it).
    pub fn dns_answers(&self) -> Vec<DnsAnswer> {
        self.dns
            .iter()
            .flat_map(|(name, addresses)| {
                addresses
                    .iter()
                    .map(move |(&Pair(client_ip, ip), seen)| DnsAnswer {
                        client_ip,
                        name: name.to_string(),
                        ip,
                        ttl_seconds: seen.ttl_seconds,
                        last_seen_ms: seen.last_seen_ms,
                    })
            })
            .collect()
    }

    /// The connections, in no particular order.
    pub fn connections(&self) -> Vec<Connection> {
        self.connections
            .iter()
            .map(|(key, seen)| Connection {
                src_ip: key.src,
                dst_ip: key.dst,
                dst_port: key.dst_port,
                seen_by: key.seen_by,
                src_hostname: seen.src_hostname.as_deref().map(str::to_owned),
                last_seen_ms: seen.last_seen_ms,
            })
            .collect()
    }
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
        batch.add_dns(ip("10.0.0.1"), "web.ns.svc", ip("fd00::1"), 30, 100);
        batch.add_dns(ip("10.0.0.2"), "web.ns.svc", ip("10.1.0.1"), 30, 100);
        assert_eq!(batch.len(), 3);
        let answers = sorted_dns(&batch);
        assert_eq!(answers.len(), 3);
        assert_eq!((answers[0].ttl_seconds, answers[0].last_seen_ms), (20, 200));
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
    fn absorbing_merges_and_respects_capacity() {
        let mut pending = Batch::new(3);
        pending.add_dns(ip("10.0.0.1"), "a", ip("10.1.0.1"), 30, 1);
        let mut fresh = Batch::new(10);
        fresh.add_dns(ip("10.0.0.1"), "a", ip("10.1.0.1"), 30, 5);
        fresh.add_dns(ip("10.0.0.1"), "b", ip("10.1.0.1"), 30, 5);
        fresh.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 80, SeenBy::Syn, None, 5);
        fresh.add_connection(ip("10.0.0.1"), ip("10.0.0.9"), 81, SeenBy::Syn, None, 5);
        pending.absorb(fresh);
        assert_eq!((pending.len(), pending.overflow()), (3, 1));
        assert_eq!(sorted_dns(&pending)[0].last_seen_ms, 5);
    }
}
