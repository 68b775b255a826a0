//! One AuthorizationPolicy, checked and reduced to what evaluation needs: where it applies (namespace and
//! selector, or the whole mesh from the root namespace), its action, and its rules. A rule matches a request
//! when one of its sources matches (or it has none), one of its operations matches (or it has none); inside a
//! source or an operation every field present must hold. Every refusal names the policy and the field.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::istio::manifest::{
    AuthorizationPolicyManifest, OperationManifest, OtherFields, RuleManifest, SourceManifest,
};
use crate::istio::request::{MeshRequest, MeshSource};
use crate::istio::string_match::StringPattern;
use crate::policy::PolicyName;
use crate::selector::Labels;

/// What a policy does when one of its rules matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Allow,
    Deny,
    Audit,
    Custom,
}

/// An AuthorizationPolicy that cannot be evaluated, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("AuthorizationPolicy {policy}: {field}: {problem}")]
pub struct MeshPolicyError {
    pub policy: String,
    pub field: String,
    pub problem: String,
}

/// A checked policy.
#[derive(Clone, Debug)]
pub struct MeshPolicy {
    pub name: PolicyName,
    pub action: Action,
    /// The external authorizer of a `CUSTOM` policy.
    pub provider: Option<String>,
    /// `None`: every workload in scope.
    selector: Option<BTreeMap<String, String>>,
    /// Written in the root namespace: applies in every namespace.
    mesh_wide: bool,
    rules: Vec<Rule>,
}

/// `from` and `to` of one rule; an empty list places no condition.
#[derive(Clone, Debug)]
struct Rule {
    from: Vec<SourceMatch>,
    to: Vec<OperationMatch>,
}

/// One `from[].source`; `None` (or an empty negative list) places no condition.
#[derive(Clone, Debug)]
struct SourceMatch {
    principals: Option<Vec<StringPattern>>,
    not_principals: Vec<StringPattern>,
    namespaces: Option<Vec<StringPattern>>,
    not_namespaces: Vec<StringPattern>,
}

/// One `to[].operation`.
#[derive(Clone, Debug)]
struct OperationMatch {
    paths: Option<Vec<StringPattern>>,
    not_paths: Vec<StringPattern>,
    methods: Option<Vec<StringPattern>>,
    not_methods: Vec<StringPattern>,
    ports: Option<Vec<u16>>,
    not_ports: Vec<u16>,
}

impl OperationMatch {
    /// Whether the operation names HTTP attributes (paths, methods), which plain TCP traffic does not have.
    fn is_http_only(&self) -> bool {
        self.paths.is_some()
            || self.methods.is_some()
            || !self.not_paths.is_empty()
            || !self.not_methods.is_empty()
    }
}

/// Builds errors naming the policy.
struct Checker<'a> {
    policy: &'a PolicyName,
}

impl Checker<'_> {
    fn error(&self, field: impl Into<String>, problem: impl Into<String>) -> MeshPolicyError {
        MeshPolicyError {
            policy: self.policy.to_string(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Refuses fields the evaluator does not read, unless they are empty.
    fn nothing_else(&self, field: &str, other: &OtherFields) -> Result<(), MeshPolicyError> {
        for (key, value) in other {
            let empty = match value {
                Value::Null => true,
                Value::Array(items) => items.is_empty(),
                Value::Object(fields) => fields.is_empty(),
                _ => false,
            };
            if !empty {
                let path = if field.is_empty() {
                    key.clone()
                } else {
                    format!("{field}.{key}")
                };
                return Err(self.error(path, "not evaluated by holt-reach"));
            }
        }
        Ok(())
    }

    /// A string list: `None` when absent or empty.
    fn patterns(
        &self,
        field: String,
        list: Option<&Vec<String>>,
        is_path: bool,
    ) -> Result<Option<Vec<StringPattern>>, MeshPolicyError> {
        let Some(list) = list.filter(|l| !l.is_empty()) else {
            return Ok(None);
        };
        list.iter()
            .enumerate()
            .map(|(index, text)| {
                StringPattern::parse(text, is_path)
                    .map_err(|e| self.error(format!("{field}[{index}]"), e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn ports(&self, field: String, list: Option<&Vec<String>>) -> Result<Option<Vec<u16>>, MeshPolicyError> {
        let Some(list) = list.filter(|l| !l.is_empty()) else {
            return Ok(None);
        };
        list.iter()
            .enumerate()
            .map(|(index, text)| match text.parse::<u16>() {
                Ok(port) if port > 0 => Ok(port),
                _ => Err(self.error(
                    format!("{field}[{index}]"),
                    format!("`{text}` is not a port number"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn source(&self, field: &str, source: &SourceManifest) -> Result<SourceMatch, MeshPolicyError> {
        self.nothing_else(field, &source.other)?;
        let checked = SourceMatch {
            principals: self.patterns(format!("{field}.principals"), source.principals.as_ref(), false)?,
            not_principals: self
                .patterns(
                    format!("{field}.notPrincipals"),
                    source.not_principals.as_ref(),
                    false,
                )?
                .unwrap_or_default(),
            namespaces: self.patterns(format!("{field}.namespaces"), source.namespaces.as_ref(), false)?,
            not_namespaces: self
                .patterns(
                    format!("{field}.notNamespaces"),
                    source.not_namespaces.as_ref(),
                    false,
                )?
                .unwrap_or_default(),
        };
        if checked.principals.is_none()
            && checked.not_principals.is_empty()
            && checked.namespaces.is_none()
            && checked.not_namespaces.is_empty()
        {
            return Err(self.error(field, "a source must set at least one field"));
        }
        Ok(checked)
    }

    fn operation(
        &self,
        field: &str,
        operation: &OperationManifest,
    ) -> Result<OperationMatch, MeshPolicyError> {
        self.nothing_else(field, &operation.other)?;
        let checked = OperationMatch {
            paths: self.patterns(format!("{field}.paths"), operation.paths.as_ref(), true)?,
            not_paths: self
                .patterns(format!("{field}.notPaths"), operation.not_paths.as_ref(), true)?
                .unwrap_or_default(),
            methods: self.patterns(format!("{field}.methods"), operation.methods.as_ref(), false)?,
            not_methods: self
                .patterns(
                    format!("{field}.notMethods"),
                    operation.not_methods.as_ref(),
                    false,
                )?
                .unwrap_or_default(),
            ports: self.ports(format!("{field}.ports"), operation.ports.as_ref())?,
            not_ports: self
                .ports(format!("{field}.notPorts"), operation.not_ports.as_ref())?
                .unwrap_or_default(),
        };
        if !checked.is_http_only() && checked.ports.is_none() && checked.not_ports.is_empty() {
            return Err(self.error(field, "an operation must set at least one field"));
        }
        Ok(checked)
    }

    fn rule(&self, index: usize, rule: &RuleManifest) -> Result<Rule, MeshPolicyError> {
        let field = format!("spec.rules[{index}]");
        self.nothing_else(&field, &rule.other)?;
        let mut from = Vec::new();
        for (i, entry) in rule.from.iter().flatten().enumerate() {
            let field = format!("{field}.from[{i}].source");
            let Some(source) = &entry.source else {
                return Err(self.error(field, "missing"));
            };
            from.push(self.source(&field, source)?);
        }
        let mut to = Vec::new();
        for (i, entry) in rule.to.iter().flatten().enumerate() {
            let field = format!("{field}.to[{i}].operation");
            let Some(operation) = &entry.operation else {
                return Err(self.error(field, "missing"));
            };
            to.push(self.operation(&field, operation)?);
        }
        Ok(Rule { from, to })
    }
}

impl MeshPolicy {
    /// Checks `manifest`; `root_namespace` is the mesh's root namespace (`istio-system` by default).
    pub fn compile(
        manifest: &AuthorizationPolicyManifest,
        root_namespace: &str,
    ) -> Result<Self, MeshPolicyError> {
        let name = PolicyName {
            namespace: manifest.metadata.namespace.clone().unwrap_or_default(),
            name: manifest.metadata.name.clone().unwrap_or_default(),
        };
        let checker = Checker { policy: &name };
        if name.namespace.is_empty() {
            return Err(checker.error("metadata.namespace", "missing"));
        }
        let spec = &manifest.spec;
        checker.nothing_else("spec", &spec.other)?;
        let action = match spec.action.as_deref().unwrap_or("ALLOW") {
            "ALLOW" => Action::Allow,
            "DENY" => Action::Deny,
            "AUDIT" => Action::Audit,
            "CUSTOM" => Action::Custom,
            other => {
                return Err(checker.error(
                    "spec.action",
                    format!("`{other}` is not one of ALLOW, DENY, AUDIT, CUSTOM"),
                ));
            }
        };
        let provider = spec
            .provider
            .as_ref()
            .map(|p| p.name.clone())
            .filter(|n| !n.is_empty());
        match (action, &provider) {
            (Action::Custom, None) => {
                return Err(checker.error("spec.provider.name", "CUSTOM needs a provider"));
            }
            (Action::Custom, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(checker.error("spec.provider", "only CUSTOM policies name a provider"));
            }
        }
        let rules = spec
            .rules
            .iter()
            .flatten()
            .enumerate()
            .map(|(index, rule)| checker.rule(index, rule))
            .collect::<Result<Vec<_>, _>>()?;
        let selector = spec
            .selector
            .as_ref()
            .and_then(|s| s.match_labels.clone())
            .filter(|labels| !labels.is_empty());
        Ok(Self {
            mesh_wide: name.namespace == root_namespace,
            name,
            action,
            provider,
            selector,
            rules,
        })
    }

    /// Whether the policy applies to a workload of `namespace` with `labels`.
    pub fn selects(&self, namespace: &str, labels: &Labels) -> bool {
        (self.mesh_wide || self.name.namespace == namespace)
            && self
                .selector
                .iter()
                .flatten()
                .all(|(key, value)| labels.get(key) == Some(value))
    }

    /// The index of the first rule matching `request`, if any.
    pub fn matching_rule(&self, request: &MeshRequest) -> Option<usize> {
        self.rules
            .iter()
            .position(|rule| self.rule_matches(rule, request))
    }

    fn rule_matches(&self, rule: &Rule, request: &MeshRequest) -> bool {
        let source_matches = rule.from.is_empty() || rule.from.iter().any(|s| s.matches(&request.source));
        let operation_matches = rule.to.is_empty()
            || rule.to.iter().any(|operation| match &request.http {
                Some(_) => operation.matches(request, false),
                // Plain TCP has no method or path. Istio drops an ALLOW (or AUDIT) rule naming them, so it
                // matches nothing, and ignores those fields in DENY and CUSTOM rules, so they match more.
                None => match self.action {
                    Action::Allow | Action::Audit => {
                        !operation.is_http_only() && operation.matches(request, false)
                    }
                    Action::Deny | Action::Custom => operation.matches(request, true),
                },
            });
        source_matches && operation_matches
    }
}

/// `positive`: absent, or one entry matches; `negative`: no entry matches. A missing value matches no
/// positive entry and no negative entry.
fn holds(positive: Option<&Vec<StringPattern>>, negative: &[StringPattern], value: Option<&str>) -> bool {
    let listed = positive.is_none_or(|list| value.is_some_and(|v| list.iter().any(|p| p.matches(v))));
    let excluded = value.is_some_and(|v| negative.iter().any(|p| p.matches(v)));
    listed && !excluded
}

impl SourceMatch {
    fn matches(&self, source: &MeshSource) -> bool {
        holds(
            self.principals.as_ref(),
            &self.not_principals,
            source.principal.as_deref(),
        ) && holds(self.namespaces.as_ref(), &self.not_namespaces, source.namespace())
    }
}

impl OperationMatch {
    /// With `ignore_http`, paths and methods place no condition (plain TCP under a DENY or CUSTOM rule).
    fn matches(&self, request: &MeshRequest, ignore_http: bool) -> bool {
        let port = request.port;
        let ports_hold =
            self.ports.as_ref().is_none_or(|ports| ports.contains(&port)) && !self.not_ports.contains(&port);
        if !ports_hold {
            return false;
        }
        if ignore_http {
            return true;
        }
        let method = request.http.as_ref().map(|h| h.method.as_str());
        let path = request.http.as_ref().map(|h| h.path.as_str());
        holds(self.methods.as_ref(), &self.not_methods, method)
            && holds(self.paths.as_ref(), &self.not_paths, path)
    }
}
