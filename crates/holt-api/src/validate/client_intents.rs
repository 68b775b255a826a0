//! The ClientIntents rules of compat §2.15, checked on the hub form: the client workload, uniqueness in the
//! namespace, each target, and strict mode.

use crate::v2beta1::{ClientIntents, HttpResource, InternetTarget, TargetRef};
use crate::validate::network::{Wildcard, check_domain, is_ip_or_cidr};
use crate::validate::path::Layout;
use crate::validate::{Config, Findings, Rule, check_kind, others_in, same_kind};

pub(super) fn check(
    object: &ClientIntents,
    others: &[ClientIntents],
    config: &Config,
    layout: Layout,
    findings: &mut Findings,
) {
    let workload = &object.spec.workload;
    if workload.name.is_empty() {
        findings.error(layout.workload("name"), Rule::Required);
    } else if workload.name.contains('.') {
        findings.error(
            layout.workload("name"),
            Rule::WorkloadNameHasDot {
                name: workload.name.clone(),
            },
        );
    }
    check_kind(workload.kind.as_deref(), layout.workload("kind"), findings);

    let namespace = object.metadata.namespace.as_deref();
    let name = object.metadata.name.as_deref();
    for other in others_in(others, namespace, name) {
        let theirs = &other.spec.workload;
        if !workload.name.is_empty()
            && theirs.name == workload.name
            && same_kind(theirs.kind.as_deref(), workload.kind.as_deref())
        {
            let other = other.metadata.name.clone().unwrap_or_default();
            findings.error(layout.workload(""), Rule::DuplicateWorkload { other });
        }
    }

    let strict = config.strict_in(namespace);
    for (index, target) in object.spec.targets.iter().enumerate() {
        let keys = target.keys();
        // A v1 call that converts to an empty target is reported by the v1 rules, in v1 words.
        if keys.len() != 1 && !(keys.is_empty() && layout == Layout::V1) {
            let keys = keys.iter().map(TargetRef::key).collect();
            findings.error(layout.target(index), Rule::TargetKeys { keys });
        }
        for key in keys {
            let at = |field: &str| layout.target_field(index, key.key(), field);
            match key {
                TargetRef::Kubernetes(k) => {
                    check_in_cluster_name(&k.name, at("name"), findings);
                    check_kind(k.kind.as_deref(), at("kind"), findings);
                    check_http(&k.http, &at, findings);
                    if strict && k.kind.as_deref() != Some("Service") {
                        findings.error(at("kind"), Rule::StrictServiceRequired);
                    }
                }
                TargetRef::Service(s) => {
                    check_in_cluster_name(&s.name, at("name"), findings);
                    check_http(&s.http, &at, findings);
                }
                TargetRef::Kafka(k) => {
                    if k.name.is_empty() {
                        findings.error(at("name"), Rule::Required);
                    }
                    for (t, topic) in k.topics.iter().enumerate() {
                        if topic.name.is_empty() {
                            findings.error(at(&format!("topics[{t}].name")), Rule::Required);
                        }
                    }
                }
                TargetRef::Sql(s) => {
                    if s.name.is_empty() {
                        findings.error(at("name"), Rule::Required);
                    }
                    for (p, privileges) in s.privileges.iter().enumerate() {
                        if privileges.database_name.is_empty() {
                            findings.error(at(&format!("privileges[{p}].databaseName")), Rule::Required);
                        }
                    }
                }
                TargetRef::Aws(a) => {
                    if a.arn.is_empty() {
                        findings.error(at("arn"), Rule::Required);
                    }
                }
                TargetRef::Gcp(g) => {
                    if g.resource.is_empty() {
                        findings.error(at("resource"), Rule::Required);
                    }
                }
                TargetRef::Azure(a) => {
                    if a.scope.is_empty() {
                        findings.error(at("scope"), Rule::Required);
                    }
                    let has_actions = !a.actions.is_empty() || !a.data_actions.is_empty();
                    if a.roles.is_empty() && !has_actions && a.key_vault_policy.is_none() {
                        findings.error(at(""), Rule::AzureNothingGranted);
                    }
                    if !a.roles.is_empty() && has_actions {
                        findings.error(at("roles"), Rule::AzureRolesWithActions);
                    }
                }
                TargetRef::Internet(i) => check_internet(i, strict, &at, findings),
            }
        }
    }
}

/// `kubernetes` and `service` names: required, `server` or `server.namespace`.
fn check_in_cluster_name(name: &str, field: String, findings: &mut Findings) {
    if name.is_empty() {
        findings.error(field, Rule::Required);
    } else if name.matches('.').count() > 1 {
        findings.error(
            field,
            Rule::TooManyDots {
                name: name.to_owned(),
            },
        );
    }
}

fn check_http(http: &[HttpResource], at: &dyn Fn(&str) -> String, findings: &mut Findings) {
    for (h, resource) in http.iter().enumerate() {
        if resource.path.is_empty() {
            findings.error(at(&format!("http[{h}].path")), Rule::Required);
        }
    }
}

fn check_internet(
    internet: &InternetTarget,
    strict: bool,
    at: &dyn Fn(&str) -> String,
    findings: &mut Findings,
) {
    if internet.ips.is_empty() && internet.domains.is_empty() {
        findings.error(at(""), Rule::InternetNoDestination);
    }
    for (d, domain) in internet.domains.iter().enumerate() {
        let field = at(&format!("domains[{d}]"));
        match check_domain(domain) {
            Err(reason) => findings.error(
                field,
                Rule::InvalidDomain {
                    domain: domain.clone(),
                    reason,
                },
            ),
            Ok(Wildcard::Yes) if strict => findings.error(
                field,
                Rule::StrictWildcardDomain {
                    domain: domain.clone(),
                },
            ),
            Ok(_) => {}
        }
    }
    for (n, ip) in internet.ips.iter().enumerate() {
        if !is_ip_or_cidr(ip) {
            findings.error(at(&format!("ips[{n}]")), Rule::InvalidIp { ip: ip.clone() });
        }
    }
    for (p, &port) in internet.ports.iter().enumerate() {
        if !(1..=65535).contains(&port) {
            findings.error(at(&format!("ports[{p}]")), Rule::InvalidPort { port });
        }
    }
    if strict && internet.ports.is_empty() {
        findings.error(at("ports"), Rule::StrictPortsRequired);
    }
}
