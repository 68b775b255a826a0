//! How long to wait after failures: exponential back-off from a first wait, doubling, at most a longest
//! wait, with jitter so that many retries that failed together do not all come back at the same moment.
//! Built on `backon`, which kube's watchers also take ([`Backoff::builder`]).
//!
//! In: the first and the longest wait, and whether to jitter. Out: the waits, one per failure in a row
//! ([`RetrySchedule`]), or a `backon` builder for `backon::Retryable` and kube's `WatchStreamExt::backoff`.
//!
//! Without jitter the n-th wait is `first · 2^(n-1)`, at most `max`. Jitter takes a random part of up to
//! half off each of those waits: the n-th wait lies between half of it and all of it. A jittered retry
//! therefore never comes later than an unjittered one would, and no wait is ever longer than `max`.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// The wait between a watch's failed attempts, in the operator and the mapper alike: 0.5 s doubling to at
/// most 5 s, jittered, so that caches are fresh again within seconds of an API server outage (kube's own
/// default waits up to a minute).
pub const WATCH_BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(500), Duration::from_secs(5)).with_jitter();

/// Exponential back-off settings: `first`, doubling, at most `max`; jittered or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    jitter: bool,
}

impl Backoff {
    /// `first`, doubling after each further failure, at most `max` (a `first` above `max` counts as `max`);
    /// no jitter.
    pub const fn exponential(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            jitter: false,
        }
    }

    /// The same, each wait shortened by a random part of up to half (see the module documentation).
    pub const fn with_jitter(self) -> Backoff {
        Backoff { jitter: true, ..self }
    }

    /// The wait after the first failure (without jitter).
    pub fn first(&self) -> Duration {
        self.first.min(self.max)
    }

    /// The longest wait.
    pub fn max(&self) -> Duration {
        self.max
    }

    pub fn is_jittered(&self) -> bool {
        self.jitter
    }

    /// The `backon` builder that yields these waits without end: for `backon::Retryable` (bound it with
    /// `with_max_times`) and kube's watchers (`.into()` kube's `ExponentialBackoff`).
    pub fn builder(&self) -> ExponentialBuilder {
        // backon's jitter adds up to the whole wait; from half the waits, that makes "up to half off".
        let (first, max) = match self.jitter {
            true => (self.first() / 2, self.max / 2),
            false => (self.first(), self.max),
        };
        let builder = ExponentialBuilder::default()
            .with_min_delay(first)
            .with_max_delay(max)
            .with_factor(2.0)
            .without_max_times();
        match self.jitter {
            true => builder.with_jitter(),
            false => builder,
        }
    }

    /// A schedule of waits for one thing that fails again and again, starting afresh.
    pub fn schedule(&self) -> RetrySchedule {
        RetrySchedule::new(*self)
    }
}

/// The waits of one retried thing: each failure in a row takes the next, longer wait; a success
/// ([`RetrySchedule::reset`]) starts again from the first.
#[derive(Debug)]
pub struct RetrySchedule {
    backoff: Backoff,
    waits: <ExponentialBuilder as BackoffBuilder>::Backoff,
    failures: u32,
}

impl RetrySchedule {
    pub fn new(backoff: Backoff) -> RetrySchedule {
        RetrySchedule {
            backoff,
            waits: backoff.builder().build(),
            failures: 0,
        }
    }

    /// Counts one more failure in a row and returns the wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        // The builder sets no limit on the number of waits: `None` cannot happen, `max` is its answer.
        self.waits.next().unwrap_or(self.backoff.max())
    }

    /// Failures in a row since the start or the last [`RetrySchedule::reset`].
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// After a success: the next failure waits the first wait again.
    pub fn reset(&mut self) {
        if self.failures > 0 {
            *self = RetrySchedule::new(self.backoff);
        }
    }

    pub fn backoff(&self) -> Backoff {
        self.backoff
    }
}

impl Clone for RetrySchedule {
    /// A schedule at the same point: the same number of failures counted, the waits to come not yet
    /// drawn.
    fn clone(&self) -> Self {
        let mut copy = RetrySchedule::new(self.backoff);
        for _ in 0..self.failures {
            copy.next_wait();
        }
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn waits(backoff: Backoff, n: usize) -> Vec<Duration> {
        let mut schedule = backoff.schedule();
        (0..n).map(|_| schedule.next_wait()).collect()
    }

    #[test]
    fn without_jitter_waits_double_up_to_the_longest() {
        let waits = waits(Backoff::exponential(500 * MS, Duration::from_secs(30)), 9);
        let millis: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(
            millis,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
    }

    #[test]
    fn jitter_takes_at_most_half_off_and_never_adds() {
        let plain = Backoff::exponential(500 * MS, Duration::from_secs(30));
        let expected = waits(plain, 12);
        let mut varied = false;
        for _ in 0..50 {
            let jittered = waits(plain.with_jitter(), 12);
            for (wait, full) in jittered.iter().zip(&expected) {
                assert!(*wait <= *full, "{wait:?} > {full:?}");
                assert!(*wait >= *full / 2, "{wait:?} < half of {full:?}");
            }
            varied |= jittered != waits(plain.with_jitter(), 12);
        }
        assert!(varied, "jittered waits differ from run to run");
    }

    #[test]
    fn a_reset_starts_again_from_the_first_wait() {
        let mut schedule = Backoff::exponential(MS, 8 * MS).schedule();
        assert_eq!(
            [schedule.next_wait(), schedule.next_wait(), schedule.next_wait()],
            [MS, 2 * MS, 4 * MS]
        );
        assert_eq!(schedule.failures(), 3);
        let copy = schedule.clone();
        schedule.reset();
        assert_eq!(schedule.failures(), 0);
        assert_eq!(schedule.next_wait(), MS);
        let mut copy = copy;
        assert_eq!(copy.next_wait(), 8 * MS, "a clone keeps its place");
    }

    #[test]
    fn a_first_wait_above_the_longest_is_the_longest() {
        let backoff = Backoff::exponential(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(waits(backoff, 3), [Duration::from_secs(1); 3]);
    }
}
