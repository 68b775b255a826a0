//! Mesh membership as each mesh decides it. Istio (docs/reference-behaviour.md#istio-injection): a pod is in
//! the mesh when it runs the `istio-proxy` container, or when its namespace or its own labels and
//! annotations ask Istio's admission webhook to inject one. Linkerd (docs/reference-behaviour.md#linkerd-injection):
//! the `linkerd-proxy` container, or the `linkerd.io/inject` annotation of its namespace or its own.
//! Injection happens when a pod is created, so manifests on disk (`holt plan`) and Deployments whose pods are
//! not created yet have no proxy container to look at: what asks for it is what counts.
//!
//! In: the namespace's injection keys ([`NamespaceMesh`]) and the pod's facts. Out: whether the pod is (or
//! will be) in each mesh.

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

/// Namespace or pod annotation asking Linkerd's webhook for its proxy: `enabled` or `ingress` inject,
/// `disabled` opts out, any other value injects nothing.
pub const LINKERD_INJECT: &str = "linkerd.io/inject";
/// Namespace label hiding a namespace from Linkerd's webhook (`disabled`).
pub const LINKERD_ADMISSION_WEBHOOKS: &str = "config.linkerd.io/admission-webhooks";
/// The container Linkerd injects.
pub const LINKERD_PROXY_CONTAINER: &str = "linkerd-proxy";

/// The namespace labels that decide injection; the index keeps only these.
pub const NAMESPACE_LABELS: [&str; 3] = [ISTIO_INJECTION, ISTIO_REVISION, LINKERD_ADMISSION_WEBHOOKS];
/// The namespace annotations that decide injection; the index keeps only these.
pub const NAMESPACE_ANNOTATIONS: [&str; 1] = [LINKERD_INJECT];

/// Namespaces Linkerd's webhook does not see (its chart's default namespace selector).
const LINKERD_NEVER_INJECTED: [&str; 2] = ["kube-system", "cert-manager"];
/// Pod labels that hide a pod from Linkerd's webhook (its chart's default object selector).
const LINKERD_UNSEEN_POD_LABELS: [&str; 2] =
    ["linkerd.io/control-plane-component", "linkerd.io/cni-resource"];

/// What a namespace says about injection: its labels in [`NAMESPACE_LABELS`] and its annotations in
/// [`NAMESPACE_ANNOTATIONS`], nothing else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceMesh {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl NamespaceMesh {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }
}

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

/// Whether `pod` runs the Linkerd proxy, or will when it is created in a namespace saying `namespace`.
pub fn in_linkerd_mesh(namespace: Option<&NamespaceMesh>, pod: &PodFacts) -> bool {
    pod.has_linkerd_proxy || linkerd_injection_requested(namespace, pod)
}

/// Whether Linkerd's webhook injects its proxy into `pod` at creation:
/// 1. never with host networking, nor into a pod that already has a proxy (`istio-proxy`);
/// 2. never in a namespace the webhook does not see: `kube-system`, `cert-manager`, or a namespace labelled
///    `config.linkerd.io/admission-webhooks: disabled`; nor a pod labelled
///    `linkerd.io/control-plane-component` or `linkerd.io/cni-resource`;
/// 3. a `linkerd.io/inject` value other than `enabled`, `ingress` or `disabled`, on the namespace or the pod,
///    injects nothing;
/// 4. the namespace annotation `enabled` or `ingress` injects unless the pod says `disabled`;
/// 5. otherwise the pod's own annotation `enabled` or `ingress` injects.
pub fn linkerd_injection_requested(namespace: Option<&NamespaceMesh>, pod: &PodFacts) -> bool {
    let namespace_name = pod.key.namespace.as_str();
    let namespace_label = |key: &str| namespace.and_then(|ns| ns.labels.get(key)).map(String::as_str);
    if pod.host_network
        || pod.has_istio_sidecar
        || LINKERD_NEVER_INJECTED.contains(&namespace_name)
        || namespace_label(LINKERD_ADMISSION_WEBHOOKS) == Some("disabled")
        || LINKERD_UNSEEN_POD_LABELS
            .iter()
            .any(|key| pod.labels.contains_key(*key))
    {
        return false;
    }
    let namespace_value = namespace
        .and_then(|ns| ns.annotations.get(LINKERD_INJECT))
        .map(String::as_str);
    let pod_value = pod.annotations.get(LINKERD_INJECT).map(String::as_str);
    let valid = |value: Option<&str>| matches!(value, None | Some("enabled" | "ingress" | "disabled"));
    let asks = |value: Option<&str>| matches!(value, Some("enabled" | "ingress"));
    if !valid(namespace_value) || !valid(pod_value) {
        return false;
    }
    match asks(namespace_value) {
        true => pod_value != Some("disabled"),
        false => asks(pod_value),
    }
}

/// The labels of a namespace that decide injection (the others are of no interest to the model).
pub fn namespace_labels<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> BTreeMap<String, String> {
    keep(labels, &NAMESPACE_LABELS)
}

/// The annotations of a namespace that decide injection.
pub fn namespace_annotations<'a>(
    annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> BTreeMap<String, String> {
    keep(annotations, &NAMESPACE_ANNOTATIONS)
}

fn keep<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
    keys: &[&str],
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter(|(key, _)| keys.contains(&key.as_str()))
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
            has_linkerd_proxy: false,
            host_network: false,
            ips: Vec::new(),
            ports: Vec::new(),
            http_probes: Vec::new(),
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

    fn linkerd_ns(annotations: &[(&str, &str)], labels: &[(&str, &str)]) -> NamespaceMesh {
        NamespaceMesh {
            labels: ns(labels),
            annotations: ns(annotations),
        }
    }

    #[test]
    fn the_linkerd_namespace_annotation_injects_unless_the_pod_opts_out() {
        for value in ["enabled", "ingress"] {
            let enabled = linkerd_ns(&[(LINKERD_INJECT, value)], &[]);
            assert!(
                linkerd_injection_requested(Some(&enabled), &pod("shop", &[], &[])),
                "{value}"
            );
            assert!(!linkerd_injection_requested(
                Some(&enabled),
                &pod("shop", &[], &[(LINKERD_INJECT, "disabled")])
            ));
        }
        // A label is not an annotation: Linkerd reads annotations only.
        let labelled = linkerd_ns(&[], &[]);
        assert!(!linkerd_injection_requested(
            Some(&labelled),
            &pod("shop", &[(LINKERD_INJECT, "enabled")], &[])
        ));
    }

    #[test]
    fn the_pods_own_annotation_injects_even_in_a_disabled_namespace() {
        let disabled = linkerd_ns(&[(LINKERD_INJECT, "disabled")], &[]);
        assert!(linkerd_injection_requested(
            Some(&disabled),
            &pod("shop", &[], &[(LINKERD_INJECT, "enabled")])
        ));
        assert!(linkerd_injection_requested(
            None,
            &pod("shop", &[], &[(LINKERD_INJECT, "ingress")])
        ));
        assert!(!linkerd_injection_requested(
            Some(&disabled),
            &pod("shop", &[], &[])
        ));
        assert!(!linkerd_injection_requested(None, &pod("shop", &[], &[])));
    }

    #[test]
    fn an_invalid_inject_value_anywhere_injects_nothing() {
        let invalid = linkerd_ns(&[(LINKERD_INJECT, "true")], &[]);
        assert!(!linkerd_injection_requested(
            Some(&invalid),
            &pod("shop", &[], &[(LINKERD_INJECT, "enabled")])
        ));
        let enabled = linkerd_ns(&[(LINKERD_INJECT, "enabled")], &[]);
        assert!(!linkerd_injection_requested(
            Some(&enabled),
            &pod("shop", &[], &[(LINKERD_INJECT, "yes")])
        ));
    }

    #[test]
    fn namespaces_and_pods_the_linkerd_webhook_does_not_see_are_never_injected() {
        let enabled = linkerd_ns(&[(LINKERD_INJECT, "enabled")], &[]);
        let hidden = linkerd_ns(
            &[(LINKERD_INJECT, "enabled")],
            &[(LINKERD_ADMISSION_WEBHOOKS, "disabled")],
        );
        assert!(!linkerd_injection_requested(
            Some(&hidden),
            &pod("shop", &[], &[])
        ));
        for namespace in ["kube-system", "cert-manager"] {
            assert!(!linkerd_injection_requested(
                Some(&enabled),
                &pod(namespace, &[], &[])
            ));
        }
        assert!(!linkerd_injection_requested(
            Some(&enabled),
            &pod(
                "shop",
                &[("linkerd.io/control-plane-component", "destination")],
                &[]
            )
        ));
        let mut host = pod("shop", &[], &[]);
        host.host_network = true;
        assert!(!linkerd_injection_requested(Some(&enabled), &host));
        let mut istio = pod("shop", &[], &[]);
        istio.has_istio_sidecar = true;
        assert!(!linkerd_injection_requested(Some(&enabled), &istio));
    }

    #[test]
    fn a_running_linkerd_proxy_is_in_the_mesh_whatever_the_annotations_say() {
        let mut injected = pod("shop", &[], &[(LINKERD_INJECT, "disabled")]);
        injected.has_linkerd_proxy = true;
        assert!(in_linkerd_mesh(None, &injected));
        assert!(!in_linkerd_mesh(None, &pod("shop", &[], &[])));
        let annotations: BTreeMap<String, String> = ns(&[(LINKERD_INJECT, "enabled"), ("owner", "team-a")]);
        assert_eq!(
            namespace_annotations(&annotations),
            ns(&[(LINKERD_INJECT, "enabled")])
        );
        let labels = ns(&[(LINKERD_ADMISSION_WEBHOOKS, "disabled"), ("team", "a")]);
        assert_eq!(
            namespace_labels(&labels),
            ns(&[(LINKERD_ADMISSION_WEBHOOKS, "disabled")])
        );
    }
}
