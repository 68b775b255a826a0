//! The Kubernetes permissions the credentials operator needs, exactly the calls it makes; the chart's roles
//! are these (its template test compares them) and the tests run the controller with nothing more.
//!
//! - [`read_rules`]: the pod watch (metadata; `get` for a Job's containers when Jobs are named by image)
//!   and reading the pods' owners. Bound cluster-wide, or in each watched namespace.
//! - [`write_rules`], by provider. `builtin` and `spire`: the certificate Secrets (`get` to read the one of
//!   a requested name, `create`, `update`; no `list` or `watch`, and no `delete`: the garbage collector
//!   removes them with their owners), Events, and the pod template patch of a restart after renewal; `spire`
//!   adds the pods' `patch` (the registered-service-name label its entries select on). `cert-manager`:
//!   `certificates.cert-manager.io` `create` and `patch` (server-side apply: a patch that creates needs
//!   both), the same for the JKS password Secrets, Events; no Secret reads, no restarts (renewal is cert-manager's). Bound like the read
//!   rules: wherever a served pod asks, so cluster-wide unless the operator is limited to namespaces.
//! - [`own_namespace_rules`]: in the operator's namespace, the built-in CA's Secret (`create` cannot be
//!   limited to a name; `get`/`update` are; none with another provider) and its leader Lease.

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::provider::ProviderKind;

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

/// Writing what `provider` needs (certificate Secrets or Certificates), Events, restarting workloads.
pub fn write_rules(provider: ProviderKind) -> Vec<PolicyRule> {
    let events = rule("events.k8s.io", &["events"], &[], &["create", "patch"]);
    match provider {
        ProviderKind::BuiltIn | ProviderKind::Spire => {
            let mut rules = vec![
                rule("", &["secrets"], &[], &["get", "create", "update"]),
                events,
                rule("apps", &OWNER_KINDS, &[], &["patch"]),
            ];
            if provider == ProviderKind::Spire {
                rules.push(rule("", &["pods"], &[], &["patch"]));
            }
            rules
        }
        ProviderKind::CertManager => vec![
            rule("cert-manager.io", &["certificates"], &[], &["create", "patch"]),
            rule("", &["secrets"], &[], &["create", "patch"]),
            events,
        ],
    }
}

/// In the operator's namespace: with the built-in CA its Secret `ca_secret` (read only when it is the
/// user's), and the leader Lease.
pub fn own_namespace_rules(provider: ProviderKind, ca_secret: &str, user_supplied: bool) -> Vec<PolicyRule> {
    let mut rules = Vec::new();
    match user_supplied {
        _ if provider != ProviderKind::BuiltIn => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(rules: &[PolicyRule], group: &str, resource: &str, verb: &str) -> bool {
        rules.iter().any(|r| {
            r.api_groups.as_deref() == Some(&[group.to_owned()][..])
                && r.resources.iter().flatten().any(|x| x == resource)
                && r.verbs.iter().any(|v| v == verb)
        })
    }

    #[test]
    fn each_provider_gets_only_what_it_writes() {
        let builtin = write_rules(ProviderKind::BuiltIn);
        let spire = write_rules(ProviderKind::Spire);
        let cert_manager = write_rules(ProviderKind::CertManager);
        assert!(!grants(&builtin, "", "pods", "patch"));
        assert!(grants(&spire, "", "pods", "patch"));
        assert!(!grants(&cert_manager, "", "pods", "patch"));
        assert!(grants(&cert_manager, "cert-manager.io", "certificates", "patch"));
        assert!(!grants(&builtin, "cert-manager.io", "certificates", "patch"));
        assert!(!grants(&spire, "cert-manager.io", "certificates", "patch"));
        assert!(!grants(&cert_manager, "", "secrets", "get"));
        for provider in [ProviderKind::Spire, ProviderKind::CertManager] {
            let own = own_namespace_rules(provider, "holt-credentials-ca", false);
            assert!(!grants(&own, "", "secrets", "create") && !grants(&own, "", "secrets", "get"));
            assert!(grants(&own, "coordination.k8s.io", "leases", "create"));
        }
        let own = own_namespace_rules(ProviderKind::BuiltIn, "holt-credentials-ca", false);
        assert!(grants(&own, "", "secrets", "create"));
    }
}
