//! A values file written for the reference's Helm charts, read as the operator configuration. In: the YAML
//! document of a `--config` file whose top level is the umbrella chart's (`intentsOperator`, `global`) or the
//! intents-operator chart's (`operator`, `watchedNamespaces`, `global`). Out: the flat configuration keys
//! (`holt_model::Config`'s) and one notice per value that is set but that the operator does not act on,
//! with what Holt does instead (the reasons are the chart's own table, `files/reference-values.yaml`).
//!
//! Where each flat key comes from (paths of the umbrella chart; the intents-operator chart's lack the
//! `intentsOperator.` prefix): `mode` and the `enable*`, `separate*`, `automate*`, `excluded*` and
//! `istioTrustDomain` keys from `intentsOperator.operator.<same key>`; `watchedNamespaces` and
//! `enforcedNamespaces` from `intentsOperator.<same key>`; `workloadNameOverrideAnnotation` from
//! `global.workloadNameOverrideAnnotationName`; `useImageNameForServiceIdForJobs` from
//! `global.experimentalUseDockerImageAsServiceNameForJobs`. The deprecated `operator.allowExternalTraffic`
//! sets `automateThirdPartyNetworkPolicies` when that is not set; `operator.enableEnforcement` is refused, as
//! the reference's chart refuses it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml::{Mapping, Value};

/// The chart's table of the reference's values: which keys are acted on, and why the others are not.
const REFERENCE_VALUES: &str = include_str!("../../../deploy/helm/holt/files/reference-values.yaml");

/// The operator's own keys under `intentsOperator.operator`, spelled as in the flat file.
const OPERATOR_KEYS: [&str; 14] = [
    "mode",
    "enableNetworkPolicyCreation",
    "enableKafkaACLCreation",
    "enableIstioPolicyCreation",
    "enableLinkerdPolicyCreation",
    "enableEgressNetworkPolicyCreation",
    "separateNetpolsForIngressAndEgress",
    "enableEgressAutoallowDNSTraffic",
    "enableGroupIPsByCIDR",
    "enableGroupIPsByCIDRPeersLimit",
    "automateThirdPartyNetworkPolicies",
    "enableStrictModeIntents",
    "excludedStrictModeNamespaces",
    "istioTrustDomain",
];

/// Keys of `intentsOperator` itself read as flat keys of the same name.
const NAMESPACE_KEYS: [&str; 2] = ["watchedNamespaces", "enforcedNamespaces"];

/// `global` keys and the flat keys they set.
const GLOBAL_KEYS: [(&str, &str); 2] = [
    (
        "workloadNameOverrideAnnotationName",
        "workloadNameOverrideAnnotation",
    ),
    (
        "experimentalUseDockerImageAsServiceNameForJobs",
        "useImageNameForServiceIdForJobs",
    ),
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Table {
    acted_on: BTreeMap<String, Vec<String>>,
    ignored: BTreeMap<String, String>,
}

/// Whether a configuration document is shaped as the reference's values rather than flat.
pub fn is_values_shaped(document: &Value) -> bool {
    let Value::Mapping(map) = document else {
        return false;
    };
    ["intentsOperator", "operator", "global"]
        .iter()
        .any(|key| matches!(map.get(*key), Some(Value::Mapping(_))))
}

/// The flat keys, and the notices of values set but not acted on.
pub fn flatten(document: &Value) -> Result<(Mapping, Vec<String>), String> {
    let root = document.as_mapping().cloned().unwrap_or_default();
    // The intents-operator chart alone is the umbrella's `intentsOperator` section without the prefix.
    let umbrella = root.contains_key("intentsOperator");
    let intents = if umbrella {
        section(&root, "intentsOperator")?
    } else {
        let mut own = root.clone();
        own.remove("global");
        own
    };
    let operator = section(&intents, "operator")?;
    let global = section(&root, "global")?;
    let prefix = if umbrella { "intentsOperator." } else { "" };
    if is_set(operator.get("enableEnforcement")) {
        return Err(format!(
            "{prefix}operator.enableEnforcement is deprecated (as in the reference chart): set \
             {prefix}operator.mode to defaultActive or defaultShadow instead"
        ));
    }

    let mut flat = Mapping::new();
    let copy = |flat: &mut Mapping, from: &Mapping, key: &str, to: &str| {
        if let Some(value) = from.get(key).filter(|v| !v.is_null()) {
            flat.insert(Value::from(to), value.clone());
        }
    };
    for key in OPERATOR_KEYS {
        copy(&mut flat, &operator, key, key);
    }
    for key in NAMESPACE_KEYS {
        copy(&mut flat, &intents, key, key);
    }
    for (key, to) in GLOBAL_KEYS {
        copy(&mut flat, &global, key, to);
    }
    if !flat.contains_key("automateThirdPartyNetworkPolicies") {
        let deprecated = "allowExternalTraffic";
        copy(
            &mut flat,
            &operator,
            deprecated,
            "automateThirdPartyNetworkPolicies",
        );
    }

    let table: Table = serde_yaml::from_str(REFERENCE_VALUES)
        .map_err(|e| format!("the built-in table of the reference's values does not parse: {e}"))?;
    let mut notices = Vec::new();
    let sections = [
        ("intentsOperator.operator", &operator),
        ("intentsOperator", &intents),
        ("global", &global),
    ];
    for (name, map) in sections {
        let acted = table.acted_on.get(name).map(Vec::as_slice).unwrap_or_default();
        for (key, value) in map {
            let Some(key) = key.as_str() else { continue };
            let path = format!("{name}.{key}");
            // Keys the chart or the operator reads, sections read on their own, and values that ask for
            // nothing (false, empty) say nothing.
            if acted.iter().any(|a| a == key)
                || table.acted_on.contains_key(&path)
                || !asks_for_something(value)
            {
                continue;
            }
            notices.push(match longest_prefix(&table.ignored, &path) {
                Some(reason) => format!("{path}: not acted on: {reason}"),
                None => format!("{path}: not a value Holt knows; ignored"),
            });
        }
    }
    if !umbrella {
        for notice in &mut notices {
            *notice = notice.replacen("intentsOperator.", "", 1);
        }
    }
    notices.sort();
    notices.dedup();
    Ok((flat, notices))
}

fn section(map: &Mapping, key: &str) -> Result<Mapping, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Mapping::new()),
        Some(Value::Mapping(inner)) => Ok(inner.clone()),
        Some(_) => Err(format!("{key}: a mapping is expected")),
    }
}

fn is_set(value: Option<&Value>) -> bool {
    value.is_some_and(|v| !v.is_null())
}

/// A value asks for something when it is true, a number, a non-empty string, list or map (as the chart's
/// NOTES count them).
fn asks_for_something(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(_) => true,
        Value::String(s) => !s.is_empty(),
        Value::Sequence(items) => !items.is_empty(),
        Value::Mapping(map) => map.values().any(asks_for_something),
        Value::Tagged(tagged) => asks_for_something(&tagged.value),
    }
}

fn longest_prefix<'a>(reasons: &'a BTreeMap<String, String>, path: &str) -> Option<&'a str> {
    reasons
        .iter()
        .filter(|(prefix, _)| path == prefix.as_str() || path.starts_with(&format!("{prefix}.")))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, reason)| reason.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat_of(yaml: &str) -> Result<(Mapping, Vec<String>), String> {
        let document: Value = serde_yaml::from_str(yaml).expect("YAML");
        assert!(is_values_shaped(&document));
        flatten(&document)
    }

    #[test]
    fn the_charts_table_parses_and_names_the_operators_keys() {
        let table: Table = serde_yaml::from_str(REFERENCE_VALUES).expect("the table parses");
        let operator = &table.acted_on["intentsOperator.operator"];
        for key in OPERATOR_KEYS {
            assert!(operator.iter().any(|k| k == key), "{key} is acted on");
        }
        assert!(table.ignored.contains_key("global.telemetry"));
    }

    #[test]
    fn the_umbrella_charts_values_become_flat_keys() {
        let (flat, notices) = flat_of(
            "global:\n  workloadNameOverrideAnnotationName: my/name\n  telemetry: {enabled: true}\n\
             intentsOperator:\n  watchedNamespaces: [shop]\n  operator:\n    mode: defaultShadow\n    \
             image: x\n    enableIstioPolicyCreation: false\n    allowExternalTraffic: always\n    \
             enableDatabasePolicyCreation: true\n    enableFoo: true\n    istioTrustDomain: null\n",
        )
        .expect("valid");
        let expected: Mapping = serde_yaml::from_str(
            "mode: defaultShadow\nenableIstioPolicyCreation: false\nwatchedNamespaces: [shop]\n\
             workloadNameOverrideAnnotation: my/name\nautomateThirdPartyNetworkPolicies: always\n",
        )
        .expect("YAML");
        assert_eq!(flat, expected, "null means the default: left out");
        assert_eq!(
            notices,
            [
                "global.telemetry: not acted on: Holt sends no telemetry",
                "intentsOperator.operator.enableDatabasePolicyCreation: not acted on: database policies are not implemented",
                "intentsOperator.operator.enableFoo: not a value Holt knows; ignored",
            ]
        );
    }

    #[test]
    fn the_intents_operator_charts_values_read_the_same_without_the_prefix() {
        let (flat, notices) = flat_of(
            "enforcedNamespaces: [a]\noperator:\n  mode: defaultShadow\n  \
             automateThirdPartyNetworkPolicies: off\n  allowExternalTraffic: always\n  \
             enableDatabasePolicyCreation: true\nglobal:\n  experimentalUseDockerImageAsServiceNameForJobs: true\n",
        )
        .expect("valid");
        assert_eq!(
            flat.get("enforcedNamespaces"),
            Some(&Value::Sequence(vec!["a".into()]))
        );
        assert_eq!(
            flat.get("automateThirdPartyNetworkPolicies"),
            Some(&Value::from("off")),
            "the current key wins over the deprecated one"
        );
        assert_eq!(
            flat.get("useImageNameForServiceIdForJobs"),
            Some(&Value::from(true))
        );
        assert_eq!(
            notices,
            ["operator.enableDatabasePolicyCreation: not acted on: database policies are not implemented"]
        );
    }

    #[test]
    fn enable_enforcement_is_refused_as_the_reference_chart_refuses_it() {
        let message =
            flat_of("intentsOperator:\n  operator:\n    enableEnforcement: true\n").expect_err("refused");
        assert!(
            message.starts_with("intentsOperator.operator.enableEnforcement is deprecated"),
            "{message}"
        );
    }

    #[test]
    fn flat_files_are_not_values_shaped() {
        let flat: Value =
            serde_yaml::from_str("mode: defaultShadow\nenforcedNamespaces: [a]\n").expect("YAML");
        assert!(!is_values_shaped(&flat));
    }
}
