//! The mesh's policies, checked once, and the decision for each request in Istio's documented order:
//! CUSTOM, then DENY, then ALLOW.

use crate::istio::manifest::AuthorizationPolicyManifest;
use crate::istio::policy::{Action, MeshPolicy, MeshPolicyError};
use crate::istio::request::MeshRequest;
use crate::istio::verdict::{MatchedRule, MeshDecision, MeshVerdict, ProviderCheck};

/// Istio's default root namespace: policies there apply to the whole mesh.
pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";

/// Every AuthorizationPolicy of the cluster, checked, in order of namespace and name (so that the first
/// matching rule reported does not depend on input order).
#[derive(Clone, Debug)]
pub struct Mesh {
    policies: Vec<MeshPolicy>,
}

impl Mesh {
    /// Checks every policy; the first one that cannot be evaluated is refused with its name and field.
    pub fn new<'a>(
        manifests: impl IntoIterator<Item = &'a AuthorizationPolicyManifest>,
        root_namespace: &str,
    ) -> Result<Self, MeshPolicyError> {
        let mut policies = manifests
            .into_iter()
            .map(|manifest| MeshPolicy::compile(manifest, root_namespace))
            .collect::<Result<Vec<_>, _>>()?;
        policies.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { policies })
    }

    /// The decision for `request`.
    pub fn evaluate(&self, request: &MeshRequest) -> MeshVerdict {
        let destination = &request.destination;
        if !destination.in_mesh {
            return MeshVerdict {
                allowed: true,
                decision: MeshDecision::NotInMesh,
                providers: Vec::new(),
                audited_by: Vec::new(),
            };
        }
        let applying: Vec<&MeshPolicy> = self
            .policies
            .iter()
            .filter(|p| p.selects(&destination.namespace, &destination.labels))
            .collect();
        let matched = |action: Action| {
            applying
                .iter()
                .filter(move |p| p.action == action)
                .filter_map(|p| {
                    p.matching_rule(request).map(|rule| {
                        (
                            *p,
                            MatchedRule {
                                policy: p.name.clone(),
                                rule,
                            },
                        )
                    })
                })
        };
        let providers = matched(Action::Custom)
            .map(|(policy, by)| ProviderCheck {
                by,
                provider: policy.provider.clone().unwrap_or_default(),
            })
            .collect();
        let audited_by = matched(Action::Audit).map(|(_, by)| by).collect();
        let decision = if let Some((_, by)) = matched(Action::Deny).next() {
            MeshDecision::Denied { by }
        } else if let Some((_, by)) = matched(Action::Allow).next() {
            MeshDecision::Allowed { by }
        } else {
            let allow_policies: Vec<_> = applying
                .iter()
                .filter(|p| p.action == Action::Allow)
                .map(|p| p.name.clone())
                .collect();
            if allow_policies.is_empty() {
                MeshDecision::NoAllowPolicy
            } else {
                MeshDecision::NoAllowRuleMatches { allow_policies }
            }
        };
        MeshVerdict {
            allowed: matches!(
                decision,
                MeshDecision::NoAllowPolicy | MeshDecision::Allowed { .. }
            ),
            decision,
            providers,
            audited_by,
        }
    }
}
