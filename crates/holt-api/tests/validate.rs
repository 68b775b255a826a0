//! Validation (docs/reference-behaviour.md#validation): every rule, field paths in the version the object
//! was written in, all errors at once, strict mode and its excluded namespaces, and the uniqueness rules.

use std::collections::BTreeSet;

use holt_api::any::Served;
use holt_api::v2beta1::*;
use holt_api::validate::{self, Becomes, NeighbourIndex, Neighbours, Report, Rule, ValidationConfig};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

fn served(value: Value) -> Served {
    Served::from_value(value).expect("parses")
}

fn intents_v2(targets: Value) -> Value {
    json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": {"name": "frontend", "namespace": "shop"},
        "spec": {"workload": {"name": "frontend", "kind": "Deployment"}, "targets": targets}
    })
}

fn intents_v1(calls: Value) -> Value {
    json!({
        "apiVersion": "k8s.otterize.com/v1beta1", "kind": "ClientIntents",
        "metadata": {"name": "frontend", "namespace": "shop"},
        "spec": {"service": {"name": "frontend"}, "calls": calls}
    })
}

fn check(value: Value, config: &ValidationConfig) -> Report {
    validate::validate(&served(value), &Neighbours::default(), config)
}

/// `(field, rule)` of every error.
fn errors(report: &Report) -> Vec<(String, Rule)> {
    report
        .errors
        .iter()
        .map(|e| (e.field.clone(), e.rule.clone()))
        .collect()
}

fn warnings(report: &Report) -> Vec<(String, Rule)> {
    report
        .warnings
        .iter()
        .map(|e| (e.field.clone(), e.rule.clone()))
        .collect()
}

fn strict() -> ValidationConfig {
    ValidationConfig {
        strict_mode: true,
        ..ValidationConfig::default()
    }
}

fn e(field: &str, rule: Rule) -> (String, Rule) {
    (field.to_owned(), rule)
}

#[test]
fn a_valid_object_of_every_kind_passes() {
    let intents = intents_v2(json!([
        {"kubernetes": {"name": "server", "kind": "Deployment", "http": [{"path": "/a", "methods": ["GET"]}]}},
        {"service": {"name": "server.other"}},
        {"kafka": {"name": "kafka.kafka", "topics": [{"name": "orders", "operations": ["produce"]}]}},
        {"sql": {"name": "pg", "privileges": [{"databaseName": "shop", "operations": ["SELECT"]}]}},
        {"aws": {"arn": "arn:aws:s3:::b", "actions": ["s3:GetObject"]}},
        {"gcp": {"resource": "projects/p", "permissions": ["x"]}},
        {"azure": {"scope": "/s", "actions": ["a"], "dataActions": ["d"]}},
        {"azure": {"scope": "/s", "keyVaultPolicy": {"secretPermissions": ["get"]}}},
        {"internet": {"domains": ["*.github.com", "api.stripe.com", "bücher.example"], "ips": ["10.0.0.0/8", "::1"], "ports": [443]}}
    ]));
    let report = check(intents, &ValidationConfig::default());
    assert_eq!(errors(&report), []);
    assert!(report.is_valid());
    assert_eq!(report.into_result(), Ok(vec![]));
    let protected = json!({"apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ProtectedService",
        "metadata": {"name": "p", "namespace": "shop"}, "spec": {"name": "checkout_service-2"}});
    assert_eq!(errors(&check(protected, &ValidationConfig::default())), []);
    let kafka = json!({"apiVersion": "k8s.otterize.com/v2alpha1", "kind": "KafkaServerConfig",
        "metadata": {"name": "k", "namespace": "kafka"},
        "spec": {"workload": {"name": "kafka"}, "addr": "kafka.kafka.svc:9092",
                 "tls": {"certFile": "c", "keyFile": "k", "rootCAFile": "r"}, "topics": [{"topic": "*", "pattern": "literal"}]}});
    assert_eq!(errors(&check(kafka, &ValidationConfig::default())), []);
}

#[test]
fn every_client_intents_error_is_reported_at_once_with_its_path() {
    let mut value = intents_v2(json!([
        {},
        {"kubernetes": {"name": "a"}, "service": {"name": "b"}},
        {"kubernetes": {"name": "", "kind": "deployment", "http": [{"path": ""}]}},
        {"service": {"name": "a.b.c"}},
        {"kafka": {"name": "", "topics": [{"name": ""}]}},
        {"sql": {"name": "", "privileges": [{"databaseName": ""}]}},
        {"aws": {"arn": ""}},
        {"gcp": {"resource": ""}},
        {"azure": {"scope": ""}},
        {"azure": {"scope": "/s", "roles": ["Reader"], "dataActions": ["d"]}},
        {"internet": {}},
        {"internet": {"domains": ["bad domain", "*bad.com"], "ips": ["10.0.0.0/40", "nope"], "ports": [0, 70000]}}
    ]));
    value["spec"]["workload"] = json!({"name": "front.end", "kind": "deployment"});
    let report = check(value, &ValidationConfig::default());
    assert_eq!(
        errors(&report),
        [
            e(
                "spec.workload.name",
                Rule::WorkloadNameHasDot {
                    name: "front.end".into()
                }
            ),
            e(
                "spec.workload.kind",
                Rule::KindNotCapitalised {
                    kind: "deployment".into()
                }
            ),
            e("spec.targets[0]", Rule::TargetKeys { keys: vec![] }),
            e(
                "spec.targets[1]",
                Rule::TargetKeys {
                    keys: vec!["kubernetes", "service"]
                }
            ),
            e("spec.targets[2].kubernetes.name", Rule::Required),
            e(
                "spec.targets[2].kubernetes.kind",
                Rule::KindNotCapitalised {
                    kind: "deployment".into()
                }
            ),
            e("spec.targets[2].kubernetes.http[0].path", Rule::Required),
            e(
                "spec.targets[3].service.name",
                Rule::TooManyDots { name: "a.b.c".into() }
            ),
            e("spec.targets[4].kafka.name", Rule::Required),
            e("spec.targets[4].kafka.topics[0].name", Rule::Required),
            e("spec.targets[5].sql.name", Rule::Required),
            e("spec.targets[5].sql.privileges[0].databaseName", Rule::Required),
            e("spec.targets[6].aws.arn", Rule::Required),
            e("spec.targets[7].gcp.resource", Rule::Required),
            e("spec.targets[8].azure.scope", Rule::Required),
            e("spec.targets[8].azure", Rule::AzureNothingGranted),
            e("spec.targets[9].azure.roles", Rule::AzureRolesWithActions),
            e("spec.targets[10].internet", Rule::InternetNoDestination),
            e(
                "spec.targets[11].internet.domains[0]",
                Rule::InvalidDomain {
                    domain: "bad domain".into(),
                    reason: "labels must be 1-63 letters, digits or `-` (not first or last), 253 characters in all, IDNA-valid"
                }
            ),
            e(
                "spec.targets[11].internet.domains[1]",
                Rule::InvalidDomain {
                    domain: "*bad.com".into(),
                    reason: "a wildcard must be the whole first label, as in `*.example.com`"
                }
            ),
            e(
                "spec.targets[11].internet.ips[0]",
                Rule::InvalidIp {
                    ip: "10.0.0.0/40".into()
                }
            ),
            e(
                "spec.targets[11].internet.ips[1]",
                Rule::InvalidIp { ip: "nope".into() }
            ),
            e(
                "spec.targets[11].internet.ports[0]",
                Rule::InvalidPort { port: 0 }
            ),
            e(
                "spec.targets[11].internet.ports[1]",
                Rule::InvalidPort { port: 70000 }
            ),
        ]
    );
}

#[test]
fn errors_name_the_object_the_field_and_the_rule() {
    let report = check(
        intents_v2(json!([{"kubernetes": {"name": ""}}])),
        &ValidationConfig::default(),
    );
    let error = report.clone().into_result().expect_err("invalid");
    assert_eq!(
        error.to_string(),
        "ClientIntents shop/frontend: spec.targets[0].kubernetes.name: is required"
    );
    assert_eq!(error.0[0].object.to_string(), "ClientIntents shop/frontend");
    let report = check(
        intents_v2(json!([{"service": {"name": "a.b.c"}}, {}])),
        &ValidationConfig::default(),
    );
    let text = report.into_result().expect_err("invalid").to_string();
    assert_eq!(
        text,
        "ClientIntents shop/frontend: spec.targets[0].service.name: `a.b.c` has more than one `.`: write `server` or \
         `server.namespace`\n\
         ClientIntents shop/frontend: spec.targets[1]: a target must set exactly one of kubernetes, service, kafka, \
         sql, aws, gcp, azure, internet; this one sets none"
    );
}

#[test]
fn a_missing_workload_name_is_required() {
    let mut value = intents_v2(json!([]));
    value["spec"]["workload"] = json!({"name": ""});
    assert_eq!(
        errors(&check(value, &ValidationConfig::default())),
        [e("spec.workload.name", Rule::Required)]
    );
}

#[test]
fn v1_objects_are_reported_with_v1_paths() {
    let value = intents_v1(json!([
        {"name": ""},
        {"name": "svc:"},
        {"name": "a.b.c", "kind": "deployment"},
        {"name": "s", "type": "http", "HTTPResources": [{"path": ""}]},
        {"name": "", "type": "kafka", "kafkaTopics": [{"name": ""}]},
        {"name": "", "type": "aws"},
        {"name": "/s", "type": "azure", "azureRoles": ["r"], "azureActions": ["a"]},
        {"type": "internet", "internet": {"domains": ["-x.com"], "ports": [443]}}
    ]));
    let mut v1 = value.clone();
    v1["spec"]["service"]["name"] = json!("a.b");
    let report = check(v1, &ValidationConfig::default());
    assert_eq!(
        errors(&report),
        [
            e("spec.calls[0].name", Rule::Required),
            e(
                "spec.service.name",
                Rule::WorkloadNameHasDot { name: "a.b".into() }
            ),
            e("spec.calls[1].name", Rule::Required),
            e("spec.calls[2].name", Rule::TooManyDots { name: "a.b.c".into() }),
            e(
                "spec.calls[2].kind",
                Rule::KindNotCapitalised {
                    kind: "deployment".into()
                }
            ),
            e("spec.calls[3].HTTPResources[0].path", Rule::Required),
            e("spec.calls[4].name", Rule::Required),
            e("spec.calls[4].kafkaTopics[0].name", Rule::Required),
            e("spec.calls[5].name", Rule::Required),
            e("spec.calls[6].azureRoles", Rule::AzureRolesWithActions),
            e(
                "spec.calls[7].internet.domains[0]",
                Rule::InvalidDomain {
                    domain: "-x.com".into(),
                    reason: "labels must be 1-63 letters, digits or `-` (not first or last), 253 characters in all, IDNA-valid"
                }
            ),
        ]
    );
}

#[test]
fn v1_only_rules() {
    let value = intents_v1(json!([
        {"name": "s", "type": "http", "HTTPResources": [{"path": "/"}], "kafkaTopics": [{"name": "t"}]},
        {"name": "x", "type": "internet"},
        {"name": "kafka", "type": "kafka"},
        {"name": "pg", "type": "database"},
        {"name": "s", "HTTPResources": [{"path": "/"}]}
    ]));
    let report = check(value.clone(), &ValidationConfig::default());
    assert_eq!(
        errors(&report),
        [
            e("spec.calls[0].kafkaTopics", Rule::V1HttpWithKafkaTopics),
            e("spec.calls[1].internet", Rule::V1InternetMissing)
        ]
    );
    // The reference accepts these and they grant nothing: warnings, not errors.
    assert_eq!(
        warnings(&report),
        [
            e("spec.calls[2].kafkaTopics", Rule::V1KafkaWithoutTopics),
            e(
                "spec.calls[3].databaseResources",
                Rule::V1DatabaseWithoutResources
            ),
            e("spec.calls[4].HTTPResources", Rule::V1HttpResourcesIgnored),
        ]
    );
    // v1alpha3 gets the same rules.
    let mut alpha = value;
    alpha["apiVersion"] = json!("k8s.otterize.com/v1alpha3");
    let alpha = check(alpha, &ValidationConfig::default());
    assert_eq!(errors(&alpha), errors(&report));
    assert_eq!(warnings(&alpha), warnings(&report));
}

#[test]
fn the_same_object_in_v2alpha1_is_judged_like_v2beta1() {
    let mut value = intents_v2(json!([{"kubernetes": {"name": "a.b.c"}}]));
    let beta = errors(&check(value.clone(), &ValidationConfig::default()));
    value["apiVersion"] = json!("k8s.otterize.com/v2alpha1");
    assert_eq!(errors(&check(value, &ValidationConfig::default())), beta);
    assert_eq!(beta.len(), 1);
}

#[test]
fn strict_mode() {
    let targets = json!([
        {"kubernetes": {"name": "server"}},
        {"kubernetes": {"name": "server", "kind": "Deployment", "http": [{"path": "/"}]}},
        {"kubernetes": {"name": "server", "kind": "Service"}},
        {"service": {"name": "server"}},
        {"kafka": {"name": "kafka", "topics": [{"name": "t"}]}},
        {"internet": {"domains": ["*.example.com", "example.com"]}},
        {"internet": {"ips": ["1.2.3.4"], "ports": [443]}}
    ]);
    assert_eq!(
        errors(&check(intents_v2(targets.clone()), &ValidationConfig::default())),
        []
    );
    assert_eq!(
        errors(&check(intents_v2(targets.clone()), &strict())),
        [
            e("spec.targets[0].kubernetes.kind", Rule::StrictServiceRequired),
            e("spec.targets[1].kubernetes.kind", Rule::StrictServiceRequired),
            e(
                "spec.targets[5].internet.domains[0]",
                Rule::StrictWildcardDomain {
                    domain: "*.example.com".into()
                }
            ),
            e("spec.targets[5].internet.ports", Rule::StrictPortsRequired),
        ]
    );
    // Excluded namespaces are read from their own setting (the reference read the active-enforcement list).
    let excluded = ValidationConfig {
        strict_mode: true,
        excluded_strict_mode_namespaces: BTreeSet::from(["shop".to_owned()]),
    };
    assert_eq!(errors(&check(intents_v2(targets.clone()), &excluded)), []);
    let elsewhere = ValidationConfig {
        strict_mode: true,
        excluded_strict_mode_namespaces: BTreeSet::from(["other".to_owned()]),
    };
    assert_eq!(errors(&check(intents_v2(targets), &elsewhere)).len(), 4);
    // v1: a plain call must be a Service (`svc:` or kind Service).
    let v1 =
        intents_v1(json!([{"name": "server"}, {"name": "svc:server"}, {"name": "s", "kind": "Service"}]));
    assert_eq!(
        errors(&check(v1, &strict())),
        [e("spec.calls[0].kind", Rule::StrictServiceRequired)]
    );
}

fn hub_intents(name: &str, namespace: &str, workload: &str, kind: Option<&str>) -> ClientIntents {
    ClientIntents {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        spec: ClientIntentsSpec {
            workload: Workload {
                name: workload.into(),
                kind: kind.map(Into::into),
            },
            targets: vec![],
        },
        status: None,
    }
}

#[test]
fn one_client_intents_per_workload_and_kind_in_a_namespace() {
    let object = hub_intents("frontend", "shop", "frontend", Some("Deployment"));
    let others = [
        hub_intents("frontend", "shop", "frontend", Some("Deployment")), // itself (an update)
        hub_intents("frontend-2", "other", "frontend", Some("Deployment")), // other namespace
        hub_intents("frontend-3", "shop", "frontend", None),             // other kind
        hub_intents("frontend-4", "shop", "frontend", Some("StatefulSet")),
    ];
    assert_eq!(
        errors(&validate::client_intents(
            &object,
            &others,
            &ValidationConfig::default()
        )),
        []
    );
    let duplicate = hub_intents("frontend-dup", "shop", "frontend", Some("Deployment"));
    let report = validate::client_intents(&object, &[duplicate], &ValidationConfig::default());
    assert_eq!(
        errors(&report),
        [e(
            "spec.workload",
            Rule::DuplicateWorkload {
                other: "frontend-dup".into()
            }
        )]
    );
    // Legacy (no kind) clashes with legacy, and an empty kind is no kind.
    let legacy = hub_intents("a", "shop", "frontend", None);
    let other_legacy = hub_intents("b", "shop", "frontend", Some(""));
    assert_eq!(
        errors(&validate::client_intents(
            &legacy,
            &[other_legacy],
            &ValidationConfig::default()
        ))
        .len(),
        1
    );
    // The served entry point compares with the neighbours too, with v1 paths for v1 objects.
    let v1 = served(intents_v1(json!([{"name": "server"}])));
    let neighbours = [hub_intents("other", "shop", "frontend", None)];
    let report = validate::validate(
        &v1,
        &Neighbours {
            client_intents: &neighbours,
            ..Neighbours::default()
        },
        &ValidationConfig::default(),
    );
    assert_eq!(
        errors(&report),
        [e(
            "spec.service",
            Rule::DuplicateWorkload {
                other: "other".into()
            }
        )]
    );
}

fn protected(name: &str, namespace: &str, server: &str, kind: Option<&str>) -> ProtectedService {
    ProtectedService {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        spec: ProtectedServiceSpec {
            name: server.into(),
            kind: kind.map(Into::into),
        },
        status: None,
    }
}

#[test]
fn an_index_built_once_answers_as_the_neighbours_it_was_built_from() {
    let client_intents = [
        hub_intents("a", "shop", "frontend", Some("Deployment")),
        hub_intents("b", "shop", "frontend", Some("Deployment")),
        hub_intents("c", "shop", "frontend", Some("")),
        hub_intents("d", "shop", "frontend", None),
        hub_intents("e", "other", "frontend", Some("Deployment")),
        hub_intents("f", "shop", "backend", Some("Deployment")),
        hub_intents("g", "shop", "frontend", Some("Deployment")),
    ];
    let protected_services = [
        protected("p", "shop", "checkout", None),
        protected("q", "shop", "checkout", Some("")),
        protected("r", "shop", "checkout", Some("Deployment")),
        protected("s", "other", "checkout", None),
    ];
    let neighbours = Neighbours {
        client_intents: &client_intents,
        protected_services: &protected_services,
    };
    let index = NeighbourIndex::new(&neighbours);
    let objects = client_intents
        .iter()
        .cloned()
        .map(|o| Served::ClientIntents(holt_api::any::AnyVersion::V2beta1(o)))
        .chain(
            protected_services
                .iter()
                .cloned()
                .map(|o| Served::ProtectedService(holt_api::any::AnyVersion::V2beta1(o))),
        );
    let mut duplicates = Vec::new();
    for object in objects {
        let indexed = validate::validate_indexed(&object, &index, &ValidationConfig::default());
        assert_eq!(
            indexed,
            validate::validate(&object, &neighbours, &ValidationConfig::default())
        );
        duplicates.push(indexed.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>());
    }
    let others = |messages: &[String]| {
        messages
            .iter()
            .map(|m| {
                m.split_once('(')
                    .and_then(|(_, rest)| rest.split_once(')'))
                    .map_or("", |(o, _)| o)
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    // The others in the order given; an unset and an empty kind clash; other namespaces and kinds do not.
    assert_eq!(others(&duplicates[0]), ["b", "g"]);
    assert_eq!(others(&duplicates[2]), ["d"]);
    assert_eq!(others(&duplicates[4]), Vec::<String>::new());
    assert_eq!(others(&duplicates[5]), Vec::<String>::new());
    assert_eq!(others(&duplicates[6]), ["a", "b"]);
    assert_eq!(others(&duplicates[7]), ["q"]);
    assert_eq!(others(&duplicates[9]), Vec::<String>::new());
}

#[test]
fn protected_service_rules() {
    for bad in ["Checkout", "check.out", "check out", "chéckout"] {
        let report = validate::protected_service(&protected("p", "shop", bad, None), &[]);
        assert_eq!(
            errors(&report),
            [e("spec.name", Rule::ProtectedServiceName { name: bad.into() })]
        );
    }
    assert_eq!(
        errors(&validate::protected_service(
            &protected("p", "shop", "", None),
            &[]
        )),
        [e("spec.name", Rule::Required)]
    );
    assert_eq!(
        errors(&validate::protected_service(
            &protected("p", "shop", "checkout", Some("deployment")),
            &[]
        )),
        [e(
            "spec.kind",
            Rule::KindNotCapitalised {
                kind: "deployment".into()
            }
        )]
    );
}

#[test]
fn one_protected_service_per_server_in_a_namespace() {
    let object = protected("protect-checkout", "shop", "checkout", None);
    // The reference compared metadata.name with spec.name; Holt compares spec.name (+ kind).
    let unrelated = [
        protected("protect-checkout", "shop", "checkout", None), // itself
        protected("checkout", "shop", "payments", None),         // metadata.name equals our spec.name: fine
        protected("x", "other", "checkout", None),               // other namespace
        protected("y", "shop", "checkout", Some("Deployment")),  // other kind
    ];
    assert_eq!(errors(&validate::protected_service(&object, &unrelated)), []);
    let duplicate = [protected("also-checkout", "shop", "checkout", None)];
    assert_eq!(
        errors(&validate::protected_service(&object, &duplicate)),
        [e(
            "spec.name",
            Rule::DuplicateProtectedService {
                other: "also-checkout".into()
            }
        )]
    );
    let served_object = served(
        json!({"apiVersion": "k8s.otterize.com/v1beta1", "kind": "ProtectedService",
        "metadata": {"name": "protect-checkout", "namespace": "shop"}, "spec": {"name": "checkout"}}),
    );
    let report = validate::validate(
        &served_object,
        &Neighbours {
            protected_services: &duplicate,
            ..Neighbours::default()
        },
        &ValidationConfig::default(),
    );
    assert_eq!(report.errors.len(), 1);
    assert_eq!(
        report.errors[0].to_string(),
        "ProtectedService shop/protect-checkout: spec.name: another ProtectedService in this namespace \
         (also-checkout) already protects this server"
    );
}

#[test]
fn kafka_server_config_rules() {
    let value = json!({"apiVersion": "k8s.otterize.com/v1alpha3", "kind": "KafkaServerConfig",
        "metadata": {"name": "k", "namespace": "kafka"},
        "spec": {"service": {"name": ""}, "addr": "kafka", "tls": {"certFile": "c"}, "topics": [{"topic": "", "pattern": "prefix"}]}});
    assert_eq!(
        errors(&check(value, &ValidationConfig::default())),
        [
            e("spec.service.name", Rule::Required),
            e("spec.tls.keyFile", Rule::TlsIncomplete),
            e("spec.tls.rootCAFile", Rule::TlsIncomplete),
            e(
                "spec.addr",
                Rule::InvalidAddress {
                    addr: "kafka".into(),
                    reason: "it has no `:port`"
                }
            ),
            e("spec.topics[0].topic", Rule::Required),
        ]
    );
    // The reference writes an all-empty tls object when there is none: that is no TLS.
    let value = json!({"apiVersion": "k8s.otterize.com/v2beta1", "kind": "KafkaServerConfig",
        "metadata": {"name": "k", "namespace": "kafka"},
        "spec": {"workload": {"name": "kafka", "kind": "statefulSet"}, "addr": "[::1]:0", "tls": {"certFile": "", "keyFile": "", "rootCAFile": ""}}});
    assert_eq!(
        errors(&check(value, &ValidationConfig::default())),
        [
            e(
                "spec.workload.kind",
                Rule::KindNotCapitalised {
                    kind: "statefulSet".into()
                }
            ),
            e(
                "spec.addr",
                Rule::InvalidAddress {
                    addr: "[::1]:0".into(),
                    reason: "the port must be a number between 1 and 65535"
                }
            ),
        ]
    );
}

// ---- names bounded by what the API server accepts ----

fn name_of(length: usize) -> String {
    "a".repeat(length)
}

fn client_intents(workload: Value, targets: Value) -> Value {
    json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": {"name": "frontend", "namespace": "shop"},
        "spec": {"workload": workload, "targets": targets}
    })
}

fn object_name(object: &'static str, pattern: &str) -> Becomes {
    Becomes::ObjectName {
        object,
        pattern: pattern.to_owned(),
    }
}

fn too_long(length: usize, limit: usize, becomes: Becomes) -> Rule {
    Rule::NameTooLong {
        start: format!("{}…", "a".repeat(16)),
        length,
        limit,
        becomes,
    }
}

/// Asserts that a name of `limit` characters passes and one of `limit + 1` is refused with `rule(limit + 1)`
/// on `field`, saying the limit; `object(name)` is the object holding the name.
fn bound(object: impl Fn(&str) -> Value, field: &str, limit: usize, rule: impl Fn(usize) -> Rule) {
    let at_limit = check(object(&name_of(limit)), &ValidationConfig::default());
    assert_eq!(errors(&at_limit), [], "{limit} characters fit in {field}");
    let over = check(object(&name_of(limit + 1)), &ValidationConfig::default());
    assert_eq!(
        errors(&over),
        [e(field, rule(limit + 1))],
        "{} characters in {field}",
        limit + 1
    );
    let message = over.errors[0].to_string();
    assert!(message.contains(&format!("{field}: ")), "{message}");
    assert!(
        message.contains(&format!("over the {limit} that fit")),
        "{message}"
    );
}

#[test]
fn a_workload_name_leaves_room_for_the_name_of_its_network_policy() {
    // `<name>[-<kind>]-ingress` is at most 253 characters.
    for (kind, limit, pattern) in [
        (None, 245, "<name>-ingress"),
        (Some("Deployment"), 234, "<name>-deployment-ingress"),
        (Some("StatefulSet"), 233, "<name>-statefulset-ingress"),
    ] {
        let object = |name: &str| client_intents(json!({"name": name, "kind": kind}), json!([]));
        bound(object, "spec.workload.name", limit, |length| {
            too_long(
                length,
                limit,
                object_name("this workload's NetworkPolicy", pattern),
            )
        });
    }
    let report = check(
        client_intents(json!({"name": name_of(260), "kind": "Deployment"}), json!([])),
        &ValidationConfig::default(),
    );
    assert_eq!(
        report.errors[0].to_string(),
        "ClientIntents shop/frontend: spec.workload.name: `aaaaaaaaaaaaaaaa…` is 260 characters, over the 234 \
         that fit: Holt names this workload's NetworkPolicy `<name>-deployment-ingress`, and object names are \
         DNS-1123 subdomains of at most 253 characters"
    );
}

#[test]
fn a_workload_name_must_be_usable_in_an_object_name() {
    // Names from owners have `.` written as `_`, which Holt writes back as `.` in object names.
    for ok in ["frontend", "app_v2", "a-b_c-d", "0ad"] {
        let report = check(
            client_intents(json!({"name": ok}), json!([])),
            &ValidationConfig::default(),
        );
        assert_eq!(errors(&report), [], "{ok}");
    }
    for bad in [
        "Frontend",
        "_app",
        "app_",
        "app__v2",
        "app-_v2",
        "front end",
        "frönt",
    ] {
        let report = check(
            client_intents(json!({"name": bad}), json!([])),
            &ValidationConfig::default(),
        );
        let [(field, rule)] = errors(&report).try_into().expect("one error");
        assert_eq!(field, "spec.workload.name", "{bad}");
        assert!(
            matches!(&rule, Rule::NameNotAccepted { name, .. } if name == bad),
            "{bad}: {rule:?}"
        );
        assert!(rule.to_string().contains("lower-case letters, digits"), "{rule}");
    }
}

#[test]
fn a_target_name_leaves_room_for_the_istio_policy_that_names_it_with_its_client() {
    // `authorization-policy-to-<server>[-<kind>]-from-frontend-deployment.shop` is at most 253 characters.
    let workload = json!({"name": "frontend", "kind": "Deployment"});
    for (key, kind, limit, pattern) in [
        (
            "kubernetes",
            None,
            199,
            "authorization-policy-to-<name>-from-frontend-deployment.shop",
        ),
        (
            "kubernetes",
            Some("Deployment"),
            188,
            "authorization-policy-to-<name>-deployment-from-frontend-deployment.shop",
        ),
    ] {
        let object = |name: &str| {
            client_intents(
                workload.clone(),
                json!([{"kubernetes": {"name": "ok"}}, {key: {"name": name, "kind": kind}}]),
            )
        };
        bound(object, "spec.targets[1].kubernetes.name", limit, |length| {
            too_long(
                length,
                limit,
                object_name("the Istio AuthorizationPolicy for this call", pattern),
            )
        });
    }
    // A longer client leaves less room; the namespace of the target does not count (the policy is named after
    // the client's namespace).
    let object = |name: &str| {
        client_intents(
            json!({"name": name_of(50)}),
            json!([{"kubernetes": {"name": format!("{name}.{}", name_of(63))}}]),
        )
    };
    let limit = 253 - "authorization-policy-to--from-.shop".len() - 50;
    bound(object, "spec.targets[0].kubernetes.name", limit, |length| {
        too_long(
            length,
            limit,
            object_name(
                "the Istio AuthorizationPolicy for this call",
                &format!("authorization-policy-to-<name>-from-{}.shop", name_of(50)),
            ),
        )
    });
}

#[test]
fn a_target_name_of_260_characters_is_refused_for_its_network_policy() {
    for (key, kind, limit, pattern) in [
        ("kubernetes", None, 245, "<name>-ingress"),
        ("kubernetes", Some("Deployment"), 234, "<name>-deployment-ingress"),
        ("kafka", None, 245, "<name>-ingress"),
    ] {
        let report = check(
            client_intents(
                json!({"name": "frontend"}),
                json!([{key: {"name": name_of(260), "kind": kind}}]),
            ),
            &ValidationConfig::default(),
        );
        let field = format!("spec.targets[0].{key}.name");
        assert_eq!(
            errors(&report),
            [e(
                &field,
                too_long(
                    260,
                    limit,
                    object_name("the NetworkPolicy of this server", pattern)
                )
            )]
        );
    }
    // A Kafka target is named in no Istio policy: it may use its whole NetworkPolicy bound.
    let object = |name: &str| {
        client_intents(
            json!({"name": "frontend"}),
            json!([{"kafka": {"name": format!("{name}.kafka"), "topics": [{"name": "t"}]}}]),
        )
    };
    bound(object, "spec.targets[0].kafka.name", 245, |length| {
        too_long(
            length,
            245,
            object_name("the NetworkPolicy of this server", "<name>-ingress"),
        )
    });
}

#[test]
fn a_service_target_names_a_service_and_a_target_namespace_names_a_namespace() {
    let workload = json!({"name": "frontend"});
    let service = |name: &str| client_intents(workload.clone(), json!([{"service": {"name": name}}]));
    bound(service, "spec.targets[0].service.name", 63, |length| {
        too_long(length, 63, Becomes::ServiceName)
    });
    let kind_service = |name: &str| {
        client_intents(
            workload.clone(),
            json!([{"kubernetes": {"name": format!("{name}.other"), "kind": "Service"}}]),
        )
    };
    bound(kind_service, "spec.targets[0].kubernetes.name", 63, |length| {
        too_long(length, 63, Becomes::ServiceName)
    });
    let namespace = |name: &str| {
        client_intents(
            workload.clone(),
            json!([{"kubernetes": {"name": format!("server.{name}")}}]),
        )
    };
    bound(namespace, "spec.targets[0].kubernetes.name", 63, |length| {
        too_long(length, 63, Becomes::Namespace)
    });
    for (target, rule) in [
        (
            json!({"service": {"name": "Cart"}}),
            Rule::NameNotAccepted {
                name: "Cart".into(),
                becomes: Becomes::ServiceName,
                reason: "it must be lower-case letters, digits and `-`, starting and ending with a letter or digit",
            },
        ),
        (
            json!({"service": {"name": "cart_v2"}}),
            Rule::NameNotAccepted {
                name: "cart_v2".into(),
                becomes: Becomes::ServiceName,
                reason: "it must be lower-case letters, digits and `-`, starting and ending with a letter or digit",
            },
        ),
        (
            json!({"kafka": {"name": "kafka.Kafka_NS"}}),
            Rule::NameNotAccepted {
                name: "Kafka_NS".into(),
                becomes: Becomes::Namespace,
                reason: "it must be lower-case letters, digits and `-`, starting and ending with a letter or digit",
            },
        ),
        (
            json!({"kubernetes": {"name": "server."}}),
            Rule::NameNotAccepted {
                name: String::new(),
                becomes: Becomes::Namespace,
                reason: "it must be lower-case letters, digits and `-`, starting and ending with a letter or digit",
            },
        ),
        (
            json!({"kubernetes": {"name": ".shop"}}),
            Rule::NoServerName { name: ".shop".into() },
        ),
    ] {
        let key = target
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .expect("a key");
        let report = check(
            client_intents(workload.clone(), json!([target])),
            &ValidationConfig::default(),
        );
        assert_eq!(errors(&report), [e(&format!("spec.targets[0].{key}.name"), rule)]);
    }
    // The API server, and the names the reference's tutorials use, are fine.
    let report = check(
        client_intents(
            json!({"name": "client", "kind": "Deployment"}),
            json!([
                {"kubernetes": {"name": "kubernetes.default"}},
                {"service": {"name": "kubernetes.default"}},
                {"kubernetes": {"name": "server.otterize-tutorial-npol"}},
                {"service": {"name": "nginx"}},
                {"kafka": {"name": "kafka.kafka", "topics": [{"name": "mytopic"}]}}
            ]),
        ),
        &ValidationConfig::default(),
    );
    assert_eq!(errors(&report), []);
}

#[test]
fn kinds_are_what_the_api_server_accepts_as_a_kind() {
    let kind_of = |kind: &str| {
        client_intents(
            json!({"name": "frontend", "kind": kind}),
            json!([{"kubernetes": {"name": "server", "kind": kind}}]),
        )
    };
    for ok in [
        "Deployment",
        "StatefulSet",
        "Rollout",
        "My-Kind",
        &format!("K{}", "a".repeat(62)),
    ] {
        assert_eq!(
            errors(&check(kind_of(ok), &ValidationConfig::default())),
            [],
            "{ok}"
        );
    }
    for (bad, reason) in [
        (
            "Kind_X",
            "kinds are letters, digits and `-`, starting with a letter and ending with a letter or digit",
        ),
        (
            "Kind/X",
            "kinds are letters, digits and `-`, starting with a letter and ending with a letter or digit",
        ),
        (
            "Kind-",
            "kinds are letters, digits and `-`, starting with a letter and ending with a letter or digit",
        ),
        (&format!("K{}", "a".repeat(63)), "kinds are at most 63 characters"),
    ] {
        let rule = Rule::KindNotAccepted {
            kind: bad.to_owned(),
            reason,
        };
        assert_eq!(
            errors(&check(kind_of(bad), &ValidationConfig::default())),
            [
                e("spec.workload.kind", rule.clone()),
                e("spec.targets[0].kubernetes.kind", rule)
            ],
            "{bad}"
        );
    }
}

#[test]
fn v1_objects_are_bounded_the_same_and_named_with_v1_paths() {
    let v1 = |service: &str, calls: Value| {
        json!({
            "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
            "metadata": {"name": "frontend", "namespace": "shop"},
            "spec": {"service": {"name": service}, "calls": calls}
        })
    };
    let workload = |name: &str| v1(name, json!([]));
    bound(workload, "spec.service.name", 245, |length| {
        too_long(
            length,
            245,
            object_name("this workload's NetworkPolicy", "<name>-ingress"),
        )
    });
    let call = |name: &str| v1("frontend", json!([{"name": name}]));
    bound(call, "spec.calls[0].name", 210, |length| {
        too_long(
            length,
            210,
            object_name(
                "the Istio AuthorizationPolicy for this call",
                "authorization-policy-to-<name>-from-frontend.shop",
            ),
        )
    });
    let service = |name: &str| v1("frontend", json!([{"name": format!("svc:{name}")}]));
    bound(service, "spec.calls[0].name", 63, |length| {
        too_long(length, 63, Becomes::ServiceName)
    });
    let kafka = |name: &str| {
        v1(
            "frontend",
            json!([{"name": name, "type": "kafka", "kafkaTopics": [{"name": "t"}]}]),
        )
    };
    bound(kafka, "spec.calls[0].name", 245, |length| {
        too_long(
            length,
            245,
            object_name("the NetworkPolicy of this server", "<name>-ingress"),
        )
    });
}

#[test]
fn a_protected_service_name_leaves_room_for_its_default_deny_policy() {
    for (kind, limit, pattern) in [
        (None, 240, "default-deny-<name>"),
        (Some("Deployment"), 229, "default-deny-<name>-deployment"),
    ] {
        let object = |name: &str| {
            json!({"apiVersion": "k8s.otterize.com/v2beta1", "kind": "ProtectedService",
                   "metadata": {"name": "p", "namespace": "shop"}, "spec": {"name": name, "kind": kind}})
        };
        bound(object, "spec.name", limit, |length| {
            too_long(
                length,
                limit,
                object_name("the ProtectedService's default-deny NetworkPolicy", pattern),
            )
        });
    }
    let service = |name: &str| {
        json!({"apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ProtectedService",
               "metadata": {"name": "p", "namespace": "shop"}, "spec": {"name": name, "kind": "Service"}})
    };
    bound(service, "spec.name", 63, |length| {
        too_long(length, 63, Becomes::ServiceName)
    });
    // `_` is allowed by the reference's own rule, but not where it would make the policy name invalid.
    let report = validate::protected_service(&protected("p", "shop", "checkout_v2", None), &[]);
    assert_eq!(errors(&report), []);
    let report = validate::protected_service(&protected("p", "shop", "checkout_", None), &[]);
    assert!(
        matches!(errors(&report).as_slice(), [(f, Rule::NameNotAccepted { .. })] if f == "spec.name"),
        "{report:?}"
    );
}

#[test]
fn a_kafka_server_config_broker_name_leaves_room_for_its_network_policy() {
    for (api_version, workload_key, field) in [
        ("k8s.otterize.com/v2beta1", "workload", "spec.workload.name"),
        ("k8s.otterize.com/v1beta1", "service", "spec.service.name"),
    ] {
        let object = |name: &str| {
            json!({"apiVersion": api_version, "kind": "KafkaServerConfig",
                   "metadata": {"name": "k", "namespace": "kafka"},
                   "spec": {workload_key: {"name": name, "kind": "StatefulSet"}, "addr": "kafka:9092"}})
        };
        bound(object, field, 245, |length| {
            too_long(
                length,
                245,
                object_name("this broker's NetworkPolicy", "<name>-ingress"),
            )
        });
    }
}
