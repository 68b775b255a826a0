//! Small builders for model tests: plain objects, no cluster.
#![allow(dead_code)]

use std::collections::BTreeMap;

use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, KafkaServerConfig, KafkaServerConfigSpec, KafkaTarget, KafkaTopic,
    KubernetesTarget, ProtectedService, ProtectedServiceSpec, ServiceTarget, Target, Workload,
};
use holt_model::facts::{OwnerFacts, OwnerRef, PodFacts, ServiceFacts, ServicePortFacts, ServiceType};
use holt_model::{Object, ObjectKey};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

pub fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..Default::default()
    }
}

/// A pod owned by a Deployment `workload` (through no ReplicaSet), labelled `app: workload`.
pub fn pod(ns: &str, name: &str, workload: &str) -> Object {
    Object::Pod(pod_facts(
        ns,
        name,
        Some(("Deployment", workload)),
        &[("app", workload)],
    ))
}

/// What the model extracts from a pod `name` with `labels`, owned by `(kind, name)` when given, whose one
/// container declares TCP port 8080 named `http`: built as a Kubernetes Pod and read through
/// [`PodFacts::from_pod`], as the operator reads pods.
pub fn pod_facts(ns: &str, name: &str, owner: Option<(&str, &str)>, labels: &[(&str, &str)]) -> PodFacts {
    let owner_references = owner
        .map(|(kind, name)| vec![json!({"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "1"})]);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {
            "namespace": ns,
            "name": name,
            "labels": labels.iter().copied().collect::<BTreeMap<_, _>>(),
            "ownerReferences": owner_references,
        },
        "spec": {"containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 8080}]}]},
    }))
    .expect("a valid Pod");
    PodFacts::from_pod(&pod)
}

pub fn owner(ns: &str, kind: &str, name: &str, parent: Option<(&str, &str)>) -> Object {
    Object::Owner(OwnerFacts {
        key: ObjectKey::new(ns, name),
        kind: kind.into(),
        owner: parent.map(|(kind, name)| OwnerRef {
            kind: kind.into(),
            name: name.into(),
        }),
    })
}

/// A ClusterIP Service selecting `app: name` on port 80 → `http`.
pub fn service(ns: &str, name: &str) -> Object {
    Object::Service(ServiceFacts {
        uid: None,
        key: ObjectKey::new(ns, name),
        selector: Some([("app".to_string(), name.to_string())].into()),
        ports: vec![ServicePortFacts {
            name: Some("http".into()),
            port: 80,
            target_port: IntOrString::String("http".into()),
            protocol: "TCP".into(),
        }],
        service_type: ServiceType::ClusterIp,
        cluster_ips: vec!["10.0.0.10".into()],
    })
}

/// A `kubernetes` target of `kind` (`None`: the legacy "any pod with this identity name").
fn kubernetes(name: &str, kind: Option<&str>) -> Target {
    let target = KubernetesTarget {
        name: name.into(),
        kind: kind.map(Into::into),
        ..Default::default()
    };
    Target {
        kubernetes: Some(target),
        ..Default::default()
    }
}

pub fn k8s(name: &str) -> Target {
    kubernetes(name, None)
}

pub fn k8s_kind(name: &str, kind: &str) -> Target {
    kubernetes(name, Some(kind))
}

pub fn svc(name: &str) -> Target {
    Target {
        service: Some(ServiceTarget {
            name: name.into(),
            http: vec![],
        }),
        ..Default::default()
    }
}

pub fn kafka(name: &str, topic: &str, ops: &[holt_api::v2beta1::KafkaOperation]) -> Target {
    Target {
        kafka: Some(KafkaTarget {
            name: name.into(),
            topics: vec![KafkaTopic {
                name: topic.into(),
                operations: ops.to_vec(),
            }],
        }),
        ..Default::default()
    }
}

/// A workload named `name`, of any kind.
pub fn workload(name: &str) -> Workload {
    Workload {
        name: name.into(),
        kind: None,
    }
}

pub fn intents_obj(ns: &str, client: &str, targets: Vec<Target>) -> ClientIntents {
    ClientIntents {
        metadata: meta(ns, client),
        spec: ClientIntentsSpec {
            workload: workload(client),
            targets,
        },
        status: None,
    }
}

pub fn intents(ns: &str, client: &str, targets: Vec<Target>) -> Object {
    Object::ClientIntents(intents_obj(ns, client, targets))
}

pub fn protected(ns: &str, name: &str, server: &str, kind: Option<&str>) -> Object {
    Object::ProtectedService(ProtectedService {
        metadata: meta(ns, name),
        spec: ProtectedServiceSpec {
            name: server.into(),
            kind: kind.map(Into::into),
        },
        status: None,
    })
}

pub fn kafka_config(ns: &str, broker: &str) -> Object {
    Object::KafkaServerConfig(KafkaServerConfig {
        metadata: meta(ns, broker),
        spec: KafkaServerConfigSpec {
            workload: workload(broker),
            addr: Some(format!("{broker}.{ns}:9093")),
            ..Default::default()
        },
        status: None,
    })
}
