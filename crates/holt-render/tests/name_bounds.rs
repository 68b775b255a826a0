//! Names at the bounds `holt_api::validate` allows render into objects the API server accepts: every object
//! name a DNS-1123 subdomain of at most 253 characters, every label key and value valid; and the bounds are
//! tight (at them, the Istio, default-deny and broker policy names are exactly 253 characters; the Linkerd
//! names, longer by construction, are cut with a hash where they would exceed it). The
//! validation states Holt's name formats on its own (holt-api cannot depend on the renderers); this is where
//! the two are held together.

mod common;

use common::*;
use holt_api::v2beta1::KafkaOperation;
use holt_api::validate::{self, check_object_name};
use holt_model::facts::{ContainerPort, HttpProbe};
use holt_model::{Config, Object};
use holt_render::{RenderOptions, render_all};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// A label value as the API server accepts it: at most 63 characters, alphanumerics with `-`, `_`, `.`
/// inside.
fn is_label_value(value: &str) -> bool {
    let inner = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    value.is_empty()
        || (value.len() <= 63
            && value.chars().all(inner)
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// A label key: an optional DNS prefix and `/`, then a name that is a label value of 1–63 characters.
fn is_label_key(key: &str) -> bool {
    let name = key.rsplit_once('/').map_or(key, |(_, name)| name);
    !name.is_empty() && is_label_value(name)
}

/// [`mesh_pod`] also in Linkerd's mesh, serving HTTP on port 8080 with a liveness probe.
fn both_meshes_pod(ns: &str, workload: &str, account: &str) -> Object {
    let Object::Pod(mut facts) = mesh_pod(ns, workload, account, true) else {
        unreachable!("a pod")
    };
    facts.has_linkerd_proxy = true;
    facts.ports = vec![ContainerPort {
        name: Some("http".into()),
        port: 8080,
        protocol: "TCP".into(),
    }];
    facts.http_probes = vec![HttpProbe {
        port: IntOrString::Int(8080),
        path: "/healthz".into(),
    }];
    Object::Pod(facts)
}

#[test]
fn names_at_the_validation_bounds_make_objects_the_api_server_accepts() {
    let namespace = "n".repeat(63);
    let ns = namespace.as_str();
    // Each name at the bound validation allows for it (see tests/validate.rs in holt-api).
    let client = "c".repeat(70);
    let server = "s".repeat(137 - 70); // server + client share the Istio policy name
    let protected_server = "p".repeat(229); // default-deny-<name>-deployment
    let broker = "b".repeat(245); // <name>-ingress
    let intents = intents_obj(
        ns,
        &client,
        Some("Deployment"),
        vec![
            http_kind(&server, "Deployment", "/orders"),
            kafka(&broker, &[("orders", &[KafkaOperation::All])]),
        ],
    );
    let report = validate::client_intents(&intents, &[], &validate::ValidationConfig::default());
    assert_eq!(report.errors, [], "validation accepts the names at their bounds");
    let Object::ProtectedService(protection) = protected(ns, &protected_server, Some("Deployment")) else {
        unreachable!("a ProtectedService")
    };
    assert_eq!(validate::protected_service(&protection, &[]).errors, []);

    for separate in [false, true] {
        let config = Config {
            enable_egress_network_policy_creation: true,
            separate_netpols_for_ingress_and_egress: separate,
            ..Config::default()
        };
        let index = index(
            config,
            vec![
                both_meshes_pod(ns, &client, "client-sa"),
                both_meshes_pod(ns, &server, "server-sa"),
                deployment_pod(ns, &protected_server),
                deployment_pod(ns, &broker),
                Object::ClientIntents(intents.clone()),
                Object::ProtectedService(protection.clone()),
            ],
        );
        let state = render_all(&index, &RenderOptions::default());
        let kinds: std::collections::BTreeSet<holt_render::ObjectKind> =
            state.objects.iter().map(|d| d.manifest.kind()).collect();
        assert_eq!(
            kinds,
            holt_render::ObjectKind::ALL.into(),
            "every kind Holt writes is rendered at the bounds"
        );
        let mut longest = Vec::new();
        for desired in &state.objects {
            let metadata = desired.manifest.metadata();
            let name = metadata.name.as_deref().unwrap_or_default();
            assert_eq!(
                check_object_name(name),
                Ok(()),
                "{} {name}",
                desired.manifest.kind()
            );
            if name.len() == 253 {
                longest.push(name.to_owned());
            }
            for (key, value) in metadata.labels.iter().flatten() {
                assert!(
                    is_label_key(key) && is_label_value(value),
                    "{name}: {key}={value}"
                );
            }
        }
        for pod in &state.pod_labels {
            for (key, value) in &pod.labels {
                assert!(
                    is_label_key(key) && is_label_value(value),
                    "{}: {key}={value}",
                    pod.pod
                );
            }
        }
        let mut expected = vec![
            format!("authorization-policy-to-{server}-deployment-from-{client}-deployment.{ns}"),
            format!("default-deny-{protected_server}-deployment"),
        ];
        if separate {
            // `-ingress` is the longest suffix; `-access` leaves one character over.
            expected.push(format!("{broker}-ingress"));
        }
        longest.sort();
        expected.sort();
        assert_eq!(longest, expected, "separate ingress/egress policies: {separate}");
    }
}
