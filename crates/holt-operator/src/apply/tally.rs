//! What the writes did, counted by what they mean rather than by HTTP verb: the figures behind the
//! reference's metrics (`network_policies_created`, `network_policies_deleted`,
//! `pods_labeled_for_network_policy`, `pods_unlabeled_for_network_policy`), kept beside Holt's own.
//!
//! In: each write the API server accepted. Out: running totals.

use holt_render::ObjectKind;
use serde_json::Value;

use super::Write;

/// Running totals of accepted writes, by meaning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteTally {
    /// NetworkPolicies created (POST).
    pub network_policies_created: u64,
    /// NetworkPolicies deleted (ones Holt no longer wants).
    pub network_policies_deleted: u64,
    /// Pod label patches that set at least one of Holt's labels.
    pub pods_labeled: u64,
    /// Pod label patches that removed at least one of Holt's labels.
    pub pods_unlabeled: u64,
}

impl WriteTally {
    /// Counts one write the API server accepted.
    pub fn accepted(&mut self, write: &Write) {
        match write {
            Write::Create { id, .. } if id.0 == ObjectKind::NetworkPolicy => {
                self.network_policies_created += 1
            }
            Write::Delete { id, .. } if id.0 == ObjectKind::NetworkPolicy => {
                self.network_policies_deleted += 1
            }
            Write::LabelPod { labels, .. } => {
                if labels.values().any(|value| !value.is_null()) {
                    self.pods_labeled += 1;
                }
                if labels.values().any(Value::is_null) {
                    self.pods_unlabeled += 1;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use holt_model::ObjectKey;
    use serde_json::json;

    use super::*;

    fn label_patch(labels: Value) -> Write {
        let Value::Object(labels) = labels else {
            unreachable!("an object")
        };
        Write::LabelPod {
            key: ObjectKey::new("shop", "client-0"),
            labels,
        }
    }

    #[test]
    fn policies_and_pod_labels_are_counted_by_meaning() {
        let mut tally = WriteTally::default();
        let policy = (
            ObjectKind::NetworkPolicy,
            ObjectKey::new("shop", "server-deployment-access"),
        );
        tally.accepted(&Write::Delete {
            unit: None,
            id: policy.clone(),
            uid: "u".into(),
        });
        tally.accepted(&Write::Delete {
            unit: None,
            id: (ObjectKind::IstioAuthorizationPolicy, policy.1.clone()),
            uid: "u".into(),
        });
        tally.accepted(&label_patch(
            json!({"intents.otterize.com/service": "client-shop-1f2e"}),
        ));
        tally.accepted(&label_patch(json!({"intents.otterize.com/access-server": null})));
        tally.accepted(&label_patch(json!({"a": "true", "b": null})));
        assert_eq!(
            tally,
            WriteTally {
                network_policies_created: 0,
                network_policies_deleted: 1,
                pods_labeled: 2,
                pods_unlabeled: 2,
            }
        );
    }
}
