//! Objects the reference operator (Otterize's intents operator) wrote, and what Holt does with them when it
//! takes over a cluster: the one rule, pure, used by the operator's start-up and by `holt migrate --dry-run`.
//!
//! In: an object's kind, labels and annotations, and whether it is already Holt's. Out: whether it is the
//! reference's ([`is_reference_object`]), and, given whether Holt wants an object of that name, what happens
//! to it ([`decide`]).
//!
//! **The rule.** An object is the reference's when all of these hold:
//! - it is not Holt's (no `app.kubernetes.io/managed-by: holt`, no fields under Holt's field manager);
//! - it carries no `app.kubernetes.io/managed-by` label at all: the reference never sets one, so any value
//!   means another tool (Helm, Argo CD, …) manages it;
//! - it carries one of the reference's own marks for its kind:
//!   - NetworkPolicy: a label under `intents.otterize.com/` whose name contains `network-policy` — the
//!     access policies' `network-policy` and `svc-network-policy`, the default-deny policies'
//!     `network-policy-service-default-deny`, the external-traffic policies' `network-policy-external-traffic`,
//!     the egress policies' `egress-network-policy`, `svc-egress-network-policy` and
//!     `egress-internet-network-policy`, and the other policies the reference labels the same way;
//!   - Istio AuthorizationPolicy: the labels `intents.otterize.com/service` and
//!     `intents.otterize.com/istio-client-with-kind` (or the deprecated `intents.otterize.com/istio-client`);
//!   - Linkerd objects: never (Holt does not recognise the reference's Linkerd objects; they are left alone).
//!
//! **What Holt may delete.** Only the reference's objects of the families Holt renders itself: NetworkPolicies
//! marked as access (`network-policy`, `svc-network-policy`, and the egress marks), default-deny or
//! external-traffic policies, and Istio AuthorizationPolicies. Its other policies (Prometheus metrics
//! collection, webhook traffic, any mark Holt does not know) allow traffic Holt would not allow again, so
//! they are kept: adopted only if Holt wants their name, otherwise left alone ([`Takeover::Keep`]).
//!
//! The reference's field manager is not part of the rule: controller-runtime names it after the operator's
//! binary, which differs between builds and images, so it is not a stable mark. A hand-written policy that
//! does not carry these labels is never the reference's, and stays untouched like any foreign object.

use std::collections::BTreeMap;

use holt_model::labels::MANAGED_BY;
use holt_render::ObjectKind;
use serde::Serialize;

/// The label prefix of every mark the reference puts on what it writes.
const REFERENCE_PREFIX: &str = "intents.otterize.com/";
const ISTIO_SERVER: &str = "intents.otterize.com/service";
const ISTIO_CLIENT_WITH_KIND: &str = "intents.otterize.com/istio-client-with-kind";
const ISTIO_CLIENT_DEPRECATED: &str = "intents.otterize.com/istio-client";
/// The marks of the reference's NetworkPolicy families that Holt renders too (access, egress, default-deny,
/// external traffic).
const RENDERED_NETWORK_POLICY_MARKS: [&str; 7] = [
    "intents.otterize.com/network-policy",
    "intents.otterize.com/svc-network-policy",
    "intents.otterize.com/egress-network-policy",
    "intents.otterize.com/svc-egress-network-policy",
    "intents.otterize.com/egress-internet-network-policy",
    "intents.otterize.com/network-policy-service-default-deny",
    "intents.otterize.com/network-policy-external-traffic",
];

/// Whether an object that is not Holt's carries the reference's marks for its kind (see the module docs).
pub fn is_reference_object(
    kind: ObjectKind,
    holts: bool,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> bool {
    if holts || labels.contains_key(MANAGED_BY) {
        return false;
    }
    match kind {
        ObjectKind::NetworkPolicy => labels.keys().any(|key| {
            key.strip_prefix(REFERENCE_PREFIX)
                .is_some_and(|name| name.contains("network-policy"))
        }),
        ObjectKind::IstioAuthorizationPolicy => {
            labels.contains_key(ISTIO_SERVER)
                && (labels.contains_key(ISTIO_CLIENT_WITH_KIND)
                    || labels.contains_key(ISTIO_CLIENT_DEPRECATED)
                    || annotations.contains_key(ISTIO_CLIENT_DEPRECATED))
        }
        ObjectKind::LinkerdServer
        | ObjectKind::LinkerdAuthorizationPolicy
        | ObjectKind::LinkerdMeshTlsAuthentication
        | ObjectKind::LinkerdNetworkAuthentication
        | ObjectKind::LinkerdHttpRoute => false,
    }
}

/// Whether one of the reference's objects belongs to a family Holt renders itself (so Holt may delete it
/// when it does not want it): see the module docs.
pub fn is_rendered_family(kind: ObjectKind, labels: &BTreeMap<String, String>) -> bool {
    match kind {
        ObjectKind::NetworkPolicy => labels.keys().all(|key| {
            !key.starts_with(REFERENCE_PREFIX)
                || !key.contains("network-policy")
                || RENDERED_NETWORK_POLICY_MARKS.contains(&key.as_str())
        }),
        ObjectKind::IstioAuthorizationPolicy => true,
        _ => false,
    }
}

/// What Holt does with one of the reference's objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Takeover {
    /// Holt wants an object of that name: it replaces it in place (one PUT with Holt's content and labels,
    /// no moment without the object) and from then on it is Holt's.
    Adopt,
    /// Holt does not want it: deleted (with its UID as a precondition) once Holt's first full pass has
    /// written every object Holt wants, so nothing allowed before is blocked in between.
    Delete,
    /// Holt does not want it and does not render its family (e.g. the reference's metrics-collection or
    /// webhook policies): left alone, so the traffic it allows stays allowed.
    Keep,
}

/// What happens to one of the reference's objects, by whether Holt wants an object of its kind and name and
/// whether Holt renders its family ([`is_rendered_family`]).
pub fn decide(wanted: bool, rendered_family: bool) -> Takeover {
    match (wanted, rendered_family) {
        (true, _) => Takeover::Adopt,
        (false, true) => Takeover::Delete,
        (false, false) => Takeover::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_references_network_policies_are_recognised_by_their_labels() {
        let none = BTreeMap::new();
        for key in [
            "intents.otterize.com/network-policy",
            "intents.otterize.com/svc-network-policy",
            "intents.otterize.com/network-policy-service-default-deny",
            "intents.otterize.com/network-policy-external-traffic",
            "intents.otterize.com/egress-network-policy",
            "intents.otterize.com/svc-egress-network-policy",
            "intents.otterize.com/egress-internet-network-policy",
        ] {
            let marked = labels(&[(key, "x")]);
            assert!(
                is_reference_object(ObjectKind::NetworkPolicy, false, &marked, &none),
                "{key}"
            );
        }
    }

    #[test]
    fn hand_written_holts_and_other_tools_objects_are_never_the_references() {
        let none = BTreeMap::new();
        let hand_written = labels(&[("app", "server"), ("intents.otterize.com/service", "server-ns")]);
        assert!(!is_reference_object(
            ObjectKind::NetworkPolicy,
            false,
            &hand_written,
            &none
        ));
        let marked = labels(&[("intents.otterize.com/network-policy", "server-ns-deployment")]);
        assert!(
            !is_reference_object(ObjectKind::NetworkPolicy, true, &marked, &none),
            "Holt's"
        );
        let helm = labels(&[
            ("intents.otterize.com/network-policy", "server-ns-deployment"),
            ("app.kubernetes.io/managed-by", "Helm"),
        ]);
        assert!(
            !is_reference_object(ObjectKind::NetworkPolicy, false, &helm, &none),
            "another tool's"
        );
        assert!(!is_reference_object(
            ObjectKind::LinkerdServer,
            false,
            &marked,
            &none
        ));
    }

    #[test]
    fn the_references_istio_policies_need_the_server_and_the_client_marks() {
        let none = BTreeMap::new();
        let both = labels(&[
            ("intents.otterize.com/service", "server-ns"),
            (
                "intents.otterize.com/istio-client-with-kind",
                "client-ns-deployment",
            ),
        ]);
        assert!(is_reference_object(
            ObjectKind::IstioAuthorizationPolicy,
            false,
            &both,
            &none
        ));
        let server_only = labels(&[("intents.otterize.com/service", "server-ns")]);
        assert!(!is_reference_object(
            ObjectKind::IstioAuthorizationPolicy,
            false,
            &server_only,
            &none
        ));
        let deprecated = labels(&[("intents.otterize.com/istio-client", "client-ns")]);
        assert!(is_reference_object(
            ObjectKind::IstioAuthorizationPolicy,
            false,
            &server_only,
            &deprecated
        ));
    }

    #[test]
    fn wanted_objects_are_adopted_and_the_others_deleted_only_when_holt_renders_their_family() {
        assert_eq!(decide(true, true), Takeover::Adopt);
        assert_eq!(decide(true, false), Takeover::Adopt);
        assert_eq!(decide(false, true), Takeover::Delete);
        assert_eq!(decide(false, false), Takeover::Keep);
    }

    #[test]
    fn metrics_collection_and_webhook_policies_are_not_a_family_holt_renders() {
        let access = labels(&[("intents.otterize.com/network-policy", "server-ns-deployment")]);
        assert!(is_rendered_family(ObjectKind::NetworkPolicy, &access));
        let default_deny = labels(&[
            ("intents.otterize.com/network-policy", "server-ns"),
            ("intents.otterize.com/network-policy-service-default-deny", "true"),
        ]);
        assert!(is_rendered_family(ObjectKind::NetworkPolicy, &default_deny));
        for key in [
            "intents.otterize.com/network-policy-metrics-collectors",
            "intents.otterize.com/network-policy-webhook-access",
        ] {
            let other = labels(&[(key, "server")]);
            assert!(is_reference_object(
                ObjectKind::NetworkPolicy,
                false,
                &other,
                &BTreeMap::new()
            ));
            assert!(!is_rendered_family(ObjectKind::NetworkPolicy, &other), "{key}");
        }
    }
}
