//! What Holt created on a broker, kept in a ConfigMap in the operator's namespace. Kafka ACLs carry no
//! labels or owners, so this record is how Holt tells its ACLs from everyone else's: a reconcile deletes only
//! ACLs listed here, and an ACL that existed before Holt wanted it is never listed (so never deleted). The
//! record also keeps how the broker was reached, so Holt can still remove its ACLs after the broker's
//! KafkaServerConfig is gone.
//!
//! Writes are ordered for crash safety: ACLs about to be created are recorded first, and ACLs are
//! forgotten only once deleted. A crash in between leaves a record of an ACL that does not exist, which
//! the next reconcile drops.

use std::collections::{BTreeMap, BTreeSet};

use holt_kafka::KafkaAcl;
use holt_model::Identity;
use holt_model::labels::{MANAGED_BY, MANAGED_BY_HOLT};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams};
use kube::{Api, Client};
use serde::{Deserialize, Serialize};

use super::broker::broker_name;
use super::target::BrokerTarget;
use crate::apply::FIELD_MANAGER;

/// The label that marks ledger ConfigMaps (besides Holt's managed-by label).
pub const LEDGER_LABEL: &str = "holt.otterize.com/kafka-acl-ledger";
const DATA_KEY: &str = "ledger.json";

/// The ACLs Holt created on one broker, and how it reached the broker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ledger {
    /// `name.namespace` of the broker's workload.
    pub broker: String,
    pub target: Option<BrokerTarget>,
    pub acls: BTreeSet<KafkaAcl>,
}

/// Where ledgers live.
#[derive(Clone, Debug)]
pub struct Ledgers {
    api: Api<ConfigMap>,
}

impl Ledgers {
    pub fn new(client: Client, namespace: &str) -> Self {
        Ledgers {
            api: Api::namespaced(client, namespace),
        }
    }

    /// The ledger of `broker` (empty when there is none yet). A ledger that cannot be read is an error, never
    /// an empty ledger: that would disown every ACL Holt created.
    pub async fn load(&self, broker: &Identity) -> Result<Ledger, String> {
        let name = ledger_name(broker);
        let map = self
            .api
            .get_opt(&name)
            .await
            .map_err(|e| format!("reading the Kafka ACL ledger ConfigMap {name}: {e}"))?;
        let Some(text) = map.and_then(|m| m.data).and_then(|mut d| d.remove(DATA_KEY)) else {
            return Ok(Ledger {
                broker: broker_name(broker),
                ..Ledger::default()
            });
        };
        serde_json::from_str(&text)
            .map_err(|e| format!("the Kafka ACL ledger ConfigMap {name} is corrupt: {e}"))
    }

    pub async fn save(&self, broker: &Identity, ledger: &Ledger) -> Result<(), String> {
        let name = ledger_name(broker);
        let text = serde_json::to_string_pretty(ledger).map_err(|e| e.to_string())?;
        let map = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([
                    (MANAGED_BY.to_owned(), MANAGED_BY_HOLT.to_owned()),
                    (LEDGER_LABEL.to_owned(), "true".to_owned()),
                ])),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(DATA_KEY.to_owned(), text)])),
            ..ConfigMap::default()
        };
        self.api
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&map),
            )
            .await
            .map(drop)
            .map_err(|e| format!("writing the Kafka ACL ledger ConfigMap {name}: {e}"))
    }

    pub async fn delete(&self, broker: &Identity) -> Result<(), String> {
        let name = ledger_name(broker);
        match self.api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(format!("deleting the Kafka ACL ledger ConfigMap {name}: {e}")),
        }
    }

    /// The brokers that have a ledger.
    pub async fn brokers(&self) -> Result<Vec<Identity>, String> {
        let list = self
            .api
            .list(&ListParams::default().labels(&format!("{LEDGER_LABEL}=true")))
            .await
            .map_err(|e| format!("listing the Kafka ACL ledger ConfigMaps: {e}"))?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|m| m.data?.remove(DATA_KEY))
            .filter_map(|text| serde_json::from_str::<Ledger>(&text).ok())
            .filter_map(|ledger| {
                let (name, namespace) = ledger.broker.rsplit_once('.')?;
                Some(Identity::new(namespace, name, None))
            })
            .collect())
    }
}

impl Ledger {
    /// Forgets the ACLs a reconcile deleted. Nothing else is forgotten: an ACL Holt created that a describe
    /// does not show may only not be applied by the broker's authorizer yet (it applies changes
    /// asynchronously), and forgetting it would leave it on the broker for good, as if it were foreign.
    pub fn forget(&mut self, deleted: &BTreeSet<KafkaAcl>) {
        self.acls.retain(|acl| !deleted.contains(acl));
    }
}

/// `holt-kafka-acls-<name>-<namespace>-<hash>`, lower case, safe for a ConfigMap name.
pub fn ledger_name(broker: &Identity) -> String {
    let value: String = broker
        .label_value()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("holt-kafka-acls-{value}")
}

#[cfg(test)]
mod tests {
    use holt_kafka::{AclOperation, AclPatternType};

    use super::*;

    fn acl(topic: &str) -> KafkaAcl {
        KafkaAcl::allow_topic(topic, AclPatternType::Literal, "User:CN=a.b", AclOperation::Read)
    }

    #[test]
    fn only_deleted_acls_are_forgotten() {
        let mut ledger = Ledger {
            acls: BTreeSet::from([acl("kept"), acl("not-described-yet"), acl("deleted")]),
            ..Ledger::default()
        };
        ledger.forget(&BTreeSet::from([acl("deleted"), acl("foreign")]));
        assert_eq!(
            ledger.acls,
            BTreeSet::from([acl("kept"), acl("not-described-yet")])
        );
    }

    #[test]
    fn ledger_names_are_valid_config_map_names() {
        let name = ledger_name(&Identity::new("Kafka_NS", "My.Broker_1", None));
        assert!(name.len() <= 253);
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{name}"
        );
    }
}
