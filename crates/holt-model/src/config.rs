//! The operator configuration the model and the renderers depend on. Names and defaults follow the
//! reference's Helm values and configuration keys (docs/reference-behaviour.md#config-keys); front ends
//! (operator flags, `holt plan --config`) fill it in.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Whether servers are enforced unless told otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Every server with declared clients is enforced.
    #[default]
    DefaultActive,
    /// Nothing is enforced except ProtectedServices and enforced namespaces.
    DefaultShadow,
}

/// `automateThirdPartyNetworkPolicies`: when to allow traffic from outside the cluster to Services that
/// Holt's own policies would otherwise block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ThirdPartyPolicies {
    Off,
    #[default]
    IfBlockedByOtterize,
    Always,
}

/// The operator configuration, as camelCase keys in a YAML file: the reference's Helm value names
/// (`enableKafkaACLCreation`, `enableGroupIPsByCIDR`, ...), so its values files can be reused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Config {
    pub mode: Mode,
    /// Namespaces whose servers are enforced even in `defaultShadow` mode.
    pub enforced_namespaces: BTreeSet<String>,
    /// When non-empty, only these namespaces are acted on.
    pub watched_namespaces: BTreeSet<String>,
    pub enable_network_policy_creation: bool,
    #[serde(rename = "enableKafkaACLCreation")]
    pub enable_kafka_acl_creation: bool,
    pub enable_istio_policy_creation: bool,
    /// Linkerd Servers, AuthorizationPolicies, MeshTLSAuthentications, HTTPRoutes and
    /// NetworkAuthentications for meshed workloads (docs/reference-behaviour.md#linkerd).
    pub enable_linkerd_policy_creation: bool,
    pub enable_egress_network_policy_creation: bool,
    pub separate_netpols_for_ingress_and_egress: bool,
    #[serde(rename = "enableEgressAutoallowDNSTraffic")]
    pub enable_egress_autoallow_dns_traffic: bool,
    #[serde(rename = "enableGroupIPsByCIDR")]
    pub enable_group_internet_ips_by_cidr: bool,
    #[serde(rename = "enableGroupIPsByCIDRPeersLimit")]
    pub enable_group_internet_ips_by_cidr_peers_limit: usize,
    pub automate_third_party_network_policies: ThirdPartyPolicies,
    pub enable_strict_mode_intents: bool,
    pub excluded_strict_mode_namespaces: BTreeSet<String>,
    /// Istio trust domain used in AuthorizationPolicy principals (the reference hard-codes `cluster.local`).
    pub istio_trust_domain: String,
    /// Pod annotation that overrides a pod's workload name.
    pub workload_name_override_annotation: String,
    /// Jobs are identified by their container images instead of their (often random) names.
    pub use_image_name_for_service_id_for_jobs: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::DefaultActive,
            enforced_namespaces: BTreeSet::new(),
            watched_namespaces: BTreeSet::new(),
            enable_network_policy_creation: true,
            enable_kafka_acl_creation: true,
            enable_istio_policy_creation: true,
            enable_linkerd_policy_creation: true,
            enable_egress_network_policy_creation: false,
            separate_netpols_for_ingress_and_egress: false,
            enable_egress_autoallow_dns_traffic: true,
            enable_group_internet_ips_by_cidr: false,
            enable_group_internet_ips_by_cidr_peers_limit: 50,
            automate_third_party_network_policies: ThirdPartyPolicies::IfBlockedByOtterize,
            enable_strict_mode_intents: false,
            excluded_strict_mode_namespaces: BTreeSet::new(),
            istio_trust_domain: "cluster.local".into(),
            workload_name_override_annotation: crate::labels::WORKLOAD_NAME_OVERRIDE.into(),
            use_image_name_for_service_id_for_jobs: false,
        }
    }
}

impl Config {
    /// Whether Holt acts on objects in `namespace` (all namespaces unless `watchedNamespaces` is set).
    pub fn watches(&self, namespace: &str) -> bool {
        self.watched_namespaces.is_empty() || self.watched_namespaces.contains(namespace)
    }

    /// `always` degrades to `ifBlockedByOtterize` when nothing is enforced by default, as in the reference.
    pub fn third_party_policies(&self) -> ThirdPartyPolicies {
        match (self.automate_third_party_network_policies, self.mode) {
            (ThirdPartyPolicies::Always, Mode::DefaultShadow) => ThirdPartyPolicies::IfBlockedByOtterize,
            (setting, _) => setting,
        }
    }
}
