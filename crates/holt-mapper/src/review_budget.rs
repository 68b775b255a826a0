//! How many reviews the mapper may ask the API server for: a token bucket. Whoever can reach the
//! mapper's port can make up tokens, and every token not seen before costs a TokenReview; the budget
//! bounds what that costs the API server. Answers kept in the cache cost nothing. In: the time of a
//! review. Out: whether it may be asked now. Pure: time is passed in.

use std::time::Instant;

/// At most `per_second` reviews a second on average, `burst` at once.
#[derive(Debug)]
pub struct ReviewBudget {
    per_second: f64,
    burst: f64,
    available: f64,
    at: Instant,
}

impl ReviewBudget {
    /// A full budget of `burst` (at least one) refilled at `per_second`.
    pub fn new(per_second: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        ReviewBudget {
            per_second: f64::from(per_second),
            burst,
            available: burst,
            at: now,
        }
    }

    /// Takes one review from the budget, if there is one left at `now`.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.available = (self.available + elapsed * self.per_second).min(self.burst);
        self.at = self.at.max(now);
        if self.available >= 1.0 {
            self.available -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let start = Instant::now();
        let mut budget = ReviewBudget::new(10, 20, start);
        assert_eq!((0..50).filter(|_| budget.take(start)).count(), 20);
        // A second later, ten more.
        let later = start + Duration::from_secs(1);
        assert_eq!((0..50).filter(|_| budget.take(later)).count(), 10);
        // Never more than the burst, however long it waited.
        let much_later = later + Duration::from_secs(3_600);
        assert_eq!((0..50).filter(|_| budget.take(much_later)).count(), 20);
    }
}
