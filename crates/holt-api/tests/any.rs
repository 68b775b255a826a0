//! Reading objects of any served version: the reference's documented YAML, hub conversion, and errors that
//! name the object and the field.

use holt_api::Version;
use holt_api::any::{HubObject, ParseError, Served, is_otterize};
use holt_api::v2beta1::{KubernetesTarget, Target};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

fn yaml(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| {
            let value: serde_yaml::Value = serde::Deserialize::deserialize(doc).expect("YAML document");
            serde_json::to_value(value).expect("YAML as JSON")
        })
        .collect()
}

#[test]
fn the_reference_documented_v1alpha3_pair_reads_into_the_hub() {
    let docs = yaml(
        r#"
apiVersion: k8s.otterize.com/v1alpha3
kind: ClientIntents
metadata: {name: frontend, namespace: otterize-ecom-demo}
spec:
  service: {name: frontend}
  calls: [{name: adservice}, {name: cartservice}, {name: checkoutservice}, {name: currencyservice},
          {name: productcatalogservice}, {name: recommendationservice}, {name: shippingservice}]
---
apiVersion: k8s.otterize.com/v1alpha3
kind: ProtectedService
metadata: {name: protect-checkout, namespace: otterize-ecom-demo}
spec: {name: checkoutservice}
"#,
    );
    let objects: Vec<HubObject> = docs
        .into_iter()
        .map(|d| HubObject::from_value(d).expect("parses"))
        .collect();
    let HubObject::ClientIntents(intents) = &objects[0] else {
        panic!("ClientIntents expected")
    };
    assert_eq!(intents.spec.workload.name, "frontend");
    assert_eq!(intents.metadata.namespace.as_deref(), Some("otterize-ecom-demo"));
    let names: Vec<&str> = intents
        .spec
        .targets
        .iter()
        .map(|t| t.kubernetes.as_ref().expect("kubernetes").name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "adservice",
            "cartservice",
            "checkoutservice",
            "currencyservice",
            "productcatalogservice",
            "recommendationservice",
            "shippingservice"
        ]
    );
    let HubObject::ProtectedService(protected) = &objects[1] else {
        panic!("ProtectedService expected")
    };
    assert_eq!(protected.spec.name, "checkoutservice");
}

#[test]
fn the_reference_documented_v2beta1_forms_read() {
    let docs = yaml(
        r#"
apiVersion: k8s.otterize.com/v2beta1
kind: ClientIntents
metadata: {name: client, namespace: shop}
spec:
  workload: {name: client, kind: Deployment}
  targets:
    - kubernetes: {name: server, kind: Deployment}
    - service: {name: server-svc}
    - kubernetes:
        name: api.other
        http: [{path: /orders, methods: [GET, POST]}]
    - kafka: {name: kafka.kafka, topics: [{name: orders, operations: [produce, describe]}]}
    - internet: {domains: ["*.github.com", api.stripe.com], ips: [10.0.0.0/8], ports: [443]}
    - sql: {name: pg, privileges: [{databaseName: shop, table: public.orders, operations: [SELECT]}]}
    - aws: {arn: "arn:aws:s3:::bucket", actions: ["s3:GetObject"]}
    - gcp: {resource: projects/p/buckets/b, permissions: [storage.objects.get]}
    - azure: {scope: /subscriptions/x, roles: [Reader], keyVaultPolicy: {secretPermissions: [get, list]}}
---
apiVersion: k8s.otterize.com/v2alpha1
kind: KafkaServerConfig
metadata: {name: kafka, namespace: kafka}
spec:
  workload: {name: kafka}
  addr: kafka.kafka:9092
  tls: {certFile: /etc/otterize-spire/svid.pem, keyFile: /etc/otterize-spire/key.pem, rootCAFile: /etc/otterize-spire/bundle.pem}
  topics: [{topic: "*", pattern: literal, clientIdentityRequired: true, intentsRequired: true}]
"#,
    );
    let served: Vec<Served> = docs
        .into_iter()
        .map(|d| Served::from_value(d).expect("parses"))
        .collect();
    assert_eq!(served[0].version(), Version::V2beta1);
    assert_eq!(served[1].version(), Version::V2alpha1);
    let HubObject::ClientIntents(intents) = served[0].clone().into_hub() else {
        panic!()
    };
    assert_eq!(intents.spec.targets.len(), 9);
    assert!(intents.spec.targets.iter().all(|t| t.get().is_some()));
    let HubObject::KafkaServerConfig(ksc) = served[1].clone().into_hub() else {
        panic!()
    };
    assert_eq!(ksc.spec.addr.as_deref(), Some("kafka.kafka:9092"));
    assert!(ksc.spec.topics[0].intents_required);
}

#[test]
fn v1_calls_of_every_type_read() {
    let docs = yaml(
        r#"
apiVersion: k8s.otterize.com/v1beta1
kind: ClientIntents
metadata: {name: client, namespace: shop}
spec:
  service: {name: client}
  calls:
    - {name: "svc:kubernetes.default"}
    - name: orders
      type: http
      HTTPResources: [{path: /orders, methods: [GET]}]
    - {name: kafka.kafka, type: kafka, kafkaTopics: [{name: orders, operations: [consume]}]}
    - {name: pg, type: database, databaseResources: [{databaseName: shop, operations: [ALL]}]}
    - {name: "arn:aws:s3:::b", type: aws, awsActions: ["s3:*"]}
    - {name: projects/p, type: gcp, gcpPermissions: [x]}
    - {name: /subscriptions/x, type: azure, azureActions: [a], azureDataActions: [d]}
    - {type: internet, internet: {domains: [example.com], ports: [443]}}
"#,
    );
    let HubObject::ClientIntents(intents) = HubObject::from_value(docs[0].clone()).expect("parses") else {
        panic!()
    };
    assert_eq!(
        intents.spec.targets[0],
        Target {
            kubernetes: Some(KubernetesTarget {
                name: "kubernetes.default".into(),
                kind: Some("Service".into()),
                http: vec![]
            }),
            ..Target::default()
        }
    );
    let keys: Vec<&str> = intents
        .spec
        .targets
        .iter()
        .map(|t| t.get().expect("one key").key())
        .collect();
    assert_eq!(
        keys,
        [
            "kubernetes",
            "kubernetes",
            "kafka",
            "sql",
            "aws",
            "gcp",
            "azure",
            "internet"
        ]
    );
    let azure = intents.spec.targets[6].azure.as_ref().expect("azure");
    assert_eq!(
        (azure.actions.as_slice(), azure.data_actions.as_slice()),
        (&["a".to_owned()][..], &["d".to_owned()][..])
    );
}

fn parse_error(value: Value) -> ParseError {
    Served::from_value(value).expect_err("should not parse")
}

#[test]
fn a_bad_field_is_named_by_its_path() {
    let error = parse_error(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": {"name": "frontend", "namespace": "shop"},
        "spec": {"workload": {"name": "frontend"}, "targets": [
            {"kubernetes": {"name": "a"}},
            {"service": {"name": "b"}},
            {"kubernetes": {"name": "c", "http": [{"path": "/", "methods": ["FETCH"]}]}}
        ]}
    }));
    let ParseError::Invalid {
        object,
        version,
        field,
        problem,
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(object.to_string(), "ClientIntents shop/frontend");
    assert_eq!(*version, Version::V2beta1);
    assert_eq!(field, "spec.targets[2].kubernetes.http[0].methods[0]");
    assert!(problem.contains("FETCH"), "{problem}");
    assert!(
        error
            .to_string()
            .starts_with("ClientIntents shop/frontend (v2beta1): spec.targets[2]"),
        "{error}"
    );
}

#[test]
fn a_missing_field_is_named_by_its_parent_path() {
    let error = parse_error(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
        "metadata": {"name": "frontend", "namespace": "shop"},
        "spec": {"service": {"kind": "Deployment"}, "calls": []}
    }));
    let ParseError::Invalid { field, problem, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(field, "spec.service");
    assert!(problem.contains("missing field `name`"), "{problem}");
}

#[test]
fn a_wrong_type_is_named() {
    let error = parse_error(json!({
        "apiVersion": "k8s.otterize.com/v2alpha1", "kind": "KafkaServerConfig",
        "metadata": {"name": "k", "namespace": "kafka"},
        "spec": {"workload": {"name": "kafka"}, "topics": [{"topic": "t", "pattern": "regex"}]}
    }));
    let ParseError::Invalid { field, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(field, "spec.topics[0].pattern");
}

#[test]
fn unsupported_objects_are_told_apart() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    assert!(!is_otterize(&pod));
    assert!(matches!(parse_error(pod), ParseError::OtherGroup { .. }));
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
    assert!(matches!(parse_error(deployment), ParseError::OtherGroup { .. }));
    let old = json!({"apiVersion": "k8s.otterize.com/v1alpha2", "kind": "ClientIntents", "metadata": {"name": "c"}});
    assert!(is_otterize(&old));
    let error = parse_error(old);
    assert!(matches!(error, ParseError::UnsupportedVersion { .. }), "{error}");
    assert!(error.to_string().contains("v1alpha2"));
    let pg = json!({"apiVersion": "k8s.otterize.com/v2beta1", "kind": "PostgreSQLServerConfig", "metadata": {"name": "p"}});
    assert!(matches!(parse_error(pg), ParseError::UnsupportedKind { .. }));
    assert!(matches!(
        parse_error(json!({"kind": "ClientIntents"})),
        ParseError::MissingApiVersion { .. }
    ));
    assert!(matches!(
        parse_error(json!({"apiVersion": "k8s.otterize.com/v2beta1"})),
        ParseError::MissingKind { .. }
    ));
    assert!(matches!(
        parse_error(json!([1, 2])),
        ParseError::NotAnObject { .. }
    ));
}

#[test]
fn served_objects_write_back_with_their_api_version() {
    for version in Version::ALL {
        let value = json!({
            "apiVersion": version.api_version(), "kind": "ProtectedService",
            "metadata": {"name": "p", "namespace": "shop"}, "spec": {"name": "checkout"}
        });
        let served = Served::from_value(value.clone()).expect("parses");
        assert_eq!(served.to_value().expect("writes"), value);
        let hub = served.into_hub();
        assert_eq!(
            hub.clone().into_version(version).to_value().expect("writes"),
            value
        );
    }
}
