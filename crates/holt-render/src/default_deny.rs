//! The default-deny NetworkPolicy of a ProtectedService (docs/reference-behaviour.md#default-deny):
//! `default-deny-<name-with-kind>`, selecting the protected server's pods with no ingress rule, so only what
//! access policies admit reaches them. Rendered whenever network-policy creation is enabled, in both modes.

use holt_model::labels::{NETWORK_POLICY, NETWORK_POLICY_DEFAULT_DENY};
use holt_model::{Identity, Index, ObjectKey};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};

use crate::desired::{Desired, Manifest, Rendered, object_meta};
use crate::network_policy::selector;
use crate::notice::{Notice, Reason, Subject};

/// The default-deny policy of the ProtectedService `key`, if it exists and one can be rendered.
pub fn render_protected_service(index: &Index, key: &ObjectKey) -> Rendered<Option<Desired>> {
    let mut notices = Vec::new();
    let value = render(index, key, &mut notices);
    Rendered::new(value, notices)
}

fn render(index: &Index, key: &ObjectKey, notices: &mut Vec<Notice>) -> Option<Desired> {
    let spec = index.protected_service(key)?;
    let config = index.config();
    let subject = || Subject::protected_service(key);
    if !config.enable_network_policy_creation {
        notices.push(Notice::new(
            subject(),
            Reason::NetworkPolicyCreationDisabled,
            "network policy creation is disabled: no default-deny policy is rendered",
        ));
        return None;
    }
    if !config.watches(&key.namespace) {
        notices.push(Notice::new(
            subject(),
            Reason::NamespaceNotAllowed,
            format!(
                "namespace {} is not in watchedNamespaces: no default-deny policy",
                key.namespace
            ),
        ));
        return None;
    }
    let server = Identity::new(&key.namespace, &spec.name, spec.kind.as_deref());
    let pods = match selector::workload_labels(index, &server) {
        Ok(labels) => labels,
        Err(error) => {
            notices.push(error.notice(subject()));
            return None;
        }
    };
    let policy = NetworkPolicy {
        metadata: object_meta(
            &server.namespace,
            format!("default-deny-{}", server.name_with_kind_rfc1123()),
            [
                (NETWORK_POLICY_DEFAULT_DENY, "true".to_owned()),
                (NETWORK_POLICY, server.label_value()),
            ],
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector::match_labels(pods)),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(Vec::new()),
            egress: None,
        }),
    };
    Some(Desired::new(Manifest::NetworkPolicy(policy), None))
}
