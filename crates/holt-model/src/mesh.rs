//! Istio mesh membership as Istio decides it (docs/reference-behaviour.md#istio-injection): a pod is in the
//! mesh when it runs the `istio-proxy` container, or when its namespace or its own labels and annotations
//! ask Istio's admission webhook to inject one. Injection happens when a pod is created, so manifests on
//! disk (`holt plan`) and Deployments whose pods are not created yet have no proxy container to look at:
//! the labels that ask for it are what counts.
//!
//! In: the namespace's labels and the pod's facts. Out: whether the pod is (or will be) in the mesh.

use std::collections::BTreeMap;

use crate::facts::PodFacts;

/// Namespace label: `enabled` injects the default revision's proxy into the namespace's pods, any other
/// value (`disabled`) injects none, whatever the pods ask.
pub const ISTIO_INJECTION: &str = "istio-injection";
/// Namespace or pod label naming the control-plane revision that injects (without `istio-injection` on
/// the namespace).
pub const ISTIO_REVISION: &str = "istio.io/rev";
/// Pod label (or, with lower precedence, annotation): `"true"` asks for the proxy, `"false"` opts out.
pub const SIDECAR_INJECT: &str = "sidecar.istio.io/inject";
/// The container Istio injects.
pub const ISTIO_PROXY_CONTAINER: &str = "istio-proxy";

/// The namespace labels that decide injection; the index keeps only these.
pub const NAMESPACE_LABELS: [&str; 2] = [ISTIO_INJECTION, ISTIO_REVISION];

/// Namespaces Istio never injects into.
const NEVER_INJECTED: [&str; 2] = ["kube-system", "kube-public"];

/// Whether `pod` runs the Istio proxy, or will when it is created in a namespace with `namespace_labels`.
pub fn in_istio_mesh(namespace_labels: Option<&BTreeMap<String, String>>, pod: &PodFacts) -> bool {
    pod.has_istio_sidecar || injection_requested(namespace_labels, pod)
}

/// Whether Istio's webhook injects its proxy into `pod` at creation:
/// 1. never with host networking, nor in `kube-system` or `kube-public`;
/// 2. the namespace label `istio-injection` decides first: `enabled` injects, any other value does not;
/// 3. without it, a namespace label `istio.io/rev` injects;
/// 4. without either, only the pod asks: its label `istio.io/rev`, or its label `sidecar.istio.io/inject:
///    "true"`;
/// 5. whatever asked, the pod's `sidecar.istio.io/inject: "false"` opts out: its label, or its annotation
///    when it has no such label (the label wins over the annotation).
pub fn injection_requested(namespace_labels: Option<&BTreeMap<String, String>>, pod: &PodFacts) -> bool {
    if pod.host_network || NEVER_INJECTED.contains(&pod.key.namespace.as_str()) {
        return false;
    }
    let pod_label = pod.labels.get(SIDECAR_INJECT).map(String::as_str);
    let pod_choice = pod_label.or_else(|| pod.annotations.get(SIDECAR_INJECT).map(String::as_str));
    if pod_choice == Some("false") {
        return false;
    }
    let namespace_label = |key: &str| namespace_labels.and_then(|labels| labels.get(key));
    match namespace_label(ISTIO_INJECTION) {
        Some(value) => value == "enabled",
        None if namespace_label(ISTIO_REVISION).is_some() => true,
        None => pod.labels.contains_key(ISTIO_REVISION) || pod_label == Some("true"),
    }
}

/// The labels of a namespace that decide injection (the others are of no interest to the model).
pub fn namespace_labels<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> BTreeMap<String, String> {
    labels
        .into_iter()
        .filter(|(key, _)| NAMESPACE_LABELS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::ObjectKey;

    fn pod(namespace: &str, labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> PodFacts {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
                .into()
        };
        PodFacts {
            key: ObjectKey::new(namespace, "p"),
            labels: map(labels),
            annotations: map(annotations),
            owner: None,
            service_account: "default".into(),
            images: Vec::new(),
            has_istio_sidecar: false,
            host_network: false,
            ips: Vec::new(),
            ports: Vec::new(),
        }
    }

    fn ns(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_namespace_label_injects_unless_the_pod_opts_out() {
        let enabled = ns(&[(ISTIO_INJECTION, "enabled")]);
        assert!(injection_requested(Some(&enabled), &pod("shop", &[], &[])));
        assert!(!injection_requested(
            Some(&enabled),
            &pod("shop", &[(SIDECAR_INJECT, "false")], &[])
        ));
        assert!(!injection_requested(
            Some(&enabled),
            &pod("shop", &[], &[(SIDECAR_INJECT, "false")])
        ));
        // The label wins over the annotation.
        assert!(injection_requested(
            Some(&enabled),
            &pod("shop", &[(SIDECAR_INJECT, "true")], &[(SIDECAR_INJECT, "false")])
        ));
    }

    #[test]
    fn a_disabled_namespace_injects_nothing_whatever_the_pod_asks() {
        let disabled = ns(&[(ISTIO_INJECTION, "disabled"), (ISTIO_REVISION, "canary")]);
        assert!(!injection_requested(
            Some(&disabled),
            &pod(
                "shop",
                &[(SIDECAR_INJECT, "true"), (ISTIO_REVISION, "canary")],
                &[]
            )
        ));
    }

    #[test]
    fn a_revision_label_injects_from_the_namespace_or_the_pod() {
        let revision = ns(&[(ISTIO_REVISION, "1-24")]);
        assert!(injection_requested(Some(&revision), &pod("shop", &[], &[])));
        assert!(injection_requested(
            None,
            &pod("shop", &[(ISTIO_REVISION, "1-24")], &[])
        ));
        assert!(!injection_requested(
            None,
            &pod(
                "shop",
                &[(ISTIO_REVISION, "1-24"), (SIDECAR_INJECT, "false")],
                &[]
            )
        ));
    }

    #[test]
    fn without_namespace_labels_only_the_pod_label_asks() {
        assert!(!injection_requested(None, &pod("shop", &[], &[])));
        assert!(injection_requested(
            None,
            &pod("shop", &[(SIDECAR_INJECT, "true")], &[])
        ));
        // The annotation alone does not reach the webhook: it can only opt out.
        assert!(!injection_requested(
            None,
            &pod("shop", &[], &[(SIDECAR_INJECT, "true")])
        ));
    }

    #[test]
    fn host_network_and_system_namespaces_are_never_injected() {
        let enabled = ns(&[(ISTIO_INJECTION, "enabled")]);
        let mut host = pod("shop", &[], &[]);
        host.host_network = true;
        assert!(!injection_requested(Some(&enabled), &host));
        assert!(!injection_requested(
            Some(&enabled),
            &pod("kube-system", &[], &[])
        ));
    }

    #[test]
    fn a_running_proxy_is_in_the_mesh_whatever_the_labels_say() {
        let mut injected = pod("shop", &[], &[]);
        injected.has_istio_sidecar = true;
        assert!(in_istio_mesh(None, &injected));
        assert!(!in_istio_mesh(None, &pod("shop", &[], &[])));
        let labels: BTreeMap<String, String> = ns(&[(ISTIO_INJECTION, "enabled"), ("team", "shop")]);
        assert_eq!(namespace_labels(&labels), ns(&[(ISTIO_INJECTION, "enabled")]));
    }
}
