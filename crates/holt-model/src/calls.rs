//! A declared call, resolved against the ClientIntents' namespace: what the model reasons about instead of
//! raw targets.

use holt_api::v2beta1::{
    ClientIntents, HttpResource, InternetTarget, KafkaTopic, Target, TargetRef, split_target_name,
};

use crate::identity::{Identity, SERVICE_KIND};

/// One call from a client, with its server identity resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// A workload or Service in the cluster (`kubernetes` or `service` targets). Empty `http` means any
    /// request.
    Workload {
        server: Identity,
        http: Vec<HttpResource>,
    },
    /// `kubernetes.default`: the API server, reachable only by egress rules. `server` is the identity as
    /// written (`default/kubernetes`, kind `Service` for a `service` target): clients' pods carry its access
    /// label, as in the reference, though no policy selects it.
    ApiServer {
        server: Identity,
    },
    Kafka {
        broker: Identity,
        topics: Vec<KafkaTopic>,
    },
    Internet(InternetTarget),
    /// Targets Holt does not turn into access controls yet (`sql`, `aws`, `gcp`, `azure`), or an invalid
    /// target; kept so reports can name them.
    Unsupported {
        key: &'static str,
    },
}

/// The client identity a ClientIntents speaks for.
pub fn client_of(intents: &ClientIntents) -> Identity {
    let namespace = intents
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let workload = &intents.spec.workload;
    Identity::new(namespace, workload.name.clone(), workload.kind.as_deref())
}

/// The calls a ClientIntents declares, in order.
pub fn calls_of(intents: &ClientIntents) -> Vec<Call> {
    let namespace = intents.metadata.namespace.as_deref().unwrap_or("default");
    intents
        .spec
        .targets
        .iter()
        .map(|t| call_of(t, namespace))
        .collect()
}

fn call_of(target: &Target, namespace: &str) -> Call {
    let server = |name: &str, kind: Option<&str>| {
        let (name, ns) = split_target_name(name);
        Identity::new(ns.unwrap_or(namespace), name, kind)
    };
    match target.get() {
        Some(TargetRef::Kubernetes(k)) => {
            let server = server(&k.name, k.kind.as_deref());
            if server.is_api_server() {
                Call::ApiServer { server }
            } else {
                Call::Workload {
                    server,
                    http: k.http.clone(),
                }
            }
        }
        Some(TargetRef::Service(s)) => {
            let server = server(&s.name, Some(SERVICE_KIND));
            if server.is_api_server() {
                Call::ApiServer { server }
            } else {
                Call::Workload {
                    server,
                    http: s.http.clone(),
                }
            }
        }
        Some(TargetRef::Kafka(k)) => Call::Kafka {
            broker: server(&k.name, None),
            topics: k.topics.clone(),
        },
        Some(TargetRef::Internet(i)) => Call::Internet(i.clone()),
        Some(other) => Call::Unsupported { key: other.key() },
        None => Call::Unsupported { key: "invalid" },
    }
}

#[cfg(test)]
mod tests {
    use holt_api::v2beta1::{ClientIntentsSpec, KafkaTarget, KubernetesTarget, ServiceTarget, Workload};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn intents(targets: Vec<Target>) -> ClientIntents {
        ClientIntents {
            metadata: ObjectMeta {
                name: Some("c".into()),
                namespace: Some("shop".into()),
                ..Default::default()
            },
            spec: ClientIntentsSpec {
                workload: Workload {
                    name: "client".into(),
                    kind: None,
                },
                targets,
            },
            status: None,
        }
    }

    #[test]
    fn resolves_namespaces_kinds_and_the_api_server() {
        let k = |name: &str, kind: Option<&str>| Target {
            kubernetes: Some(KubernetesTarget {
                name: name.into(),
                kind: kind.map(Into::into),
                http: vec![],
            }),
            ..Default::default()
        };
        let svc = Target {
            service: Some(ServiceTarget {
                name: "db.data".into(),
                http: vec![],
            }),
            ..Default::default()
        };
        let kafka = Target {
            kafka: Some(KafkaTarget {
                name: "kafka.kafka".into(),
                topics: vec![],
            }),
            ..Default::default()
        };
        let calls = calls_of(&intents(vec![
            k("server", None),
            k("api", Some("Deployment")),
            svc,
            k("kubernetes.default", None),
            kafka,
            Target::default(),
        ]));
        assert_eq!(
            calls,
            vec![
                Call::Workload {
                    server: Identity::new("shop", "server", None),
                    http: vec![]
                },
                Call::Workload {
                    server: Identity::new("shop", "api", Some("Deployment")),
                    http: vec![]
                },
                Call::Workload {
                    server: Identity::new("data", "db", Some("Service")),
                    http: vec![]
                },
                Call::ApiServer {
                    server: Identity::new("default", "kubernetes", None)
                },
                Call::Kafka {
                    broker: Identity::new("kafka", "kafka", None),
                    topics: vec![]
                },
                Call::Unsupported { key: "invalid" },
            ]
        );
    }
}
