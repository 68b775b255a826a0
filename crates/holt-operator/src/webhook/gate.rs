//! The review gate: a review runs only with a slot ([`ReviewLimits::max_concurrent_reviews`]) and its share
//! of the memory budget ([`ReviewLimits::review_memory`]), both taken before its body is read, so a burst of
//! large reviews waits with its bodies still in the network rather than in memory. Turns are first come,
//! first served. In: the memory a review will hold; out: an [`Admitted`] that gives both back when dropped,
//! or [`Busy`] when no turn came within the wait.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use http_body_util::Full;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::limits::ReviewLimits;

/// The memory budget is counted in KiB, so that it fits a semaphore's `u32` permits.
const KIB: usize = 1024;

/// Shared by every connection of one webhook server.
#[derive(Debug)]
pub(super) struct ReviewGate {
    slots: Arc<Semaphore>,
    memory_kib: Arc<Semaphore>,
    budget_kib: u32,
    limits: ReviewLimits,
}

/// A review's turn: its slot and its memory, given back when dropped.
#[derive(Debug)]
pub(super) struct Admitted {
    _slot: OwnedSemaphorePermit,
    _memory: OwnedSemaphorePermit,
}

/// No turn within the wait: what was in flight, for the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Busy {
    /// Reviews running when the wait ended.
    pub reviews: usize,
    /// Memory they were charged (bytes).
    pub memory: usize,
    /// What this review asked for (bytes).
    pub wanted: usize,
}

impl ReviewGate {
    pub(super) fn new(limits: &ReviewLimits) -> ReviewGate {
        let slots = limits.max_concurrent_reviews.max(1);
        let budget_kib = u32::try_from(limits.review_memory.div_ceil(KIB))
            .unwrap_or(u32::MAX)
            .max(1);
        ReviewGate {
            slots: Arc::new(Semaphore::new(slots)),
            memory_kib: Arc::new(Semaphore::new(budget_kib as usize)),
            budget_kib,
            limits: limits.clone(),
        }
    }

    pub(super) fn limits(&self) -> &ReviewLimits {
        &self.limits
    }

    /// Waits at most `wait` for a slot and `memory` bytes of the budget (the whole budget when `memory` is
    /// more).
    pub(super) async fn admit(&self, memory: usize, wait: Duration) -> Result<Admitted, Busy> {
        let wanted_kib = u32::try_from(memory.div_ceil(KIB))
            .unwrap_or(u32::MAX)
            .clamp(1, self.budget_kib);
        let turn = async {
            let slot = self.slots.clone().acquire_owned().await.ok()?;
            let memory = self
                .memory_kib
                .clone()
                .acquire_many_owned(wanted_kib)
                .await
                .ok()?;
            Some(Admitted {
                _slot: slot,
                _memory: memory,
            })
        };
        match tokio::time::timeout(wait, turn).await {
            Ok(Some(admitted)) => Ok(admitted),
            Ok(None) | Err(_) => Err(Busy {
                reviews: self.limits.max_concurrent_reviews.max(1) - self.slots.available_permits(),
                memory: (self.budget_kib as usize - self.memory_kib.available_permits()) * KIB,
                wanted: wanted_kib as usize * KIB,
            }),
        }
    }
}

impl Admitted {
    /// A response body of `bytes` that keeps this turn until it is sent (or the connection is gone): the
    /// answer is part of what the review holds.
    pub(super) fn hold_until_sent(self, bytes: Bytes) -> Body {
        Body::new(HeldAnswer {
            answer: Full::new(bytes),
            _turn: self,
        })
    }
}

struct HeldAnswer {
    answer: Full<Bytes>,
    _turn: Admitted,
}

impl http_body::Body for HeldAnswer {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.get_mut().answer).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.answer.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.answer.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(memory: usize, reviews: usize) -> ReviewGate {
        ReviewGate::new(&ReviewLimits {
            review_memory: memory,
            max_concurrent_reviews: reviews,
            ..ReviewLimits::default()
        })
    }

    #[tokio::test]
    async fn a_review_that_does_not_fit_waits_until_memory_is_given_back() {
        let gate = Arc::new(gate(100 * KIB, 8));
        let first = gate.admit(60 * KIB, Duration::ZERO).await.expect("first fits");
        let refused = gate
            .admit(60 * KIB, Duration::from_millis(20))
            .await
            .expect_err("second does not fit");
        assert_eq!(
            refused,
            Busy {
                reviews: 1,
                memory: 60 * KIB,
                wanted: 60 * KIB
            }
        );
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.admit(60 * KIB, Duration::from_secs(10)).await.is_ok() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        assert!(waiting.await.expect("task"), "admitted once the first was done");
    }

    #[tokio::test]
    async fn reviews_beyond_the_slots_wait() {
        let gate = gate(100 * KIB, 1);
        let first = gate.admit(1, Duration::ZERO).await.expect("first");
        assert!(gate.admit(1, Duration::from_millis(10)).await.is_err());
        drop(first);
        assert!(gate.admit(1, Duration::ZERO).await.is_ok());
    }

    #[tokio::test]
    async fn a_review_larger_than_the_budget_runs_alone() {
        let gate = gate(100 * KIB, 8);
        let large = gate
            .admit(1000 * KIB, Duration::ZERO)
            .await
            .expect("charged the whole budget");
        assert!(gate.admit(1, Duration::from_millis(10)).await.is_err());
        drop(large);
        assert!(gate.admit(1, Duration::ZERO).await.is_ok());
    }
}
