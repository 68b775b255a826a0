//! Builders for renderer tests: model objects from a few words, no cluster.
#![allow(dead_code)]

use std::collections::BTreeMap;

use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, ClientIntentsStatus, HttpMethod, HttpResource, InternetTarget,
    KafkaOperation, KafkaServerConfig, KafkaServerConfigSpec, KafkaTarget, KafkaTopic, KafkaTopicConfig,
    KubernetesTarget, ProtectedService, ProtectedServiceSpec, ResolvedIps, ServiceTarget, SqlTarget, Target,
    Workload,
};
use holt_model::facts::{IngressFacts, PodFacts, ServiceFacts, ServicePortFacts, ServiceType};
use holt_model::{Config, Identity, Index, Object, ObjectKey};
use holt_render::{Desired, Manifest};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

pub fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..Default::default()
    }
}

pub fn index(config: Config, objects: Vec<Object>) -> Index {
    let mut index = Index::new(config);
    for object in objects {
        index.apply(object);
    }
    index
}

pub fn shadow() -> Config {
    Config {
        mode: holt_model::Mode::DefaultShadow,
        ..Config::default()
    }
}

pub fn id(ns: &str, name: &str, kind: Option<&str>) -> Identity {
    Identity::new(ns, name, kind)
}

// ---- pods ------------------------------------------------------------------------------------------------

/// What the model extracts from a pod `name` with `labels`, owned by `(kind, name)` when given: built as a
/// Kubernetes Pod and read through [`PodFacts::from_pod`], as the operator reads pods.
pub fn pod_facts(ns: &str, name: &str, owner: Option<(&str, &str)>, labels: &[(&str, &str)]) -> PodFacts {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    let owners: Vec<Value> = owner
        .map(|(kind, name)| json!({"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "1"}))
        .into_iter()
        .collect();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": name, "labels": labels, "ownerReferences": owners},
    }))
    .expect("a valid Pod");
    PodFacts::from_pod(&pod)
}

/// A pod `name` owned by `owner_kind/owner_name`, with `labels`.
pub fn pod(ns: &str, name: &str, owner_kind: &str, owner_name: &str, labels: &[(&str, &str)]) -> Object {
    Object::Pod(pod_facts(ns, name, Some((owner_kind, owner_name)), labels))
}

/// The facts of the pod `<workload>-0` of Deployment `workload`, labelled `app: <workload>`.
pub fn deployment_pod_facts(ns: &str, workload: &str) -> PodFacts {
    pod_facts(
        ns,
        &format!("{workload}-0"),
        Some(("Deployment", workload)),
        &[("app", workload)],
    )
}

/// The pod `<workload>-0` of Deployment `workload`, labelled `app: <workload>`.
pub fn deployment_pod(ns: &str, workload: &str) -> Object {
    Object::Pod(deployment_pod_facts(ns, workload))
}

/// Like [`deployment_pod`], with a service account and an optional Istio sidecar.
pub fn mesh_pod(ns: &str, workload: &str, account: &str, sidecar: bool) -> Object {
    let mut facts = deployment_pod_facts(ns, workload);
    facts.service_account = account.into();
    facts.has_istio_sidecar = sidecar;
    Object::Pod(facts)
}

pub fn annotated_pod(ns: &str, workload: &str, annotations: &[(&str, &str)]) -> Object {
    let mut facts = deployment_pod_facts(ns, workload);
    facts.annotations = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Object::Pod(facts)
}

// ---- services and ingresses ------------------------------------------------------------------------------

pub fn port(port: i32, target: IntOrString, protocol: &str) -> ServicePortFacts {
    ServicePortFacts {
        name: None,
        port,
        target_port: target,
        protocol: protocol.into(),
    }
}

pub fn service_facts(
    ns: &str,
    name: &str,
    selector: &[(&str, &str)],
    ports: Vec<ServicePortFacts>,
) -> ServiceFacts {
    ServiceFacts {
        uid: None,
        key: ObjectKey::new(ns, name),
        selector: (!selector.is_empty()).then(|| {
            selector
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }),
        ports,
        service_type: ServiceType::ClusterIp,
        cluster_ips: vec!["10.96.0.10".into()],
    }
}

pub fn service(ns: &str, name: &str, selector: &[(&str, &str)], ports: Vec<ServicePortFacts>) -> Object {
    Object::Service(service_facts(ns, name, selector, ports))
}

/// A ClusterIP Service `name` selecting `app: name`, port 80 → named port `http`.
pub fn http_service(ns: &str, name: &str) -> Object {
    service(
        ns,
        name,
        &[("app", name)],
        vec![port(80, IntOrString::String("http".into()), "TCP")],
    )
}

/// A ClusterIP Service `name` selecting `app: name`, TCP port 5432 → 5432 (a database's).
pub fn database_service(ns: &str, name: &str) -> Object {
    service(
        ns,
        name,
        &[("app", name)],
        vec![port(5432, IntOrString::Int(5432), "TCP")],
    )
}

pub fn typed_service(ns: &str, name: &str, service_type: ServiceType) -> Object {
    let mut facts = service_facts(
        ns,
        name,
        &[("app", name)],
        vec![port(443, IntOrString::Int(8443), "TCP")],
    );
    facts.service_type = service_type;
    Object::Service(facts)
}

/// `default/kubernetes` with cluster IP 10.96.0.1, port 443 → 6443.
pub fn api_server_service() -> Object {
    let mut facts = service_facts(
        "default",
        "kubernetes",
        &[],
        vec![port(443, IntOrString::Int(6443), "TCP")],
    );
    facts.cluster_ips = vec!["10.96.0.1".into()];
    Object::Service(facts)
}

pub fn ingress(ns: &str, name: &str, services: &[&str]) -> Object {
    Object::Ingress(IngressFacts {
        key: ObjectKey::new(ns, name),
        services: services.iter().map(|s| s.to_string()).collect(),
    })
}

// ---- targets -----------------------------------------------------------------------------------------------

/// A `kubernetes` target of `kind` (`None`: the legacy "any pod with this identity name") with HTTP
/// resources `(path, methods)`.
pub fn kubernetes(name: &str, kind: Option<&str>, resources: &[(&str, &[HttpMethod])]) -> Target {
    let http = resources
        .iter()
        .map(|(path, methods)| HttpResource {
            path: path.to_string(),
            methods: methods.to_vec(),
        })
        .collect();
    let target = KubernetesTarget {
        name: name.into(),
        kind: kind.map(Into::into),
        http,
    };
    Target {
        kubernetes: Some(target),
        ..Default::default()
    }
}

pub fn k8s(name: &str) -> Target {
    kubernetes(name, None, &[])
}

pub fn k8s_kind(name: &str, kind: &str) -> Target {
    kubernetes(name, Some(kind), &[])
}

/// A `kubernetes` target (legacy kind) with HTTP resources `(path, methods)`.
pub fn http(name: &str, resources: &[(&str, &[HttpMethod])]) -> Target {
    kubernetes(name, None, resources)
}

/// A `kubernetes` target of the given kind with one HTTP path, any method.
pub fn http_kind(name: &str, kind: &str, path: &str) -> Target {
    kubernetes(name, Some(kind), &[(path, &[])])
}

/// A `service` target without HTTP resources.
pub fn svc(name: &str) -> Target {
    let target = ServiceTarget {
        name: name.into(),
        ..Default::default()
    };
    Target {
        service: Some(target),
        ..Default::default()
    }
}

pub fn kafka(name: &str, topics: &[(&str, &[KafkaOperation])]) -> Target {
    Target {
        kafka: Some(KafkaTarget {
            name: name.into(),
            topics: topics
                .iter()
                .map(|(topic, ops)| KafkaTopic {
                    name: topic.to_string(),
                    operations: ops.to_vec(),
                })
                .collect(),
        }),
        ..Default::default()
    }
}

pub fn internet(domains: &[&str], ips: &[&str], ports: &[i32]) -> Target {
    Target {
        internet: Some(InternetTarget {
            domains: domains.iter().map(|s| s.to_string()).collect(),
            ips: ips.iter().map(|s| s.to_string()).collect(),
            ports: ports.to_vec(),
        }),
        ..Default::default()
    }
}

pub fn sql(name: &str) -> Target {
    Target {
        sql: Some(SqlTarget {
            name: name.into(),
            privileges: vec![],
        }),
        ..Default::default()
    }
}

// ---- Holt's kinds ------------------------------------------------------------------------------------------

pub fn intents_obj(ns: &str, client: &str, kind: Option<&str>, targets: Vec<Target>) -> ClientIntents {
    ClientIntents {
        metadata: meta(ns, client),
        spec: ClientIntentsSpec {
            workload: Workload {
                name: client.into(),
                kind: kind.map(Into::into),
            },
            targets,
        },
        status: None,
    }
}

/// `v2beta1` ClientIntents named after the client, whose workload has no kind.
pub fn intents_v2(ns: &str, client: &str, targets: Vec<Target>) -> Object {
    Object::ClientIntents(intents_obj(ns, client, None, targets))
}

pub fn intents_kind(ns: &str, client: &str, kind: &str, targets: Vec<Target>) -> Object {
    Object::ClientIntents(intents_obj(ns, client, Some(kind), targets))
}

/// Intents with `status.resolvedIPs`.
pub fn intents_resolved(
    ns: &str,
    client: &str,
    targets: Vec<Target>,
    resolved: &[(&str, &[&str])],
) -> Object {
    let mut intents = intents_obj(ns, client, None, targets);
    intents.status = Some(ClientIntentsStatus {
        resolved_ips: resolved
            .iter()
            .map(|(dns, ips)| ResolvedIps {
                dns: dns.to_string(),
                ips: ips.iter().map(|s| s.to_string()).collect(),
            })
            .collect(),
        ..Default::default()
    });
    Object::ClientIntents(intents)
}

pub fn protected(ns: &str, server: &str, kind: Option<&str>) -> Object {
    Object::ProtectedService(ProtectedService {
        metadata: meta(ns, &format!("protect-{server}")),
        spec: ProtectedServiceSpec {
            name: server.into(),
            kind: kind.map(Into::into),
        },
        status: None,
    })
}

pub fn kafka_config(ns: &str, broker: &str, topics: Vec<KafkaTopicConfig>) -> Object {
    Object::KafkaServerConfig(KafkaServerConfig {
        metadata: meta(ns, broker),
        spec: KafkaServerConfigSpec {
            workload: Workload {
                name: broker.into(),
                kind: None,
            },
            addr: Some(format!("{broker}.{ns}:9093")),
            topics,
            ..Default::default()
        },
        status: None,
    })
}

// ---- reading rendered objects --------------------------------------------------------------------------

pub fn network_policies(objects: &[Desired]) -> Vec<&NetworkPolicy> {
    objects
        .iter()
        .filter_map(|d| match &d.manifest {
            Manifest::NetworkPolicy(p) => Some(p),
            Manifest::IstioAuthorizationPolicy(_) | Manifest::Linkerd(_) => None,
        })
        .collect()
}

pub fn names(objects: &[Desired]) -> Vec<String> {
    objects.iter().map(|d| d.manifest.key().to_string()).collect()
}

/// An object as JSON, to compare whole specs against readable literals.
pub fn json(object: &impl serde::Serialize) -> Value {
    serde_json::to_value(object).expect("serializable")
}

/// The label value `access-…` keys carry for a target, computed the way
/// docs/reference-behaviour.md#identity-format says (independent of the renderer, which uses holt-model's
/// formatting).
pub fn label_value(name: &str, ns: &str) -> String {
    Identity::new(ns, name, None).label_value()
}
