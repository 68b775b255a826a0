//! The ProtectedService rules of compat §2.15: a lower-case server name, a capitalised kind, and one
//! ProtectedService per server (name + kind) in a namespace.

use crate::v2beta1::ProtectedService;
use crate::validate::{Findings, Rule, check_kind, others_in, same_kind};

pub(super) fn check(object: &ProtectedService, others: &[ProtectedService], findings: &mut Findings) {
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
    }
    check_kind(spec.kind.as_deref(), "spec.kind".into(), findings);

    let namespace = object.metadata.namespace.as_deref();
    let name = object.metadata.name.as_deref();
    for other in others_in(others, namespace, name) {
        if !spec.name.is_empty()
            && other.spec.name == spec.name
            && same_kind(other.spec.kind.as_deref(), spec.kind.as_deref())
        {
            let other = other.metadata.name.clone().unwrap_or_default();
            findings.error("spec.name".into(), Rule::DuplicateProtectedService { other });
        }
    }
}
