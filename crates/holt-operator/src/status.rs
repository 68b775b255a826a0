//! ClientIntents status: what the operator reports on each ClientIntents. Pure: computed from the model and
//! the object's current status; the controller writes it only when it differs.
//!
//! Conditions: `Ready` (the intents' access controls are applied, or why not) and `Enforced` (whether the
//! servers it calls are enforced: `Enforced`, `PartiallyEnforced`, `Shadow`). A condition keeps its
//! `lastTransitionTime` while its status, reason and message stay the same.

use holt_api::v2beta1::ClientIntentsStatus;
use std::collections::HashMap;

use holt_model::{Call, Enforcement, Identity, Index, ObjectKey};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::kafka::BrokerState;

/// The outcome of applying the intents' render units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Applied as far as possible; the rest waits for something that does not exist yet (a namespace) and
    /// follows by itself. Ready, with this reason.
    Waiting {
        reason: &'static str,
        message: String,
    },
    Failed {
        reason: &'static str,
        message: String,
    },
}

/// The status the ClientIntents `key` should have. `current` is its status now; `generation` its
/// `metadata.generation`.
pub fn desired(
    index: &Index,
    key: &ObjectKey,
    generation: Option<i64>,
    current: Option<&ClientIntentsStatus>,
    outcome: &Outcome,
    brokers: &HashMap<Identity, BrokerState>,
    now: Timestamp,
) -> ClientIntentsStatus {
    let generation_value = generation.unwrap_or_default();
    let kafka = match outcome {
        Outcome::Failed { .. } => None,
        _ => kafka_outcome(index, key, brokers),
    };
    let outcome = kafka.as_ref().unwrap_or(outcome);
    let ready = match outcome {
        Outcome::Applied => condition(
            "Ready",
            "True",
            "Applied",
            "access controls for every declared call are applied".into(),
        ),
        Outcome::Waiting { reason, message } => condition("Ready", "True", reason, message.clone()),
        Outcome::Failed { reason, message } => condition("Ready", "False", reason, message.clone()),
    };
    let conditions = [ready, enforced(index, key)]
        .into_iter()
        .map(|mut c| {
            c.observed_generation = generation;
            let previous = current.and_then(|s| s.conditions.iter().find(|p| p.type_ == c.type_));
            c.last_transition_time = match previous {
                Some(p) if p.status == c.status && p.reason == c.reason && p.message == c.message => {
                    p.last_transition_time.clone()
                }
                _ => Time(now),
            };
            c
        })
        .collect();
    ClientIntentsStatus {
        up_to_date: !matches!(outcome, Outcome::Failed { .. }),
        observed_generation: generation_value,
        resolved_ips: current.map(|s| s.resolved_ips.clone()).unwrap_or_default(),
        conditions,
    }
}

/// When the NetworkPolicies are applied but a broker the intents call has not got its ACLs yet (or refused
/// them): that outcome instead.
fn kafka_outcome(
    index: &Index,
    key: &ObjectKey,
    brokers: &HashMap<Identity, BrokerState>,
) -> Option<Outcome> {
    let intents = index.intents(key)?;
    let mut pending = None;
    for call in &intents.calls {
        let Call::Kafka { broker, .. } = call else {
            continue;
        };
        let name = crate::kafka::broker_name(broker);
        match brokers.get(broker) {
            Some(BrokerState::Failed(failure)) => {
                return Some(Outcome::Failed {
                    reason: failure.reason,
                    message: format!("Kafka ACLs on {name}: {}", failure.message),
                });
            }
            Some(BrokerState::Pending) => {
                pending = Some(Outcome::Failed {
                    reason: "ApplyingKafkaACLs",
                    message: format!("the Kafka ACLs on {name} are being applied"),
                });
            }
            Some(BrokerState::Applied) | None => {}
        }
    }
    pending
}

/// Whether the servers the intents call are enforced.
fn enforced(index: &Index, key: &ObjectKey) -> Condition {
    let Some(intents) = index.intents(key) else {
        return condition(
            "Enforced",
            "False",
            "NoCalls",
            "the intents declare no calls".into(),
        );
    };
    let mut enforced = Vec::new();
    let mut not_enforced = Vec::new();
    // Whether every server not enforced is so because of shadow mode (the `Shadow` reason).
    let mut only_shadow = true;
    for call in &intents.calls {
        let (server, kafka) = match call {
            Call::Workload { server, .. } => (server, false),
            Call::Kafka { broker, .. } => (broker, true),
            _ => continue,
        };
        let name = format!("{}.{}", server.name, server.namespace);
        let configured = !kafka || index.broker(server).is_some_and(|b| !b.configs.is_empty());
        let cause = match index.enforcement(server) {
            _ if !configured => Some(" (no KafkaServerConfig)"),
            e if e.is_enforced() => None,
            Enforcement::NotWatched => Some(" (namespace not watched)"),
            _ => Some(""),
        };
        match cause {
            None => enforced.push(name),
            Some(cause) => {
                only_shadow &= cause.is_empty();
                not_enforced.push(format!("{name}{cause}"));
            }
        }
    }
    match (enforced.is_empty(), not_enforced.is_empty()) {
        (true, true) => condition(
            "Enforced",
            "False",
            "NoCalls",
            "the intents declare no in-cluster calls".into(),
        ),
        (false, true) => condition(
            "Enforced",
            "True",
            "Enforced",
            format!("enforced: {}", enforced.join(", ")),
        ),
        (true, false) => condition(
            "Enforced",
            "False",
            if only_shadow { "Shadow" } else { "NotEnforced" },
            format!("not enforced: {}", not_enforced.join(", ")),
        ),
        (false, false) => condition(
            "Enforced",
            "False",
            "PartiallyEnforced",
            format!(
                "enforced: {}; not enforced: {}",
                enforced.join(", "),
                not_enforced.join(", ")
            ),
        ),
    }
}

fn condition(type_: &str, status: &str, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
        observed_generation: None,
    }
}

#[cfg(test)]
mod tests {
    use holt_api::v2beta1::{ClientIntents, ClientIntentsSpec, KubernetesTarget, Target, Workload};
    use holt_model::{Config, Mode, Object};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn index(mode: Mode) -> Index {
        let mut index = Index::new(Config {
            mode,
            ..Config::default()
        });
        let target = |name: &str| Target {
            kubernetes: Some(KubernetesTarget {
                name: name.into(),
                kind: None,
                http: vec![],
            }),
            ..Default::default()
        };
        index.apply(Object::ClientIntents(ClientIntents {
            metadata: ObjectMeta {
                name: Some("c".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            spec: ClientIntentsSpec {
                workload: Workload {
                    name: "client".into(),
                    kind: None,
                },
                targets: vec![
                    target("a"),
                    target("b"),
                    Target {
                        kafka: Some(holt_api::v2beta1::KafkaTarget {
                            name: "kafka".into(),
                            topics: vec![],
                        }),
                        ..Default::default()
                    },
                ],
            },
            status: None,
        }));
        index
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid")
    }

    #[test]
    fn reports_enforcement_and_keeps_transition_times_while_unchanged() {
        let key = ObjectKey::new("ns", "c");
        let active = index(Mode::DefaultActive);
        let first = desired(
            &active,
            &key,
            Some(3),
            None,
            &Outcome::Applied,
            &HashMap::new(),
            at(100),
        );
        assert!(first.up_to_date);
        assert_eq!(first.observed_generation, 3);
        let enforced = first
            .conditions
            .iter()
            .find(|c| c.type_ == "Enforced")
            .expect("Enforced");
        assert_eq!(
            (enforced.status.as_str(), enforced.reason.as_str()),
            ("False", "PartiallyEnforced")
        );
        assert_eq!(
            enforced.message, "enforced: a.ns, b.ns; not enforced: kafka.ns (no KafkaServerConfig)",
            "a Kafka target without KafkaServerConfig is not enforced, and says why"
        );
        let again = desired(
            &active,
            &key,
            Some(3),
            Some(&first),
            &Outcome::Applied,
            &HashMap::new(),
            at(200),
        );
        assert_eq!(again, first, "nothing changed: same status, same times");

        let shadow = desired(
            &index(Mode::DefaultShadow),
            &key,
            Some(3),
            Some(&first),
            &Outcome::Applied,
            &HashMap::new(),
            at(300),
        );
        let enforced = shadow
            .conditions
            .iter()
            .find(|c| c.type_ == "Enforced")
            .expect("Enforced");
        assert_eq!(
            (enforced.reason.as_str(), enforced.message.as_str()),
            (
                "NotEnforced",
                "not enforced: a.ns, b.ns, kafka.ns (no KafkaServerConfig)"
            ),
            "not only shadow mode"
        );
        assert_eq!(enforced.last_transition_time, Time(at(300)));
    }

    #[test]
    fn a_failed_apply_is_not_ready_and_not_up_to_date() {
        let outcome = Outcome::Failed {
            reason: "CreatingNetworkPoliciesFailed",
            message: "boom".into(),
        };
        let status = desired(
            &index(Mode::DefaultActive),
            &ObjectKey::new("ns", "c"),
            Some(1),
            None,
            &outcome,
            &HashMap::new(),
            at(1),
        );
        assert!(!status.up_to_date);
        let ready = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .expect("Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "CreatingNetworkPoliciesFailed")
        );
    }

    #[test]
    fn a_broker_without_its_acls_keeps_the_intents_not_ready() {
        let index = index(Mode::DefaultActive);
        let key = ObjectKey::new("ns", "c");
        let broker = Identity::new("ns", "kafka", None);
        let ready = |brokers: &HashMap<Identity, BrokerState>| {
            let status = desired(&index, &key, Some(1), None, &Outcome::Applied, brokers, at(1));
            let ready = status
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Ready")
                .expect("Ready");
            (status.up_to_date, ready.status, ready.reason)
        };
        let failed = BrokerState::Failed(crate::kafka::KafkaFailure {
            reason: "CouldNotConnectToKafkaServer",
            message: "connection refused".into(),
        });
        assert_eq!(
            ready(&HashMap::from([(broker.clone(), failed)])),
            (false, "False".into(), "CouldNotConnectToKafkaServer".into())
        );
        assert_eq!(
            ready(&HashMap::from([(broker.clone(), BrokerState::Pending)])),
            (false, "False".into(), "ApplyingKafkaACLs".into())
        );
        assert_eq!(
            ready(&HashMap::from([(broker, BrokerState::Applied)])),
            (true, "True".into(), "Applied".into())
        );
    }
}
