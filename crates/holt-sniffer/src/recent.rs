//! A cache of the DNS messages recorded into the current batch, so that a repeat of one — the same
//! response bytes (DNS ID aside) sent to the same client — is recognised from its headers alone and
//! not decoded again. Repeats are the common case on a node: pods resolve the same names over and over,
//! and a caching resolver sends byte-identical answers until the TTL it counts down changes.
//!
//! Two-way set-associative: a message hashes to a set of two slots; a slot holds the client, the
//! message bytes (up to [`MAX_CACHED_LEN`]) and the batch they were recorded in. A hit requires the
//! bytes to be equal, so a hash collision (even a crafted one) only costs a decode, never a lost
//! observation. Entries of an earlier batch do not count: each batch gets every distinct answer at
//! least once. What a hit skips is updating `last_seen`, so within one report a DNS answer's time is
//! its first sighting in that report.
//!
//! [`RecentSyns`] does the same for connection attempts, keyed by (source, destination, port): a hit
//! skips the batch's hash table, whose lookup misses the CPU cache once the batch is large.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;

/// Slots in the cache, in sets of [`WAYS`].
pub const SLOTS: usize = 2048;
/// Slots a message may go to: two, so that two frequent messages hashing alike do not evict each
/// other on every packet.
pub const WAYS: usize = 2;
/// Longer messages are not cached (they are decoded every time).
pub const MAX_CACHED_LEN: usize = 512;

#[derive(Clone)]
struct Slot {
    client: IpAddr,
    len: u16,
    bytes: [u8; MAX_CACHED_LEN],
}

/// What [`RecentMessages::lookup`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Already recorded in this batch.
    Repeat,
    /// Not yet: insert it with this probe once it is recorded.
    New(Probe),
    /// Longer than [`MAX_CACHED_LEN`]: never cached, always decoded.
    Uncached,
}

/// A message's hash, computed once for its lookup and its insertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    hash: u64,
}

/// A slot's batch and its message's full hash, kept apart from the slots: a lookup reads only this
/// 32 KiB array, which stays in the CPU cache, and touches a slot's bytes only when the tag matches (so
/// a message never seen costs no trip to memory).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Tag {
    /// 0: empty.
    batch: u64,
    hash: u64,
}

/// The cache. About 1 MiB.
pub struct RecentMessages {
    tags: Box<[Tag]>,
    slots: Box<[Slot]>,
    seed: u64,
    /// Counts insertions; picks the way to replace when a set is full.
    inserts: usize,
}

impl std::fmt::Debug for RecentMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentMessages")
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl Default for RecentMessages {
    fn default() -> Self {
        Self::new()
    }
}

impl RecentMessages {
    pub fn new() -> Self {
        let empty = Slot {
            client: IpAddr::from([0u8; 4]),
            len: 0,
            bytes: [0; MAX_CACHED_LEN],
        };
        Self {
            tags: vec![Tag::default(); SLOTS].into_boxed_slice(),
            slots: vec![empty; SLOTS].into_boxed_slice(),
            // A per-process seed, so which messages share a slot cannot be predicted from outside.
            seed: RandomState::new().hash_one(0x686f_6c74_u64),
            inserts: 0,
        }
    }

    /// Whether `message` (without its 2-byte ID) to `client` was remembered for `batch`; a message not
    /// seen yet comes with the [`Probe`] to [`insert`](Self::insert) it with, so it is hashed once.
    pub fn lookup(&self, batch: u64, client: IpAddr, message: &[u8]) -> Lookup {
        if message.len() > MAX_CACHED_LEN {
            return Lookup::Uncached;
        }
        let hash = self.hash(client, message);
        let tag = Tag { batch, hash };
        let set = set_of(hash);
        let repeat = (set..set + WAYS).any(|way| {
            self.tags.get(way) == Some(&tag)
                && self.slots.get(way).is_some_and(|slot| {
                    slot.client == client && slot.bytes.get(..usize::from(slot.len)) == Some(message)
                })
        });
        if repeat {
            Lookup::Repeat
        } else {
            Lookup::New(Probe { hash })
        }
    }

    /// Remembers `message` to `client` (looked up with `probe`) as recorded in `batch`, in a free way of
    /// its set (one not holding an entry of `batch`), else in place of one of the set's entries.
    pub fn insert(&mut self, probe: Probe, batch: u64, client: IpAddr, message: &[u8]) {
        // A Probe is only made for messages of at most MAX_CACHED_LEN bytes.
        let len = message.len().min(MAX_CACHED_LEN) as u16;
        let hash = probe.hash;
        let set = set_of(hash);
        self.inserts = self.inserts.wrapping_add(1);
        let Some(tags) = self.tags.get(set..set + WAYS) else {
            return;
        };
        let way = set
            + tags
                .iter()
                .position(|tag| tag.batch != batch)
                .unwrap_or(self.inserts % WAYS);
        if let (Some(tag), Some(slot)) = (self.tags.get_mut(way), self.slots.get_mut(way))
            && let Some(bytes) = slot.bytes.get_mut(..message.len())
        {
            bytes.copy_from_slice(message);
            slot.client = client;
            slot.len = len;
            *tag = Tag { batch, hash };
        }
    }

    /// The message's hash, seeded per process.
    fn hash(&self, client: IpAddr, message: &[u8]) -> u64 {
        let mut h = mix_ip(self.seed ^ message.len() as u64, client);
        // The first 32 bytes (header, start of the question) and the last 16 (where the addresses
        // are): enough to spread messages over the slots; equality is checked on all bytes anyway.
        let word = |at: usize| match message.get(at..at + 8) {
            // The common case, a fixed-size load (a variable-length copy was a `memmove` call).
            Some(bytes) => bytes.try_into().map_or(0, u64::from_le_bytes),
            None => {
                let mut buf = [0u8; 8];
                let rest = message.get(at..).unwrap_or_default();
                buf[..rest.len().min(8)].copy_from_slice(&rest[..rest.len().min(8)]);
                u64::from_le_bytes(buf)
            }
        };
        for at in [0, 8, 16, 24] {
            h = mix(h, word(at));
        }
        let tail = message.len().saturating_sub(16).max(32);
        mix(mix(h, word(tail)), word(tail + 8))
    }
}

/// The first slot of the set a message with this hash goes to.
fn set_of(hash: u64) -> usize {
    fold(hash, SLOTS) / WAYS * WAYS
}

/// One round of the caches' hash: cheap and seeded per process; it only spreads keys over slots (a hit
/// is always confirmed by comparing the whole key).
fn mix(h: u64, word: u64) -> u64 {
    (h ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
}

fn mix_ip(h: u64, ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => mix(h, u64::from(u32::from(v4))),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            mix(mix(h, bits as u64), (bits >> 64) as u64)
        }
    }
}

/// A hash into a slot index below `slots`.
fn fold(h: u64, slots: usize) -> usize {
    (h ^ (h >> 32)) as usize % slots
}

/// Slots in the SYN cache.
pub const SYN_SLOTS: usize = 4096;

/// The connection attempts recorded into the current batch, direct-mapped by (source, destination,
/// port). About 230 KiB: the entries, and a 32 KiB array of their hashes (with the batch mixed in) that
/// a lookup reads first, so that an attempt never seen is told from the tags alone.
pub struct RecentSyns {
    tags: Box<[u64]>,
    slots: Box<[(u64, IpAddr, IpAddr, u16)]>,
    seed: u64,
}

impl std::fmt::Debug for RecentSyns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentSyns")
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl Default for RecentSyns {
    fn default() -> Self {
        Self::new()
    }
}

impl RecentSyns {
    pub fn new() -> Self {
        let empty = (0, IpAddr::from([0u8; 4]), IpAddr::from([0u8; 4]), 0);
        Self {
            tags: vec![0; SYN_SLOTS].into_boxed_slice(),
            slots: vec![empty; SYN_SLOTS].into_boxed_slice(),
            seed: RandomState::new().hash_one(0x0073_796e_u64),
        }
    }

    /// Whether this attempt was remembered for `batch`; if not, remembers it (the caller records it).
    pub fn check_and_remember(&mut self, batch: u64, src: IpAddr, dst: IpAddr, port: u16) -> bool {
        let h = mix(mix_ip(mix_ip(self.seed, src), dst), u64::from(port));
        let index = fold(h, SYN_SLOTS);
        let tag = mix(h, batch);
        let (Some(slot_tag), Some(slot)) = (self.tags.get_mut(index), self.slots.get_mut(index)) else {
            return false;
        };
        let entry = (batch, src, dst, port);
        if *slot_tag == tag && *slot == entry {
            return true;
        }
        *slot_tag = tag;
        *slot = entry;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    impl RecentMessages {
        fn contains(&self, batch: u64, client: IpAddr, message: &[u8]) -> bool {
            self.lookup(batch, client, message) == Lookup::Repeat
        }

        /// Looks up and remembers, as the recorder does for a message it recorded.
        fn remember(&mut self, batch: u64, client: IpAddr, message: &[u8]) {
            if let Lookup::New(probe) = self.lookup(batch, client, message) {
                self.insert(probe, batch, client, message);
            }
        }
    }

    #[test]
    fn a_hit_needs_the_same_batch_client_and_bytes() {
        let mut recent = RecentMessages::new();
        let message = b"\x81\x80\x00\x01\x00\x01 some answer bytes".as_slice();
        assert!(!recent.contains(1, ip("10.0.0.1"), message));
        recent.remember(1, ip("10.0.0.1"), message);
        assert!(recent.contains(1, ip("10.0.0.1"), message));
        assert!(!recent.contains(2, ip("10.0.0.1"), message), "a later batch");
        assert!(!recent.contains(1, ip("10.0.0.2"), message), "another client");
        assert!(!recent.contains(1, ip("10.0.0.1"), &message[..10]), "other bytes");
    }

    #[test]
    fn syns_hit_within_a_batch_only() {
        let mut recent = RecentSyns::new();
        let (a, b) = (ip("10.0.0.1"), ip("fd00::2"));
        assert!(!recent.check_and_remember(1, a, b, 80));
        assert!(recent.check_and_remember(1, a, b, 80));
        assert!(!recent.check_and_remember(1, a, b, 81));
        assert!(!recent.check_and_remember(1, b, a, 80));
        assert!(!recent.check_and_remember(2, a, b, 80), "a later batch");
    }

    #[test]
    fn long_messages_are_not_cached() {
        let mut recent = RecentMessages::new();
        let long = vec![7u8; MAX_CACHED_LEN + 1];
        recent.remember(1, ip("fd00::1"), &long);
        assert!(!recent.contains(1, ip("fd00::1"), &long));
        let fits = vec![7u8; MAX_CACHED_LEN];
        recent.remember(1, ip("fd00::1"), &fits);
        assert!(recent.contains(1, ip("fd00::1"), &fits));
    }

    #[test]
    fn colliding_messages_replace_each_other_without_false_hits() {
        let mut recent = RecentMessages::new();
        let client = ip("10.0.0.1");
        let messages: Vec<Vec<u8>> = (0..SLOTS as u32 * 2).map(|n| n.to_be_bytes().to_vec()).collect();
        for m in &messages {
            recent.remember(1, client, m);
        }
        let hits = messages.iter().filter(|m| recent.contains(1, client, m)).count();
        assert!(hits <= SLOTS && hits > 0, "{hits}");
        assert!(!recent.contains(1, client, b"never inserted"));
    }
}
