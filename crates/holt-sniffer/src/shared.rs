//! The state the capture thread, the reporter and the health server share: the current batch and the
//! cumulative counters, behind one mutex. The capture thread takes the lock once per ring block, not
//! per packet; the reporter takes it once per tick to swap the batch out.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::batch::Batch;
use crate::tally::Tally;

/// The current batch and the counters.
#[derive(Debug)]
pub struct State {
    pub batch: Batch,
    pub tally: Tally,
}

/// [`State`] behind a mutex.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
}

impl Shared {
    /// Batches hold at most `batch_capacity` distinct observations.
    pub fn new(batch_capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                batch: Batch::new(batch_capacity),
                tally: Tally::default(),
            }),
        }
    }

    /// Locks the state. A panic elsewhere while holding the lock leaves counters that are still
    /// meaningful, so a poisoned lock is used as is.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Swaps the current batch for an empty one of the same capacity and returns it.
    pub fn take_batch(&self) -> Batch {
        self.swap_batch(Batch::new(0))
    }

    /// Swaps the current batch for `spare`, emptied and given the current batch's capacity, and
    /// returns it. A spare that held the previous report comes with tables already grown to size, so
    /// the capture thread does not grow them again while the lock is held.
    pub fn swap_batch(&self, spare: Batch) -> Batch {
        let mut state = self.lock();
        let spare = spare.recycled(state.batch.capacity());
        std::mem::replace(&mut state.batch, spare)
    }

    /// A copy of the counters.
    pub fn tally(&self) -> Tally {
        self.lock().tally.clone()
    }
}
