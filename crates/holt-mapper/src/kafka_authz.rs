//! One line of a Kafka broker's authorizer log (`kafka.authorizer.logger`), as Kafka's authorizers write
//! each decision (allowed ones at DEBUG, denied ones at INFO):
//!
//! ```text
//! [2026-12-05 16:57:18,417] DEBUG Principal = User:CN=client.shop is Allowed operation = WRITE from host =
//! 10.244.1.7 on resource = Topic:LITERAL:orders for request = Produce with resourceRefCount = 1 based on
//! rule MatchingAcl(...) (kafka.authorizer.logger)
//! ```
//!
//! (one line; the older `AclAuthorizer` writes `Operation = Write` and `Topic:LITERAL:orders` the same way).
//!
//! In: a line of text, untrusted (it comes from a log file or the API server). Out: an [`AuthzDecision`] for a
//! decision on a literal topic; nothing for any other line (other loggers, clusters, groups, prefixed
//! resources, lines longer than [`MAX_LINE`]). Pure; never panics.

use std::net::IpAddr;

use holt_api::v2beta1::KafkaOperation;

/// Longer lines are not decisions Holt reads (a topic name is at most 249 characters).
pub const MAX_LINE: usize = 4096;

/// One authorization decision on a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthzDecision {
    /// The Kafka principal, e.g. `User:CN=client.shop,O=SPIRE,C=US`.
    pub principal: String,
    pub allowed: bool,
    pub operation: KafkaOperation,
    /// The client's address as the broker saw it.
    pub host: IpAddr,
    pub topic: String,
}

/// The decision on a literal topic that `line` records, if it records one.
pub fn parse(line: &str) -> Option<AuthzDecision> {
    if line.len() > MAX_LINE {
        return None;
    }
    let rest = after(line, "Principal = ")?;
    let (principal, rest) = rest.split_once(" is ")?;
    let (verdict, rest) = rest.split_once(' ')?;
    let allowed = match verdict {
        "Allowed" => true,
        "Denied" => false,
        _ => return None,
    };
    let rest = after_either(rest, "operation = ", "Operation = ")?;
    let (operation, rest) = rest.split_once(' ')?;
    let rest = after(rest, "from host = ")?;
    let (host, rest) = rest.split_once(' ')?;
    let resource = after(rest, "on resource = ")?;
    let resource = resource.split(' ').next()?;
    let topic = resource.strip_prefix("Topic:LITERAL:")?;
    if principal.is_empty() || !valid_topic(topic) {
        return None;
    }
    Some(AuthzDecision {
        principal: principal.to_owned(),
        allowed,
        operation: operation_of(operation)?,
        host: host.parse().ok()?,
        topic: topic.to_owned(),
    })
}

/// The workload a principal names when it is the one Holt's certificates carry: `User:CN=<workload>.
/// <namespace>` followed by any other RDNs (docs/architecture.md, Kafka principals).
pub fn principal_workload(principal: &str) -> Option<(&str, &str)> {
    let common_name = principal.strip_prefix("User:CN=")?;
    let common_name = common_name.split(',').next()?;
    let (name, namespace) = common_name.split_once('.')?;
    let label = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    (label(name) && label(namespace)).then_some((name, namespace))
}

/// Kafka's operation names (`WRITE`, or `Write` from the older authorizer) as ClientIntents' operations.
fn operation_of(name: &str) -> Option<KafkaOperation> {
    let normalised: String = name
        .chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Some(match normalised.as_str() {
        "all" => KafkaOperation::All,
        "read" => KafkaOperation::Consume,
        "write" => KafkaOperation::Produce,
        "create" => KafkaOperation::Create,
        "alter" => KafkaOperation::Alter,
        "delete" => KafkaOperation::Delete,
        "describe" => KafkaOperation::Describe,
        "clusteraction" => KafkaOperation::ClusterAction,
        "describeconfigs" => KafkaOperation::DescribeConfigs,
        "alterconfigs" => KafkaOperation::AlterConfigs,
        "idempotentwrite" => KafkaOperation::IdempotentWrite,
        _ => return None,
    })
}

/// Kafka's rule for topic names: 1 to 249 of `[a-zA-Z0-9._-]`.
fn valid_topic(topic: &str) -> bool {
    (1..=249).contains(&topic.len())
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|at| &text[at + marker.len()..])
}

fn after_either<'a>(text: &'a str, first: &str, second: &str) -> Option<&'a str> {
    text.strip_prefix(first).or_else(|| text.strip_prefix(second))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Lines a real broker of the test harness wrote (Kafka 4, `StandardAuthorizer`).
    const ALLOWED: &str = "[2026-12-05 16:57:18,417] DEBUG Principal = User:CN=orders-writer is Allowed \
        operation = WRITE from host = 127.0.0.1 on resource = Topic:LITERAL:orders for request = Produce with \
        resourceRefCount = 1 based on rule MatchingAcl(acl=StandardAcl[resourceType=TOPIC, resourceName=orders, \
        patternType=LITERAL, principal=User:CN=orders-writer, host=*, operation=WRITE, permissionType=ALLOW]) \
        (kafka.authorizer.logger)";
    const DENIED: &str = "[2026-12-05 16:57:19,741] INFO Principal = User:CN=intruder is Denied operation = \
        DESCRIBE from host = 127.0.0.1 on resource = Topic:LITERAL:orders for request = Metadata with \
        resourceRefCount = 1 based on rule DefaultDeny (kafka.authorizer.logger)";
    const CLUSTER: &str = "[2026-12-05 16:57:07,125] DEBUG Principal = User:ANONYMOUS is Allowed operation = \
        CLUSTER_ACTION from host = 127.0.0.1 on resource = Cluster:LITERAL:kafka-cluster for request = \
        ControllerRegistration with resourceRefCount = 1 based on rule SuperUser (kafka.authorizer.logger)";

    #[test]
    fn decisions_on_topics_are_read() {
        assert_eq!(
            parse(ALLOWED),
            Some(AuthzDecision {
                principal: "User:CN=orders-writer".into(),
                allowed: true,
                operation: KafkaOperation::Produce,
                host: "127.0.0.1".parse().expect("address"),
                topic: "orders".into(),
            })
        );
        let denied = parse(DENIED).expect("a decision");
        assert!(!denied.allowed);
        assert_eq!(denied.operation, KafkaOperation::Describe);
        assert_eq!(denied.principal, "User:CN=intruder");
    }

    #[test]
    fn the_older_authorizers_spelling_is_read() {
        let line = "[2024-01-01 00:00:00,000] INFO Principal = User:CN=client.shop,O=SPIRE,C=US is Denied \
            Operation = Read from host = 10.244.1.7 on resource = Topic:LITERAL:payments \
            (kafka.authorizer.logger)";
        let decision = parse(line).expect("a decision");
        assert_eq!(decision.operation, KafkaOperation::Consume);
        assert_eq!(decision.host, "10.244.1.7".parse::<IpAddr>().expect("address"));
        assert_eq!(principal_workload(&decision.principal), Some(("client", "shop")));
    }

    #[test]
    fn other_lines_are_not_decisions() {
        assert_eq!(parse(CLUSTER), None, "a cluster resource");
        for line in [
            "",
            "[2026-12-05] INFO Kafka Server started (kafka.server.KafkaRaftServer)",
            &ALLOWED.replace("Topic:LITERAL:orders", "Topic:PREFIXED:ord"),
            &ALLOWED.replace("Topic:LITERAL:orders", "Group:LITERAL:g"),
            &ALLOWED.replace("127.0.0.1", "not-an-address"),
            &ALLOWED.replace("WRITE", "TELEPORT"),
            &ALLOWED.replace("Topic:LITERAL:orders", "Topic:LITERAL:bad/name"),
            &ALLOWED.replace("is Allowed", "is Maybe"),
        ] {
            assert_eq!(parse(line), None, "{line}");
        }
        let long = format!("{ALLOWED}{}", " ".repeat(MAX_LINE));
        assert_eq!(parse(&long), None, "longer than MAX_LINE");
    }

    #[test]
    fn principals_name_workloads_only_in_holts_form() {
        assert_eq!(
            principal_workload("User:CN=client.shop"),
            Some(("client", "shop"))
        );
        assert_eq!(principal_workload("User:CN=client"), None);
        assert_eq!(principal_workload("User:ANONYMOUS"), None);
        assert_eq!(principal_workload("User:CN=Client.shop"), None);
        assert_eq!(principal_workload("User:CN=.shop"), None);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(line in ".{0,600}") {
            let _ = parse(&line);
            let _ = principal_workload(&line);
        }

        #[test]
        fn generated_decisions_are_read_back(
            name in "[a-z][a-z0-9-]{0,20}",
            namespace in "[a-z][a-z0-9-]{0,20}",
            topic in "[a-zA-Z0-9._-]{1,60}",
            allowed in any::<bool>(),
            operation in prop::sample::select(vec![("READ", KafkaOperation::Consume),
                ("WRITE", KafkaOperation::Produce), ("DESCRIBE", KafkaOperation::Describe),
                ("DESCRIBE_CONFIGS", KafkaOperation::DescribeConfigs)]),
            host in any::<std::net::Ipv4Addr>(),
        ) {
            let line = format!(
                "[2026-12-05 16:57:18,417] DEBUG Principal = User:CN={name}.{namespace} is {} operation = {} \
                 from host = {host} on resource = Topic:LITERAL:{topic} for request = Produce with \
                 resourceRefCount = 1 based on rule DefaultDeny (kafka.authorizer.logger)",
                if allowed { "Allowed" } else { "Denied" },
                operation.0,
            );
            let decision = parse(&line).expect("a decision");
            prop_assert_eq!(decision.allowed, allowed);
            prop_assert_eq!(decision.operation, operation.1);
            prop_assert_eq!(decision.host, IpAddr::V4(host));
            prop_assert_eq!(&decision.topic, &topic);
            prop_assert_eq!(principal_workload(&decision.principal), Some((name.as_str(), namespace.as_str())));
        }
    }
}
