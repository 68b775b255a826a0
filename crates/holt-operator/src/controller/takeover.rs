//! Taking over from the reference operator: what is removed only after Holt's first full pass has written
//! every allow it wants ([`crate::apply::reference`] says which objects are the reference's).
//!
//! In: the first pass, which adopts the reference's objects Holt wants (replaced in place) and sets the pod
//! labels Holt wants but holds back the removal of pod labels it does not want. Out: once a pass ends with
//! no unit failing, the held-back label removals (each pod rendered again) and the deletion of the
//! reference's objects no unit wants, in one batch. Until then nothing of the reference's is removed, so a
//! call allowed before the switch is allowed at every moment of it.

use std::time::Instant;

use holt_model::{ObjectKey, Unit};
use serde_json::Value;
use tracing::info;

use super::Controller;
use super::pass::PassPlan;
use crate::apply::Write;

impl Controller {
    /// Splits a pod's label patch in the first pass while adopting: labels to set go now, labels to remove
    /// are held back until the take-over ends.
    pub(super) fn hold_label_removals(&mut self, key: &ObjectKey, writes: Vec<Write>, pass: &mut PassPlan) {
        for write in writes {
            let Write::LabelPod { key: pod, labels } = write else {
                pass.writes.push(write);
                continue;
            };
            let (remove, set): (serde_json::Map<String, Value>, serde_json::Map<String, Value>) =
                labels.into_iter().partition(|(_, value)| value.is_null());
            if !remove.is_empty() {
                self.held_label_removals.insert(key.clone());
            }
            if !set.is_empty() {
                pass.writes.push(Write::LabelPod {
                    key: pod,
                    labels: set,
                });
            }
        }
    }

    /// Whether removals are still held back (pod labels, the reference's objects).
    pub(super) fn taking_over(&self) -> bool {
        !self.held_label_removals.is_empty() || self.applier.has_reference_leftovers()
    }

    /// Ends the take-over once no unit is failing: removes the pod labels Holt does not want and deletes
    /// the reference's objects no unit wants.
    pub(super) async fn finish_takeover(&mut self) {
        if !self.taking_over() || self.health.counts().failing > 0 {
            return;
        }
        let now = Instant::now();
        let mut pass = PassPlan::default();
        let pods = std::mem::take(&mut self.held_label_removals);
        let relabelled = pods.len();
        for key in pods {
            self.plan_unit(Unit::Pod(key), now, &mut pass);
        }
        let deleting = self.applier.plan_prune_reference(&mut pass.writes);
        info!(
            relabelled,
            deleting, "take-over: removing the pod labels and the reference's objects Holt does not want"
        );
        let applied = self.execute(pass.writes, pass.outcomes).await;
        self.report(applied).await;
        self.publish_progress();
    }
}
