//! Conversion: the rules of docs/reference-behaviour.md#conversion one by one; round trips through every
//! version lossless, field by field (what the rules cannot say kept in an annotation); what wins when a user
//! edits an object in a version that hides something; property tests; and the webhook entry point.

use std::collections::BTreeMap;

use holt_api::any::{AnyVersion, Served};
use holt_api::convert::{
    Convertible, HIDDEN_V1BETA1_CALLS, HIDDEN_V2_TARGETS, call_to_target, convert, convert_value,
    target_to_call,
};
use holt_api::v1beta1::{Call, CallType};
use holt_api::v2beta1::*;
use holt_api::{Version, v1alpha3, v1beta1, v2alpha1, v2beta1};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pretty_assertions::assert_eq;
use proptest::prelude::*;
use serde_json::json;

fn meta(namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some("client".into()),
        namespace: Some(namespace.into()),
        ..ObjectMeta::default()
    }
}

fn hub(namespace: &str, targets: Vec<Target>) -> v2beta1::ClientIntents {
    v2beta1::ClientIntents {
        metadata: meta(namespace),
        spec: v2beta1::ClientIntentsSpec {
            workload: Workload {
                name: "client".into(),
                kind: Some("Deployment".into()),
            },
            targets,
        },
        status: Some(ClientIntentsStatus {
            up_to_date: true,
            observed_generation: 3,
            resolved_ips: vec![ResolvedIps {
                dns: "example.com".into(),
                ips: vec!["1.2.3.4".into()],
            }],
            conditions: vec![],
        }),
    }
}

fn k8s(name: &str, kind: Option<&str>, http: Vec<HttpResource>) -> Target {
    Target {
        kubernetes: Some(KubernetesTarget {
            name: name.into(),
            kind: kind.map(Into::into),
            http,
        }),
        ..Target::default()
    }
}

fn svc(name: &str) -> Target {
    Target {
        service: Some(ServiceTarget {
            name: name.into(),
            http: vec![],
        }),
        ..Target::default()
    }
}

fn http(path: &str) -> HttpResource {
    HttpResource {
        path: path.into(),
        methods: vec![HttpMethod::Get],
    }
}

fn topic(name: &str) -> KafkaTopic {
    KafkaTopic {
        name: name.into(),
        operations: vec![KafkaOperation::Consume],
    }
}

fn call(name: &str) -> Call {
    Call {
        name: name.into(),
        ..Call::default()
    }
}

/// Every kind of target, each in a form every version holds without loss.
fn lossless_targets() -> Vec<Target> {
    vec![
        k8s("server", None, vec![]),
        k8s("server.other", Some("Deployment"), vec![]),
        k8s("server", Some("Service"), vec![http("/a"), http("/b")]),
        k8s("kubernetes.default", Some("Service"), vec![]),
        k8s("kubernetes.default", Some("Deployment"), vec![]),
        Target {
            kafka: Some(KafkaTarget {
                name: "kafka.kafka".into(),
                topics: vec![topic("t")],
            }),
            ..Target::default()
        },
        Target {
            sql: Some(SqlTarget {
                name: "pg".into(),
                privileges: vec![SqlPrivileges {
                    database_name: "db".into(),
                    table: Some("public.t".into()),
                    operations: vec![DatabaseOperation::Select],
                }],
            }),
            ..Target::default()
        },
        Target {
            aws: Some(AwsTarget {
                arn: "arn:aws:s3:::b".into(),
                actions: vec!["s3:*".into()],
            }),
            ..Target::default()
        },
        Target {
            gcp: Some(GcpTarget {
                resource: "projects/p".into(),
                permissions: vec!["x".into()],
            }),
            ..Target::default()
        },
        Target {
            azure: Some(AzureTarget {
                scope: "/subscriptions/s".into(),
                roles: vec!["Reader".into()],
                key_vault_policy: Some(AzureKeyVaultPolicy {
                    secret_permissions: vec!["get".into()],
                    ..AzureKeyVaultPolicy::default()
                }),
                ..AzureTarget::default()
            }),
            ..Target::default()
        },
        Target {
            internet: Some(InternetTarget {
                domains: vec!["*.example.com".into()],
                ips: vec!["10.0.0.0/8".into()],
                ports: vec![443],
            }),
            ..Target::default()
        },
        Target::default(),
    ]
}

fn azure_actions() -> Target {
    Target {
        azure: Some(AzureTarget {
            scope: "/subscriptions/s".into(),
            actions: vec!["Microsoft.Storage/read".into()],
            data_actions: vec!["Microsoft.Storage/blob/read".into()],
            ..AzureTarget::default()
        }),
        ..Target::default()
    }
}

#[test]
fn hub_round_trips_through_every_version_without_loss() {
    let original = hub("shop", lossless_targets());
    assert_eq!(
        convert::<_, v2beta1::ClientIntents>(convert::<_, v2alpha1::ClientIntents>(original.clone())),
        original
    );
    assert_eq!(
        convert::<_, v2beta1::ClientIntents>(convert::<_, v1beta1::ClientIntents>(original.clone())),
        original
    );
    assert_eq!(
        convert::<_, v2beta1::ClientIntents>(convert::<_, v1alpha3::ClientIntents>(original.clone())),
        original
    );
}

#[test]
fn azure_actions_survive_v1alpha3_in_an_annotation() {
    let original = hub("shop", vec![k8s("server", None, vec![]), azure_actions()]);
    let written = v1beta1::ClientIntents::from_hub(original.clone());
    assert_eq!(
        written.metadata.annotations, None,
        "v1beta1 calls hold azure actions"
    );
    assert_eq!(written.into_hub(), original);

    let written = v1alpha3::ClientIntents::from_hub(original.clone());
    assert_eq!(
        written.spec.calls[1],
        v1alpha3::Call {
            name: "/subscriptions/s".into(),
            call_type: Some(CallType::Azure),
            ..v1alpha3::Call::default()
        }
    );
    assert_eq!(
        annotation(&written.metadata, HIDDEN_V1BETA1_CALLS),
        Some(json!({"1": {
            "name": "/subscriptions/s", "type": "azure",
            "azureDataActions": ["Microsoft.Storage/blob/read"], "azureActions": ["Microsoft.Storage/read"]
        }}))
    );
    assert_eq!(annotation(&written.metadata, HIDDEN_V2_TARGETS), None);
    assert_eq!(written.into_hub(), original);
}

/// The conversion annotation `key` of `metadata`, as JSON.
fn annotation(metadata: &ObjectMeta, key: &str) -> Option<serde_json::Value> {
    let text = metadata.annotations.as_ref()?.get(key)?;
    Some(serde_json::from_str(text).expect("the annotation is JSON"))
}

/// v2 → v1 → v2 where the reference loses information: (input, what comes back).
#[test]
fn targets_the_v1_rules_change_come_back_from_an_annotation() {
    // (target, what the v2 → v1 → v2 rules alone make of it)
    let cases = [
        // A `service` target is written as a `kubernetes` call of kind Service.
        (svc("server"), k8s("server", Some("Service"), vec![])),
        (
            Target {
                service: Some(ServiceTarget {
                    name: "s.ns".into(),
                    http: vec![http("/x")],
                }),
                ..Target::default()
            },
            k8s("s.ns", Some("Service"), vec![http("/x")]),
        ),
        // The API server is written `svc:kubernetes.default` in v1, which reads back with kind Service.
        (
            k8s("kubernetes.default", None, vec![]),
            k8s("kubernetes.default", Some("Service"), vec![]),
        ),
        (
            svc("kubernetes.default"),
            k8s("kubernetes.default", Some("Service"), vec![]),
        ),
        // Holt keeps HTTP resources on the API-server target (the reference drops them).
        (
            k8s("kubernetes.default", None, vec![http("/api")]),
            k8s("kubernetes.default", Some("Service"), vec![http("/api")]),
        ),
        // A Kafka target without topics and an SQL target without privileges are written as empty calls.
        (
            Target {
                kafka: Some(KafkaTarget {
                    name: "kafka".into(),
                    topics: vec![],
                }),
                ..Target::default()
            },
            Target::default(),
        ),
        (
            Target {
                sql: Some(SqlTarget {
                    name: "pg".into(),
                    privileges: vec![],
                }),
                ..Target::default()
            },
            Target::default(),
        ),
        // A target with several keys is written as its first.
        (
            Target {
                kubernetes: Some(KubernetesTarget {
                    name: "a".into(),
                    ..KubernetesTarget::default()
                }),
                service: Some(ServiceTarget {
                    name: "b".into(),
                    http: vec![],
                }),
                ..Target::default()
            },
            k8s("a", None, vec![]),
        ),
        // An empty kind is written as none; a target with nothing in it as an empty call.
        (k8s("server", Some(""), vec![]), k8s("server", None, vec![])),
        (k8s("", None, vec![]), Target::default()),
    ];
    for (input, by_the_rules) in cases {
        assert_eq!(
            call_to_target(target_to_call(input.clone(), Some("shop"))),
            by_the_rules,
            "the rules alone, {input:?}"
        );
        let original = hub("shop", vec![k8s("first", None, vec![]), input.clone()]);
        for version in [Version::V1beta1, Version::V1alpha3] {
            let written = holt_api::any::HubObject::ClientIntents(original.clone()).into_version(version);
            assert_eq!(
                annotation(written.meta(), HIDDEN_V2_TARGETS),
                Some(json!({"1": input})),
                "{version} keeps {input:?}"
            );
            assert_eq!(
                written.into_hub(),
                holt_api::any::HubObject::ClientIntents(original.clone()),
                "{version} gives back {input:?}"
            );
        }
    }
}

#[test]
fn a_target_named_kubernetes_is_the_api_server_only_in_the_default_namespace() {
    let in_default = v1beta1::ClientIntents::from_hub(hub("default", vec![k8s("kubernetes", None, vec![])]));
    assert_eq!(in_default.spec.calls, [call("svc:kubernetes")]);
    let in_shop = v1beta1::ClientIntents::from_hub(hub("shop", vec![k8s("kubernetes", None, vec![])]));
    assert_eq!(in_shop.spec.calls, [call("kubernetes")]);
    assert_eq!(
        target_to_call(k8s("kubernetes.other", None, vec![]), Some("default")),
        call("kubernetes.other")
    );
    assert_eq!(
        target_to_call(k8s("kubernetes.default", None, vec![]), None),
        call("svc:kubernetes.default")
    );
}

/// v1 → v2, call by call (docs/reference-behaviour.md#conversion).
#[test]
fn v1_calls_become_targets() {
    let cases: Vec<(Call, Target)> = vec![
        (call("server"), k8s("server", None, vec![])),
        (call("server.other"), k8s("server.other", None, vec![])),
        (
            Call {
                kind: Some("StatefulSet".into()),
                ..call("db")
            },
            k8s("db", Some("StatefulSet"), vec![]),
        ),
        (call("svc:server"), k8s("server", Some("Service"), vec![])),
        (
            call("svc:server.other"),
            k8s("server.other", Some("Service"), vec![]),
        ),
        (
            call("svc:kubernetes.default"),
            k8s("kubernetes.default", Some("Service"), vec![]),
        ),
        (
            Call {
                kind: Some("Service".into()),
                ..call("server")
            },
            k8s("server", Some("Service"), vec![]),
        ),
        (
            Call {
                call_type: Some(CallType::Http),
                http_resources: vec![http("/a")],
                ..call("server")
            },
            k8s("server", None, vec![http("/a")]),
        ),
        // HTTP resources count only with `type: http`.
        (
            Call {
                http_resources: vec![http("/a")],
                ..call("server")
            },
            k8s("server", None, vec![]),
        ),
        (
            Call {
                call_type: Some(CallType::Kafka),
                kafka_topics: vec![topic("t")],
                ..call("kafka.kafka")
            },
            Target {
                kafka: Some(KafkaTarget {
                    name: "kafka.kafka".into(),
                    topics: vec![topic("t")],
                }),
                ..Target::default()
            },
        ),
        // The reference's lossy edges: no topics / no resources / no internet section → empty target.
        (
            Call {
                call_type: Some(CallType::Kafka),
                ..call("kafka")
            },
            Target::default(),
        ),
        (
            Call {
                call_type: Some(CallType::Database),
                ..call("pg")
            },
            Target::default(),
        ),
        (
            Call {
                call_type: Some(CallType::Internet),
                ..call("")
            },
            Target::default(),
        ),
        (Call::default(), Target::default()),
        (
            Call {
                call_type: Some(CallType::Database),
                database_resources: vec![SqlPrivileges {
                    database_name: "db".into(),
                    ..SqlPrivileges::default()
                }],
                ..call("pg")
            },
            Target {
                sql: Some(SqlTarget {
                    name: "pg".into(),
                    privileges: vec![SqlPrivileges {
                        database_name: "db".into(),
                        ..SqlPrivileges::default()
                    }],
                }),
                ..Target::default()
            },
        ),
        (
            Call {
                call_type: Some(CallType::Aws),
                aws_actions: vec!["s3:*".into()],
                kind: Some("X".into()),
                ..call("arn")
            },
            Target {
                aws: Some(AwsTarget {
                    arn: "arn".into(),
                    actions: vec!["s3:*".into()],
                }),
                ..Target::default()
            },
        ),
        (
            Call {
                call_type: Some(CallType::Gcp),
                gcp_permissions: vec!["p".into()],
                ..call("res")
            },
            Target {
                gcp: Some(GcpTarget {
                    resource: "res".into(),
                    permissions: vec!["p".into()],
                }),
                ..Target::default()
            },
        ),
        (
            Call {
                call_type: Some(CallType::Azure),
                azure_roles: vec!["Reader".into()],
                azure_actions: vec!["a".into()],
                azure_data_actions: vec!["d".into()],
                ..call("/scope")
            },
            Target {
                azure: Some(AzureTarget {
                    scope: "/scope".into(),
                    roles: vec!["Reader".into()],
                    actions: vec!["a".into()],
                    data_actions: vec!["d".into()],
                    key_vault_policy: None,
                }),
                ..Target::default()
            },
        ),
        (
            Call {
                call_type: Some(CallType::Internet),
                internet: Some(InternetTarget {
                    ips: vec!["1.1.1.1".into()],
                    ..InternetTarget::default()
                }),
                ..call("ignored")
            },
            Target {
                internet: Some(InternetTarget {
                    ips: vec!["1.1.1.1".into()],
                    ..InternetTarget::default()
                }),
                ..Target::default()
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(call_to_target(input.clone()), expected, "{input:?}");
    }
}

/// v1 → v2 → v1 where the reference loses information: (input, what comes back).
#[test]
fn calls_the_v2_rules_change_come_back_from_an_annotation() {
    // (call, what the v1 → v2 → v1 rules alone make of it)
    let cases: Vec<(Call, Call)> = vec![
        (
            call("svc:server"),
            Call {
                kind: Some("Service".into()),
                ..call("server")
            },
        ),
        (call("kubernetes.default"), call("svc:kubernetes.default")),
        (
            Call {
                call_type: Some(CallType::Kafka),
                ..call("kafka")
            },
            Call::default(),
        ),
        (
            Call {
                call_type: Some(CallType::Database),
                ..call("pg")
            },
            Call::default(),
        ),
        (
            Call {
                call_type: Some(CallType::Internet),
                ..call("x")
            },
            Call::default(),
        ),
        (
            Call {
                http_resources: vec![http("/a")],
                ..call("s")
            },
            call("s"),
        ),
        (
            Call {
                call_type: Some(CallType::Http),
                ..call("s")
            },
            call("s"),
        ),
        (
            Call {
                call_type: Some(CallType::Http),
                http_resources: vec![http("/a")],
                kafka_topics: vec![topic("t")],
                ..call("s")
            },
            Call {
                call_type: Some(CallType::Http),
                http_resources: vec![http("/a")],
                ..call("s")
            },
        ),
        (
            Call {
                call_type: Some(CallType::Gcp),
                kind: Some("Deployment".into()),
                aws_actions: vec!["x".into()],
                ..call("r")
            },
            Call {
                call_type: Some(CallType::Gcp),
                ..call("r")
            },
        ),
        (
            Call {
                call_type: Some(CallType::Internet),
                internet: Some(InternetTarget::default()),
                ..call("named")
            },
            Call {
                call_type: Some(CallType::Internet),
                internet: Some(InternetTarget::default()),
                ..Call::default()
            },
        ),
        (
            Call {
                kind: Some(String::new()),
                ..call("s")
            },
            call("s"),
        ),
    ];
    for (input, by_the_rules) in cases {
        let back = target_to_call(call_to_target(input.clone()), Some("shop"));
        assert_eq!(back, by_the_rules, "the rules alone, {input:?}");
        let original = v1(vec![call("first"), input.clone()]);
        let stored = original.clone().into_hub();
        assert_eq!(
            annotation(&stored.metadata, HIDDEN_V1BETA1_CALLS),
            Some(json!({"1": input})),
            "v2 keeps {input:?}"
        );
        assert_eq!(
            v1beta1::ClientIntents::from_hub(stored),
            original,
            "gives back {input:?}"
        );
        // Through every other version too.
        let through_v1alpha3: v1beta1::ClientIntents =
            convert(convert::<_, v1alpha3::ClientIntents>(original.clone()));
        assert_eq!(through_v1alpha3, original, "through v1alpha3, {input:?}");
        let through_v2alpha1: v1beta1::ClientIntents =
            convert(convert::<_, v2alpha1::ClientIntents>(original.clone()));
        assert_eq!(through_v2alpha1, original, "through v2alpha1, {input:?}");
    }
}

fn v1(calls: Vec<Call>) -> v1beta1::ClientIntents {
    v1beta1::ClientIntents {
        metadata: meta("shop"),
        spec: v1beta1::ClientIntentsSpec {
            service: Workload {
                name: "client".into(),
                kind: None,
            },
            calls,
        },
        status: Some(ClientIntentsStatus {
            up_to_date: true,
            ..ClientIntentsStatus::default()
        }),
    }
}

#[test]
fn v1_objects_round_trip_without_loss_when_written_in_canonical_form() {
    let calls = vec![
        call("server"),
        call("server.other"),
        Call {
            kind: Some("Service".into()),
            ..call("server")
        },
        call("svc:kubernetes.default"),
        Call {
            call_type: Some(CallType::Http),
            http_resources: vec![http("/a")],
            ..call("server")
        },
        Call {
            call_type: Some(CallType::Kafka),
            kafka_topics: vec![topic("t")],
            ..call("kafka.kafka")
        },
        Call {
            call_type: Some(CallType::Database),
            database_resources: vec![SqlPrivileges {
                database_name: "db".into(),
                ..SqlPrivileges::default()
            }],
            ..call("pg")
        },
        Call {
            call_type: Some(CallType::Aws),
            aws_actions: vec!["s3:*".into()],
            ..call("arn")
        },
        Call {
            call_type: Some(CallType::Gcp),
            gcp_permissions: vec!["p".into()],
            ..call("res")
        },
        Call {
            call_type: Some(CallType::Azure),
            azure_roles: vec!["Reader".into()],
            azure_key_vault_policy: Some(AzureKeyVaultPolicy {
                key_permissions: vec!["get".into()],
                ..Default::default()
            }),
            ..call("/scope")
        },
        Call {
            call_type: Some(CallType::Azure),
            azure_actions: vec!["a".into()],
            azure_data_actions: vec!["d".into()],
            ..call("/s")
        },
        Call {
            call_type: Some(CallType::Internet),
            internet: Some(InternetTarget {
                domains: vec!["a.com".into()],
                ips: vec![],
                ports: vec![443],
            }),
            ..Call::default()
        },
        Call::default(),
    ];
    let original = v1(calls);
    assert_eq!(
        convert::<_, v1beta1::ClientIntents>(original.clone().into_hub()),
        original
    );
    let stored = original.clone().into_hub();
    assert_eq!(
        stored.metadata, original.metadata,
        "nothing to keep in an annotation"
    );
    for via in [Version::V2alpha1, Version::V2beta1, Version::V1alpha3] {
        let back: v1beta1::ClientIntents = match via {
            Version::V2alpha1 => convert(convert::<_, v2alpha1::ClientIntents>(original.clone())),
            Version::V1alpha3 => convert(convert::<_, v1alpha3::ClientIntents>(original.clone())),
            _ => convert(original.clone()),
        };
        assert_eq!(back, original, "via {via}");
    }
}

#[test]
fn v1alpha3_round_trips_through_the_hub() {
    let original = v1alpha3::ClientIntents {
        metadata: meta("shop"),
        spec: v1alpha3::ClientIntentsSpec {
            service: Workload {
                name: "client".into(),
                kind: Some("Deployment".into()),
            },
            calls: vec![
                v1alpha3::Call {
                    name: "server".into(),
                    ..v1alpha3::Call::default()
                },
                v1alpha3::Call {
                    name: "kafka".into(),
                    call_type: Some(CallType::Kafka),
                    kafka_topics: vec![topic("t")],
                    ..v1alpha3::Call::default()
                },
            ],
        },
        status: None,
    };
    assert_eq!(
        v1alpha3::ClientIntents::from_hub(original.clone().into_hub()),
        original
    );
}

#[test]
fn protected_service_and_kafka_server_config_round_trip_through_every_version() {
    let protected = v2beta1::ProtectedService {
        metadata: meta("shop"),
        spec: v2beta1::ProtectedServiceSpec {
            name: "checkout".into(),
            kind: Some("Deployment".into()),
        },
        status: Some(ConditionsStatus {
            observed_generation: Some(2),
            conditions: vec![],
        }),
    };
    let kafka = v2beta1::KafkaServerConfig {
        metadata: meta("kafka"),
        spec: v2beta1::KafkaServerConfigSpec {
            workload: Workload {
                name: "kafka".into(),
                kind: Some("StatefulSet".into()),
            },
            addr: Some("kafka.kafka:9092".into()),
            no_auto_create_intents_for_operator: true,
            tls: Some(KafkaTls {
                cert_file: "c".into(),
                key_file: "k".into(),
                root_ca_file: "r".into(),
            }),
            topics: vec![KafkaTopicConfig {
                topic: "orders".into(),
                pattern: TopicPattern::Prefix,
                client_identity_required: true,
                intents_required: false,
            }],
        },
        status: None,
    };
    for version in Version::ALL {
        let back = holt_api::any::HubObject::ProtectedService(protected.clone())
            .into_version(version)
            .into_hub();
        assert_eq!(
            back,
            holt_api::any::HubObject::ProtectedService(protected.clone()),
            "{version}"
        );
        let back = holt_api::any::HubObject::KafkaServerConfig(kafka.clone())
            .into_version(version)
            .into_hub();
        assert_eq!(
            back,
            holt_api::any::HubObject::KafkaServerConfig(kafka.clone()),
            "{version}"
        );
    }
    let v1 = v1alpha3::KafkaServerConfig::from_hub(kafka.clone());
    assert_eq!(v1.spec.service, kafka.spec.workload);
}

// ---- what wins when a user edits an object in a version that hides something ----

/// The hub object with Azure actions, and as `v1alpha3` writes it (the actions in an annotation).
fn azure_in_v1alpha3() -> (v2beta1::ClientIntents, v1alpha3::ClientIntents) {
    let original = hub("shop", vec![k8s("server", None, vec![]), azure_actions()]);
    (original.clone(), v1alpha3::ClientIntents::from_hub(original))
}

/// The Azure target as the rules alone give it back from `v1alpha3`: no actions.
fn azure_without_actions(scope: &str) -> Target {
    Target {
        azure: Some(AzureTarget {
            scope: scope.into(),
            ..AzureTarget::default()
        }),
        ..Target::default()
    }
}

fn with_annotation(mut object: v1alpha3::ClientIntents, key: &str, value: &str) -> v1alpha3::ClientIntents {
    object
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_owned(), value.to_owned());
    object
}

#[test]
fn an_edited_call_is_taken_as_written_and_its_hidden_fields_are_dropped() {
    let (original, mut written) = azure_in_v1alpha3();
    written.spec.calls[1].name = "/subscriptions/other".into();
    let edited = written.spec.clone();
    let stored = written.into_hub();
    assert_eq!(
        stored.spec.targets,
        [
            k8s("server", None, vec![]),
            azure_without_actions("/subscriptions/other")
        ]
    );
    assert_eq!(stored.metadata, original.metadata, "the annotation is consumed");
    // Read again in v1alpha3, the object is what the user wrote, with nothing hidden any more.
    let again = v1alpha3::ClientIntents::from_hub(stored);
    assert_eq!(again.spec, edited);
    assert_eq!(again.metadata.annotations, None);
}

#[test]
fn hidden_fields_follow_their_call_when_other_calls_are_added_or_removed() {
    let (_, mut written) = azure_in_v1alpha3();
    written.spec.calls.insert(
        0,
        v1alpha3::Call {
            name: "new".into(),
            ..v1alpha3::Call::default()
        },
    );
    assert_eq!(
        written.into_hub().spec.targets,
        [
            k8s("new", None, vec![]),
            k8s("server", None, vec![]),
            azure_actions()
        ]
    );
    let (_, mut written) = azure_in_v1alpha3();
    written.spec.calls.remove(0);
    assert_eq!(written.into_hub().spec.targets, [azure_actions()]);
    // Two equal calls, only the second hiding actions: the actions stay on the second.
    let original = hub(
        "shop",
        vec![azure_without_actions("/subscriptions/s"), azure_actions()],
    );
    let written = v1alpha3::ClientIntents::from_hub(original.clone());
    assert_eq!(written.spec.calls[0], written.spec.calls[1]);
    assert_eq!(written.into_hub(), original);
}

#[test]
fn a_removed_or_unreadable_annotation_hides_nothing() {
    let expected = [
        k8s("server", None, vec![]),
        azure_without_actions("/subscriptions/s"),
    ];
    let (original, mut written) = azure_in_v1alpha3();
    written.metadata.annotations = None;
    let removed = written.clone();
    let stored = written.into_hub();
    assert_eq!(stored.spec.targets, expected);
    assert_eq!(stored.metadata, original.metadata);
    assert_eq!(
        v1alpha3::ClientIntents::from_hub(stored),
        removed,
        "v1alpha3 → hub → v1alpha3 gives back the object as edited"
    );

    let (_, written) = azure_in_v1alpha3();
    let unreadable = with_annotation(written, HIDDEN_V1BETA1_CALLS, "{not json");
    let stored = unreadable.into_hub();
    assert_eq!(stored.spec.targets, expected);
    assert_eq!(
        stored.metadata, original.metadata,
        "the unreadable annotation is dropped"
    );
}

#[test]
fn an_edited_annotation_is_what_the_call_hides_while_it_still_matches_the_call() {
    let (_, written) = azure_in_v1alpha3();
    let edited =
        r#"{"1":{"name":"/subscriptions/s","type":"azure","azureActions":["Microsoft.Storage/write"]}}"#;
    let written = with_annotation(written, HIDDEN_V1BETA1_CALLS, edited);
    let stored = written.clone().into_hub();
    assert_eq!(
        stored.spec.targets[1],
        Target {
            azure: Some(AzureTarget {
                scope: "/subscriptions/s".into(),
                actions: vec!["Microsoft.Storage/write".into()],
                ..AzureTarget::default()
            }),
            ..Target::default()
        }
    );
    assert_eq!(
        v1alpha3::ClientIntents::from_hub(stored),
        written,
        "v1alpha3 → hub → v1alpha3 gives back the object as edited"
    );

    // An entry that no longer reads as its call (here: another scope) is ignored, not applied.
    let (_, written) = azure_in_v1alpha3();
    let elsewhere = r#"{"1":{"name":"/elsewhere","type":"azure","azureActions":["x"]}}"#;
    let stored = with_annotation(written, HIDDEN_V1BETA1_CALLS, elsewhere).into_hub();
    assert_eq!(stored.spec.targets[1], azure_without_actions("/subscriptions/s"));
}

#[test]
fn a_v2_edit_of_a_target_kept_from_a_v1_write_is_taken_as_written() {
    let original = v1(vec![call("svc:server"), call("other")]);
    let mut stored = original.clone().into_hub();
    assert_eq!(v1beta1::ClientIntents::from_hub(stored.clone()), original);
    stored.spec.targets[0] = k8s("moved", Some("Service"), vec![]);
    let read = v1beta1::ClientIntents::from_hub(stored);
    assert_eq!(
        read.spec.calls,
        [
            Call {
                kind: Some("Service".into()),
                ..call("moved")
            },
            call("other")
        ]
    );
    assert_eq!(read.metadata, original.metadata);
}

// ---- the conversion webhook's entry point ----

fn stored_object() -> serde_json::Value {
    json!({
        "apiVersion": "k8s.otterize.com/v2alpha1",
        "kind": "ClientIntents",
        "metadata": {
            "name": "client", "namespace": "shop", "uid": "3f0e…", "resourceVersion": "42", "generation": 3,
            "creationTimestamp": "2025-01-02T03:04:05Z",
            "labels": {"app": "client"}, "annotations": {"note": "kept"},
            "finalizers": ["intents.otterize.com/client-intents-finalizer"],
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "k8s.otterize.com/v1alpha3",
                               "time": "2025-01-02T03:04:05Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
        },
        "spec": {
            "workload": {"name": "client"},
            "targets": [
                {"kubernetes": {"name": "kubernetes.default"}},
                {"service": {"name": "server", "http": [{"path": "/a", "methods": ["GET"]}]}},
                {"kafka": {"name": "kafka.kafka", "topics": [{"name": "t", "operations": ["produce"]}]}},
                {"internet": {"domains": ["example.com"], "ports": [443]}}
            ]
        },
        "status": {
            "upToDate": true, "observedGeneration": 3,
            "resolvedIPs": [{"dns": "example.com", "ips": ["93.184.216.34"]}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "",
                            "lastTransitionTime": "2025-01-02T03:04:05.123456Z", "observedGeneration": 3}]
        }
    })
}

#[test]
fn the_webhook_converts_and_keeps_metadata_and_status_verbatim() {
    let stored = stored_object();
    let v1 = convert_value(stored.clone(), "k8s.otterize.com/v1alpha3").expect("converts");
    assert_eq!(v1["apiVersion"], "k8s.otterize.com/v1alpha3");
    assert_eq!(v1["kind"], "ClientIntents");
    assert_eq!(v1["status"], stored["status"]);
    assert_eq!(
        v1["spec"],
        json!({
            "service": {"name": "client"},
            "calls": [
                {"name": "svc:kubernetes.default"},
                {"name": "server", "kind": "Service", "type": "http", "HTTPResources": [{"path": "/a", "methods": ["GET"]}]},
                {"name": "kafka.kafka", "type": "kafka", "kafkaTopics": [{"name": "t", "operations": ["produce"]}]},
                {"type": "internet", "internet": {"domains": ["example.com"], "ports": [443]}}
            ]
        })
    );
    // Metadata is the stored one plus the annotation keeping what v1 writes differently: the API server
    // target without a kind, and the `service` target.
    let mut expected_metadata = stored["metadata"].clone();
    expected_metadata["annotations"][HIDDEN_V2_TARGETS] = json!(
        r#"{"0":{"kubernetes":{"name":"kubernetes.default"}},"1":{"service":{"name":"server","http":[{"path":"/a","methods":["GET"]}]}}}"#
    );
    assert_eq!(v1["metadata"], expected_metadata);

    let back = convert_value(v1, "k8s.otterize.com/v2alpha1").expect("converts back");
    assert_eq!(back, stored, "the stored object, byte for byte");
    let to_beta = convert_value(stored.clone(), "k8s.otterize.com/v2beta1").expect("converts");
    assert_eq!(to_beta["spec"], stored["spec"]);
    assert_eq!(to_beta["metadata"], stored["metadata"]);
    assert_eq!(to_beta["apiVersion"], "k8s.otterize.com/v2beta1");
}

#[test]
fn the_webhook_leaves_other_metadata_as_it_came() {
    let mut stored = stored_object();
    stored["metadata"]["annotations"] = json!({});
    stored["spec"]["targets"] = json!([{"kubernetes": {"name": "server"}}]);
    let v1 = convert_value(stored.clone(), "k8s.otterize.com/v1beta1").expect("converts");
    assert_eq!(
        v1["metadata"], stored["metadata"],
        "an empty map stays an empty map"
    );
    stored["metadata"]
        .as_object_mut()
        .map(|m| m.remove("annotations"));
    let v1 = convert_value(stored.clone(), "k8s.otterize.com/v1beta1").expect("converts");
    assert_eq!(v1["metadata"], stored["metadata"], "no annotations stay none");
    // Converting the same object twice writes the same bytes.
    let mut lossy = stored_object();
    lossy["spec"]["targets"] = json!([{"service": {"name": "b"}}, {"service": {"name": "a"}}]);
    let once = convert_value(lossy.clone(), "k8s.otterize.com/v1alpha3").expect("converts");
    let twice = convert_value(lossy, "k8s.otterize.com/v1alpha3").expect("converts");
    assert_eq!(
        serde_json::to_string(&once).expect("JSON"),
        serde_json::to_string(&twice).expect("JSON")
    );
}

#[test]
fn the_webhook_converts_every_kind_between_every_pair_of_versions() {
    let objects = [
        json!({"kind": "ClientIntents", "metadata": {"name": "c", "namespace": "shop"},
               "spec": {"workload": {"name": "c"}, "targets": [{"kubernetes": {"name": "s"}}]}}),
        json!({"kind": "ProtectedService", "metadata": {"name": "p", "namespace": "shop"},
               "spec": {"name": "s", "kind": "Deployment"}}),
        json!({"kind": "KafkaServerConfig", "metadata": {"name": "k", "namespace": "kafka"},
               "spec": {"workload": {"name": "kafka"}, "addr": "kafka:9092", "topics": [{"topic": "t", "pattern": "prefix", "clientIdentityRequired": false, "intentsRequired": true}]}}),
    ];
    for object in objects {
        let mut hub = object.clone();
        hub["apiVersion"] = json!("k8s.otterize.com/v2beta1");
        for from in Version::ALL {
            let source = convert_value(hub.clone(), &from.api_version()).expect("to source version");
            assert_eq!(source["apiVersion"], from.api_version());
            assert!(
                Served::from_value(source.clone()).is_ok(),
                "{from} parses: {source}"
            );
            for to in Version::ALL {
                let converted = convert_value(source.clone(), &to.api_version()).expect("converts");
                assert_eq!(converted["apiVersion"], to.api_version(), "{from} → {to}");
                assert_eq!(converted["metadata"], object["metadata"]);
                let back = convert_value(converted, "k8s.otterize.com/v2beta1").expect("back to hub");
                assert_eq!(back, hub, "{} {from} → {to} → v2beta1", object["kind"]);
            }
        }
    }
}

#[test]
fn the_webhook_rejects_what_it_cannot_convert() {
    let error =
        convert_value(stored_object(), "k8s.otterize.com/v1alpha2").expect_err("v1alpha2 is not served");
    assert!(error.to_string().contains("v1alpha2"), "{error}");
    let mut broken = stored_object();
    broken["spec"]["targets"][1]["service"]["http"][0]["methods"] = json!(["FETCH"]);
    let error = convert_value(broken, "k8s.otterize.com/v1beta1").expect_err("bad method");
    assert!(
        error
            .to_string()
            .contains("spec.targets[1].service.http[0].methods[0]"),
        "{error}"
    );
    let same = convert_value(stored_object(), "k8s.otterize.com/v2alpha1").expect("same version");
    assert_eq!(same, stored_object());
}

#[test]
fn the_webhook_does_not_invent_a_status() {
    let mut object = stored_object();
    object.as_object_mut().map(|o| o.remove("status"));
    let converted = convert_value(object, "k8s.otterize.com/v1beta1").expect("converts");
    assert!(converted.get("status").is_none());
}

// ---- property tests ----

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("server".to_owned()),
        Just("server.other".to_owned()),
        Just("kubernetes".to_owned()),
        Just("kubernetes.default".to_owned()),
        Just("default".to_owned()),
        Just(String::new()),
        "[a-z]{1,3}(\\.[a-z]{1,3})?",
    ]
}

fn kind() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(String::new())),
        Just(Some("Service".into())),
        Just(Some("Deployment".into()))
    ]
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z:*]{1,4}", 0..3)
}

fn http_resources() -> impl Strategy<Value = Vec<HttpResource>> {
    prop::collection::vec(
        (
            "/[a-z]{0,3}",
            prop::collection::vec(
                prop::sample::select(vec![HttpMethod::Get, HttpMethod::Post]),
                0..2,
            ),
        )
            .prop_map(|(path, methods)| HttpResource { path, methods }),
        0..3,
    )
}

fn topics() -> impl Strategy<Value = Vec<KafkaTopic>> {
    prop::collection::vec(
        (
            "[a-z]{1,3}",
            prop::collection::vec(
                prop::sample::select(vec![KafkaOperation::All, KafkaOperation::Produce]),
                0..2,
            ),
        )
            .prop_map(|(name, operations)| KafkaTopic { name, operations }),
        0..3,
    )
}

fn privileges() -> impl Strategy<Value = Vec<SqlPrivileges>> {
    prop::collection::vec(
        ("[a-z]{1,3}", prop::option::of("[a-z.]{1,3}")).prop_map(|(database_name, table)| SqlPrivileges {
            database_name,
            table,
            operations: vec![DatabaseOperation::Insert],
        }),
        0..2,
    )
}

fn key_vault() -> impl Strategy<Value = Option<AzureKeyVaultPolicy>> {
    prop::option::of(strings().prop_map(|p| AzureKeyVaultPolicy {
        secret_permissions: p,
        ..Default::default()
    }))
}

fn internet() -> impl Strategy<Value = InternetTarget> {
    (strings(), strings(), prop::collection::vec(1..65535i32, 0..2))
        .prop_map(|(domains, ips, ports)| InternetTarget { domains, ips, ports })
}

fn target() -> impl Strategy<Value = Target> {
    let one = prop_oneof![
        (name(), kind(), http_resources()).prop_map(|(name, kind, http)| Target {
            kubernetes: Some(KubernetesTarget { name, kind, http }),
            ..Target::default()
        }),
        (name(), http_resources()).prop_map(|(name, http)| Target {
            service: Some(ServiceTarget { name, http }),
            ..Target::default()
        }),
        (name(), topics()).prop_map(|(name, topics)| Target {
            kafka: Some(KafkaTarget { name, topics }),
            ..Target::default()
        }),
        (name(), privileges()).prop_map(|(name, privileges)| Target {
            sql: Some(SqlTarget { name, privileges }),
            ..Target::default()
        }),
        (name(), strings()).prop_map(|(arn, actions)| Target {
            aws: Some(AwsTarget { arn, actions }),
            ..Target::default()
        }),
        (name(), strings()).prop_map(|(resource, permissions)| Target {
            gcp: Some(GcpTarget {
                resource,
                permissions
            }),
            ..Target::default()
        }),
        (name(), strings(), strings(), strings(), key_vault()).prop_map(
            |(scope, roles, actions, data_actions, kv)| Target {
                azure: Some(AzureTarget {
                    scope,
                    roles,
                    actions,
                    data_actions,
                    key_vault_policy: kv
                }),
                ..Target::default()
            }
        ),
        internet().prop_map(|i| Target {
            internet: Some(i),
            ..Target::default()
        }),
        Just(Target::default()),
    ];
    // Sometimes a second key, to cover invalid targets too.
    (one, prop::option::of(name())).prop_map(|(mut t, extra)| {
        if let Some(name) = extra.filter(|n| n == "server") {
            t.service = Some(ServiceTarget { name, http: vec![] });
        }
        t
    })
}

/// What a hub target is after v2 → v1beta1 → v2, stated from the rules rather than from the code.
fn expected_after_v1(target: Target, namespace: &str) -> Target {
    let is_api_server = |name: &str| {
        let (server, ns) = split_target_name(name);
        server == "kubernetes" && ns.unwrap_or(namespace) == "default"
    };
    let Some(first) = target.keys().first().copied() else {
        return Target::default();
    };
    match first {
        TargetRef::Kubernetes(k) => {
            let kind = k.kind.clone().filter(|k| !k.is_empty());
            let kind = if is_api_server(&k.name) && kind.is_none() {
                Some("Service".into())
            } else {
                kind
            };
            if k.name.is_empty() && kind.is_none() && k.http.is_empty() {
                // Written as an empty v1 call, which reads back as an empty target (both are invalid).
                return Target::default();
            }
            Target {
                kubernetes: Some(KubernetesTarget { kind, ..k.clone() }),
                ..Target::default()
            }
        }
        TargetRef::Service(s) => k8s(&s.name, Some("Service"), s.http.clone()),
        TargetRef::Kafka(k) if k.topics.is_empty() => Target::default(),
        TargetRef::Sql(s) if s.privileges.is_empty() => Target::default(),
        TargetRef::Kafka(k) => Target {
            kafka: Some(k.clone()),
            ..Target::default()
        },
        TargetRef::Sql(s) => Target {
            sql: Some(s.clone()),
            ..Target::default()
        },
        TargetRef::Aws(a) => Target {
            aws: Some(a.clone()),
            ..Target::default()
        },
        TargetRef::Gcp(g) => Target {
            gcp: Some(g.clone()),
            ..Target::default()
        },
        TargetRef::Azure(a) => Target {
            azure: Some(a.clone()),
            ..Target::default()
        },
        TargetRef::Internet(i) => Target {
            internet: Some(i.clone()),
            ..Target::default()
        },
    }
}

fn v1_call() -> impl Strategy<Value = Call> {
    let call_type = prop::option::of(prop::sample::select(vec![
        CallType::Http,
        CallType::Kafka,
        CallType::Database,
        CallType::Aws,
        CallType::Gcp,
        CallType::Azure,
        CallType::Internet,
    ]));
    let name = prop_oneof![name(), name().prop_map(|n| format!("svc:{n}"))];
    (
        (name, kind(), call_type, topics(), http_resources(), privileges()),
        (
            strings(),
            strings(),
            strings(),
            strings(),
            strings(),
            key_vault(),
            prop::option::of(internet()),
        ),
    )
        .prop_map(
            |((name, kind, call_type, kafka_topics, http_resources, database_resources), rest)| {
                let (
                    aws_actions,
                    gcp_permissions,
                    azure_roles,
                    azure_actions,
                    azure_data_actions,
                    kv,
                    internet,
                ) = rest;
                Call {
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
                    azure_key_vault_policy: kv,
                    internet,
                }
            },
        )
}

/// What a v1 call is after v1beta1 → v2 → v1beta1, stated from the rules.
fn expected_v1_after_hub(call: Call, namespace: &str) -> Call {
    if call == Call::default() {
        return call;
    }
    let only = |c: Call| c;
    match call.call_type {
        None | Some(CallType::Http) => {
            let (name, prefixed) = match call.name.strip_prefix("svc:") {
                Some(rest) => (rest.to_owned(), true),
                None => (call.name.clone(), false),
            };
            let kind = call
                .kind
                .clone()
                .filter(|k| !k.is_empty())
                .or(prefixed.then(|| "Service".to_owned()));
            let http = if call.call_type == Some(CallType::Http) {
                call.http_resources.clone()
            } else {
                vec![]
            };
            let call_type = (!http.is_empty()).then_some(CallType::Http);
            let (server, ns) = split_target_name(&name);
            let api = server == "kubernetes" && ns.unwrap_or(namespace) == "default";
            if api && kind.as_deref().is_none_or(|k| k == "Service") {
                Call {
                    name: format!("svc:{name}"),
                    call_type,
                    http_resources: http,
                    ..Call::default()
                }
            } else {
                Call {
                    name,
                    kind,
                    call_type,
                    http_resources: http,
                    ..Call::default()
                }
            }
        }
        Some(CallType::Kafka) if call.kafka_topics.is_empty() => Call::default(),
        Some(CallType::Database) if call.database_resources.is_empty() => Call::default(),
        Some(CallType::Internet) if call.internet.is_none() => Call::default(),
        Some(CallType::Kafka) => only(Call {
            name: call.name,
            call_type: call.call_type,
            kafka_topics: call.kafka_topics,
            ..Call::default()
        }),
        Some(CallType::Database) => Call {
            name: call.name,
            call_type: call.call_type,
            database_resources: call.database_resources,
            ..Call::default()
        },
        Some(CallType::Aws) => Call {
            name: call.name,
            call_type: call.call_type,
            aws_actions: call.aws_actions,
            ..Call::default()
        },
        Some(CallType::Gcp) => Call {
            name: call.name,
            call_type: call.call_type,
            gcp_permissions: call.gcp_permissions,
            ..Call::default()
        },
        Some(CallType::Azure) => Call {
            name: call.name,
            call_type: call.call_type,
            azure_roles: call.azure_roles,
            azure_actions: call.azure_actions,
            azure_data_actions: call.azure_data_actions,
            azure_key_vault_policy: call.azure_key_vault_policy,
            ..Call::default()
        },
        Some(CallType::Internet) => Call {
            call_type: call.call_type,
            internet: call.internet,
            ..Call::default()
        },
    }
}

fn v1alpha3_call() -> impl Strategy<Value = v1alpha3::Call> {
    v1_call().prop_map(Into::into)
}

fn namespace() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["shop", "default"])
}

/// Metadata as users write it: sometimes annotations of their own.
fn metadata() -> impl Strategy<Value = ObjectMeta> {
    (namespace(), prop::option::of(Just(()))).prop_map(|(namespace, note)| ObjectMeta {
        annotations: note.map(|()| [("note".to_owned(), "kept".to_owned())].into()),
        ..meta(namespace)
    })
}

fn workload() -> impl Strategy<Value = Workload> {
    (name(), kind()).prop_map(|(name, kind)| Workload { name, kind })
}

fn intents_status() -> impl Strategy<Value = Option<ClientIntentsStatus>> {
    prop::option::of((any::<bool>(), 0..5i64, strings()).prop_map(
        |(up_to_date, observed_generation, ips)| ClientIntentsStatus {
            up_to_date,
            observed_generation,
            resolved_ips: vec![ResolvedIps {
                dns: "example.com".into(),
                ips,
            }],
            conditions: vec![],
        },
    ))
}

fn hub_object() -> impl Strategy<Value = v2beta1::ClientIntents> {
    (
        metadata(),
        workload(),
        prop::collection::vec(target(), 0..6),
        intents_status(),
    )
        .prop_map(|(metadata, workload, targets, status)| v2beta1::ClientIntents {
            metadata,
            spec: v2beta1::ClientIntentsSpec { workload, targets },
            status,
        })
}

fn v1beta1_object() -> impl Strategy<Value = v1beta1::ClientIntents> {
    (
        metadata(),
        workload(),
        prop::collection::vec(v1_call(), 0..6),
        intents_status(),
    )
        .prop_map(|(metadata, service, calls, status)| v1beta1::ClientIntents {
            metadata,
            spec: v1beta1::ClientIntentsSpec { service, calls },
            status,
        })
}

fn v1alpha3_object() -> impl Strategy<Value = v1alpha3::ClientIntents> {
    (
        metadata(),
        workload(),
        prop::collection::vec(v1alpha3_call(), 0..6),
        intents_status(),
    )
        .prop_map(|(metadata, service, calls, status)| v1alpha3::ClientIntents {
            metadata,
            spec: v1alpha3::ClientIntentsSpec { service, calls },
            status,
        })
}

fn conditions_status() -> impl Strategy<Value = Option<ConditionsStatus>> {
    prop::option::of(
        prop::option::of(0..5i64).prop_map(|observed_generation| ConditionsStatus {
            observed_generation,
            conditions: vec![],
        }),
    )
}

fn protected_service() -> impl Strategy<Value = v2beta1::ProtectedService> {
    (metadata(), name(), kind(), conditions_status()).prop_map(|(metadata, name, kind, status)| {
        v2beta1::ProtectedService {
            metadata,
            spec: v2beta1::ProtectedServiceSpec { name, kind },
            status,
        }
    })
}

fn kafka_server_config() -> impl Strategy<Value = v2beta1::KafkaServerConfig> {
    let tls = prop::option::of(("[a-z]{0,2}", "[a-z]{0,2}", "[a-z]{0,2}").prop_map(
        |(cert_file, key_file, root_ca_file)| KafkaTls {
            cert_file,
            key_file,
            root_ca_file,
        },
    ));
    let topics = prop::collection::vec(
        (
            "[a-z*]{0,3}",
            prop::sample::select(vec![TopicPattern::Literal, TopicPattern::Prefix]),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(topic, pattern, client_identity_required, intents_required)| {
                KafkaTopicConfig {
                    topic,
                    pattern,
                    client_identity_required,
                    intents_required,
                }
            }),
        0..3,
    );
    (
        metadata(),
        workload(),
        prop::option::of("[a-z:0-9]{0,6}"),
        any::<bool>(),
        tls,
        topics,
        conditions_status(),
    )
        .prop_map(
            |(metadata, workload, addr, no_auto_create_intents_for_operator, tls, topics, status)| {
                v2beta1::KafkaServerConfig {
                    metadata,
                    spec: v2beta1::KafkaServerConfigSpec {
                        workload,
                        addr,
                        no_auto_create_intents_for_operator,
                        tls,
                        topics,
                    },
                    status,
                }
            },
        )
}

fn versions() -> impl Strategy<Value = Vec<Version>> {
    prop::collection::vec(prop::sample::select(Version::ALL.to_vec()), 1..6)
}

/// `object` converted through each version of `chain` in turn, then back to the version it was written in.
fn through(object: Served, chain: &[Version]) -> Served {
    let written_in = object.version();
    let mut current = object;
    for &version in chain {
        current = current.into_hub().into_version(version);
    }
    current.into_hub().into_version(written_in)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_v2_to_v1_rules_change_exactly_the_known_cases(target in target(), namespace in namespace()) {
        let by_the_rules = call_to_target(target_to_call(target.clone(), Some(namespace)));
        prop_assert_eq!(by_the_rules, expected_after_v1(target, namespace));
    }

    #[test]
    fn the_v1_to_v2_rules_change_exactly_the_known_cases(call in v1_call(), namespace in namespace()) {
        let by_the_rules = target_to_call(call_to_target(call.clone()), Some(namespace));
        prop_assert_eq!(by_the_rules, expected_v1_after_hub(call, namespace));
    }

    /// hub → each version → hub, and through any chain of versions: the object comes back field for field.
    #[test]
    fn every_version_gives_back_the_hub_object(original in hub_object(), chain in versions()) {
        let original = Served::ClientIntents(AnyVersion::V2beta1(original));
        for version in Version::ALL {
            prop_assert_eq!(&through(original.clone(), &[version]), &original, "through {}", version);
        }
        prop_assert_eq!(&through(original.clone(), &chain), &original, "through {:?}", chain);
    }

    /// version → hub → same version (and through any chain), for objects written in v1.
    #[test]
    fn every_version_gives_back_a_v1_object(
        beta in v1beta1_object(),
        alpha in v1alpha3_object(),
        chain in versions(),
    ) {
        for original in [
            Served::ClientIntents(AnyVersion::V1beta1(beta)),
            Served::ClientIntents(AnyVersion::V1alpha3(alpha)),
        ] {
            for version in Version::ALL {
                prop_assert_eq!(&through(original.clone(), &[version]), &original, "through {}", version);
            }
            prop_assert_eq!(&through(original.clone(), &chain), &original, "through {:?}", chain);
        }
    }

    /// A v2 object holding what a v1 write kept (the stored form of a v1 object) comes back from every version.
    #[test]
    fn a_stored_v1_object_comes_back_from_every_version(original in v1beta1_object(), chain in versions()) {
        let stored = Served::ClientIntents(AnyVersion::V2alpha1(convert(original)));
        for version in Version::ALL {
            prop_assert_eq!(&through(stored.clone(), &[version]), &stored, "through {}", version);
        }
        prop_assert_eq!(&through(stored.clone(), &chain), &stored, "through {:?}", chain);
    }

    #[test]
    fn protected_services_and_kafka_server_configs_come_back_from_every_version(
        protected in protected_service(),
        kafka in kafka_server_config(),
        chain in versions(),
    ) {
        for hub in [
            holt_api::any::HubObject::ProtectedService(protected),
            holt_api::any::HubObject::KafkaServerConfig(kafka),
        ] {
            for version in Version::ALL {
                let written = hub.clone().into_version(version);
                prop_assert_eq!(&written.clone().into_hub(), &hub, "hub through {}", version);
                prop_assert_eq!(&through(written.clone(), &chain), &written, "{} through {:?}", version, chain);
            }
        }
    }

    /// The webhook's JSON path: every version gives back the stored object byte for byte.
    #[test]
    fn the_webhook_gives_back_every_object(hub in hub_object(), v1 in v1beta1_object(), chain in versions()) {
        for original in [
            serde_json::to_value(&hub).expect("JSON"),
            serde_json::to_value(&v1).expect("JSON"),
        ] {
            let written_in = original["apiVersion"].as_str().expect("apiVersion").to_owned();
            for version in Version::ALL {
                let converted = convert_value(original.clone(), &version.api_version()).expect("converts");
                let typed = Served::from_value(original.clone())
                    .expect("parses")
                    .into_hub()
                    .into_version(version)
                    .to_value()
                    .expect("JSON");
                prop_assert_eq!(&converted["spec"], &typed["spec"]);
                let back = convert_value(converted, &written_in).expect("converts back");
                prop_assert_eq!(&back, &original, "through {}", version);
            }
            let mut current = original.clone();
            for version in &chain {
                current = convert_value(current, &version.api_version()).expect("converts");
            }
            let back = convert_value(current, &written_in).expect("converts back");
            prop_assert_eq!(&back, &original, "through {:?}", chain);
        }
    }
}
