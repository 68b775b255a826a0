//! The report loop. Every interval: run the socket scan (if enabled), merge the capture thread's batch
//! into the backlog, and deliver the backlog with the current counters to the mapper, cut into reports
//! that each fit the mapper's limit ([`report_body::take_chunk`]).
//!
//! The limit is read from the mapper (`GET /v1/limits`) before the first report and again after any
//! failed exchange; every answer to a report repeats it (a header), and a `413` without it halves the
//! report size. What the mapper answers decides what happens to a report:
//! - `2xx`: delivered, gone from the backlog;
//! - `413`: put back, cut again smaller, sent again at once (never the same body twice);
//! - `401` or `403` (the credential, not the report, was refused), `429` (the mapper's review budget):
//!   put back and tried again like a failure, counted apart (`unauthorized`);
//! - any other `4xx`: dropped and counted (`rejected`): the mapper would refuse it again;
//! - no answer, a timeout or a `5xx`: put back; the next attempts wait 2, 4, 8, … intervals, up to
//!   [`MAX_BACKOFF`], each jittered (up to half off) so that the sniffers of a cluster whose mapper was
//!   away do not all come back at the same moment ([`retry_backoff`]).
//!
//! Reports carry the token of `--token-file` (read again for every round, so a rotated token is used
//! at once) as `Authorization: Bearer`.
//!
//! The backlog is bounded (`pending_capacity` observations, `--max-batch`): past it the observations
//! seen longest ago are dropped and counted (`backlog_full`). On shutdown it makes one last attempt.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use holt_mapper_api::{DEFAULT_MAX_REPORT_BYTES, SeenBy};
use holt_runtime::Backoff;
use tokio::sync::watch;

use crate::batch::Batch;
use crate::deliver::{Answer, DeliverError, fetch_limits, post_report};
use crate::endpoint::Endpoint;
use crate::report_body::{self, Chunk};
use crate::shared::Shared;
use crate::socket_scan;
use crate::tally::DropReason;

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
    /// The file holding the bearer token for the mapper; `None`: reports carry no credential.
    pub token_file: Option<PathBuf>,
}

/// Runs until `shutdown` turns true, then flushes once and returns.
pub async fn run(shared: Arc<Shared>, config: ReporterConfig, mut shutdown: watch::Receiver<bool>) {
    let mut pending = Batch::new(config.pending_capacity);
    let mut limit: Option<usize> = None;
    let mut retries = retry_backoff(config.interval).schedule();
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
        let full = pending.take_overflow();
        let evicted = pending.take_evicted();
        {
            let mut state = shared.lock();
            state.tally.dropped(DropReason::BatchFull, full);
            state.tally.dropped(DropReason::BacklogFull, evicted);
            state.tally.backlog = pending.len() as u64;
        }
        if full > 0 || evicted > 0 {
            tracing::warn!(batch_full = full, backlog_full = evicted, "observations dropped");
        }
        if stopping || tick >= next_attempt {
            match deliver(&shared, &config, &mut pending, &mut limit).await {
                Ok(()) => retries.reset(),
                Err(error) => {
                    let backoff = retries.next_wait();
                    tracing::warn!(%error, pending = pending.len(), retry_in = ?backoff, "report not delivered");
                    let mut state = shared.lock();
                    if matches!(error, DeliverError::Unauthorized { .. }) {
                        state.tally.reports_unauthorized += 1;
                    } else {
                        state.tally.reports_failed += 1;
                    }
                    next_attempt = tick + backoff;
                }
            }
            let mut state = shared.lock();
            state.tally.backlog = pending.len() as u64;
            state.tally.max_report_bytes = limit.map_or(0, |l| l as u64);
        }
        if stopping {
            shared
                .lock()
                .tally
                .dropped(DropReason::Shutdown, pending.len() as u64);
            return;
        }
    }
}

/// Delivers the backlog, one report at a time, each within the mapper's limit; an empty backlog is
/// reported too (the counters travel with it). Stops at the first exchange without a final answer,
/// with what was not delivered back in `pending`.
async fn deliver(
    shared: &Shared,
    config: &ReporterConfig,
    pending: &mut Batch,
    limit: &mut Option<usize>,
) -> Result<(), DeliverError> {
    let max_bytes = match *limit {
        Some(known) => known,
        None => {
            let announced = fetch_limits(&config.endpoint, config.timeout).await?;
            let known = to_usize(announced.map_or(DEFAULT_MAX_REPORT_BYTES, |l| l.max_report_bytes));
            tracing::debug!(max_report_bytes = known, "the mapper's limit");
            *limit = Some(known);
            known
        }
    };
    let authorization = config
        .token_file
        .as_deref()
        .map(crate::token::authorization)
        .transpose()?;
    let mut max_bytes = max_bytes;
    let mut first = true;
    while first || !pending.is_empty() {
        first = false;
        let counters = shared.lock().tally.counters();
        let (part, body) = if pending.is_empty() {
            (
                Batch::new(0),
                report_body::encode(&config.node, pending, &counters),
            )
        } else {
            match report_body::take_chunk(&config.node, pending, &counters, max_bytes) {
                Chunk::Fits { part, body } => (part, body),
                Chunk::TooLarge { part } => {
                    tracing::warn!(max_bytes, "an observation too large for any report: dropped");
                    shared
                        .lock()
                        .tally
                        .dropped(DropReason::TooLarge, part.len() as u64);
                    continue;
                }
            }
        };
        let sent = body.len();
        match post_report(
            &config.endpoint,
            Bytes::from(body),
            config.timeout,
            authorization.as_ref(),
        )
        .await
        {
            Ok(Answer::Accepted { limit: announced }) => {
                tracing::debug!(observations = part.len(), bytes = sent, "report delivered");
                shared.lock().tally.reports_sent += 1;
                if let Some(announced) = announced {
                    max_bytes = to_usize(announced);
                    *limit = Some(max_bytes);
                }
            }
            Ok(Answer::TooLarge { limit: announced }) => {
                // Cut again, smaller: to the limit the mapper announces if that is smaller, else
                // (a proxy's limit, say) to half of what was refused.
                max_bytes = announced
                    .map(to_usize)
                    .filter(|&announced| announced < sent)
                    .unwrap_or(sent / 2)
                    .max(1);
                *limit = Some(max_bytes);
                tracing::warn!(
                    bytes = sent,
                    max_bytes,
                    "report too large for the mapper: cut smaller"
                );
                shared.lock().tally.reports_too_large += 1;
                if part.is_empty() {
                    return Ok(());
                }
                pending.absorb(part);
            }
            Ok(Answer::Rejected { status, body }) => {
                tracing::warn!(%status, reason = body.trim(), observations = part.len(), "report rejected by the mapper: dropped");
                let mut state = shared.lock();
                state.tally.reports_rejected += 1;
                state.tally.dropped(DropReason::Rejected, part.len() as u64);
            }
            Err(error) => {
                // The limit is read again before the next attempt: the mapper may have restarted
                // with another one.
                *limit = None;
                pending.absorb(part);
                return Err(error);
            }
        }
    }
    Ok(())
}

fn to_usize(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// The waits from a failed attempt to the next: 2, 4, 8, … intervals after 1, 2, 3, … consecutive
/// failures, at most [`MAX_BACKOFF`], jittered.
pub fn retry_backoff(interval: Duration) -> Backoff {
    Backoff::exponential(interval.saturating_mul(2), MAX_BACKOFF).with_jitter()
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
        let mut retries = retry_backoff(second).schedule();
        let waits: Vec<Duration> = (0..10).map(|_| retries.next_wait()).collect();
        let full = [2, 4, 8, 16, 30, 30, 30, 30, 30, 30].map(|s| s * second);
        for (wait, full) in waits.iter().zip(full) {
            assert!(full / 2 <= *wait && *wait <= full, "{wait:?} for {full:?}");
        }
        let long = retry_backoff(Duration::from_secs(60)).schedule().next_wait();
        assert!(
            long <= MAX_BACKOFF,
            "an interval beyond the cap still waits at most the cap"
        );
    }
}
