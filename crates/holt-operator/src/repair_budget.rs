//! A bound on drift repairs: if something keeps changing one of Holt's objects back (another controller
//! that wants the same object, a script in a loop), Holt's immediate rewrite would make the two fight at
//! the speed of the API server. Each object gets [`RepairBudget::max`] immediate repairs per
//! [`RepairBudget::window`]; repairs beyond that wait for the window's end, so a fight costs a few writes
//! a minute, not hundreds a second. Pure: the caller passes the time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::apply::ObjectId;

#[derive(Debug)]
pub struct RepairBudget {
    pub max: u32,
    pub window: Duration,
    spent: HashMap<ObjectId, (Instant, u32)>,
}

impl RepairBudget {
    pub fn new(max: u32, window: Duration) -> Self {
        RepairBudget {
            max,
            window,
            spent: HashMap::new(),
        }
    }

    /// Spends a repair of `id` now if the budget allows it; otherwise says when the window ends.
    pub fn spend(&mut self, id: &ObjectId, now: Instant) -> Result<(), Instant> {
        self.spent
            .retain(|_, (start, _)| now.saturating_duration_since(*start) < self.window);
        let (start, count) = self.spent.entry(id.clone()).or_insert((now, 0));
        if *count >= self.max {
            return Err(*start + self.window);
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use holt_model::ObjectKey;

    #[test]
    fn repairs_beyond_the_budget_wait_for_the_window_to_end() {
        let mut budget = RepairBudget::new(3, Duration::from_secs(60));
        let id = (holt_render::ObjectKind::NetworkPolicy, ObjectKey::new("ns", "p"));
        let other = (holt_render::ObjectKind::NetworkPolicy, ObjectKey::new("ns", "q"));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(budget.spend(&id, t0), Ok(()));
        }
        assert_eq!(budget.spend(&id, t0), Err(t0 + Duration::from_secs(60)));
        assert_eq!(budget.spend(&other, t0), Ok(()), "per object");
        assert_eq!(
            budget.spend(&id, t0 + Duration::from_secs(60)),
            Ok(()),
            "a new window"
        );
    }
}
