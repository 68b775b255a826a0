//! Pod labels (docs/reference-behaviour.md#pod-labels) and the label patch an applier sends.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use holt_api::v2beta1::KafkaOperation;
use holt_model::labels::{CLIENT, DEPRECATED_SERVER, OWNER_KIND, SERVICE, access_label};
use holt_model::sorted_map::SortedMap;
use holt_model::{Config, ObjectKey};
use holt_render::{PodLabels, Reason, render_pod};
use pretty_assertions::assert_eq;

fn key(ns: &str, workload: &str) -> ObjectKey {
    ObjectKey::new(ns, format!("{workload}-0"))
}

#[test]
fn a_clients_pods_get_identity_client_and_one_access_label_per_in_cluster_target() {
    let index = index(
        Config::default(),
        vec![
            deployment_pod("shop", "client"),
            intents_v2(
                "shop",
                "client",
                vec![
                    k8s("server"),
                    k8s_kind("db.data", "StatefulSet"),
                    svc("api"),
                    kafka("kafka.kafka", &[("orders", &[KafkaOperation::Produce])]),
                    internet(&[], &["1.2.3.4"], &[]),
                    k8s("kubernetes.default"),
                    sql("postgres"),
                ],
            ),
        ],
    );
    let labels = render_pod(&index, &key("shop", "client"))
        .value
        .expect("labelled")
        .labels;
    let expected: BTreeMap<String, String> = [
        (SERVICE.to_owned(), label_value("client", "shop")),
        (OWNER_KIND.to_owned(), "Deployment".to_owned()),
        (CLIENT.to_owned(), label_value("client", "shop")),
        (access_label(&id("shop", "server", None)), "true".to_owned()),
        (
            access_label(&id("data", "db", Some("StatefulSet"))),
            "true".to_owned(),
        ),
        (
            access_label(&id("shop", "api", Some("Service"))),
            "true".to_owned(),
        ),
        (access_label(&id("kafka", "kafka", None)), "true".to_owned()),
        (
            access_label(&id("default", "kubernetes", None)),
            "true".to_owned(),
        ),
    ]
    .into();
    assert_eq!(
        labels, expected,
        "no labels for internet or sql; the API server is in the cluster and gets one, as in the reference"
    );
    assert!(
        labels
            .keys()
            .any(|k| k.starts_with("intents.otterize.com/svc-access-"))
    );
}

#[test]
fn pods_without_intents_get_only_their_identity() {
    let index = index(Config::default(), vec![deployment_pod("shop", "server")]);
    let labels = render_pod(&index, &key("shop", "server"))
        .value
        .expect("labelled")
        .labels;
    assert_eq!(
        labels.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([SERVICE.into(), OWNER_KIND.into()])
    );
}

#[test]
fn clients_declared_by_called_by_annotations_get_the_access_label() {
    let index = index(
        Config::default(),
        vec![
            deployment_pod("web", "client"),
            annotated_pod(
                "shop",
                "server",
                &[(
                    "intents.otterize.com/called-by",
                    r#"[{"name":"client.web","kind":"Deployment"}]"#,
                )],
            ),
        ],
    );
    let labels = render_pod(&index, &key("web", "client"))
        .value
        .expect("labelled")
        .labels;
    assert_eq!(
        labels
            .get(&access_label(&id("shop", "server", Some("Deployment"))))
            .map(String::as_str),
        Some("true")
    );
    assert!(labels.contains_key(CLIENT));
}

#[test]
fn labels_are_managed_only_with_network_policies_istio_or_linkerd_and_in_watched_namespaces() {
    let objects = || {
        vec![
            deployment_pod("shop", "client"),
            intents_v2("shop", "client", vec![k8s("server")]),
        ]
    };
    let neither = Config {
        enable_network_policy_creation: false,
        enable_istio_policy_creation: false,
        enable_linkerd_policy_creation: false,
        ..Config::default()
    };
    assert!(
        render_pod(&index(neither, objects()), &key("shop", "client"))
            .value
            .is_none()
    );
    let istio_only = Config {
        enable_network_policy_creation: false,
        enable_linkerd_policy_creation: false,
        ..Config::default()
    };
    assert!(
        render_pod(&index(istio_only, objects()), &key("shop", "client"))
            .value
            .is_some()
    );
    // Linkerd Servers select pods by the same labels.
    let linkerd_only = Config {
        enable_network_policy_creation: false,
        enable_istio_policy_creation: false,
        ..Config::default()
    };
    assert!(
        render_pod(&index(linkerd_only, objects()), &key("shop", "client"))
            .value
            .is_some()
    );
    let elsewhere = Config {
        watched_namespaces: ["web".to_owned()].into(),
        ..Config::default()
    };
    assert!(
        render_pod(&index(elsewhere, objects()), &key("shop", "client"))
            .value
            .is_none()
    );
    assert!(
        render_pod(&index(Config::default(), vec![]), &key("shop", "client"))
            .value
            .is_none()
    );
}

#[test]
fn malformed_called_by_annotations_are_reported_even_when_labels_are_not_managed() {
    let config = Config {
        enable_network_policy_creation: false,
        enable_istio_policy_creation: false,
        enable_linkerd_policy_creation: false,
        ..Config::default()
    };
    let index = index(
        config,
        vec![annotated_pod(
            "shop",
            "server",
            &[("intents.otterize.com/called-by", "client.web")],
        )],
    );
    let rendered = render_pod(&index, &key("shop", "server"));
    assert!(rendered.value.is_none());
    assert_eq!(rendered.notices.len(), 1);
    assert_eq!(rendered.notices[0].reason, Reason::FailedParsingAccessAnnotation);
    assert_eq!(rendered.notices[0].subject.to_string(), "Pod shop/server-0");
}

#[test]
fn the_patch_sets_missing_labels_and_removes_stale_owned_ones_only() {
    let desired = PodLabels {
        pod: ObjectKey::new("shop", "client-0"),
        labels: [
            (SERVICE.to_owned(), "client-shop-abcdef".to_owned()),
            (
                "intents.otterize.com/access-server-shop-123456".to_owned(),
                "true".to_owned(),
            ),
        ]
        .into(),
    };
    let current: SortedMap<String, String> = [
        ("app", "client"),
        (SERVICE, "stale-value"),
        ("intents.otterize.com/access-old-shop-654321", "true"),
        ("intents.otterize.com/svc-access-gone-shop-servi-000000", "true"),
        (DEPRECATED_SERVER, "client-shop-abcdef"),
        ("intents.otterize.com/workload-name", "not-a-label-holt-owns"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let patch = desired.patch(&current);
    assert_eq!(
        patch.set,
        BTreeMap::from([
            (SERVICE.to_owned(), "client-shop-abcdef".to_owned()),
            (
                "intents.otterize.com/access-server-shop-123456".to_owned(),
                "true".to_owned()
            ),
        ])
    );
    assert_eq!(
        patch.remove,
        BTreeSet::from([
            "intents.otterize.com/access-old-shop-654321".to_owned(),
            "intents.otterize.com/svc-access-gone-shop-servi-000000".to_owned(),
            DEPRECATED_SERVER.to_owned(),
        ])
    );
    let applied: SortedMap<String, String> = current
        .iter()
        .filter(|(k, _)| !patch.remove.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(patch.set.clone())
        .collect();
    assert!(desired.patch(&applied).is_empty(), "applying the patch converges");
}

/// The labels of `<workload>-0` in the reference's egress tutorial namespace.
fn egress_tutorial_labels(workload: &str, intents: Vec<holt_model::Object>) -> BTreeMap<String, String> {
    let ns = "otterize-tutorial-egress-access";
    let mut objects = vec![deployment_pod(ns, "frontend"), deployment_pod(ns, "backend")];
    objects.extend(intents);
    render_pod(&index(Config::default(), objects), &key(ns, workload))
        .value
        .expect("labelled")
        .labels
}

#[test]
fn internet_only_clients_get_no_client_label() {
    let ns = "otterize-tutorial-egress-access";
    let labels = egress_tutorial_labels(
        "backend",
        vec![intents_v2(
            ns,
            "backend",
            vec![internet(&["api.adviceslip.com"], &[], &[])],
        )],
    );
    assert_eq!(
        labels.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([SERVICE.into(), OWNER_KIND.into()]),
        "no access label, so no client label (the reference sets both together)"
    );
}

#[test]
fn the_client_label_comes_with_the_first_access_label_only() {
    let ns = "otterize-tutorial-egress-access";
    let none = |targets| egress_tutorial_labels("backend", vec![intents_v2(ns, "backend", targets)]);
    assert!(!none(vec![]).contains_key(CLIENT), "intents without targets");
    assert!(!none(vec![sql("postgres")]).contains_key(CLIENT), "sql only");
    let with_frontend = egress_tutorial_labels(
        "backend",
        vec![intents_v2(
            ns,
            "backend",
            vec![internet(&["api.adviceslip.com"], &[], &[]), k8s("frontend")],
        )],
    );
    assert_eq!(
        with_frontend.get(CLIENT),
        Some(&label_value("backend", ns)),
        "the tutorial's backend calls frontend too"
    );
    let api_server = egress_tutorial_labels(
        "backend",
        vec![intents_v2(ns, "backend", vec![svc("kubernetes.default")])],
    );
    assert_eq!(
        api_server
            .get(&access_label(&id("default", "kubernetes", Some("Service"))))
            .map(String::as_str),
        Some("true")
    );
    assert!(api_server.contains_key(CLIENT));
}
