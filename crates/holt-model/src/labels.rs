//! The label and annotation keys Holt reads and writes, identical to the reference's
//! (docs/reference-behaviour.md#label-keys), so a cluster can move from the reference operator to Holt
//! without relabelling anything.

use crate::identity::Identity;

/// Pod label: the pod's identity without kind; what server selectors match.
pub const SERVICE: &str = "intents.otterize.com/service";
/// Pod label: the kind of the pod's root owner.
pub const OWNER_KIND: &str = "intents.otterize.com/owner-kind";
/// Pod label: set on pods of workloads that declare intents.
pub const CLIENT: &str = "intents.otterize.com/client";
/// Deprecated pod label the reference removes.
pub const DEPRECATED_SERVER: &str = "intents.otterize.com/server";
/// Prefix of the pod label granting access to a workload target.
pub const ACCESS_PREFIX: &str = "intents.otterize.com/access-";
/// Prefix of the pod label granting access to a Service target.
pub const SVC_ACCESS_PREFIX: &str = "intents.otterize.com/svc-access-";
/// Namespace label every namespace selector uses.
pub const NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";

/// NetworkPolicy label: the identity (with kind) an access policy is for.
pub const NETWORK_POLICY: &str = "intents.otterize.com/network-policy";
/// NetworkPolicy label marking a ProtectedService default-deny policy.
pub const NETWORK_POLICY_DEFAULT_DENY: &str = "intents.otterize.com/network-policy-service-default-deny";
/// NetworkPolicy label marking an external-traffic policy.
pub const NETWORK_POLICY_EXTERNAL_TRAFFIC: &str = "intents.otterize.com/network-policy-external-traffic";
/// Annotations on external-traffic policies.
pub const CREATED_FOR_SERVICE: &str = "intents.otterize.com/created-for-service";
pub const CREATED_FOR_INGRESS: &str = "intents.otterize.com/created-for-ingress";

/// AuthorizationPolicy labels.
pub const ISTIO_SERVER: &str = "intents.otterize.com/service";
pub const ISTIO_CLIENT_WITH_KIND: &str = "intents.otterize.com/istio-client-with-kind";
/// On Linkerd objects written for one client: the client's identity without kind (the reference's key,
/// despite its name).
pub const LINKERD_CLIENT: &str = "intents.otterize.com/linkerd-server";

/// Every object Holt writes carries this label; pruning only ever considers objects that carry it.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_HOLT: &str = "holt";

/// Pod annotations.
pub const WORKLOAD_NAME_OVERRIDE: &str = "intents.otterize.com/workload-name";
pub const DEPRECATED_SERVICE_NAME_OVERRIDE: &str = "intents.otterize.com/service-name";
pub const CALLED_BY: &str = "intents.otterize.com/called-by";
pub const ALL_INTENTS_REMOVED: &str = "intents.otterize.com/all-intents-removed";

/// The access label a client pod gets for a target: `svc-access-…` for Service targets, `access-…` otherwise.
pub fn access_label(target: &Identity) -> String {
    let prefix = if target.is_service() {
        SVC_ACCESS_PREFIX
    } else {
        ACCESS_PREFIX
    };
    format!("{prefix}{}", target.label_value_with_kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_labels_distinguish_service_targets() {
        let pod_target = Identity::new("ns", "server", None);
        let svc_target = Identity::new("ns", "server", Some("Service"));
        assert_eq!(
            access_label(&pod_target),
            format!("{ACCESS_PREFIX}{}", pod_target.label_value())
        );
        assert!(access_label(&svc_target).starts_with(SVC_ACCESS_PREFIX));
        assert!(access_label(&svc_target).contains("-servi-"));
    }
}
