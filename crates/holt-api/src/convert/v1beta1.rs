//! `v1beta1` ↔ hub: the v1 ↔ v2 rules of docs/reference-behaviour.md#conversion ([`call_to_target`],
//! [`target_to_call`]).
//! `spec.service` ↔ `spec.workload`, each call ↔ the target at the same index, status unchanged; what the
//! rules would lose is kept in an annotation ([`super::hidden`]), the only metadata a conversion changes.

use std::collections::BTreeMap;

use crate::convert::Convertible;
use crate::convert::hidden::{self, HIDDEN_V1BETA1_CALLS, HIDDEN_V2_TARGETS};
use crate::v1::{CallType, SERVICE_PREFIX};
use crate::v1beta1::{self, Call};
use crate::v2beta1::{
    self, AwsTarget, AzureTarget, GcpTarget, HttpResource, KafkaTarget, KubernetesTarget, SqlTarget, Target,
    split_target_name,
};

/// The kind that names a Kubernetes Service.
const SERVICE_KIND: &str = "Service";

/// Converts one v1 call into the hub target at the same index, by the rules alone: what they lose (see
/// [`crate::convert`]) is kept by the object's conversion, not here.
pub fn call_to_target(call: Call) -> Target {
    if call == Call::default() {
        return Target::default();
    }
    let Call {
        name,
        kind,
        call_type,
        kafka_topics,
        http_resources,
        database_resources,
        aws_actions,
        gcp_permissions,
        azure_roles,
        azure_data_actions,
        azure_actions,
        azure_key_vault_policy,
        internet,
    } = call;
    match call_type {
        None | Some(CallType::Http) => {
            let (name, prefixed) = match name.strip_prefix(SERVICE_PREFIX) {
                Some(rest) => (rest.to_owned(), true),
                None => (name, false),
            };
            let kind = non_empty(kind).or_else(|| prefixed.then(|| SERVICE_KIND.to_owned()));
            let http = if call_type == Some(CallType::Http) {
                http_resources
            } else {
                Vec::new()
            };
            Target {
                kubernetes: Some(KubernetesTarget { name, kind, http }),
                ..Target::default()
            }
        }
        Some(CallType::Kafka) if kafka_topics.is_empty() => Target::default(),
        Some(CallType::Kafka) => Target {
            kafka: Some(KafkaTarget {
                name,
                topics: kafka_topics,
            }),
            ..Target::default()
        },
        Some(CallType::Database) if database_resources.is_empty() => Target::default(),
        Some(CallType::Database) => Target {
            sql: Some(SqlTarget {
                name,
                privileges: database_resources,
            }),
            ..Target::default()
        },
        Some(CallType::Aws) => Target {
            aws: Some(AwsTarget {
                arn: name,
                actions: aws_actions,
            }),
            ..Target::default()
        },
        Some(CallType::Gcp) => Target {
            gcp: Some(GcpTarget {
                resource: name,
                permissions: gcp_permissions,
            }),
            ..Target::default()
        },
        Some(CallType::Azure) => Target {
            azure: Some(AzureTarget {
                scope: name,
                roles: azure_roles,
                actions: azure_actions,
                data_actions: azure_data_actions,
                key_vault_policy: azure_key_vault_policy,
            }),
            ..Target::default()
        },
        Some(CallType::Internet) => Target {
            internet,
            ..Target::default()
        },
    }
}

/// Converts one hub target into the v1 call at the same index, by the rules alone (what they lose is kept by
/// the object's conversion, not here). `namespace` is the object's namespace: it
/// decides whether a target without a namespace names the API server (`kubernetes` in `default`).
pub fn target_to_call(target: Target, namespace: Option<&str>) -> Call {
    let Target {
        kubernetes,
        service,
        kafka,
        sql,
        aws,
        gcp,
        azure,
        internet,
    } = target;
    if let Some(k) = kubernetes {
        return in_cluster_call(k.name, non_empty(k.kind), k.http, namespace);
    }
    if let Some(s) = service {
        return in_cluster_call(s.name, Some(SERVICE_KIND.to_owned()), s.http, namespace);
    }
    if let Some(k) = kafka {
        return Call {
            name: k.name,
            call_type: Some(CallType::Kafka),
            kafka_topics: k.topics,
            ..Call::default()
        };
    }
    if let Some(s) = sql {
        return Call {
            name: s.name,
            call_type: Some(CallType::Database),
            database_resources: s.privileges,
            ..Call::default()
        };
    }
    if let Some(a) = aws {
        return Call {
            name: a.arn,
            call_type: Some(CallType::Aws),
            aws_actions: a.actions,
            ..Call::default()
        };
    }
    if let Some(g) = gcp {
        return Call {
            name: g.resource,
            call_type: Some(CallType::Gcp),
            gcp_permissions: g.permissions,
            ..Call::default()
        };
    }
    if let Some(a) = azure {
        return Call {
            name: a.scope,
            call_type: Some(CallType::Azure),
            azure_roles: a.roles,
            azure_actions: a.actions,
            azure_data_actions: a.data_actions,
            azure_key_vault_policy: a.key_vault_policy,
            ..Call::default()
        };
    }
    if let Some(i) = internet {
        return Call {
            call_type: Some(CallType::Internet),
            internet: Some(i),
            ..Call::default()
        };
    }
    Call::default()
}

/// A `kubernetes` or `service` target as a v1 call: `type: http` when it has HTTP resources; the API server
/// (when not named with another kind) in the `svc:` form v1 users wrote.
fn in_cluster_call(
    name: String,
    kind: Option<String>,
    http: Vec<HttpResource>,
    namespace: Option<&str>,
) -> Call {
    let call_type = (!http.is_empty()).then_some(CallType::Http);
    let is_service_kind = kind.as_deref().is_none_or(|k| k == SERVICE_KIND);
    if is_service_kind && names_api_server(&name, namespace) {
        return Call {
            name: format!("{SERVICE_PREFIX}{name}"),
            call_type,
            http_resources: http,
            ..Call::default()
        };
    }
    Call {
        name,
        kind,
        call_type,
        http_resources: http,
        ..Call::default()
    }
}

/// True when `name` (`server` or `server.namespace`, in an object of `namespace`) is `kubernetes.default`.
fn names_api_server(name: &str, namespace: Option<&str>) -> bool {
    let (server, target_namespace) = split_target_name(name);
    server == "kubernetes" && target_namespace.or(namespace) == Some("default")
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

impl Convertible for v1beta1::ClientIntents {
    type Hub = v2beta1::ClientIntents;

    /// Each call becomes the target the v1 → v2 rules give, or the one [`HIDDEN_V2_TARGETS`] keeps for it;
    /// the calls whose target does not give them back are kept in [`HIDDEN_V1BETA1_CALLS`].
    fn into_hub(self) -> Self::Hub {
        let v1beta1::ClientIntents {
            mut metadata,
            spec: v1beta1::ClientIntentsSpec { service, calls },
            status,
        } = self;
        let namespace = metadata.namespace.clone();
        let as_call = |target: &Target| target_to_call(target.clone(), namespace.as_deref());
        let kept: BTreeMap<usize, Target> = hidden::take(&mut metadata, HIDDEN_V2_TARGETS);
        let targets = hidden::restore(calls.clone(), kept, as_call, call_to_target);
        hidden::put(
            &mut metadata,
            HIDDEN_V1BETA1_CALLS,
            &hidden::lost(&calls, &targets, as_call),
        );
        v2beta1::ClientIntents {
            metadata,
            spec: v2beta1::ClientIntentsSpec {
                workload: service,
                targets,
            },
            status,
        }
    }

    /// Each target becomes the call the v2 → v1 rules give, or the one [`HIDDEN_V1BETA1_CALLS`] keeps for
    /// it; the targets whose call does not give them back are kept in [`HIDDEN_V2_TARGETS`].
    fn from_hub(hub: Self::Hub) -> Self {
        let v2beta1::ClientIntents {
            mut metadata,
            spec: v2beta1::ClientIntentsSpec { workload, targets },
            status,
        } = hub;
        let namespace = metadata.namespace.clone();
        let as_target = |call: &Call| call_to_target(call.clone());
        let kept: BTreeMap<usize, Call> = hidden::take(&mut metadata, HIDDEN_V1BETA1_CALLS);
        let calls = hidden::restore(targets.clone(), kept, as_target, |target| {
            target_to_call(target, namespace.as_deref())
        });
        hidden::put(
            &mut metadata,
            HIDDEN_V2_TARGETS,
            &hidden::lost(&targets, &calls, as_target),
        );
        v1beta1::ClientIntents {
            metadata,
            spec: v1beta1::ClientIntentsSpec {
                service: workload,
                calls,
            },
            status,
        }
    }
}

impl Convertible for v1beta1::ProtectedService {
    type Hub = v2beta1::ProtectedService;

    fn into_hub(self) -> Self::Hub {
        let v1beta1::ProtectedServiceSpec { name, kind } = self.spec;
        v2beta1::ProtectedService {
            metadata: self.metadata,
            spec: v2beta1::ProtectedServiceSpec { name, kind },
            status: self.status,
        }
    }

    fn from_hub(hub: Self::Hub) -> Self {
        let v2beta1::ProtectedServiceSpec { name, kind } = hub.spec;
        v1beta1::ProtectedService {
            metadata: hub.metadata,
            spec: v1beta1::ProtectedServiceSpec { name, kind },
            status: hub.status,
        }
    }
}

impl Convertible for v1beta1::KafkaServerConfig {
    type Hub = v2beta1::KafkaServerConfig;

    fn into_hub(self) -> Self::Hub {
        let v1beta1::KafkaServerConfigSpec {
            service,
            addr,
            no_auto_create_intents_for_operator,
            tls,
            topics,
        } = self.spec;
        v2beta1::KafkaServerConfig {
            metadata: self.metadata,
            spec: v2beta1::KafkaServerConfigSpec {
                workload: service,
                addr,
                no_auto_create_intents_for_operator,
                tls,
                topics,
            },
            status: self.status,
        }
    }

    fn from_hub(hub: Self::Hub) -> Self {
        let v2beta1::KafkaServerConfigSpec {
            workload,
            addr,
            no_auto_create_intents_for_operator,
            tls,
            topics,
        } = hub.spec;
        v1beta1::KafkaServerConfig {
            metadata: hub.metadata,
            spec: v1beta1::KafkaServerConfigSpec {
                service: workload,
                addr,
                no_auto_create_intents_for_operator,
                tls,
                topics,
            },
            status: hub.status,
        }
    }
}
