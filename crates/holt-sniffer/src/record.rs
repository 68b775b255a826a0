//! One captured packet into the batch and the counters: decode it with `holt_decode`, add each DNS
//! address, TCP SYN or HTTP request line (method and path) to the batch, count skips and decode errors by
//! category. No I/O, and no allocation unless the packet brings a name, address pair, path or counter
//! category not seen before in this batch.
//!
//! An HTTP path known only in part (a request line split across TCP segments, whose second segment the
//! kernel filter cannot select; or one longer than [`MAX_PATH_LEN`]) is recorded as its known prefix up
//! to the last `/`, followed by `*`: the path starts with it.

use holt_decode::{
    DnsMessage, DnsResponse, Envelope, LinkType, MAX_NAME_LEN, MAX_PATH_LEN, Observation, PathEnd,
    RequestSegment, envelope,
};
use holt_mapper_api::SeenBy;

use crate::filter::Selection;
use crate::recent::{Lookup, RecentMessages, RecentSyns};
use crate::shared::State;
use crate::tcp_dns::TcpDnsStreams;

/// Decodes and records packets.
#[derive(Debug)]
pub struct Recorder {
    recording: Selection,
    link: LinkType,
    dns: DnsRecorder,
    tcp_dns: TcpDnsStreams,
    recent_syns: RecentSyns,
    /// Scratch room for a prefix path and its `*`.
    path: [u8; MAX_PATH_LEN + 1],
}

/// Records DNS messages: skips repeats, decodes the rest; keeps a scratch buffer for names.
#[derive(Debug)]
struct DnsRecorder {
    name: [u8; MAX_NAME_LEN],
    recent: RecentMessages,
}

impl Recorder {
    /// Records packets whose link header is `link` (`RawIp` for the capture socket).
    pub fn new(recording: Selection, link: LinkType) -> Self {
        Self {
            recording,
            link,
            dns: DnsRecorder {
                name: [0; MAX_NAME_LEN],
                recent: RecentMessages::new(),
            },
            tcp_dns: TcpDnsStreams::new(),
            recent_syns: RecentSyns::new(),
            path: [0; MAX_PATH_LEN + 1],
        }
    }

    /// Records one packet seen at `at_ms` (Unix milliseconds).
    pub fn record(&mut self, state: &mut State, packet: &[u8], at_ms: u64) {
        state.tally.packets += 1;
        match envelope(self.link, packet) {
            Ok(Envelope::Dns(_) | Envelope::DnsTcp(_)) if !self.recording.dns => {
                state.tally.skip("dns_disabled");
            }
            Ok(Envelope::Dns(message)) => self.dns.record(state, message, at_ms),
            Ok(Envelope::DnsTcp(segment)) => {
                let outcome = self
                    .tcp_dns
                    .push(&segment, at_ms, |message| self.dns.record(state, message, at_ms));
                if let Some(category) = outcome.skip_category() {
                    state.tally.skip(category);
                }
            }
            Ok(Envelope::Syn(syn)) if self.recording.tcp_syn => {
                if !self
                    .recent_syns
                    .check_and_remember(state.batch.id(), syn.src, syn.dst, syn.dst_port)
                {
                    state
                        .batch
                        .add_connection(syn.src, syn.dst, syn.dst_port, SeenBy::Syn, None, at_ms);
                }
            }
            Ok(Envelope::Syn(_)) => state.tally.skip("tcp_disabled"),
            Ok(Envelope::Request(segment)) if self.recording.http => self.record_http(state, &segment, at_ms),
            Ok(Envelope::Request(_)) => state.tally.skip("http_disabled"),
            Ok(Envelope::Skip(skip)) => state.tally.skip(skip.category()),
            Err(error) => state.tally.decode_error(error.category()),
        }
    }
}

impl Recorder {
    /// Records the request line at the start of `segment`, or why there is none.
    fn record_http(&mut self, state: &mut State, segment: &RequestSegment<'_>, at_ms: u64) {
        let Some(request) = segment.decode() else {
            state.tally.skip(holt_decode::Skip::NotHttpRequest.category());
            return;
        };
        let line = request.line;
        let path = if line.is_prefix() {
            // The known prefix ends with `/`; `*` says the rest is unknown.
            let length = line.path.len();
            match self.path.get_mut(..=length) {
                Some(room) => {
                    room[..length].copy_from_slice(line.path.as_bytes());
                    room[length] = b'*';
                    std::str::from_utf8(room).unwrap_or("/*")
                }
                None => "/*",
            }
        } else {
            line.path
        };
        let kind = match line.end {
            PathEnd::Whole => "whole",
            PathEnd::CutBySegment => "cut_by_segment",
            PathEnd::TooLong => "too_long",
        };
        *state.tally.http_requests.entry(kind).or_default() += 1;
        state.batch.add_http(
            request.client,
            request.server,
            request.server_port,
            line.method,
            path,
            at_ms,
        );
    }
}

impl DnsRecorder {
    /// Records one DNS message: its answers, or why it has none.
    fn record(&mut self, state: &mut State, message: DnsMessage<'_>, at_ms: u64) {
        // Already recorded in this batch, byte for byte (ID aside): nothing new.
        let (client, bytes) = (message.client, message.message.get(2..).unwrap_or_default());
        let lookup = self.recent.lookup(state.batch.id(), client, bytes);
        if let Lookup::Repeat = lookup {
            state.tally.dns_repeats += 1;
            return;
        }
        match message.decode() {
            Ok(Observation::Dns(response)) => {
                self.add_answers(state, &response, at_ms);
                if let Lookup::New(probe) = lookup {
                    self.recent.insert(probe, state.batch.id(), client, bytes);
                }
            }
            Ok(Observation::Skip(skip)) => state.tally.skip(skip.category()),
            // A DNS message decodes to a response or a skip.
            Ok(Observation::TcpSyn(_) | Observation::HttpRequest(_)) => {}
            Err(error) => state.tally.decode_error(error.category()),
        }
    }

    /// Adds a response's addresses to the batch. Answers come grouped by question: each name is written
    /// and looked up once.
    fn add_answers(&mut self, state: &mut State, response: &DnsResponse<'_>, at_ms: u64) {
        let mut answers = response.answers().peekable();
        while let Some(first) = answers.next() {
            let question = first.name.offset();
            let name = first.name.write_to(&mut self.name);
            let group = std::iter::once(first)
                .chain(std::iter::from_fn(|| {
                    answers.next_if(|a| a.name.offset() == question)
                }))
                .map(|a| (a.addr, a.ttl));
            state.batch.add_dns_addresses(response.client, name, group, at_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::Shared;

    /// IPv4 + UDP from port 53 to 10.0.0.7 carrying `web.ns` CNAME `pod.ns`, `pod.ns` A 10.1.0.1 and
    /// A 10.1.0.2 (TTLs 60, 30, 20), with DNS ID `id`.
    fn dns_packet(id: u16) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0]);
        m.extend_from_slice(b"\x03web\x02ns\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[
            0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'p', b'o', b'd', 0xc0, 16,
        ]);
        let pod = 12 + 12 + 12;
        for (last, ttl) in [(1u8, 20u8), (2, 30)] {
            m.extend_from_slice(&[0xc0, pod, 0, 1, 0, 1, 0, 0, 0, ttl, 0, 4, 10, 1, 0, last]);
        }
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 96, 0, 10, 10, 0, 0, 7,
        ];
        let total = (20 + 8 + m.len()) as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 53, 0x9c, 0x40]);
        p.extend_from_slice(&((8 + m.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&m);
        p
    }

    /// The DNS message of [`dns_packet`] over TCP from port 53, cut into two segments after `cut` bytes
    /// of the stream (the length prefix included).
    fn tcp_dns_packets(cut: usize) -> [Vec<u8>; 2] {
        let message = dns_packet(1)[28..].to_vec();
        let mut stream = (message.len() as u16).to_be_bytes().to_vec();
        stream.extend_from_slice(&message);
        let segment = |seq: u32, payload: &[u8]| {
            let mut p = vec![
                0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 96, 0, 10, 10, 0, 0, 7,
            ];
            p[2..4].copy_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
            p.extend_from_slice(&[0, 53, 0x9c, 0x40]);
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
            p.extend_from_slice(payload);
            p
        };
        [
            segment(5000, &stream[..cut]),
            segment(5000 + cut as u32, &stream[cut..]),
        ]
    }

    fn syn_packet() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 7, 10, 2, 0, 1,
        ];
        p.extend_from_slice(&[
            0x9c, 0x40, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        p
    }

    const ALL: Selection = Selection {
        dns: true,
        tcp_syn: true,
        http: true,
    };

    #[test]
    fn records_answers_syns_skips_and_errors() {
        let shared = Shared::new(100);
        let mut recorder = Recorder::new(ALL, LinkType::RawIp);
        let mut state = shared.lock();
        recorder.record(&mut state, &dns_packet(1), 1000);
        recorder.record(&mut state, &syn_packet(), 1001);
        recorder.record(&mut state, &dns_packet(1)[..40], 1002);
        let mut query = dns_packet(2);
        query[30] = 0x01; // QR clear: a query
        recorder.record(&mut state, &query, 1003);
        let mut answers = state.batch.dns_answers();
        answers.sort_by_key(|a| a.ip);
        assert_eq!(answers.len(), 2);
        assert!(
            answers
                .iter()
                .all(|a| a.name == "web.ns" && a.client_ip.to_string() == "10.0.0.7")
        );
        assert_eq!(
            answers
                .iter()
                .map(|a| (a.ip.to_string(), a.ttl_seconds))
                .collect::<Vec<_>>(),
            [("10.1.0.1".to_owned(), 20), ("10.1.0.2".to_owned(), 30)]
        );
        let connections = state.batch.connections();
        assert_eq!(
            (connections[0].dst_ip.to_string(), connections[0].dst_port),
            ("10.2.0.1".to_owned(), 8080)
        );
        assert_eq!(state.tally.packets, 4);
        assert_eq!(state.tally.decode_errors.get("truncated"), Some(&1));
        assert_eq!(state.tally.skipped.get("dns_query"), Some(&1));
    }

    #[test]
    fn dns_over_tcp_is_read_across_segments() {
        let shared = Shared::new(100);
        let mut recorder = Recorder::new(ALL, LinkType::RawIp);
        let mut state = shared.lock();
        let [first, second] = tcp_dns_packets(30);
        recorder.record(&mut state, &first, 1000);
        assert!(state.batch.is_empty());
        recorder.record(&mut state, &first, 1000);
        recorder.record(&mut state, &second, 1001);
        let answers = state.batch.dns_answers();
        assert_eq!(answers.len(), 2);
        assert!(answers.iter().all(|a| a.name == "web.ns"));
        assert_eq!(state.tally.skipped.get("tcp_dns_repeat"), Some(&1));
        assert!(state.tally.decode_errors.is_empty());
    }

    #[test]
    fn repeats_are_recognised_within_a_batch_only() {
        let shared = Shared::new(100);
        let mut recorder = Recorder::new(ALL, LinkType::RawIp);
        {
            let mut state = shared.lock();
            recorder.record(&mut state, &dns_packet(1), 1000);
            // Another query ID, same answer: a repeat.
            recorder.record(&mut state, &dns_packet(2), 1001);
            assert_eq!(state.tally.dns_repeats, 1);
            assert_eq!(state.batch.len(), 2);
        }
        let first = shared.take_batch();
        assert_eq!(first.dns_answers().len(), 2);
        let mut state = shared.lock();
        recorder.record(&mut state, &dns_packet(3), 2000);
        assert_eq!(state.tally.dns_repeats, 1, "a new batch decodes it again");
        assert_eq!(state.batch.dns_answers()[0].last_seen_ms, 2000);
    }

    #[test]
    fn disabled_kinds_are_counted_not_recorded() {
        let shared = Shared::new(100);
        let mut recorder = Recorder::new(
            Selection {
                dns: false,
                tcp_syn: false,
                http: false,
            },
            LinkType::RawIp,
        );
        let mut state = shared.lock();
        recorder.record(&mut state, &dns_packet(1), 1);
        recorder.record(&mut state, &dns_packet(1), 1);
        recorder.record(&mut state, &syn_packet(), 1);
        assert!(state.batch.is_empty());
        assert_eq!(state.tally.skipped.get("dns_disabled"), Some(&2));
        assert_eq!(state.tally.skipped.get("tcp_disabled"), Some(&1));
    }

    /// IPv4 + TCP (PSH, ACK) from 10.0.0.7:40000 to 10.2.0.1:80 carrying `payload`.
    fn http_packet(payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 7, 10, 2, 0, 1,
        ];
        p[2..4].copy_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn http_request_lines_are_recorded_with_cut_paths_as_prefixes() {
        let shared = Shared::new(100);
        let mut recorder = Recorder::new(ALL, LinkType::RawIp);
        let mut state = shared.lock();
        recorder.record(
            &mut state,
            &http_packet(b"GET /orders/17?card=4111 HTTP/1.1\r\nHost: a\r\n\r\n"),
            1,
        );
        recorder.record(&mut state, &http_packet(b"GET /orders/17 HTTP/1.1\r\n"), 2);
        recorder.record(&mut state, &http_packet(b"POST /inventory/it"), 3);
        recorder.record(&mut state, &http_packet(b"GET http://proxy/ HTTP/1.1\r\n"), 4);
        let mut requests = state.batch.http_requests();
        requests.sort_by(|a, b| a.path.cmp(&b.path));
        let seen: Vec<(String, &str, &str, u16, u64)> = requests
            .iter()
            .map(|r| {
                (
                    r.dst_ip.to_string(),
                    r.method.as_str(),
                    r.path.as_str(),
                    r.dst_port,
                    r.last_seen_ms,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("10.2.0.1".to_owned(), "POST", "/inventory/*", 80, 3),
                ("10.2.0.1".to_owned(), "GET", "/orders/17", 80, 2),
            ]
        );
        assert_eq!(state.tally.http_requests.get("whole"), Some(&2));
        assert_eq!(state.tally.http_requests.get("cut_by_segment"), Some(&1));
        assert_eq!(state.tally.skipped.get("not_http_request"), Some(&1));
    }

    #[test]
    fn http_off_records_no_request() {
        let shared = Shared::new(100);
        let mut recorder = Recorder::new(
            Selection {
                dns: true,
                tcp_syn: true,
                http: false,
            },
            LinkType::RawIp,
        );
        let mut state = shared.lock();
        recorder.record(&mut state, &http_packet(b"GET /orders/17 HTTP/1.1\r\n"), 1);
        assert!(state.batch.is_empty());
        assert_eq!(state.tally.skipped.get("http_disabled"), Some(&1));
    }
}
