//! External traffic (docs/reference-behaviour.md#third-party-traffic, `automateThirdPartyNetworkPolicies`): a
//! Service reachable from outside the cluster (LoadBalancer, NodePort, or routed to by an Ingress) whose pods
//! Holt isolates gets `external-access-to-<service>`, admitting anyone on the Service's target ports, so
//! enforcing intents does not cut off its users. In `always` mode the policy exists whether or not Holt
//! isolates the pods.
//!
//! The model has no Endpoints: ports come from the Service's target ports, and the policy selects the
//! Service's own selector. Prometheus-scraping and webhook-traffic policies are not rendered (yet).

use std::collections::BTreeMap;

use holt_model::identity::SERVICE_KIND;
use holt_model::labels::{CREATED_FOR_INGRESS, CREATED_FOR_SERVICE, NETWORK_POLICY_EXTERNAL_TRAFFIC};
use holt_model::{Identity, Index, IndexedPod, ObjectKey, ThirdPartyPolicies};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicySpec};

use crate::desired::{Desired, Manifest, Owner, Rendered, object_meta};
use crate::network_policy::{ingress, ports, selector};

/// The external-traffic policy of the Service `key`, if it needs one.
pub fn render_service(index: &Index, key: &ObjectKey) -> Rendered<Option<Desired>> {
    Rendered::new(render(index, key), Vec::new())
}

fn render(index: &Index, key: &ObjectKey) -> Option<Desired> {
    let config = index.config();
    let mode = config.third_party_policies();
    if mode == ThirdPartyPolicies::Off
        || !config.enable_network_policy_creation
        || !config.watches(&key.namespace)
    {
        return None;
    }
    let service = index.service(key)?;
    let ingresses = index.ingresses_of(key);
    if !service.is_exposed_by_type() && ingresses.is_empty() {
        return None;
    }
    let selector = service.selector.clone()?;
    let mut pods: Vec<&IndexedPod> = index
        .pods_in(&key.namespace)
        .filter(|p| service.selects(&p.facts.labels))
        .collect();
    pods.sort_by(|a, b| a.facts.key.cmp(&b.facts.key));
    let pod = match mode {
        ThirdPartyPolicies::Always => pods.first().copied(),
        _ => pods.into_iter().find(|p| is_isolated(index, p)),
    }?;
    let mut metadata = object_meta(
        &key.namespace,
        format!("external-access-to-{}", key.name),
        [(
            NETWORK_POLICY_EXTERNAL_TRAFFIC,
            pod.identity.identity.label_value(),
        )],
    );
    let mut annotations = BTreeMap::from([(CREATED_FOR_SERVICE.to_owned(), key.name.clone())]);
    if !ingresses.is_empty() {
        annotations.insert(CREATED_FOR_INGRESS.to_owned(), ingresses.join(","));
    }
    metadata.annotations = Some(annotations);
    let target_ports = ports::target_ports(service);
    let policy = NetworkPolicy {
        metadata,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector::match_labels(selector)),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: None,
                ports: (!target_ports.is_empty()).then_some(target_ports),
            }]),
            egress: None,
        }),
    };
    Some(Desired::new(
        Manifest::NetworkPolicy(policy),
        Some(Owner::service(&key.name)),
    ))
}

/// Whether a Holt policy isolates the pod: an enforced access policy with clients, or a ProtectedService's
/// default-deny, selects it.
pub(crate) fn is_isolated(index: &Index, pod: &IndexedPod) -> bool {
    let namespace = &pod.facts.key.namespace;
    let name = &pod.identity.identity.name;
    let mut candidates = vec![
        Identity::new(namespace, name, None),
        Identity::new(namespace, name, Some(&pod.identity.owner_kind)),
    ];
    candidates.extend(
        index
            .services_in(namespace)
            .filter(|s| s.selects(&pod.facts.labels))
            .map(|s| Identity::new(namespace, &s.key.name, Some(SERVICE_KIND))),
    );
    let mut ignored = Vec::new();
    if candidates
        .iter()
        .any(|c| ingress::rules(index, c, &mut ignored).is_some())
    {
        return true;
    }
    index.protected_services().any(|(key, spec)| {
        key.namespace == *namespace
            && selector::selects(
                index,
                &Identity::new(namespace, &spec.name, spec.kind.as_deref()),
                pod,
            )
    })
}
