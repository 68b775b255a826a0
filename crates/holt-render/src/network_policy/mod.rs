//! The access NetworkPolicy of one identity (docs/reference-behaviour.md#network-policy): its ingress as a
//! server and its egress as a client, in one policy `<name-with-kind>-access`, or two (`-ingress`, `-egress`)
//! with `separateNetpolsForIngressAndEgress`.

pub mod cidr;
pub mod egress;
pub mod ingress;
pub mod ports;
pub mod selector;

use std::collections::BTreeMap;

use holt_model::labels::NETWORK_POLICY;
use holt_model::{Identity, Index};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicySpec,
};

use crate::desired::{Desired, Manifest, Owner, Rendered, object_meta};
use crate::http_coverage::HttpCoverage;
use crate::notice::{Notice, Reason, Subject};

/// Renders the access policies of `identity` into `out`. NetworkPolicies admit whole connections: they
/// enforce no HTTP path or method (`_http` records nothing).
pub(crate) fn render(
    index: &Index,
    identity: &Identity,
    out: &mut Rendered<Vec<Desired>>,
    _http: &mut HttpCoverage,
) {
    let config = index.config();
    if !config.enable_network_policy_creation {
        let has_clients = !ingress::admitted_clients(index, identity).is_empty();
        let has_calls = config.enable_egress_network_policy_creation
            && index.intents_of(identity).any(|(_, i)| !i.calls.is_empty());
        if has_clients || has_calls {
            out.notices.push(Notice::new(
                Subject::identity(identity),
                Reason::NetworkPolicyCreationDisabled,
                "network policy creation is disabled: no NetworkPolicy is rendered",
            ));
        }
        return;
    }
    let ingress = ingress::rules(index, identity, &mut out.notices);
    let egress = egress::rules(index, identity, &mut out.notices);
    if ingress.is_none() && egress.is_none() {
        return;
    }
    let pods = match selector::workload_labels(index, identity) {
        Ok(labels) => labels,
        Err(error) => {
            out.notices.push(error.notice(Subject::identity(identity)));
            return;
        }
    };
    if config.separate_netpols_for_ingress_and_egress {
        if ingress.is_some() {
            out.value.push(policy(identity, "ingress", &pods, ingress, None));
        }
        if egress.is_some() {
            out.value.push(policy(identity, "egress", &pods, None, egress));
        }
    } else {
        out.value.push(policy(identity, "access", &pods, ingress, egress));
    }
}

fn policy(
    identity: &Identity,
    suffix: &str,
    pods: &BTreeMap<String, String>,
    ingress: Option<Vec<NetworkPolicyIngressRule>>,
    egress: Option<Vec<NetworkPolicyEgressRule>>,
) -> Desired {
    let policy_types = [("Ingress", ingress.is_some()), ("Egress", egress.is_some())]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_owned())
        .collect();
    let policy = NetworkPolicy {
        metadata: object_meta(
            &identity.namespace,
            format!("{}-{suffix}", identity.name_with_kind_rfc1123()),
            [(NETWORK_POLICY, identity.label_value_with_kind())],
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector::match_labels(pods.clone())),
            policy_types: Some(policy_types),
            ingress,
            egress,
        }),
    };
    let owner = identity.is_service().then(|| Owner::service(&identity.name));
    Desired::new(Manifest::NetworkPolicy(policy), owner)
}
