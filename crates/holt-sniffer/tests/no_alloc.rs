//! The capture hot path does not allocate: once a batch has seen an observation, recording the same
//! DNS answer or SYN again — decoded or recognised as a repeat — allocates nothing. Counted by a global
//! allocator wrapper, over the benchmark's frames (DNS answers with CNAMEs over IPv4 and IPv6, SYNs;
//! HTTP requests, responses and ACKs).

mod support;

use std::alloc::System;

use holt_decode::LinkType;
use holt_sniffer::filter::Selection;
use holt_sniffer::record::Recorder;
use holt_sniffer::shared::{Shared, State};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::frames::{ETHERNET_HEADER, frames, http_frames};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// DNS answers, TCP SYNs and HTTP request lines: everything the sniffer can record.
const RECORD_ALL: Selection = Selection {
    dns: true,
    tcp_syn: true,
    http: true,
};

/// Records `packets` (already recorded once) 20 more rounds and asserts that nothing was allocated.
fn assert_rounds_allocate_nothing(recorder: &mut Recorder, state: &mut State, packets: &[&[u8]]) {
    let region = Region::new(GLOBAL);
    for round in 0..20 {
        for packet in packets {
            recorder.record(state, packet, 2 + round);
        }
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "recording {} known packets allocated {} bytes",
        20 * packets.len(),
        stats.bytes_allocated
    );
}

#[test]
fn recording_known_observations_does_not_allocate() {
    let frames = frames(1);
    let packets: Vec<&[u8]> = frames.iter().map(|f| &f[ETHERNET_HEADER..]).collect();
    let shared = Shared::new(100_000);
    // The repeat caches are what a real capture meets; without them every packet is decoded again.
    let mut with_caches = Recorder::new(RECORD_ALL, LinkType::RawIp);
    let mut state = shared.lock();
    for packet in &packets {
        with_caches.record(&mut state, packet, 1);
    }
    let distinct = state.batch.len();
    assert!(distinct > 1000, "{distinct}");

    assert_rounds_allocate_nothing(&mut with_caches, &mut state, &packets);
    assert_eq!(state.batch.len(), distinct);
    // Half the packets are DNS answers; most of those are recognised as repeats. The 512 messages take a
    // quarter of the cache's 2,048 slots, in 2-way sets; with a random hash seed, a set that draws three
    // or more of them misses on each of them every round: about 9 % of lookups on average, more for an unlucky seed.
    // Those are decoded again, which allocates nothing either.
    let dns_packets = 20 * packets.len() as u64 / 2;
    assert!(
        state.tally.dns_repeats >= dns_packets * 3 / 4,
        "{} of {dns_packets}",
        state.tally.dns_repeats
    );
    assert!(
        state.tally.decode_errors.is_empty(),
        "{:?}",
        state.tally.decode_errors
    );

    // A second recorder has cold caches: every packet is decoded and looked up in the batch again.
    let mut cold = Recorder::new(RECORD_ALL, LinkType::RawIp);
    let region = Region::new(GLOBAL);
    for packet in &packets {
        cold.record(&mut state, packet, 100);
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "decoding known packets allocated"
    );
    assert_eq!(state.batch.len(), distinct);

    recording_known_http_requests_does_not_allocate();
}

/// HTTP requests, responses and ACKs (run from the test above: the allocation counter is global, so
/// two tests would count each other's allocations).
fn recording_known_http_requests_does_not_allocate() {
    let frames = http_frames(1);
    let packets: Vec<&[u8]> = frames.iter().map(|f| &f[ETHERNET_HEADER..]).collect();
    let shared = Shared::new(100_000);
    let mut recorder = Recorder::new(RECORD_ALL, LinkType::RawIp);
    let mut state = shared.lock();
    for packet in &packets {
        recorder.record(&mut state, packet, 1);
    }
    // Half the frames are requests (one per client and family), half responses and ACKs.
    assert_eq!(state.batch.len(), packets.len() / 2);
    assert_eq!(
        state.tally.http_requests.get("whole"),
        Some(&(packets.len() as u64 / 2))
    );

    assert_rounds_allocate_nothing(&mut recorder, &mut state, &packets);
    assert_eq!(state.batch.len(), packets.len() / 2);
}
