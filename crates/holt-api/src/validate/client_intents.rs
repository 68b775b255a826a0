//! The ClientIntents rules of docs/reference-behaviour.md#validation, checked on the hub form: the client
//! workload, uniqueness in the namespace, each target, and strict mode; and the names Holt derives from the
//! workload and target names.

use crate::v2beta1::{ClientIntents, HttpResource, InternetTarget, TargetRef, split_target_name};
use crate::validate::derived_names::{Becomes, Derived, check_in_object_name, check_label};
use crate::validate::network::{Wildcard, check_domain, is_ip_or_cidr};
use crate::validate::path::Layout;
use crate::validate::{Findings, NeighbourIndex, Rule, ValidationConfig, check_kind, usable_kind};

/// The kind that names a Kubernetes Service.
const SERVICE_KIND: &str = "Service";
/// The namespace of an object that does not say (as the model reads it).
const DEFAULT_NAMESPACE: &str = "default";

pub(super) fn check(
    object: &ClientIntents,
    neighbours: &NeighbourIndex<'_>,
    config: &ValidationConfig,
    layout: Layout,
    findings: &mut Findings,
) {
    let workload = &object.spec.workload;
    let namespace = object.metadata.namespace.as_deref();
    let client_kind = usable_kind(workload.kind.as_deref());
    let client_name_fits = if workload.name.is_empty() {
        findings.error(layout.workload("name"), Rule::Required);
        false
    } else if workload.name.contains('.') {
        findings.error(
            layout.workload("name"),
            Rule::WorkloadNameHasDot {
                name: workload.name.clone(),
            },
        );
        false
    } else {
        let kind = client_kind.as_ref().ok().copied().flatten();
        let policy = Derived::access_policy("this workload's NetworkPolicy", kind);
        check_in_object_name(&workload.name, &policy, layout.workload("name"), findings)
    };
    check_kind(workload.kind.as_deref(), layout.workload("kind"), findings);
    // The client as the Istio policies of its calls name it, when its name and kind are usable.
    let client = match client_kind {
        Ok(kind) if client_name_fits => Some(Client {
            name: &workload.name,
            kind,
            namespace: namespace.unwrap_or(DEFAULT_NAMESPACE),
        }),
        _ => None,
    };

    if !workload.name.is_empty() {
        let name = object.metadata.name.as_deref();
        let kind = workload.kind.as_deref();
        for other in neighbours.client_intents_for(namespace, name, &workload.name, kind) {
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
                    let kind = usable_kind(k.kind.as_deref());
                    let server = Server {
                        name: &k.name,
                        kind: kind.as_ref().ok().copied().flatten(),
                        namespace,
                    };
                    if check_server_name(&server, at("name"), findings) && kind.is_ok() {
                        check_istio_policy(&server, client.as_ref(), at("name"), findings);
                    }
                    check_kind(k.kind.as_deref(), at("kind"), findings);
                    check_http(&k.http, &at, findings);
                    if strict && k.kind.as_deref() != Some(SERVICE_KIND) {
                        findings.error(at("kind"), Rule::StrictServiceRequired);
                    }
                }
                TargetRef::Service(s) => {
                    let server = Server {
                        name: &s.name,
                        kind: Some(SERVICE_KIND),
                        namespace,
                    };
                    if check_server_name(&server, at("name"), findings) {
                        check_istio_policy(&server, client.as_ref(), at("name"), findings);
                    }
                    check_http(&s.http, &at, findings);
                }
                TargetRef::Kafka(k) => {
                    let broker = Server {
                        name: &k.name,
                        kind: None,
                        namespace,
                    };
                    check_server_name(&broker, at("name"), findings);
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

/// A server a target names: `name` as written (`server` or `server.namespace`), the kind to derive names
/// with, and the namespace of the ClientIntents.
struct Server<'a> {
    name: &'a str,
    kind: Option<&'a str>,
    namespace: Option<&'a str>,
}

impl Server<'_> {
    /// The server's name and the namespace it is in.
    fn split(&self) -> (&str, &str) {
        let (server, namespace) = split_target_name(self.name);
        (server, namespace.or(self.namespace).unwrap_or(DEFAULT_NAMESPACE))
    }

    fn is_api_server(&self) -> bool {
        self.split() == ("kubernetes", "default")
    }
}

/// The client workload as the Istio policies of its calls name it.
struct Client<'a> {
    name: &'a str,
    kind: Option<&'a str>,
    namespace: &'a str,
}

/// `kubernetes`, `service` and `kafka` names: required, `server` or `server.namespace`, the namespace a
/// namespace name, and the server a Service name or the name of the NetworkPolicy Holt writes for it. True
/// when the name is usable.
fn check_server_name(server: &Server<'_>, field: String, findings: &mut Findings) -> bool {
    let name = server.name;
    if name.is_empty() {
        findings.error(field, Rule::Required);
        return false;
    }
    if name.matches('.').count() > 1 {
        findings.error(
            field,
            Rule::TooManyDots {
                name: name.to_owned(),
            },
        );
        return false;
    }
    let (server_name, namespace) = split_target_name(name);
    if server_name.is_empty() {
        findings.error(
            field,
            Rule::NoServerName {
                name: name.to_owned(),
            },
        );
        return false;
    }
    if let Some(namespace) = namespace
        && !check_label(namespace, Becomes::Namespace, field.clone(), findings)
    {
        return false;
    }
    if server.kind == Some(SERVICE_KIND) {
        return check_label(server_name, Becomes::ServiceName, field, findings);
    }
    let policy = Derived::access_policy("the NetworkPolicy of this server", server.kind);
    check_in_object_name(server_name, &policy, field, findings)
}

/// The Istio AuthorizationPolicy admitting `client` to `server`, named after both, must be a valid name.
fn check_istio_policy(
    server: &Server<'_>,
    client: Option<&Client<'_>>,
    field: String,
    findings: &mut Findings,
) {
    let Some(client) = client else {
        return;
    };
    if server.is_api_server() {
        return;
    }
    let (server_name, _) = server.split();
    let policy = Derived::istio_policy(server.kind, client.name, client.kind, client.namespace);
    check_in_object_name(server_name, &policy, field, findings);
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
