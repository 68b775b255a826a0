//! The report loop. Every interval: run the socket scan (if enabled), move the capture thread's batch
//! into the pending batch, and post the pending batch with the current counters to the mapper. A
//! delivered report empties the pending batch; a failed one keeps it (bounded: what does not fit is
//! counted in `report_drops`) and the next attempts wait 2, 4, 8, … intervals, up to [`MAX_BACKOFF`]. On
//! shutdown it makes one last attempt.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use holt_mapper_api::SeenBy;
use tokio::sync::watch;

use crate::batch::Batch;
use crate::deliver::post_report;
use crate::endpoint::Endpoint;
use crate::report_body;
use crate::shared::Shared;
use crate::socket_scan;

/// The longest wait between two attempts after failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How the reporter runs.
#[derive(Debug, Clone)]
pub struct ReporterConfig {
    pub endpoint: Endpoint,
    pub node: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Where to scan for established sockets; `None` turns the scan off.
    pub scan_proc_root: Option<PathBuf>,
    /// Distinct observations kept while the mapper is unreachable.
    pub pending_capacity: usize,
}

/// Runs until `shutdown` turns true, then flushes once and returns.
pub async fn run(shared: Arc<Shared>, config: ReporterConfig, mut shutdown: watch::Receiver<bool>) {
    let mut pending = Batch::new(config.pending_capacity);
    let mut failures: u32 = 0;
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Attempts happen on ticks; after failures, on the first tick at or after this one.
    let mut next_attempt = tokio::time::Instant::now();
    loop {
        let (stopping, tick) = tokio::select! {
            tick = ticker.tick() => (false, tick),
            _ = shutdown.changed() => (true, tokio::time::Instant::now()),
        };
        if let Some(root) = &config.scan_proc_root {
            scan_into(&shared, root.clone(), &mut pending).await;
        }
        // A delivered (empty) pending batch goes back to the capture thread with its grown tables.
        let spare = if pending.is_empty() {
            std::mem::replace(&mut pending, Batch::new(config.pending_capacity))
        } else {
            Batch::new(0)
        };
        pending.absorb(shared.swap_batch(spare));
        let lost = pending.take_overflow();
        if lost > 0 {
            shared.lock().tally.report_drops += lost;
            tracing::warn!(lost, "pending batch full: observations dropped");
        }
        if stopping || tick >= next_attempt {
            let counters = shared.lock().tally.counters();
            let body = Bytes::from(report_body::encode(&config.node, &pending, &counters));
            match post_report(&config.endpoint, body, config.timeout).await {
                Ok(()) => {
                    tracing::debug!(observations = pending.len(), "report delivered");
                    shared.lock().tally.reports_sent += 1;
                    pending.clear();
                    failures = 0;
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let backoff = backoff(config.interval, failures);
                    tracing::warn!(%error, pending = pending.len(), retry_in = ?backoff, "report not delivered");
                    shared.lock().tally.reports_failed += 1;
                    next_attempt = tick + backoff;
                }
            }
        }
        if stopping {
            if !pending.is_empty() {
                shared.lock().tally.report_drops += pending.len() as u64;
            }
            return;
        }
    }
}

/// The wait from a failed attempt to the next: 2, 4, 8, … intervals after 1, 2, 3, … consecutive
/// failures, at most [`MAX_BACKOFF`].
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.min(16);
    interval.saturating_mul(factor).min(MAX_BACKOFF)
}

async fn scan_into(shared: &Shared, root: PathBuf, pending: &mut Batch) {
    let scan = match tokio::task::spawn_blocking(move || socket_scan::scan(&root)).await {
        Ok(scan) => scan,
        Err(error) => {
            tracing::error!(%error, "socket scan panicked");
            shared.lock().tally.scan_errors += 1;
            return;
        }
    };
    let now = now_ms();
    for connection in &scan.connections {
        pending.add_connection(
            connection.src,
            connection.dst.ip(),
            connection.dst.port(),
            SeenBy::SocketScan,
            connection.src_hostname.as_deref(),
            now,
        );
    }
    shared.lock().tally.scan_errors += scan.errors;
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let second = Duration::from_secs(1);
        assert_eq!(backoff(second, 1), 2 * second);
        assert_eq!(backoff(second, 2), 4 * second);
        assert_eq!(backoff(second, 4), 16 * second);
        assert_eq!(backoff(second, 10), MAX_BACKOFF);
        assert_eq!(backoff(second, u32::MAX), MAX_BACKOFF);
    }
}
