//! Where a captured packet's CPU goes in user space, without the kernel and the ring: recording the
//! benchmark's frames (`tests/support/frames.rs`) into a batch, and encoding a batch as a report body.
//! Per packet for recording, per observation for encoding.
//!
//! - `record/repeating`: 1,024 frames recorded over and over into the same batch (repeats, as on a
//!   node whose pods keep calling the same services).
//! - `record/unique`: 65,536 frames recorded into an emptied batch each pass, so every packet is new.
//! - `encode/unique`: the report body of that full batch (~98,000 observations).

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use holt_decode::LinkType;
use holt_mapper_api::Counters;
use holt_sniffer::filter::Selection;
use holt_sniffer::record::Recorder;
use holt_sniffer::report_body;
use holt_sniffer::shared::Shared;
use support::frames::{ETHERNET_HEADER, frames};

const ALL: Selection = Selection {
    dns: true,
    tcp_syn: true,
    http: true,
};

fn packets(variants: u16) -> Vec<Vec<u8>> {
    frames(variants)
        .into_iter()
        .map(|frame| frame.get(ETHERNET_HEADER..).unwrap_or_default().to_vec())
        .collect()
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("record");
    for (name, variants) in [("repeating", 1), ("unique", 64)] {
        let packets = packets(variants);
        let shared = Shared::new(1_000_000);
        let mut recorder = Recorder::new(ALL, LinkType::RawIp);
        group.throughput(Throughput::Elements(packets.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                if variants > 1 {
                    // Every pass starts from an emptied batch whose tables keep their size, as the
                    // capture thread's batch does in steady state.
                    let spare = shared.take_batch();
                    drop(shared.swap_batch(spare));
                }
                let mut state = shared.lock();
                for packet in &packets {
                    recorder.record(&mut state, black_box(packet), 1_763_963_673_610);
                }
                state.batch.len()
            });
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let shared = Shared::new(1_000_000);
    let mut recorder = Recorder::new(ALL, LinkType::RawIp);
    {
        let mut state = shared.lock();
        for packet in &packets(64) {
            recorder.record(&mut state, packet, 1_763_963_673_610);
        }
    }
    let batch = shared.take_batch();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("unique", |b| {
        b.iter(|| report_body::encode("node-1", black_box(&batch), &Counters::default()).len());
    });
    group.finish();
}

criterion_group!(benches, record, encode);
criterion_main!(benches);
