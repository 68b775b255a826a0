//! The JSON body of a report, written straight from the pending batch. In: the node name, the batch
//! and the counters. Out: the bytes `serde_json` would make of the equivalent
//! [`holt_mapper_api::Report`] (the tests check byte equality), without first building the report's
//! vectors, one `String` per DNS answer, and formatting every address through `core::fmt`: on traffic
//! where every packet is new, that was a third of the sniffer's CPU.
//!
//! [`take_chunk`] cuts a backlog into reports that each fit the mapper's body limit.

use std::net::IpAddr;

use holt_mapper_api::{Counters, SeenBy};

use crate::batch::{Batch, ConnectionEntry, DnsEntry, Entry, HttpEntry};
use crate::ip_text::write_ip;

/// Bytes per observation, about: reserved up front so the buffer grows once.
const ENTRY_BYTES: usize = 128;

/// The report body for `batch`.
pub fn encode(node: &str, batch: &Batch, counters: &Counters) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + batch.len() * ENTRY_BYTES);
    out.extend_from_slice(b"{\"node\":");
    write_str(&mut out, node);
    out.extend_from_slice(b",\"dns\":[");
    for (n, entry) in batch.dns_entries().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_dns(&mut out, &entry);
    }
    out.extend_from_slice(b"],\"connections\":[");
    for (n, entry) in batch.connection_entries().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_connection(&mut out, &entry);
    }
    out.push(b']');
    // Left out when empty, as `serde` leaves it out: older mappers never see it unless it has entries.
    for (n, entry) in batch.http_entries().enumerate() {
        out.extend_from_slice(if n == 0 { b",\"http\":[" } else { b"," });
        write_http(&mut out, &entry);
    }
    if batch.http_entries().next().is_some() {
        out.push(b']');
    }
    out.extend_from_slice(b",\"counters\":");
    write_counters(&mut out, counters);
    out.push(b'}');
    out
}

/// A part of a backlog, taken out to be reported on its own.
#[derive(Debug)]
pub enum Chunk {
    /// The observations and their report body, at most the limit long.
    Fits { part: Batch, body: Vec<u8> },
    /// One observation whose report alone would be longer than the limit.
    TooLarge { part: Batch },
}

/// Takes out of `pending` as many observations as fit in one report body of at most `max_bytes`,
/// with that body. When not even the first one fits, that one is taken out alone
/// ([`Chunk::TooLarge`]). `pending` must not be empty.
pub fn take_chunk(node: &str, pending: &mut Batch, counters: &Counters, max_bytes: usize) -> Chunk {
    // The empty report has no `"http":[]`; counted here in case the part gets HTTP requests.
    let frame = encode(node, &Batch::new(0), counters).len() + HTTP_FIELD.len();
    let mut used = frame;
    let mut scratch = Vec::with_capacity(ENTRY_BYTES * 4);
    let part = pending.split_off_while(|entry| {
        scratch.clear();
        match entry {
            Entry::Dns(dns) => write_dns(&mut scratch, dns),
            Entry::Connection(connection) => write_connection(&mut scratch, connection),
            Entry::Http(request) => write_http(&mut scratch, request),
        }
        // One separating comma counted per observation: a bound, one byte per array over.
        let next = used + scratch.len() + 1;
        if next > max_bytes {
            return false;
        }
        used = next;
        true
    });
    if part.is_empty() {
        let mut first = true;
        let part = pending.split_off_while(|_| std::mem::take(&mut first));
        return Chunk::TooLarge { part };
    }
    let body = encode(node, &part, counters);
    debug_assert!(body.len() <= max_bytes, "{} > {max_bytes}", body.len());
    Chunk::Fits { part, body }
}

fn write_dns(out: &mut Vec<u8>, entry: &DnsEntry<'_>) {
    out.extend_from_slice(b"{\"clientIp\":\"");
    write_ip(out, entry.client_ip);
    out.extend_from_slice(b"\",\"name\":");
    write_str(out, entry.name);
    out.extend_from_slice(b",\"ip\":\"");
    write_ip(out, entry.ip);
    out.extend_from_slice(b"\",\"ttlSeconds\":");
    write_number(out, u64::from(entry.ttl_seconds));
    out.extend_from_slice(b",\"lastSeenMs\":");
    write_number(out, entry.last_seen_ms);
    out.push(b'}');
}

/// An entry's opening: `{"srcIp":…,"dstIp":…,"dstPort":…` (connections and HTTP requests).
fn write_addresses(out: &mut Vec<u8>, src_ip: IpAddr, dst_ip: IpAddr, dst_port: u16) {
    out.extend_from_slice(b"{\"srcIp\":\"");
    write_ip(out, src_ip);
    out.extend_from_slice(b"\",\"dstIp\":\"");
    write_ip(out, dst_ip);
    out.extend_from_slice(b"\",\"dstPort\":");
    write_number(out, u64::from(dst_port));
}

fn write_connection(out: &mut Vec<u8>, entry: &ConnectionEntry<'_>) {
    write_addresses(out, entry.src_ip, entry.dst_ip, entry.dst_port);
    out.extend_from_slice(match entry.seen_by {
        SeenBy::Syn => b",\"seenBy\":\"syn\"",
        SeenBy::SocketScan => b",\"seenBy\":\"socketScan\"",
    });
    if let Some(hostname) = entry.src_hostname {
        out.extend_from_slice(b",\"srcHostname\":");
        write_str(out, hostname);
    }
    out.extend_from_slice(b",\"lastSeenMs\":");
    write_number(out, entry.last_seen_ms);
    out.push(b'}');
}

/// The `http` field's framing, beyond its entries.
const HTTP_FIELD: &str = ",\"http\":[]";

fn write_http(out: &mut Vec<u8>, entry: &HttpEntry<'_>) {
    write_addresses(out, entry.src_ip, entry.dst_ip, entry.dst_port);
    out.extend_from_slice(b",\"method\":");
    write_str(out, entry.method.as_str());
    out.extend_from_slice(b",\"path\":");
    write_str(out, entry.path);
    out.extend_from_slice(b",\"lastSeenMs\":");
    write_number(out, entry.last_seen_ms);
    out.push(b'}');
}

fn write_counters(out: &mut Vec<u8>, counters: &Counters) {
    out.extend_from_slice(b"{\"packets\":");
    write_number(out, counters.packets);
    out.extend_from_slice(b",\"kernelDrops\":");
    write_number(out, counters.kernel_drops);
    out.extend_from_slice(b",\"decodeErrors\":{");
    for (n, (category, count)) in counters.decode_errors.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, category);
        out.push(b':');
        write_number(out, *count);
    }
    out.extend_from_slice(b"},\"reportDrops\":");
    write_number(out, counters.report_drops);
    out.push(b'}');
}

fn write_number(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A JSON string: `"`, `\` and control characters escaped as `serde_json` escapes them.
fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| needs_escape(b)) {
        out.extend_from_slice(bytes);
    } else {
        for &byte in bytes {
            match byte {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                byte if byte < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(byte >> 4)]);
                    out.push(HEX[usize::from(byte & 0xf)]);
                }
                byte => out.push(byte),
            }
        }
    }
    out.push(b'"');
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

#[cfg(test)]
mod tests {
    use super::*;
    use holt_mapper_api::Report;
    use proptest::prelude::*;
    use std::net::IpAddr;

    fn serde_body(node: &str, batch: &Batch, counters: &Counters) -> Vec<u8> {
        let report = Report {
            node: node.to_owned(),
            dns: batch.dns_answers(),
            connections: batch.connections(),
            http: batch.http_requests(),
            counters: counters.clone(),
        };
        serde_json::to_vec(&report).unwrap_or_default()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0u8; 4]))
    }

    #[test]
    fn equals_serde_json_byte_for_byte() {
        let mut batch = Batch::new(100);
        batch.add_dns(
            ip("10.0.0.7"),
            "web.ns.svc.cluster.local",
            ip("10.1.0.1"),
            30,
            1_763_963_673_610,
        );
        batch.add_dns(ip("fd77::2"), "web.ns.svc.cluster.local", ip("fd77::3"), 5, 7);
        batch.add_dns(
            ip("10.0.0.7"),
            "odd\"name\\with\u{1}bytes",
            ip("::ffff:10.1.0.2"),
            0,
            0,
        );
        batch.add_connection(ip("10.0.0.7"), ip("10.0.0.9"), 8080, SeenBy::Syn, None, 9);
        batch.add_connection(
            ip("fd77::2"),
            ip("fd77::3"),
            9443,
            SeenBy::SocketScan,
            Some("client-pod-7\n"),
            u64::MAX,
        );
        batch.add_http(
            ip("10.0.0.7"),
            ip("10.0.0.9"),
            80,
            holt_decode::Method::Get,
            "/orders/17",
            10,
        );
        batch.add_http(
            ip("fd77::2"),
            ip("fd77::3"),
            8080,
            holt_decode::Method::Patch,
            "/a\"b\\c/*",
            11,
        );
        let counters = Counters {
            packets: 42,
            kernel_drops: 1,
            decode_errors: [("bad_length".to_owned(), 2), ("truncated".to_owned(), 4)].into(),
            report_drops: 3,
        };
        for node in ["node-1", "tab\there"] {
            let body = encode(node, &batch, &counters);
            assert_eq!(
                String::from_utf8_lossy(&body),
                String::from_utf8_lossy(&serde_body(node, &batch, &counters))
            );
        }
        let empty = Batch::new(1);
        assert_eq!(
            encode("n", &empty, &Counters::default()),
            serde_body("n", &empty, &Counters::default())
        );
    }

    #[test]
    fn chunks_fit_the_limit_and_carry_every_observation_once() {
        let mut pending = Batch::new(10_000);
        for n in 0..3_000u16 {
            pending.add_connection(
                ip("10.0.0.7"),
                ip("10.0.0.9"),
                n,
                SeenBy::Syn,
                None,
                1_763_963_673_610,
            );
            pending.add_dns(
                ip("10.0.0.7"),
                &format!("host-{n}.example.com"),
                ip("93.184.216.34"),
                30,
                5,
            );
        }
        let counters = Counters {
            report_drops: 12,
            ..Counters::default()
        };
        let limit = 64 * 1024;
        let mut ports = Vec::new();
        let mut names = Vec::new();
        let mut chunks = 0;
        while !pending.is_empty() {
            match take_chunk("node-1", &mut pending, &counters, limit) {
                Chunk::Fits { part, body } => {
                    assert!(body.len() <= limit, "{} bytes", body.len());
                    if !pending.is_empty() {
                        assert!(body.len() > limit - 200, "filled: {} bytes", body.len());
                    }
                    let report: Report = serde_json::from_slice(&body).expect("a report");
                    assert_eq!(report.counters, counters);
                    assert_eq!(report.dns.len() + report.connections.len(), part.len());
                    ports.extend(report.connections.iter().map(|c| c.dst_port));
                    names.extend(report.dns.into_iter().map(|d| d.name));
                    chunks += 1;
                }
                Chunk::TooLarge { .. } => panic!("every observation fits"),
            }
        }
        assert!(chunks >= 6, "{chunks} chunks");
        ports.sort_unstable();
        assert_eq!(ports, (0..3_000).collect::<Vec<u16>>());
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 3_000);
    }

    #[test]
    fn an_observation_too_large_for_any_report_is_taken_out_alone() {
        let mut pending = Batch::new(10);
        pending.add_dns(ip("10.0.0.7"), &"x".repeat(500), ip("10.1.0.1"), 30, 1);
        match take_chunk("node-1", &mut pending, &Counters::default(), 300) {
            Chunk::TooLarge { part } => assert_eq!((part.len(), pending.len()), (1, 0)),
            Chunk::Fits { body, .. } => panic!("{} bytes fit in 300", body.len()),
        }
    }

    proptest! {
        #[test]
        fn any_text_is_escaped_as_serde_json_escapes_it(text in any::<String>()) {
            let mut out = Vec::new();
            write_str(&mut out, &text);
            prop_assert_eq!(out, serde_json::to_vec(&text).unwrap_or_default());
        }
    }
}
