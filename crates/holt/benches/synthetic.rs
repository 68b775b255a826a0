//! A synthetic cluster for benchmarks: `services` workloads (one Deployment, one Pod and one Service each,
//! 100 per namespace) and `intents` ClientIntents, each calling three servers in its namespace (one through
//! its Service, one with HTTP paths) and one in the next namespace; every tenth also produces to a Kafka
//! topic, and every fiftieth server is protected.

use std::collections::BTreeMap;

use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, HttpMethod, HttpResource, KafkaOperation, KafkaServerConfig,
    KafkaServerConfigSpec, KafkaTarget, KafkaTopic, KubernetesTarget, ProtectedService, ProtectedServiceSpec,
    ServiceTarget, Target, Workload,
};
use holt_model::Object;
use holt_model::facts::{
    ContainerPort, NamespaceFacts, ObjectKey, OwnerFacts, OwnerRef, PodFacts, ServiceFacts, ServicePortFacts,
    ServiceType,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const PER_NAMESPACE: usize = 100;

pub fn namespace(i: usize) -> String {
    format!("team-{}", i / PER_NAMESPACE)
}

pub fn name(i: usize) -> String {
    format!("svc-{i}")
}

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..Default::default()
    }
}

pub fn cluster(services: usize, intents: usize) -> Vec<Object> {
    let mut objects = Vec::with_capacity(services * 3 + intents + 64);
    for ns in 0..services.div_ceil(PER_NAMESPACE) {
        objects.push(Object::Namespace(NamespaceFacts::named(namespace(
            ns * PER_NAMESPACE,
        ))));
    }
    objects.push(Object::KafkaServerConfig(KafkaServerConfig {
        metadata: meta("kafka", "kafka"),
        spec: KafkaServerConfigSpec {
            workload: Workload {
                name: "kafka".into(),
                kind: None,
            },
            ..Default::default()
        },
        status: None,
    }));
    for i in 0..services {
        let (ns, name) = (namespace(i), name(i));
        objects.push(Object::Owner(OwnerFacts {
            key: ObjectKey::new(&ns, &name),
            kind: "Deployment".into(),
            owner: None,
        }));
        objects.push(Object::Pod(PodFacts {
            key: ObjectKey::new(&ns, format!("{name}-0")),
            labels: holt_model::sorted_map::SortedMap::from([("app".to_string(), name.clone())]),
            annotations: Default::default(),
            owner: Some(OwnerRef {
                kind: "Deployment".into(),
                name: name.clone(),
            }),
            service_account: name.clone(),
            images: vec![format!("registry.example/{name}:1")],
            has_istio_sidecar: i.is_multiple_of(2),
            has_linkerd_proxy: false,
            host_network: false,
            ips: vec![format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)],
            ports: vec![ContainerPort {
                name: Some("http".into()),
                port: 8080,
                protocol: "TCP".into(),
            }],
            http_probes: vec![],
        }));
        objects.push(Object::Service(ServiceFacts {
            uid: None,
            key: ObjectKey::new(&ns, &name),
            selector: Some(BTreeMap::from([("app".to_string(), name.clone())])),
            ports: vec![ServicePortFacts {
                name: Some("http".into()),
                port: 80,
                target_port: IntOrString::String("http".into()),
                protocol: "TCP".into(),
            }],
            service_type: if i.is_multiple_of(100) {
                ServiceType::LoadBalancer
            } else {
                ServiceType::ClusterIp
            },
            cluster_ips: vec![format!("10.96.{}.{}", i >> 8 & 255, i & 255)],
        }));
        if i.is_multiple_of(50) {
            objects.push(Object::ProtectedService(ProtectedService {
                metadata: meta(&ns, &format!("protect-{name}")),
                spec: ProtectedServiceSpec {
                    name: name.clone(),
                    kind: None,
                },
                status: None,
            }));
        }
    }
    for j in 0..intents {
        objects.push(Object::ClientIntents(intents_for(services, j, 0)));
    }
    objects
}

/// The ClientIntents of client `j`; `variant` shifts its targets, to make a change.
pub fn intents_for(services: usize, j: usize, variant: usize) -> ClientIntents {
    let client = (j * 2) % services;
    let base = client - client % PER_NAMESPACE;
    let local = |k: usize| base + (client + k + variant) % PER_NAMESPACE.min(services);
    let remote = (client + PER_NAMESPACE + variant) % services;
    let k8s = |i: usize, http: Vec<HttpResource>| Target {
        kubernetes: Some(KubernetesTarget {
            name: target_name(client, i),
            kind: None,
            http,
        }),
        ..Default::default()
    };
    let mut targets = vec![
        k8s(local(1), vec![]),
        Target {
            service: Some(ServiceTarget {
                name: target_name(client, local(2)),
                http: vec![],
            }),
            ..Default::default()
        },
        k8s(
            local(3),
            vec![HttpResource {
                path: "/api".into(),
                methods: vec![HttpMethod::Get, HttpMethod::Post],
            }],
        ),
        k8s(remote, vec![]),
    ];
    if j.is_multiple_of(10) {
        targets.push(Target {
            kafka: Some(KafkaTarget {
                name: "kafka.kafka".into(),
                topics: vec![KafkaTopic {
                    name: format!("topic-{}", j % 100),
                    operations: vec![KafkaOperation::Produce],
                }],
            }),
            ..Default::default()
        });
    }
    ClientIntents {
        metadata: meta(&namespace(client), &format!("{}-intents", name(client))),
        spec: ClientIntentsSpec {
            workload: Workload {
                name: name(client),
                kind: None,
            },
            targets,
        },
        status: None,
    }
}

fn target_name(client: usize, target: usize) -> String {
    if namespace(client) == namespace(target) {
        name(target)
    } else {
        format!("{}.{}", name(target), namespace(target))
    }
}
