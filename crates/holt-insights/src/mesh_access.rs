//! Istio's side of a call between pods. In: the pods (their namespace's labels decide sidecar injection as
//! the model decides it), the mesh's trust domain and root namespace, and every Istio AuthorizationPolicy
//! (the cluster's and Holt's). Out: for a source pod (or a caller outside the cluster), a destination pod, a
//! port and optionally an HTTP method and path, holt-reach's [`MeshVerdict`]. A meshed source presents the
//! principal `<trust domain>/ns/<namespace>/sa/<service account>`; any other source presents none.

use std::collections::{BTreeMap, HashMap};

use holt_model::facts::PodFacts;
use holt_model::mesh::in_istio_mesh;
use holt_reach::NamespaceInput;
use holt_reach::istio::{
    AuthorizationPolicyManifest, AuthorizationPolicySpec, FromManifest, HttpRequest, Mesh, MeshPolicyError,
    MeshRequest, MeshSource, MeshVerdict, MeshWorkload, OperationManifest, RuleManifest, SourceManifest,
    ToManifest, WorkloadSelector,
};
use holt_render::istio::{Action, AuthorizationPolicy};
use k8s_openapi::api::core::v1::Pod;

/// Where a mesh's identities and policies are rooted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshSettings {
    /// The trust domain in principals (the operator's `istioTrustDomain`).
    pub trust_domain: String,
    /// Policies in this namespace apply to the whole mesh.
    pub root_namespace: String,
}

impl Default for MeshSettings {
    fn default() -> Self {
        Self {
            trust_domain: "cluster.local".to_owned(),
            root_namespace: holt_reach::istio::DEFAULT_ROOT_NAMESPACE.to_owned(),
        }
    }
}

/// One pod as the mesh sees it: as a destination and as a source.
#[derive(Clone, Debug)]
struct MeshPod {
    workload: MeshWorkload,
    source: MeshSource,
}

/// The mesh's policies and every pod's place in the mesh, indexed by `(namespace, pod name)`.
#[derive(Clone, Debug)]
pub struct MeshAccess {
    mesh: Mesh,
    pods: HashMap<(String, String), MeshPod>,
}

impl MeshAccess {
    /// Checks every policy (the first one the evaluator cannot read is an error naming it) and places every
    /// pod.
    pub fn new(
        namespaces: &[NamespaceInput],
        pods: &[Pod],
        policies: &[AuthorizationPolicyManifest],
        settings: &MeshSettings,
    ) -> Result<Self, MeshPolicyError> {
        let mesh = Mesh::new(policies, &settings.root_namespace)?;
        let labels: HashMap<&str, &BTreeMap<String, String>> =
            namespaces.iter().map(|n| (n.name.as_str(), &n.labels)).collect();
        let pods = pods
            .iter()
            .map(|pod| {
                let facts = PodFacts::from_pod(pod);
                let namespace = facts.key.namespace.clone();
                let in_mesh = in_istio_mesh(labels.get(namespace.as_str()).copied(), &facts);
                let source = if in_mesh {
                    MeshSource::service_account(&settings.trust_domain, &namespace, &facts.service_account)
                } else {
                    MeshSource::plaintext()
                };
                let workload = MeshWorkload {
                    namespace: namespace.clone(),
                    labels: facts.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    in_mesh,
                };
                ((namespace, facts.key.name.clone()), MeshPod { workload, source })
            })
            .collect();
        Ok(Self { mesh, pods })
    }

    /// The mesh's verdict on a request from the pod `from` (`None`: a caller outside the cluster) to the pod
    /// `to`; `None` when either pod is unknown.
    pub fn evaluate(
        &self,
        from: Option<(&str, &str)>,
        to: (&str, &str),
        port: u16,
        http: Option<HttpRequest>,
    ) -> Option<MeshVerdict> {
        let source = match from {
            Some(from) => self.pod(from)?.source.clone(),
            None => MeshSource::plaintext(),
        };
        let request = MeshRequest {
            source,
            destination: self.pod(to)?.workload.clone(),
            port,
            http,
        };
        Some(self.mesh.evaluate(&request))
    }

    fn pod(&self, (namespace, name): (&str, &str)) -> Option<&MeshPod> {
        self.pods.get(&(namespace.to_owned(), name.to_owned()))
    }
}

/// One of Holt's rendered AuthorizationPolicies as the evaluator reads manifests: Holt writes ALLOW policies
/// selecting the server by labels, each rule naming principals and, for HTTP intents, paths and methods.
pub fn holt_istio_policy(policy: &AuthorizationPolicy) -> AuthorizationPolicyManifest {
    let spec = &policy.spec;
    let action = match spec.action {
        Action::Allow => "ALLOW",
    };
    let rules = spec
        .rules
        .iter()
        .map(|rule| RuleManifest {
            from: Some(
                rule.from
                    .iter()
                    .map(|from| FromManifest {
                        source: Some(SourceManifest {
                            principals: Some(from.source.principals.clone()),
                            ..SourceManifest::default()
                        }),
                    })
                    .collect(),
            ),
            to: (!rule.to.is_empty()).then(|| {
                rule.to
                    .iter()
                    .map(|to| ToManifest {
                        operation: Some(OperationManifest {
                            paths: Some(to.operation.paths.clone()),
                            methods: (!to.operation.methods.is_empty()).then(|| to.operation.methods.clone()),
                            ..OperationManifest::default()
                        }),
                    })
                    .collect()
            }),
            ..RuleManifest::default()
        })
        .collect();
    AuthorizationPolicyManifest {
        metadata: policy.metadata.clone(),
        spec: AuthorizationPolicySpec {
            selector: Some(WorkloadSelector {
                match_labels: Some(spec.selector.match_labels.clone()),
            }),
            action: Some(action.to_owned()),
            rules: Some(rules),
            ..AuthorizationPolicySpec::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use holt_render::istio::{
        Action, AuthorizationPolicySpec, From, Operation, Rule, Source, To, WorkloadSelector,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn rendered(to: Vec<To>) -> AuthorizationPolicy {
        AuthorizationPolicy {
            api_version: "security.istio.io/v1".into(),
            kind: "AuthorizationPolicy".into(),
            metadata: ObjectMeta {
                name: Some("server-access".into()),
                namespace: Some("shop".into()),
                ..ObjectMeta::default()
            },
            spec: AuthorizationPolicySpec {
                selector: WorkloadSelector {
                    match_labels: BTreeMap::from([("app".into(), "server".into())]),
                },
                action: Action::Allow,
                rules: vec![Rule {
                    from: vec![From {
                        source: Source {
                            principals: vec!["cluster.local/ns/shop/sa/client".into()],
                        },
                    }],
                    to,
                }],
            },
        }
    }

    /// The typed conversion reads Holt's policy exactly as the evaluator reads the same policy written out as
    /// a manifest.
    #[test]
    fn holts_policy_converts_as_its_manifest_reads() {
        let with_paths = vec![To {
            operation: Operation {
                paths: vec!["/orders*".into()],
                methods: vec!["GET".into()],
            },
        }];
        let any_method = vec![To {
            operation: Operation {
                paths: vec!["/health".into()],
                methods: Vec::new(),
            },
        }];
        for to in [Vec::new(), with_paths, any_method] {
            let policy = rendered(to);
            let json = serde_json::to_value(&policy).expect("serializes");
            let read: AuthorizationPolicyManifest = serde_json::from_value(json).expect("reads");
            assert_eq!(holt_istio_policy(&policy), read);
        }
    }

    #[test]
    fn only_meshed_sources_present_a_principal() {
        let pod = |name: &str, inject: &str| -> Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": "shop",
                             "labels": {"app": name, "sidecar.istio.io/inject": inject}},
                "spec": {"serviceAccountName": "client", "containers": [{"name": "c"}]}
            }))
            .expect("a pod")
        };
        let namespaces = [NamespaceInput {
            name: "shop".into(),
            labels: BTreeMap::from([("istio-injection".into(), "enabled".into())]),
        }];
        let pods = [
            pod("client", "true"),
            pod("plain", "false"),
            pod("server", "true"),
        ];
        let policy = holt_istio_policy(&rendered(Vec::new()));
        let access = MeshAccess::new(&namespaces, &pods, &[policy], &MeshSettings::default()).expect("valid");
        let allowed = |from| {
            access
                .evaluate(from, ("shop", "server"), 80, None)
                .expect("known pods")
                .allowed
        };
        assert!(allowed(Some(("shop", "client"))));
        assert!(!allowed(Some(("shop", "plain"))), "no sidecar, no principal");
        assert!(!allowed(None), "outside the cluster");
        assert!(access.evaluate(None, ("shop", "nobody"), 80, None).is_none());
    }
}
