//! Label selectors (`matchLabels` and `matchExpressions`), checked once and then matched against label maps.
//! An empty selector matches everything; every requirement must hold (they are ANDed).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Labels of a pod or a namespace.
pub type Labels = BTreeMap<String, String>;

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key: value` in `matchLabels`.
    Equals(String, String),
    /// `In`: the label is present with one of the values.
    In(String, Vec<String>),
    /// `NotIn`: the label is absent, or present with none of the values.
    NotIn(String, Vec<String>),
    /// `Exists`: the label is present, whatever its value.
    Exists(String),
    /// `DoesNotExist`: the label is absent.
    DoesNotExist(String),
}

/// A checked label selector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// Why a selector is refused; `field` is the path of the offending requirement inside the selector.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("{field}.operator: `{operator}` is not one of In, NotIn, Exists, DoesNotExist")]
    Operator { field: String, operator: String },
    #[error("{field}.values: {operator} needs at least one value")]
    NoValues { field: String, operator: String },
    #[error("{field}.values: {operator} takes no values")]
    UnexpectedValues { field: String, operator: String },
}

impl Selector {
    /// Checks a Kubernetes selector. Field paths in errors are relative to the selector (`matchExpressions[0]`).
    pub fn compile(selector: &LabelSelector) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::Equals(key.clone(), value.clone()));
        }
        for (index, expression) in selector.match_expressions.iter().flatten().enumerate() {
            let field = format!("matchExpressions[{index}]");
            let key = expression.key.clone();
            let values = expression.values.clone().unwrap_or_default();
            let operator = expression.operator.as_str();
            let needs_values = matches!(operator, "In" | "NotIn");
            if needs_values && values.is_empty() {
                return Err(SelectorError::NoValues {
                    field,
                    operator: operator.to_owned(),
                });
            }
            if matches!(operator, "Exists" | "DoesNotExist") && !values.is_empty() {
                return Err(SelectorError::UnexpectedValues {
                    field,
                    operator: operator.to_owned(),
                });
            }
            requirements.push(match operator {
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                other => {
                    return Err(SelectorError::Operator {
                        field,
                        operator: other.to_owned(),
                    });
                }
            });
        }
        Ok(Self { requirements })
    }

    /// Whether every requirement holds for `labels`.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|requirement| match requirement {
            Requirement::Equals(key, value) => labels.get(key) == Some(value),
            Requirement::In(key, values) => labels.get(key).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(key, values) => labels.get(key).is_none_or(|v| !values.contains(v)),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::DoesNotExist(key) => !labels.contains_key(key),
        })
    }

    /// The `key: value` pairs every matching object must carry (from `matchLabels` and single-valued `In`);
    /// the index looks up candidates by them instead of testing every pod.
    pub fn required_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.requirements
            .iter()
            .filter_map(|requirement| match requirement {
                Requirement::Equals(key, value) => Some((key.as_str(), value.as_str())),
                Requirement::In(key, values) if values.len() == 1 => Some((key.as_str(), values[0].as_str())),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: operator.into(),
                values: (!values.is_empty()).then(|| values.iter().map(|v| (*v).to_owned()).collect()),
            }]),
            ..LabelSelector::default()
        }
    }

    fn selects(selector: &LabelSelector, pairs: &[(&str, &str)]) -> bool {
        Selector::compile(selector)
            .expect("valid")
            .matches(&labels(pairs))
    }

    #[test]
    fn an_empty_selector_matches_everything() {
        assert!(selects(&LabelSelector::default(), &[]));
        assert!(selects(&LabelSelector::default(), &[("app", "web")]));
    }

    #[test]
    fn each_operator_follows_the_kubernetes_meaning() {
        let is_in = expression("tier", "In", &["web", "api"]);
        assert!(selects(&is_in, &[("tier", "api")]));
        assert!(!selects(&is_in, &[("tier", "db")]));
        assert!(!selects(&is_in, &[]));
        let not_in = expression("tier", "NotIn", &["db"]);
        assert!(selects(&not_in, &[("tier", "web")]));
        assert!(selects(&not_in, &[]), "NotIn matches objects without the label");
        assert!(!selects(&not_in, &[("tier", "db")]));
        let exists = expression("tier", "Exists", &[]);
        assert!(selects(&exists, &[("tier", "")]));
        assert!(!selects(&exists, &[("other", "x")]));
        let absent = expression("tier", "DoesNotExist", &[]);
        assert!(selects(&absent, &[("other", "x")]));
        assert!(!selects(&absent, &[("tier", "web")]));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let mut selector = expression("tier", "NotIn", &["db"]);
        selector.match_labels = Some([("app".to_owned(), "shop".to_owned())].into());
        assert!(selects(&selector, &[("app", "shop"), ("tier", "web")]));
        assert!(!selects(&selector, &[("app", "shop"), ("tier", "db")]));
        assert!(!selects(&selector, &[("tier", "web")]));
    }

    #[test]
    fn bad_expressions_name_the_field() {
        let error = Selector::compile(&expression("a", "Equals", &["x"])).expect_err("operator");
        assert_eq!(
            error.to_string(),
            "matchExpressions[0].operator: `Equals` is not one of In, NotIn, Exists, DoesNotExist"
        );
        let error = Selector::compile(&expression("a", "In", &[])).expect_err("values");
        assert_eq!(
            error.to_string(),
            "matchExpressions[0].values: In needs at least one value"
        );
        let error = Selector::compile(&expression("a", "Exists", &["x"])).expect_err("values");
        assert_eq!(
            error.to_string(),
            "matchExpressions[0].values: Exists takes no values"
        );
    }
}
