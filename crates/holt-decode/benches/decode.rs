//! Decode cost per frame (Ethernet + IPv4 + UDP DNS answer with a CNAME and two A records, one with a
//! CNAME and 100 A records, an AAAA answer, a TCP SYN, a malformed DNS message, an HTTP
//! request line) and allocations per decode, counted by a global
//! allocator wrapper.

#[path = "../tests/support/mod.rs"]
mod support;

use std::alloc::System;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use holt_decode::{LinkType, MAX_NAME_LEN, Observation, decode};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::*;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut pointer_loop = udp_dns_frame(&cname_message());
    // Replace the question name's first label length with a pointer to itself.
    pointer_loop[14 + 20 + 8 + 12] = 0xc0;
    pointer_loop[14 + 20 + 8 + 13] = 12;
    // A headless Service's answer: a CNAME, then 100 A records (1,650 bytes).
    let mut headless =
        Dns::response(0)
            .question("db.example", TYPE_A)
            .cname("db.example", 30, "pods.example");
    for i in 0..100u8 {
        headless = headless.a("pods.example", 5, [10, 0, 1, i]);
    }
    vec![
        ("dns_cname_2a", udp_dns_frame(&cname_message())),
        ("dns_cname_100a", udp_dns_frame(&headless.build())),
        ("dns_aaaa", udp_dns_frame(&aaaa_message())),
        ("tcp_syn", tcp_frame(SYN)),
        ("malformed_truncated_dns", udp_dns_frame(&cname_message()[..40])),
        ("malformed_pointer_loop", pointer_loop),
        (
            "http_request_line",
            http_frame(b"GET /orders/17?verbose=1 HTTP/1.1\r\nHost: shop\r\n\r\n"),
        ),
    ]
}

/// Decodes the frame and, for DNS, writes every answer's name: what the sniffer does per packet.
fn consume(frame: &[u8], buf: &mut [u8; MAX_NAME_LEN]) -> usize {
    match decode(LinkType::Ethernet, frame) {
        Ok(Observation::Dns(response)) => response
            .answers()
            .map(|a| a.name.write_to(buf).len() + usize::from(a.addr.is_ipv4()))
            .sum(),
        Ok(Observation::TcpSyn(syn)) => usize::from(syn.dst_port),
        Ok(Observation::HttpRequest(request)) => request.line.path.len(),
        Ok(Observation::Skip(_)) => 1,
        Err(e) => e.category().len(),
    }
}

/// Ethernet + IPv4 + TCP from a client port to port 80 carrying `payload`.
fn http_frame(payload: &[u8]) -> Vec<u8> {
    ethernet(
        ETHERTYPE_IPV4,
        &Ipv4::new(CLIENT_V4, SERVER_V4, PROTO_TCP).build(&tcp(41000, 80, PSH | ACK, payload)),
    )
}

fn allocations() {
    for (name, frame) in cases() {
        let mut buf = [0u8; MAX_NAME_LEN];
        let region = Region::new(GLOBAL);
        for _ in 0..10_000 {
            black_box(consume(black_box(&frame), &mut buf));
        }
        let stats = region.change();
        println!(
            "allocations per decode, {name}: {} ({} allocations, {} reallocations, {} bytes over 10000 decodes)",
            stats.allocations as f64 / 10_000.0,
            stats.allocations,
            stats.reallocations,
            stats.bytes_allocated
        );
        assert_eq!(stats.allocations + stats.reallocations, 0, "{name} allocated");
    }
}

fn bench(c: &mut Criterion) {
    allocations();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    for (name, frame) in cases() {
        // Decode only: the answers are resolved, names stay in the packet.
        group.bench_function(name, |b| {
            b.iter(|| black_box(decode(LinkType::Ethernet, black_box(&frame)).is_ok()))
        });
    }
    for (name, frame) in cases().iter().take(2) {
        group.bench_function(format!("{name}_with_names_written"), |b| {
            let mut buf = [0u8; MAX_NAME_LEN];
            b.iter(|| black_box(consume(black_box(frame), &mut buf)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
