//! The reference operator's environment variables (`OTTERIZE_<KEY>`, its configuration keys upper-cased with
//! `-` as `_`), read for every option Holt has. In: a lookup of the environment. Out: the flat configuration
//! keys they set, as YAML values, so that they are parsed and checked exactly as the file's are. Holt's own
//! `HOLT_*` variables and flags are applied after them and win.

use serde_yaml::{Mapping, Value};

/// How a variable's text becomes a flat key's value.
#[derive(Clone, Copy)]
enum Shape {
    /// `true`/`false` (any case), as Go's `strconv.ParseBool` also takes `1`/`0`/`t`/`f`.
    Bool,
    /// A list, comma- or space-separated.
    List,
    /// A number.
    Count,
    /// Text as is.
    Text,
    /// `enforcement-default-state`: `true` is `defaultActive`, `false` `defaultShadow`.
    EnforcementDefaultState,
    /// `off`, `always` or `if-blocked-by-otterize`, as the reference spells them in its flags.
    ThirdParty,
}

/// `(variable, flat key, shape)` for every reference variable with a Holt option.
const VARIABLES: [(&str, &str, Shape); 17] = [
    (
        "OTTERIZE_ENFORCEMENT_DEFAULT_STATE",
        "mode",
        Shape::EnforcementDefaultState,
    ),
    (
        "OTTERIZE_ACTIVE_ENFORCEMENT_NAMESPACES",
        "enforcedNamespaces",
        Shape::List,
    ),
    ("OTTERIZE_WATCHED_NAMESPACES", "watchedNamespaces", Shape::List),
    (
        "OTTERIZE_ENABLE_NETWORK_POLICY_CREATION",
        "enableNetworkPolicyCreation",
        Shape::Bool,
    ),
    (
        "OTTERIZE_ENABLE_KAFKA_ACL_CREATION",
        "enableKafkaACLCreation",
        Shape::Bool,
    ),
    (
        "OTTERIZE_ENABLE_ISTIO_POLICY_CREATION",
        "enableIstioPolicyCreation",
        Shape::Bool,
    ),
    (
        "OTTERIZE_ENABLE_LINKERD_POLICY",
        "enableLinkerdPolicyCreation",
        Shape::Bool,
    ),
    (
        "OTTERIZE_ENABLE_EGRESS_NETWORK_POLICIES",
        "enableEgressNetworkPolicyCreation",
        Shape::Bool,
    ),
    (
        "OTTERIZE_SEPARATE_NETPOLS_FOR_INGRESS_AND_EGRESS",
        "separateNetpolsForIngressAndEgress",
        Shape::Bool,
    ),
    (
        "OTTERIZE_ENABLE_EGRESS_AUTOALLOW_DNS_TRAFFIC",
        "enableEgressAutoallowDNSTraffic",
        Shape::Bool,
    ),
    (
        "OTTERIZE_ENABLE_GROUP_INTERNET_IPS_BY_CIDR",
        "enableGroupIPsByCIDR",
        Shape::Bool,
    ),
    (
        "OTTERIZE_ENABLE_GROUP_BY_CIDR_PEERS_LIMIT",
        "enableGroupIPsByCIDRPeersLimit",
        Shape::Count,
    ),
    (
        "OTTERIZE_AUTOMATE_THIRD_PARTY_NETWORK_POLICIES",
        "automateThirdPartyNetworkPolicies",
        Shape::ThirdParty,
    ),
    (
        "OTTERIZE_ENABLE_STRICT_MODE_INTENTS",
        "enableStrictModeIntents",
        Shape::Bool,
    ),
    (
        "OTTERIZE_EXCLUDED_STRICT_MODE_NAMESPACES",
        "excludedStrictModeNamespaces",
        Shape::List,
    ),
    (
        "OTTERIZE_WORKLOAD_NAME_OVERRIDE_ANNOTATION",
        "workloadNameOverrideAnnotation",
        Shape::Text,
    ),
    (
        "OTTERIZE_USE_IMAGE_NAME_FOR_SERVICE_ID_FOR_JOBS",
        "useImageNameForServiceIdForJobs",
        Shape::Bool,
    ),
];

/// Older names the reference read for the same options.
const ALIASES: [(&str, &str); 2] = [
    (
        "OTTERIZE_EXP_ENABLE_EGRESS_NETWORK_POLICIES",
        "OTTERIZE_ENABLE_EGRESS_NETWORK_POLICIES",
    ),
    (
        "OTTERIZE_ALLOW_EXTERNAL_TRAFFIC",
        "OTTERIZE_AUTOMATE_THIRD_PARTY_NETWORK_POLICIES",
    ),
];

/// The flat keys the reference's variables set; a value that does not parse is an error naming the variable.
pub fn flat_keys(lookup: impl Fn(&str) -> Option<String>) -> Result<Mapping, String> {
    let mut flat = Mapping::new();
    for (variable, key, shape) in VARIABLES {
        let found = lookup(variable).map(|text| (variable, text)).or_else(|| {
            ALIASES
                .iter()
                .filter(|(_, current)| *current == variable)
                .find_map(|(old, _)| lookup(old).map(|text| (*old, text)))
        });
        let Some((name, text)) = found else { continue };
        let value = parse(shape, text.trim()).map_err(|problem| format!("{name}={text:?}: {problem}"))?;
        flat.insert(Value::from(key), value);
    }
    Ok(flat)
}

fn parse(shape: Shape, text: &str) -> Result<Value, String> {
    match shape {
        Shape::Bool => parse_bool(text).map(Value::from),
        Shape::EnforcementDefaultState => {
            parse_bool(text).map(|active| Value::from(if active { "defaultActive" } else { "defaultShadow" }))
        }
        Shape::List => Ok(Value::Sequence(
            text.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(Value::from)
                .collect(),
        )),
        Shape::Count => text
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| "a non-negative number is expected".to_owned()),
        Shape::Text => Ok(Value::from(text)),
        Shape::ThirdParty => match text {
            "off" => Ok(Value::from("off")),
            "always" => Ok(Value::from("always")),
            "if-blocked-by-otterize" | "ifBlockedByOtterize" => Ok(Value::from("ifBlockedByOtterize")),
            _ => Err("off, always or if-blocked-by-otterize is expected".to_owned()),
        },
    }
}

/// `strconv.ParseBool`'s spellings.
fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err("true or false is expected".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn keys(vars: &[(&str, &str)]) -> Result<Mapping, String> {
        let env: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        flat_keys(|name| env.get(name).cloned())
    }

    #[test]
    fn the_references_variables_set_the_flat_keys() {
        let flat = keys(&[
            ("OTTERIZE_ENFORCEMENT_DEFAULT_STATE", "false"),
            ("OTTERIZE_ACTIVE_ENFORCEMENT_NAMESPACES", "a,b c"),
            ("OTTERIZE_ENABLE_LINKERD_POLICY", "0"),
            (
                "OTTERIZE_AUTOMATE_THIRD_PARTY_NETWORK_POLICIES",
                "if-blocked-by-otterize",
            ),
            ("OTTERIZE_ENABLE_GROUP_BY_CIDR_PEERS_LIMIT", "7"),
        ])
        .expect("valid");
        assert_eq!(flat.get("mode"), Some(&Value::from("defaultShadow")));
        assert_eq!(
            flat.get("enforcedNamespaces"),
            Some(&Value::Sequence(vec!["a".into(), "b".into(), "c".into()]))
        );
        assert_eq!(flat.get("enableLinkerdPolicyCreation"), Some(&Value::from(false)));
        assert_eq!(
            flat.get("automateThirdPartyNetworkPolicies"),
            Some(&Value::from("ifBlockedByOtterize"))
        );
        assert_eq!(
            flat.get("enableGroupIPsByCIDRPeersLimit"),
            Some(&Value::from(7u64))
        );
        assert_eq!(flat.len(), 5);
    }

    #[test]
    fn older_names_count_and_the_current_name_wins() {
        let old = keys(&[("OTTERIZE_EXP_ENABLE_EGRESS_NETWORK_POLICIES", "true")]).expect("valid");
        assert_eq!(
            old.get("enableEgressNetworkPolicyCreation"),
            Some(&Value::from(true))
        );
        let both = keys(&[
            ("OTTERIZE_EXP_ENABLE_EGRESS_NETWORK_POLICIES", "true"),
            ("OTTERIZE_ENABLE_EGRESS_NETWORK_POLICIES", "false"),
        ])
        .expect("valid");
        assert_eq!(
            both.get("enableEgressNetworkPolicyCreation"),
            Some(&Value::from(false))
        );
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let message = keys(&[("OTTERIZE_ENABLE_KAFKA_ACL_CREATION", "yes")]).expect_err("bad");
        assert_eq!(
            message,
            "OTTERIZE_ENABLE_KAFKA_ACL_CREATION=\"yes\": true or false is expected"
        );
    }
}
