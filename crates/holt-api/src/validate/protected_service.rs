//! The ProtectedService rules of docs/reference-behaviour.md#validation: a lower-case server name that can
//! name the default-deny NetworkPolicy Holt writes for it (or, for a Service, a Service name), a capitalised
//! kind, and one ProtectedService per server (name + kind) in a namespace.

use crate::v2beta1::ProtectedService;
use crate::validate::derived_names::{Becomes, Derived, check_in_object_name, check_label};
use crate::validate::{Findings, NeighbourIndex, Rule, check_kind, usable_kind};

/// The kind that names a Kubernetes Service.
const SERVICE_KIND: &str = "Service";

pub(super) fn check(object: &ProtectedService, neighbours: &NeighbourIndex<'_>, findings: &mut Findings) {
    let spec = &object.spec;
    if spec.name.is_empty() {
        findings.error("spec.name".into(), Rule::Required);
    } else if !spec
        .name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        findings.error(
            "spec.name".into(),
            Rule::ProtectedServiceName {
                name: spec.name.clone(),
            },
        );
    } else {
        match usable_kind(spec.kind.as_deref()) {
            Ok(Some(SERVICE_KIND)) => {
                check_label(&spec.name, Becomes::ServiceName, "spec.name".into(), findings);
            }
            kind => {
                let policy = Derived::default_deny_policy(kind.ok().flatten());
                check_in_object_name(&spec.name, &policy, "spec.name".into(), findings);
            }
        }
    }
    check_kind(spec.kind.as_deref(), "spec.kind".into(), findings);

    if !spec.name.is_empty() {
        let namespace = object.metadata.namespace.as_deref();
        let name = object.metadata.name.as_deref();
        for other in neighbours.protected_services_for(namespace, name, &spec.name, spec.kind.as_deref()) {
            let other = other.metadata.name.clone().unwrap_or_default();
            findings.error("spec.name".into(), Rule::DuplicateProtectedService { other });
        }
    }
}
