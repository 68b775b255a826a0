//! The operator configuration from command-line flags, environment variables and a YAML file, with the
//! same names and meanings as the reference intents operator's options (its Helm values,
//! docs/reference-behaviour.md#config-keys), so `holt plan` describes what the operator does with the same
//! settings.
//!
//! In: [`ConfigArgs`], flattened into a binary's clap arguments, and the environment. Out: a
//! [`holt_model::Config`] with notices of values set but not acted on ([`Resolved`]). Flags (and their
//! `HOLT_*` variables) override the reference's `OTTERIZE_*` variables ([`reference_env`]), which override
//! the file; the file overrides the defaults. The file holds the flat keys or, as written for the reference's
//! Helm charts, the nested values ([`reference_values`]). The rules are in docs/configuration.md.

mod reference_env;
mod reference_values;

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Args;
use holt_model::{Config, Mode, ThirdPartyPolicies};

#[derive(Args, Clone, Debug, Default)]
pub struct ConfigArgs {
    /// Operator configuration file: YAML with the Helm values' camelCase keys (`mode`, `enforcedNamespaces`,
    /// `enableNetworkPolicyCreation`, ...). Flags override it.
    #[arg(long, env = "HOLT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// `defaultActive` enforces every server with declared clients; `defaultShadow` enforces only
    /// ProtectedServices and enforced namespaces. [default: defaultActive]
    #[arg(long, env = "HOLT_MODE", value_parser = camel_case::<Mode>)]
    pub mode: Option<Mode>,

    /// Namespaces enforced even in defaultShadow mode (comma-separated).
    #[arg(long, env = "HOLT_ENFORCED_NAMESPACES", value_delimiter = ',', num_args = 0..)]
    pub enforced_namespaces: Option<Vec<String>>,

    /// Only these namespaces are acted on (comma-separated; default: all).
    #[arg(long, env = "HOLT_WATCHED_NAMESPACES", value_delimiter = ',', num_args = 0..)]
    pub watched_namespaces: Option<Vec<String>>,

    /// Create NetworkPolicies (access, default-deny, external traffic). [default: true]
    #[arg(long, env = "HOLT_ENABLE_NETWORK_POLICY_CREATION", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub enable_network_policy_creation: Option<bool>,

    /// Create Kafka ACLs. [default: true]
    #[arg(long, env = "HOLT_ENABLE_KAFKA_ACL_CREATION", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub enable_kafka_acl_creation: Option<bool>,

    /// Create Istio AuthorizationPolicies. [default: true]
    #[arg(long, env = "HOLT_ENABLE_ISTIO_POLICY_CREATION", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub enable_istio_policy_creation: Option<bool>,

    /// Create Linkerd policies (Server, AuthorizationPolicy, MeshTLSAuthentication, HTTPRoute,
    /// NetworkAuthentication) for meshed workloads. [default: true]
    #[arg(long, env = "HOLT_ENABLE_LINKERD_POLICY_CREATION", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub enable_linkerd_policy_creation: Option<bool>,

    /// Add egress rules for clients' declared calls (experimental in the reference). [default: false]
    #[arg(long, env = "HOLT_ENABLE_EGRESS_NETWORK_POLICY_CREATION", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub enable_egress_network_policy_creation: Option<bool>,

    /// Write ingress and egress rules to separate policies (`-ingress` / `-egress`). [default: false]
    #[arg(long, env = "HOLT_SEPARATE_NETPOLS_FOR_INGRESS_AND_EGRESS", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub separate_netpols_for_ingress_and_egress: Option<bool>,

    /// Allow DNS (UDP and TCP 53) in egress policies. [default: true]
    #[arg(long, env = "HOLT_ENABLE_EGRESS_AUTOALLOW_DNS_TRAFFIC", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub enable_egress_autoallow_dns_traffic: Option<bool>,

    /// Group internet IPv4 peers into /24 networks when there are more than the peers limit. [default: false]
    #[arg(long, env = "HOLT_ENABLE_GROUP_INTERNET_IPS_BY_CIDR", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub enable_group_internet_ips_by_cidr: Option<bool>,

    /// The peers limit for --enable-group-internet-ips-by-cidr. [default: 50]
    #[arg(
        long,
        env = "HOLT_ENABLE_GROUP_INTERNET_IPS_BY_CIDR_PEERS_LIMIT",
        value_name = "N"
    )]
    pub enable_group_internet_ips_by_cidr_peers_limit: Option<usize>,

    /// Allow outside traffic to LoadBalancer, NodePort and Ingress-backed Services: `off`,
    /// `ifBlockedByOtterize` (when Holt's policies isolate their pods) or `always`. [default: ifBlockedByOtterize]
    #[arg(long, env = "HOLT_AUTOMATE_THIRD_PARTY_NETWORK_POLICIES", value_parser = camel_case::<ThirdPartyPolicies>)]
    pub automate_third_party_network_policies: Option<ThirdPartyPolicies>,

    /// Strict validation: no wildcard internet domains, ports required, plain targets must be Services.
    /// [default: false]
    #[arg(long, env = "HOLT_ENABLE_STRICT_MODE_INTENTS", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub enable_strict_mode_intents: Option<bool>,

    /// Namespaces exempt from strict mode (comma-separated).
    #[arg(long, env = "HOLT_EXCLUDED_STRICT_MODE_NAMESPACES", value_delimiter = ',', num_args = 0..)]
    pub excluded_strict_mode_namespaces: Option<Vec<String>>,

    /// Istio trust domain for AuthorizationPolicy principals. [default: cluster.local]
    #[arg(long, env = "HOLT_ISTIO_TRUST_DOMAIN")]
    pub istio_trust_domain: Option<String>,

    /// Pod annotation overriding a pod's workload name. [default: intents.otterize.com/workload-name]
    #[arg(long, env = "HOLT_WORKLOAD_NAME_OVERRIDE_ANNOTATION")]
    pub workload_name_override_annotation: Option<String>,

    /// Identify Jobs by their container images instead of their names. [default: false]
    #[arg(long, env = "HOLT_USE_IMAGE_NAME_FOR_SERVICE_ID_FOR_JOBS", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub use_image_name_for_service_id_for_jobs: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
    #[error("environment: {0}")]
    Environment(String),
}

/// The configuration, and one notice per value set in the file that the operator does not act on (with what
/// Holt does instead), for the caller to report.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub config: Config,
    pub notices: Vec<String>,
}

impl ConfigArgs {
    /// The configuration from the file, the process's environment and the flags.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        self.resolve_with_env(|name| std::env::var(name).ok())
    }

    /// The configuration: defaults, then the file, then the reference's `OTTERIZE_*` variables (read through
    /// `env`), then the flags.
    pub fn resolve_with_env(&self, env: impl Fn(&str) -> Option<String>) -> Result<Resolved, ConfigError> {
        let (mut flat, notices) = match &self.config {
            Some(path) => read_file(path)?,
            None => (serde_yaml::Mapping::new(), Vec::new()),
        };
        flat.extend(reference_env::flat_keys(env).map_err(ConfigError::Environment)?);
        let mut config: Config =
            serde_yaml::from_value(serde_yaml::Value::Mapping(flat)).map_err(|e| ConfigError::Invalid {
                path: self.config.clone().unwrap_or_else(|| "configuration".into()),
                problem: e.to_string(),
            })?;
        let set = |list: &Option<Vec<String>>| -> Option<BTreeSet<String>> {
            list.as_ref()
                .map(|l| l.iter().filter(|s| !s.is_empty()).cloned().collect())
        };
        override_with(&mut config.mode, self.mode);
        override_with(&mut config.enforced_namespaces, set(&self.enforced_namespaces));
        override_with(&mut config.watched_namespaces, set(&self.watched_namespaces));
        override_with(
            &mut config.enable_network_policy_creation,
            self.enable_network_policy_creation,
        );
        override_with(
            &mut config.enable_kafka_acl_creation,
            self.enable_kafka_acl_creation,
        );
        override_with(
            &mut config.enable_istio_policy_creation,
            self.enable_istio_policy_creation,
        );
        override_with(
            &mut config.enable_linkerd_policy_creation,
            self.enable_linkerd_policy_creation,
        );
        override_with(
            &mut config.enable_egress_network_policy_creation,
            self.enable_egress_network_policy_creation,
        );
        override_with(
            &mut config.separate_netpols_for_ingress_and_egress,
            self.separate_netpols_for_ingress_and_egress,
        );
        override_with(
            &mut config.enable_egress_autoallow_dns_traffic,
            self.enable_egress_autoallow_dns_traffic,
        );
        override_with(
            &mut config.enable_group_internet_ips_by_cidr,
            self.enable_group_internet_ips_by_cidr,
        );
        override_with(
            &mut config.enable_group_internet_ips_by_cidr_peers_limit,
            self.enable_group_internet_ips_by_cidr_peers_limit,
        );
        override_with(
            &mut config.automate_third_party_network_policies,
            self.automate_third_party_network_policies,
        );
        override_with(
            &mut config.enable_strict_mode_intents,
            self.enable_strict_mode_intents,
        );
        override_with(
            &mut config.excluded_strict_mode_namespaces,
            set(&self.excluded_strict_mode_namespaces),
        );
        override_with(&mut config.istio_trust_domain, self.istio_trust_domain.clone());
        override_with(
            &mut config.workload_name_override_annotation,
            self.workload_name_override_annotation.clone(),
        );
        override_with(
            &mut config.use_image_name_for_service_id_for_jobs,
            self.use_image_name_for_service_id_for_jobs,
        );
        Ok(Resolved { config, notices })
    }
}

/// The flat keys of a configuration file, flat or shaped as the reference's values.
fn read_file(path: &PathBuf) -> Result<(serde_yaml::Mapping, Vec<String>), ConfigError> {
    let invalid = |problem: String| ConfigError::Invalid {
        path: path.clone(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let document: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if reference_values::is_values_shaped(&document) {
        return reference_values::flatten(&document).map_err(invalid);
    }
    match document {
        serde_yaml::Value::Null => Ok((serde_yaml::Mapping::new(), Vec::new())),
        serde_yaml::Value::Mapping(flat) => Ok((flat, Vec::new())),
        _ => Err(invalid("a mapping of configuration keys is expected".into())),
    }
}

fn override_with<T>(value: &mut T, flag: Option<T>) {
    if let Some(flag) = flag {
        *value = flag;
    }
}

/// Parses a flag value spelled as in the Helm values (`defaultShadow`, `ifBlockedByOtterize`).
fn camel_case<T: serde::de::DeserializeOwned>(value: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("holt-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("config.yaml");
        std::fs::write(
            &path,
            "mode: defaultShadow\nenforcedNamespaces: [a]\nenableKafkaACLCreation: false\nenableLinkerdPolicyCreation: false\n",
        )
        .expect("write");
        let args = ConfigArgs {
            config: Some(path.clone()),
            enforced_namespaces: Some(vec!["b".into(), "c".into()]),
            enable_network_policy_creation: Some(false),
            ..ConfigArgs::default()
        };
        let config = args.resolve_with_env(|_| None).expect("valid").config;
        assert_eq!(config.mode, Mode::DefaultShadow, "from the file");
        assert!(!config.enable_kafka_acl_creation, "from the file");
        assert_eq!(
            config.enforced_namespaces,
            ["b".to_string(), "c".to_string()].into(),
            "flag wins"
        );
        assert!(!config.enable_network_policy_creation, "flag");
        assert!(config.enable_istio_policy_creation, "default");
        assert!(!config.enable_linkerd_policy_creation, "from the file");
        let linkerd_flag = ConfigArgs {
            enable_linkerd_policy_creation: Some(true),
            ..args.clone()
        };
        assert!(
            linkerd_flag
                .resolve_with_env(|_| None)
                .expect("valid")
                .config
                .enable_linkerd_policy_creation,
            "flag wins"
        );
        assert!(
            ConfigArgs::default()
                .resolve_with_env(|_| None)
                .expect("defaults")
                .config
                .enable_linkerd_policy_creation,
            "on by default, as in the reference"
        );

        std::fs::write(&path, "mode: defaultShadow\nenableNetpols: true\n").expect("write");
        let message = args
            .resolve_with_env(|_| None)
            .expect_err("unknown key")
            .to_string();
        assert!(message.contains("enableNetpols"), "{message}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn values_are_spelled_as_in_the_helm_values() {
        assert_eq!(camel_case::<Mode>("defaultShadow"), Ok(Mode::DefaultShadow));
        assert_eq!(
            camel_case::<ThirdPartyPolicies>("ifBlockedByOtterize"),
            Ok(ThirdPartyPolicies::IfBlockedByOtterize)
        );
        assert!(camel_case::<Mode>("shadow").is_err());
    }
}
