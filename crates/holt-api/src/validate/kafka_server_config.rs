//! The KafkaServerConfig rules: a broker workload whose name can name its NetworkPolicy, TLS files all set or
//! none, a `host:port` address, named topics.

use crate::v2beta1::KafkaServerConfig;
use crate::validate::derived_names::{Derived, check_in_object_name};
use crate::validate::network::check_host_port;
use crate::validate::path::Layout;
use crate::validate::{Findings, Rule, check_kind};

pub(super) fn check(object: &KafkaServerConfig, layout: Layout, findings: &mut Findings) {
    let spec = &object.spec;
    if spec.workload.name.is_empty() {
        findings.error(layout.workload("name"), Rule::Required);
    } else {
        // Kafka targets name the broker without a kind, and so does the access policy Holt writes for it.
        let policy = Derived::access_policy("this broker's NetworkPolicy", None);
        check_in_object_name(&spec.workload.name, &policy, layout.workload("name"), findings);
    }
    check_kind(spec.workload.kind.as_deref(), layout.workload("kind"), findings);
    if let Some(tls) = spec.tls.as_ref().filter(|t| !t.is_empty()) {
        for (field, value) in [
            ("certFile", &tls.cert_file),
            ("keyFile", &tls.key_file),
            ("rootCAFile", &tls.root_ca_file),
        ] {
            if value.is_empty() {
                findings.error(format!("spec.tls.{field}"), Rule::TlsIncomplete);
            }
        }
    }
    if let Some(addr) = spec.addr.as_deref().filter(|a| !a.is_empty())
        && let Err(reason) = check_host_port(addr)
    {
        findings.error(
            "spec.addr".into(),
            Rule::InvalidAddress {
                addr: addr.to_owned(),
                reason,
            },
        );
    }
    for (index, topic) in spec.topics.iter().enumerate() {
        if topic.topic.is_empty() {
            findings.error(format!("spec.topics[{index}].topic"), Rule::Required);
        }
    }
}
