//! Kafka ACLs, one test per rule of the standard authorizer (`docs/reach.md` restates them): resource
//! patterns, principals, hosts, DENY before ALLOW, implied operations, `ALL`, super users, and the default
//! when no binding names a resource.

use holt_reach::kafka::{KafkaAuthorizer, KafkaDecision, KafkaRequest, KafkaRequestError};
use holt_render::kafka::{AclOperation, AclPatternType, AclPermission, AclResourceType, KafkaAcl};
use pretty_assertions::assert_eq;

use AclOperation::*;

const ALICE: &str = "User:CN=alice.shop";
const BOB: &str = "User:CN=bob.shop";

fn binding(
    permission: AclPermission,
    principal: &str,
    operation: AclOperation,
    name: &str,
    pattern: AclPatternType,
) -> KafkaAcl {
    KafkaAcl {
        permission,
        ..KafkaAcl::allow_topic(name, pattern, principal, operation)
    }
}

fn allow(principal: &str, operation: AclOperation, topic: &str) -> KafkaAcl {
    binding(
        AclPermission::Allow,
        principal,
        operation,
        topic,
        AclPatternType::Literal,
    )
}

fn deny(principal: &str, operation: AclOperation, topic: &str) -> KafkaAcl {
    binding(
        AclPermission::Deny,
        principal,
        operation,
        topic,
        AclPatternType::Literal,
    )
}

fn may(acls: &[KafkaAcl], principal: &str, operation: AclOperation, topic: &str) -> bool {
    KafkaAuthorizer::new(acls.to_vec())
        .authorize(&KafkaRequest::topic(principal, "10.0.0.7", operation, topic))
        .expect("valid request")
        .allowed
}

#[test]
fn no_binding_on_a_resource_denies() {
    let verdict = KafkaAuthorizer::new([allow(ALICE, Read, "payments")])
        .authorize(&KafkaRequest::topic(ALICE, "10.0.0.7", Read, "orders"))
        .expect("valid");
    assert_eq!(verdict.decision, KafkaDecision::NoAclOnResource);
    assert!(!verdict.allowed);
}

#[test]
fn a_binding_for_someone_else_denies_without_falling_back_to_the_default() {
    let verdict = KafkaAuthorizer::new([allow(BOB, Read, "orders")])
        .authorize(&KafkaRequest::topic(ALICE, "10.0.0.7", Read, "orders"))
        .expect("valid");
    assert_eq!(verdict.decision, KafkaDecision::NoAllowMatches);
}

#[test]
fn an_allow_binding_allows_its_principal_its_operation_and_its_topic_only() {
    let acls = [allow(ALICE, Write, "orders")];
    assert!(may(&acls, ALICE, Write, "orders"));
    assert!(!may(&acls, BOB, Write, "orders"));
    assert!(!may(&acls, ALICE, Read, "orders"));
    assert!(
        !may(&acls, ALICE, Write, "orders-eu"),
        "a literal name is not a prefix"
    );
}

#[test]
fn deny_wins_over_allow() {
    let acls = [allow(ALICE, All, "orders"), deny(ALICE, Write, "orders")];
    assert!(!may(&acls, ALICE, Write, "orders"));
    assert!(may(&acls, ALICE, Read, "orders"));
    let verdict = KafkaAuthorizer::new(acls.to_vec())
        .authorize(&KafkaRequest::topic(ALICE, "10.0.0.7", Write, "orders"))
        .expect("valid");
    assert_eq!(verdict.decision, KafkaDecision::Denied { by: acls[1].clone() });
    let wildcard_deny = [allow(ALICE, Read, "orders"), deny("User:*", All, "*")];
    assert!(
        !may(&wildcard_deny, ALICE, Read, "orders"),
        "a wildcard DENY on ALL covers everyone"
    );
}

#[test]
fn describe_is_implied_by_read_write_delete_and_alter() {
    for granted in [Read, Write, Delete, Alter] {
        assert!(
            may(&[allow(ALICE, granted, "orders")], ALICE, Describe, "orders"),
            "{granted:?}"
        );
    }
    for granted in [Create, AlterConfigs, DescribeConfigs, IdempotentWrite] {
        assert!(
            !may(&[allow(ALICE, granted, "orders")], ALICE, Describe, "orders"),
            "{granted:?}"
        );
    }
    assert!(
        !may(&[allow(ALICE, Describe, "orders")], ALICE, Read, "orders"),
        "implication goes one way"
    );
}

#[test]
fn describe_configs_is_implied_by_alter_configs() {
    assert!(may(
        &[allow(ALICE, AlterConfigs, "orders")],
        ALICE,
        DescribeConfigs,
        "orders"
    ));
    assert!(!may(
        &[allow(ALICE, Alter, "orders")],
        ALICE,
        DescribeConfigs,
        "orders"
    ));
}

#[test]
fn a_deny_implies_nothing() {
    let acls = [allow(ALICE, Describe, "orders"), deny(ALICE, Read, "orders")];
    assert!(
        may(&acls, ALICE, Describe, "orders"),
        "DENY READ does not deny DESCRIBE"
    );
}

#[test]
fn all_allows_every_operation() {
    let data = [Read, Write, Create, Delete, Alter, Describe];
    let configs = [DescribeConfigs, AlterConfigs, ClusterAction, IdempotentWrite];
    for operation in data.into_iter().chain(configs) {
        assert!(
            may(&[allow(ALICE, All, "orders")], ALICE, operation, "orders"),
            "{operation:?}"
        );
    }
}

#[test]
fn the_wildcard_principal_and_wildcard_topic() {
    assert!(may(&[allow("User:*", Read, "orders")], BOB, Read, "orders"));
    assert!(may(&[allow(ALICE, Read, "*")], ALICE, Read, "anything"));
    assert!(
        !may(&[allow("User:CN=*", Read, "orders")], ALICE, Read, "orders"),
        "only `User:*` is a wildcard"
    );
}

#[test]
fn prefixed_patterns_cover_names_starting_with_them() {
    let acls = [binding(
        AclPermission::Allow,
        ALICE,
        Read,
        "orders.",
        AclPatternType::Prefixed,
    )];
    assert!(may(&acls, ALICE, Read, "orders.eu"));
    assert!(may(&acls, ALICE, Read, "orders."));
    assert!(!may(&acls, ALICE, Read, "orders"));
    let star = [binding(
        AclPermission::Allow,
        ALICE,
        Read,
        "*",
        AclPatternType::Prefixed,
    )];
    assert!(
        !may(&star, ALICE, Read, "orders"),
        "a prefixed `*` is a literal character, not a wildcard"
    );
}

#[test]
fn hosts_match_exactly_or_by_wildcard() {
    let mut from_host = allow(ALICE, Read, "orders");
    from_host.host = "10.0.0.7".into();
    assert!(may(&[from_host.clone()], ALICE, Read, "orders"));
    let authorizer = KafkaAuthorizer::new([from_host]);
    let elsewhere = KafkaRequest::topic(ALICE, "10.0.0.8", Read, "orders");
    assert!(!authorizer.authorize(&elsewhere).expect("valid").allowed);
}

#[test]
fn groups_and_topics_are_separate_resources() {
    let mut group = allow(ALICE, Read, "orders");
    group.resource_type = AclResourceType::Group;
    assert!(
        !may(&[group.clone()], ALICE, Read, "orders"),
        "a group ACL says nothing of the topic"
    );
    let request = KafkaRequest {
        resource_type: AclResourceType::Group,
        ..KafkaRequest::topic(ALICE, "10.0.0.7", Read, "orders")
    };
    assert!(
        KafkaAuthorizer::new([group])
            .authorize(&request)
            .expect("valid")
            .allowed
    );
}

#[test]
fn super_users_pass_without_bindings() {
    let authorizer = KafkaAuthorizer::new([deny(ALICE, All, "orders")]).with_super_users([ALICE.to_owned()]);
    let verdict = authorizer
        .authorize(&KafkaRequest::topic(ALICE, "10.0.0.7", Write, "orders"))
        .expect("valid");
    assert_eq!(verdict.decision, KafkaDecision::SuperUser);
    assert!(verdict.allowed);
}

#[test]
fn bad_requests_name_the_field() {
    let authorizer = KafkaAuthorizer::new([]);
    let all = authorizer.authorize(&KafkaRequest::topic(ALICE, "*", All, "orders"));
    assert_eq!(all, Err(KafkaRequestError::AllOperation));
    assert_eq!(
        all.expect_err("refused").to_string(),
        "operation: ALL is not one operation a client performs; ask for READ, WRITE, ..."
    );
    let principal = authorizer.authorize(&KafkaRequest::topic("alice", "*", Read, "orders"));
    assert_eq!(
        principal.expect_err("refused").to_string(),
        "principal: `alice` is not of the form `Type:name` (e.g. `User:CN=client.namespace`)"
    );
    let empty = authorizer.authorize(&KafkaRequest::topic(ALICE, "*", Read, ""));
    assert_eq!(empty, Err(KafkaRequestError::EmptyResourceName));
}
