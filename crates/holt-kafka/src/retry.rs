//! Trying an operation again after a retryable failure, with the workspace's one back-off
//! ([`holt_runtime::Backoff`]: exponential up to a cap, jittered), run by `backon`.

use std::future::Future;
use std::time::Duration;

use backon::Retryable;
use holt_runtime::Backoff;

use crate::error::Error;

/// How often and how patiently to retry retryable failures ([`Error::is_retryable`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// The waits between attempts.
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    /// 5 attempts, waiting about 100 ms, 200 ms, 400 ms, 800 ms (each jittered: up to half off; cap 2 s).
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff: Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2)).with_jitter(),
        }
    }
}

impl RetryPolicy {
    /// A single attempt, no retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Runs `operation` until it succeeds, fails with a non-retryable error, or the attempts are used up;
    /// returns the last result.
    pub async fn run<T, F, Fut>(&self, operation: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let retries = usize::try_from(self.max_attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        operation
            .retry(self.backoff.builder().with_max_times(retries))
            .when(Error::is_retryable)
            .notify(|error, wait| tracing::debug!(%error, ?wait, "retrying a Kafka admin operation"))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn refused() -> Error {
        Error::Connect {
            address: "127.0.0.1:1".to_owned(),
            source: std::io::ErrorKind::ConnectionRefused.into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_grow_between_attempts_and_stay_under_the_cap() {
        let started = tokio::time::Instant::now();
        let attempts = std::sync::Mutex::new(Vec::new());
        let policy = RetryPolicy {
            max_attempts: 8,
            ..RetryPolicy::default()
        };
        let _: Result<(), Error> = policy
            .run(|| async {
                attempts.lock().expect("not poisoned").push(started.elapsed());
                Err(refused())
            })
            .await;
        let attempts = attempts.into_inner().expect("not poisoned");
        assert_eq!(attempts.len(), 8);
        let waits: Vec<u128> = attempts.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
        // Unjittered: 100, 200, 400, 800, 1600, 2000, 2000 ms; jitter takes up to half off each.
        for (wait, full) in waits.iter().zip([100, 200, 400, 800, 1600, 2000, 2000]) {
            assert!(
                full / 2 <= *wait && *wait <= full,
                "{wait} ms for {full} ms: {waits:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_until_attempts_run_out() {
        let calls = AtomicU32::new(0);
        let result: Result<(), Error> = RetryPolicy::default()
            .run(|| async {
                calls.fetch_add(1, Ordering::Relaxed);
                Err(refused())
            })
            .await;
        assert!(matches!(result, Err(Error::Connect { .. })));
        assert_eq!(calls.load(Ordering::Relaxed), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_success_and_at_a_permanent_error() {
        let calls = AtomicU32::new(0);
        let result = RetryPolicy::default()
            .run(|| async {
                if calls.fetch_add(1, Ordering::Relaxed) < 2 {
                    Err(refused())
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(result.ok(), Some(7));
        assert_eq!(calls.load(Ordering::Relaxed), 3);

        let calls = AtomicU32::new(0);
        let result: Result<(), Error> = RetryPolicy::default()
            .run(|| async {
                calls.fetch_add(1, Ordering::Relaxed);
                Err(Error::from_code("DescribeAcls", 31, None))
            })
            .await;
        assert!(matches!(result, Err(Error::Authorization { .. })));
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }
}
