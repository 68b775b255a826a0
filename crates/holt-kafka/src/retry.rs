//! Trying an operation again after a retryable failure, with exponential back-off up to a cap.

use std::future::Future;
use std::time::Duration;

use crate::error::Error;

/// How often and how patiently to retry retryable failures ([`Error::is_retryable`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// The wait before the second attempt.
    pub initial_backoff: Duration,
    /// Each wait is the previous one times this factor ...
    pub multiplier: u32,
    /// ... but never longer than this.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, waiting 100 ms, 200 ms, 400 ms, 800 ms (cap 2 s).
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            multiplier: 2,
            max_backoff: Duration::from_secs(2),
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

    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let mut wait = self.initial_backoff;
        for _ in 1..attempt {
            wait = wait.saturating_mul(self.multiplier.max(1));
            if wait >= self.max_backoff {
                break;
            }
        }
        wait.min(self.max_backoff)
    }

    /// Runs `operation` until it succeeds, fails with a non-retryable error, or the attempts are used up;
    /// returns the last result.
    pub async fn run<T, F, Fut>(&self, mut operation: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut attempt = 1;
        loop {
            match operation().await {
                Err(error) if error.is_retryable() && attempt < self.max_attempts => {
                    let wait = self.backoff(attempt);
                    tracing::debug!(%error, attempt, ?wait, "retrying a Kafka admin operation");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
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

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<_> = (1..=7).map(|a| policy.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 2000, 2000]);
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
