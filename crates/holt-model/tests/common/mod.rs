//! Small builders for model tests: plain objects, no cluster.
#![allow(dead_code)]

use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, KafkaServerConfig, KafkaServerConfigSpec, KafkaTarget, KafkaTopic,
    KubernetesTarget, ProtectedService, ProtectedServiceSpec, ServiceTarget, Target, Workload,
};
use holt_model::facts::{
    ContainerPort, OwnerFacts, OwnerRef, PodFacts, ServiceFacts, ServicePortFacts, ServiceType,
};
use holt_model::{Object, ObjectKey};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

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

pub fn pod_facts(ns: &str, name: &str, owner: Option<(&str, &str)>, labels: &[(&str, &str)]) -> PodFacts {
    PodFacts {
        key: ObjectKey::new(ns, name),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        annotations: Default::default(),
        owner: owner.map(|(kind, name)| OwnerRef {
            kind: kind.into(),
            name: name.into(),
        }),
        service_account: "default".into(),
        images: vec![],
        has_istio_sidecar: false,
        has_linkerd_proxy: false,
        host_network: false,
        ips: vec![],
        ports: vec![ContainerPort {
            name: Some("http".into()),
            port: 8080,
            protocol: "TCP".into(),
        }],
        http_probes: vec![],
    }
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

pub fn k8s(name: &str) -> Target {
    Target {
        kubernetes: Some(KubernetesTarget {
            name: name.into(),
            kind: None,
            http: vec![],
        }),
        ..Default::default()
    }
}

pub fn k8s_kind(name: &str, kind: &str) -> Target {
    Target {
        kubernetes: Some(KubernetesTarget {
            name: name.into(),
            kind: Some(kind.into()),
            http: vec![],
        }),
        ..Default::default()
    }
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

pub fn intents_obj(ns: &str, client: &str, targets: Vec<Target>) -> ClientIntents {
    ClientIntents {
        metadata: meta(ns, client),
        spec: ClientIntentsSpec {
            workload: Workload {
                name: client.into(),
                kind: None,
            },
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
            workload: Workload {
                name: broker.into(),
                kind: None,
            },
            addr: Some(format!("{broker}.{ns}:9093")),
            ..Default::default()
        },
        status: None,
    })
}
