//! The capture thread's loop: wait for a ring block, record its packets into the shared batch under
//! one lock, give the block back, and every 100 ms add the kernel's drop count to the counters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use holt_decode::LinkType;

use crate::capture::{Capture, CaptureError};
use crate::filter::Selection;
use crate::record::Recorder;
use crate::shared::Shared;

const POLL_TIMEOUT: Duration = Duration::from_millis(100);
const STATISTICS_EVERY: Duration = Duration::from_millis(100);

/// Runs until `stop` is set (checked at least every 100 ms) or the socket fails.
pub fn run(
    mut capture: Capture,
    shared: &Shared,
    recording: Selection,
    stop: &AtomicBool,
) -> Result<(), CaptureError> {
    // SOCK_DGRAM: every packet starts at its IP header.
    let mut recorder = Recorder::new(recording, LinkType::RawIp);
    let mut last_statistics = Instant::now();
    // Statistics reset on read: start from zero.
    capture.take_statistics()?;
    while !stop.load(Ordering::Relaxed) {
        let mut state = None;
        capture.next_block(POLL_TIMEOUT, |packet| {
            let state = state.get_or_insert_with(|| shared.lock());
            recorder.record(state, packet.data, packet.timestamp_ms);
        })?;
        drop(state);
        if last_statistics.elapsed() >= STATISTICS_EVERY {
            let statistics = capture.take_statistics()?;
            if statistics.drops > 0 {
                shared.lock().tally.kernel_drops += statistics.drops;
                tracing::warn!(
                    drops = statistics.drops,
                    "kernel dropped packets: the ring was full"
                );
            }
            last_statistics = Instant::now();
        }
    }
    let statistics = capture.take_statistics()?;
    shared.lock().tally.kernel_drops += statistics.drops;
    Ok(())
}
