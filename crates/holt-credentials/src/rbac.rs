//! The Kubernetes permissions the credentials operator needs, exactly the calls it makes; the chart's roles
//! are these (its template test compares them) and the tests run the controller with nothing more.
//!
//! - [`read_rules`]: the pod watch (metadata; `get` for a Job's containers when Jobs are named by image)
//!   and reading the pods' owners. Bound cluster-wide, or in each watched namespace.
//! - [`write_rules`]: the certificate Secrets (`get` to read the one of a requested name, `create`,
//!   `update`; no `list` or `watch`, and no `delete`: the garbage collector removes them with their owners),
//!   Events, and the pod template patch of a restart after renewal. Bound like the read rules: Secrets are
//!   written wherever a served pod asks for one, so cluster-wide unless the operator is limited to
//!   namespaces.
//! - [`own_namespace_rules`]: in the operator's namespace, its CA Secret (`create` cannot be limited to a
//!   name; `get`/`update` are) and its leader Lease.

use k8s_openapi::api::rbac::v1::PolicyRule;

/// The Lease the replicas elect their leader with.
pub const LEASE_NAME: &str = "holt-credentials-operator";

fn rule(group: &str, resources: &[&str], names: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(strings(resources)),
        resource_names: (!names.is_empty()).then(|| strings(names)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}

const OWNER_KINDS: [&str; 4] = ["replicasets", "deployments", "statefulsets", "daemonsets"];

/// Watching pods and reading their owners.
pub fn read_rules() -> Vec<PolicyRule> {
    vec![
        rule("", &["pods"], &[], &["get", "list", "watch"]),
        rule("apps", &OWNER_KINDS, &[], &["get"]),
        rule("batch", &["jobs", "cronjobs"], &[], &["get"]),
    ]
}

/// Writing certificate Secrets and Events, restarting workloads.
pub fn write_rules() -> Vec<PolicyRule> {
    vec![
        rule("", &["secrets"], &[], &["get", "create", "update"]),
        rule("events.k8s.io", &["events"], &[], &["create", "patch"]),
        rule("apps", &OWNER_KINDS, &[], &["patch"]),
    ]
}

/// In the operator's namespace: the CA Secret `ca_secret` (read only when it is the user's) and the leader
/// Lease.
pub fn own_namespace_rules(ca_secret: &str, user_supplied: bool) -> Vec<PolicyRule> {
    let mut rules = Vec::new();
    match user_supplied {
        true => rules.push(rule("", &["secrets"], &[ca_secret], &["get"])),
        false => {
            rules.push(rule("", &["secrets"], &[], &["create"]));
            rules.push(rule("", &["secrets"], &[ca_secret], &["get", "update"]));
        }
    }
    rules.push(rule("coordination.k8s.io", &["leases"], &[], &["create"]));
    rules.push(rule(
        "coordination.k8s.io",
        &["leases"],
        &[LEASE_NAME],
        &["get", "update"],
    ));
    rules
}
