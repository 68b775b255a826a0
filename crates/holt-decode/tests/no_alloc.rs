//! Decoding allocates nothing: a counting global allocator around the decoder and the name
//! accessors.

mod support;

use std::alloc::System;

use holt_decode::{LinkType, MAX_NAME_LEN, Observation, decode};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::*;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn decoding_does_not_allocate() {
    // The DNS message cut inside its answer section: a truncation error.
    let malformed = udp_dns_frame(&cname_message()[..40]);
    assert!(decode(LinkType::Ethernet, &malformed).is_err());
    let frames = [
        udp_dns_frame(&cname_message()),
        udp_dns_frame(&aaaa_message()),
        tcp_frame(SYN),
        malformed,
    ];
    let mut buf = [0u8; MAX_NAME_LEN];
    let mut total_len = 0;
    let region = Region::new(GLOBAL);
    for frame in &frames {
        match decode(LinkType::Ethernet, frame) {
            Ok(Observation::Dns(response)) => {
                for answer in response.answers() {
                    total_len += answer.name.write_to(&mut buf).len();
                }
            }
            Ok(_) | Err(_) => total_len += 1,
        }
    }
    let stats = region.change();
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
    assert!(total_len > 0);
}
