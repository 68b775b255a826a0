//! DNS over TCP, reassembled. A response longer than one segment (past ~85 A records, a large headless
//! Service's answer) is buffered per connection until its length-prefixed message is whole. In: each TCP
//! segment with data from port 53, in capture order, once or several times (the sniffer sees a packet on
//! every interface it crosses). Out: each whole message, to a callback, once per stream position.
//!
//! A connection's state is its position in the stream, and the bytes of the message in progress when a
//! segment ends inside one. The first segment seen of a connection is taken to start at a message
//! boundary if it looks like the start of a response. Memory is bounded: at most [`MAX_STREAMS`] connections and [`MAX_BUFFERED`] bytes; a
//! connection idle for [`IDLE_MS`] is forgotten. A stream that misses a segment (a gap in sequence
//! numbers, or no room) has lost its message boundaries: its segments are counted as lost until it goes
//! idle, never decoded as garbage.

use std::collections::HashMap;
use std::net::IpAddr;

use holt_decode::{DnsMessage, DnsSegment};

/// Connections with state at once; when full, idle ones are forgotten, and the least recent ones down to
/// three quarters.
pub const MAX_STREAMS: usize = 1024;
/// Bytes buffered over all connections (at most 65,537 per message in progress).
pub const MAX_BUFFERED: usize = 8 << 20;
/// A connection whose last segment is this old starts afresh (milliseconds).
pub const IDLE_MS: u64 = 10_000;
/// A segment this far from where its stream stands belongs to a new connection on the same ports.
const RESYNC_WINDOW: u32 = 1 << 20;
/// The two-byte length before each message.
const PREFIX: usize = 2;

/// What became of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its new bytes were taken: each message they completed went to the callback.
    Read,
    /// Bytes the stream already had: a retransmission, or the same packet on another interface.
    Repeat,
    /// The stream's message boundaries are lost (a missed segment, or no room to buffer).
    Lost,
}

impl Outcome {
    /// The skip category of a segment that gave nothing (`Read` has none).
    pub fn skip_category(self) -> Option<&'static str> {
        match self {
            Outcome::Read => None,
            Outcome::Repeat => Some("tcp_dns_repeat"),
            Outcome::Lost => Some("tcp_dns_lost"),
        }
    }
}

/// The DNS-over-TCP connections seen lately: where each stream stands, and its message in progress.
#[derive(Debug, Default)]
pub struct TcpDnsStreams {
    streams: HashMap<StreamKey, Stream>,
    buffered: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct StreamKey {
    client: IpAddr,
    client_port: u16,
    server: IpAddr,
    server_port: u16,
}

#[derive(Debug)]
struct Stream {
    /// The sequence number of the next byte the stream expects.
    next_seq: u32,
    /// The bytes of the message in progress, length prefix included; `None` once boundaries are lost.
    pending: Option<Vec<u8>>,
    last_ms: u64,
}

impl TcpDnsStreams {
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections with state.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Takes one segment seen at `at_ms` and calls `each` with every message it completes.
    pub fn push(
        &mut self,
        segment: &DnsSegment<'_>,
        at_ms: u64,
        mut each: impl FnMut(DnsMessage<'_>),
    ) -> Outcome {
        let key = StreamKey {
            client: segment.client,
            client_port: segment.client_port,
            server: segment.server,
            server_port: segment.server_port,
        };
        let Some(stream) = self.streams.get_mut(&key) else {
            return self.push_first(key, segment, at_ms, &mut each);
        };
        let offset = segment.seq.wrapping_sub(stream.next_seq);
        let stale = at_ms.saturating_sub(stream.last_ms) > IDLE_MS;
        if stale || (offset > RESYNC_WINDOW && offset.wrapping_neg() > RESYNC_WINDOW) {
            self.remove(key);
            return self.push_first(key, segment, at_ms, &mut each);
        }
        stream.last_ms = at_ms;
        let new_bytes = if offset == 0 {
            segment.payload
        } else if offset <= RESYNC_WINDOW {
            // Ahead of the stream: the bytes between were missed.
            self.lose(key);
            return Outcome::Lost;
        } else {
            let behind = offset.wrapping_neg() as usize;
            match segment.payload.get(behind..) {
                Some(rest) if !rest.is_empty() => rest,
                _ => return Outcome::Repeat,
            }
        };
        stream.next_seq = stream.next_seq.wrapping_add(new_bytes.len() as u32);
        let Some(pending) = stream.pending.as_mut() else {
            return Outcome::Lost;
        };
        if self.buffered + new_bytes.len() > MAX_BUFFERED {
            self.lose(key);
            return Outcome::Lost;
        }
        let before = pending.len();
        pending.extend_from_slice(new_bytes);
        let consumed = each_whole_message(segment, pending, &mut each);
        pending.drain(..consumed);
        if pending.is_empty() {
            // Between messages: keep the position, not the allocation.
            *pending = Vec::new();
        }
        self.buffered = self.buffered - before + pending.len();
        Outcome::Read
    }

    /// The first segment seen of a connection: it starts at a message boundary, unless it plainly does
    /// not (the sniffer started in the middle of an answer), and then the stream is lost until idle.
    fn push_first(
        &mut self,
        key: StreamKey,
        segment: &DnsSegment<'_>,
        at_ms: u64,
        each: &mut impl FnMut(DnsMessage<'_>),
    ) -> Outcome {
        let starts_a_message = starts_like_a_response(segment.payload);
        let consumed = if starts_a_message {
            each_whole_message(segment, segment.payload, each)
        } else {
            0
        };
        let rest = &segment.payload[consumed..];
        let fits = starts_a_message && self.buffered + rest.len() <= MAX_BUFFERED;
        if self.streams.len() >= MAX_STREAMS {
            self.make_room(at_ms);
        }
        if fits {
            self.buffered += rest.len();
        }
        self.streams.insert(
            key,
            Stream {
                next_seq: segment.seq.wrapping_add(segment.payload.len() as u32),
                pending: fits.then(|| rest.to_vec()),
                last_ms: at_ms,
            },
        );
        if fits { Outcome::Read } else { Outcome::Lost }
    }

    /// Marks a stream's boundaries lost and frees its buffer.
    fn lose(&mut self, key: StreamKey) {
        if let Some(stream) = self.streams.get_mut(&key) {
            self.buffered -= stream.pending.take().map_or(0, |p| p.len());
        }
    }

    fn remove(&mut self, key: StreamKey) {
        if let Some(stream) = self.streams.remove(&key) {
            self.buffered -= stream.pending.map_or(0, |p| p.len());
        }
    }

    /// Forgets idle streams and, if that leaves more than three quarters of [`MAX_STREAMS`], the least
    /// recent ones.
    fn make_room(&mut self, at_ms: u64) {
        let mut by_age: Vec<(u64, StreamKey)> =
            self.streams.iter().map(|(key, s)| (s.last_ms, *key)).collect();
        by_age.sort_unstable_by_key(|(last_ms, _)| *last_ms);
        let excess = by_age.len().saturating_sub(MAX_STREAMS * 3 / 4);
        for (i, (last_ms, key)) in by_age.into_iter().enumerate() {
            if i >= excess && at_ms.saturating_sub(last_ms) <= IDLE_MS {
                break;
            }
            self.remove(key);
        }
    }
}

/// Whether `payload` can begin with a length-prefixed DNS response: a length that holds a header, QR set,
/// opcode QUERY, and one to four questions. Random bytes pass about once in 500,000 tries; a segment too
/// short to tell is given the benefit of the doubt.
fn starts_like_a_response(payload: &[u8]) -> bool {
    const HEADER: usize = 12;
    let Some(start) = payload.get(..PREFIX + HEADER) else {
        return true;
    };
    let length = usize::from(u16::from_be_bytes([start[0], start[1]]));
    let flags = start[PREFIX + 2];
    let questions = u16::from_be_bytes([start[PREFIX + 4], start[PREFIX + 5]]);
    length >= HEADER && flags & 0xf8 == 0x80 && (1..=4).contains(&questions)
}

/// Calls `each` with every whole length-prefixed message at the start of `bytes`, in order; returns the
/// bytes they took.
fn each_whole_message(
    segment: &DnsSegment<'_>,
    bytes: &[u8],
    each: &mut impl FnMut(DnsMessage<'_>),
) -> usize {
    let mut at = 0;
    while let Some(prefix) = bytes.get(at..at + PREFIX) {
        let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        let Some(message) = bytes.get(at + PREFIX..at + PREFIX + len) else {
            break;
        };
        each(segment.message(message));
        at += PREFIX + len;
    }
    at
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use proptest::prelude::*;

    use super::*;

    const ISN: u32 = 1_000;

    fn segment(client_port: u16, seq: u32, payload: &[u8]) -> DnsSegment<'_> {
        DnsSegment {
            client: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
            client_port,
            server: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)),
            server_port: 53,
            seq,
            payload,
        }
    }

    /// Messages as a TCP stream: each behind its two-byte length.
    fn stream_of(messages: &[Vec<u8>]) -> Vec<u8> {
        messages
            .iter()
            .flat_map(|m| {
                (m.len() as u16)
                    .to_be_bytes()
                    .into_iter()
                    .chain(m.iter().copied())
            })
            .collect()
    }

    /// Pushes `stream[at..end]` for each cut, returning the outcomes and the messages delivered.
    fn push_cuts(
        streams: &mut TcpDnsStreams,
        isn: u32,
        stream: &[u8],
        cuts: &[(usize, usize)],
    ) -> (Vec<Outcome>, Vec<Vec<u8>>) {
        let mut delivered = Vec::new();
        let outcomes = cuts
            .iter()
            .map(|&(at, end)| {
                let seq = isn.wrapping_add(at as u32);
                streams.push(&segment(40_000, seq, &stream[at..end]), 1, |m| {
                    delivered.push(m.message.to_vec())
                })
            })
            .collect();
        (outcomes, delivered)
    }

    /// A message of `len` bytes filled with `fill`, behind a DNS response header (QR set, one question)
    /// when it is long enough for one.
    fn message(len: usize, fill: u8) -> Vec<u8> {
        let mut m = vec![fill; len];
        if let Some(header) = m.get_mut(..12) {
            header.copy_from_slice(&[0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]);
        }
        m
    }

    #[test]
    fn whole_messages_in_one_segment_are_delivered_and_buffer_nothing() {
        let mut streams = TcpDnsStreams::new();
        let stream = stream_of(&[message(30, 1), message(40, 2)]);
        let (outcomes, delivered) = push_cuts(
            &mut streams,
            ISN,
            &stream,
            &[(0, stream.len()), (0, stream.len())],
        );
        assert_eq!(outcomes, [Outcome::Read, Outcome::Repeat]);
        assert_eq!(delivered, [message(30, 1), message(40, 2)]);
        assert_eq!((streams.len(), streams.buffered), (1, 0));
    }

    #[test]
    fn a_message_across_segments_is_delivered_once_and_sightings_on_other_interfaces_are_repeats() {
        let mut streams = TcpDnsStreams::new();
        let stream = stream_of(&[message(3000, 7)]);
        // Cut inside the length prefix, then mid-message; every segment seen twice.
        let cuts = [(0, 1), (0, 1), (1, 1400), (1, 1400), (1400, 3002), (1400, 3002)];
        let (outcomes, delivered) = push_cuts(&mut streams, ISN, &stream, &cuts);
        use Outcome::{Read, Repeat};
        assert_eq!(outcomes, [Read, Repeat, Read, Repeat, Read, Repeat]);
        assert_eq!(delivered, [message(3000, 7)]);
        assert_eq!(streams.buffered, 0);
    }

    #[test]
    fn a_retransmission_overlapping_new_bytes_adds_only_the_new_ones() {
        let mut streams = TcpDnsStreams::new();
        let stream = stream_of(&[message(2000, 1), message(10, 2)]);
        let cuts = [(0, 1000), (500, 1500), (1500, stream.len())];
        let (outcomes, delivered) = push_cuts(&mut streams, ISN, &stream, &cuts);
        assert_eq!(outcomes, [Outcome::Read; 3]);
        assert_eq!(delivered, [message(2000, 1), message(10, 2)]);
    }

    #[test]
    fn a_missed_segment_loses_the_stream_until_it_goes_idle() {
        let mut streams = TcpDnsStreams::new();
        let stream = stream_of(&[message(3000, 1)]);
        let (outcomes, delivered) = push_cuts(
            &mut streams,
            ISN,
            &stream,
            &[(0, 1000), (2000, 3002), (1000, 2000)],
        );
        assert_eq!(outcomes, [Outcome::Read, Outcome::Lost, Outcome::Lost]);
        assert!(delivered.is_empty());
        assert_eq!(streams.buffered, 0);

        // After IDLE_MS, the connection starts afresh at a message boundary.
        let next = stream_of(&[message(5, 9)]);
        let mut delivered = Vec::new();
        let later = segment(40_000, ISN + 3002, &next);
        let outcome = streams.push(&later, 2 + IDLE_MS, |m| delivered.push(m.message.to_vec()));
        assert_eq!((outcome, delivered), (Outcome::Read, vec![message(5, 9)]));
    }

    #[test]
    fn a_connection_first_seen_mid_answer_is_lost_until_idle_not_decoded() {
        let mut streams = TcpDnsStreams::new();
        let stream = stream_of(&[message(3000, 0xee)]);
        let (outcomes, delivered) = push_cuts(&mut streams, ISN, &stream, &[(1400, 2800), (2800, 3002)]);
        assert_eq!(outcomes, [Outcome::Lost, Outcome::Lost]);
        assert!(delivered.is_empty());
        let next = stream_of(&[message(40, 0xee)]);
        let mut delivered = Vec::new();
        let later = segment(40_000, ISN + 3002, &next);
        streams.push(&later, 2 + IDLE_MS, |m| delivered.push(m.message.to_vec()));
        assert_eq!(delivered, [message(40, 0xee)]);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut streams = TcpDnsStreams::new();
        let stream = stream_of(&[message(100, 3)]);
        let (outcomes, delivered) = push_cuts(&mut streams, u32::MAX - 10, &stream, &[(0, 50), (50, 102)]);
        assert_eq!(outcomes, [Outcome::Read; 2]);
        assert_eq!(delivered, [message(100, 3)]);
    }

    #[test]
    fn a_new_connection_on_the_same_ports_is_read_from_its_first_message() {
        let mut streams = TcpDnsStreams::new();
        let old = stream_of(&[message(3000, 1)]);
        push_cuts(&mut streams, ISN, &old, &[(0, 1000)]);
        let new = stream_of(&[message(8, 2)]);
        let (outcomes, delivered) =
            push_cuts(&mut streams, ISN.wrapping_add(1 << 30), &new, &[(0, new.len())]);
        assert_eq!((outcomes, delivered), (vec![Outcome::Read], vec![message(8, 2)]));
        assert_eq!((streams.len(), streams.buffered), (1, 0));
    }

    #[test]
    fn streams_and_bytes_stay_bounded() {
        let mut streams = TcpDnsStreams::new();
        let partial = stream_of(&[message(60_000, 1)]);
        for port in 0..(MAX_STREAMS as u16 + 10) {
            let outcome = streams.push(&segment(port, ISN, &partial[..20_000]), u64::from(port), |_| {
                panic!("nothing is whole")
            });
            assert!(matches!(outcome, Outcome::Read | Outcome::Lost));
        }
        assert!(streams.len() <= MAX_STREAMS);
        assert!(streams.buffered <= MAX_BUFFERED);
        assert_eq!(held(&streams), streams.buffered);
    }

    /// The bytes the streams hold, counted afresh.
    fn held(streams: &TcpDnsStreams) -> usize {
        streams
            .streams
            .values()
            .map(|s| s.pending.as_ref().map_or(0, Vec::len))
            .sum()
    }

    proptest! {
        /// Hostile segments (any sequence numbers, bytes, times) never panic, and the byte count stays
        /// what the streams hold.
        #[test]
        fn arbitrary_segments_keep_the_books(
            segments in prop::collection::vec(
                (0u16..4, any::<u32>(), prop::collection::vec(any::<u8>(), 1..300), 0u64..30_000),
                1..40,
            ),
        ) {
            let mut streams = TcpDnsStreams::new();
            for (port, seq, payload, at_ms) in &segments {
                streams.push(&segment(*port, *seq, payload), *at_ms, |m| {
                    assert!(m.message.len() <= payload.len() + MAX_BUFFERED);
                });
                prop_assert_eq!(held(&streams), streams.buffered);
            }
        }

        /// However a stream of messages is cut into segments, and whichever segments are seen twice, each
        /// message comes out once, whole, in order.
        #[test]
        fn any_cut_of_a_stream_gives_back_its_messages(
            lens in prop::collection::vec(12usize..3000, 1..6),
            cut_points in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
            repeats in prop::collection::vec(any::<bool>(), 24),
            isn in any::<u32>(),
        ) {
            let messages: Vec<Vec<u8>> = lens.iter().enumerate().map(|(i, &len)| message(len, i as u8)).collect();
            let stream = stream_of(&messages);
            let mut points: Vec<usize> = cut_points.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.extend([0, stream.len()]);
            points.sort_unstable();
            points.dedup();
            let mut cuts = Vec::new();
            for (i, pair) in points.windows(2).enumerate() {
                cuts.push((pair[0], pair[1]));
                if repeats[i % repeats.len()] {
                    cuts.push((pair[0], pair[1]));
                }
            }
            let mut streams = TcpDnsStreams::new();
            let (outcomes, delivered) = push_cuts(&mut streams, isn, &stream, &cuts);
            prop_assert!(!outcomes.contains(&Outcome::Lost));
            prop_assert_eq!(delivered, messages);
            prop_assert_eq!(streams.buffered, 0);
        }
    }
}
