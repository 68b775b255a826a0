//! ACL bindings on the wire: holt-render's [`KafkaAcl`] to and from Kafka's numeric codes, and filters
//! for DescribeAcls and DeleteAcls.
//!
//! Holt writes topic and group ACLs only. Bindings on other resources (cluster, transactional ids,
//! delegation tokens, users) or with operations Holt does not know are never returned by
//! [`crate::KafkaAdmin::describe_acls`] and never matched by an [`AclFilter`], so nothing Holt does can
//! touch them.

use holt_render::kafka::{AclOperation, AclPatternType, AclPermission, AclResourceType, KafkaAcl};
use kafka_protocol::messages::DescribeAclsRequest;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::describe_acls_response::DescribeAclsResource;
use kafka_protocol::protocol::StrBytes;

/// Kafka's `ANY` code, shared by every filterable enum.
const ANY: i8 = 1;

/// Which ACLs a describe or delete concerns. `None` matches anything; a `None` resource type means a topic
/// or a group (never any other resource type).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclFilter {
    pub resource_type: Option<AclResourceType>,
    pub resource_name: Option<String>,
    pub pattern_type: Option<AclPatternType>,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<AclOperation>,
    pub permission: Option<AclPermission>,
}

impl AclFilter {
    /// Every topic and group ACL.
    pub fn any() -> Self {
        Self::default()
    }

    /// Every topic and group ACL of `principal` (e.g. `User:CN=client.namespace`).
    pub fn principal(principal: impl Into<String>) -> Self {
        Self {
            principal: Some(principal.into()),
            ..Self::default()
        }
    }

    /// Exactly the binding `acl`.
    pub fn exact(acl: &KafkaAcl) -> Self {
        Self {
            resource_type: Some(acl.resource_type),
            resource_name: Some(acl.resource_name.clone()),
            pattern_type: Some(acl.pattern_type),
            principal: Some(acl.principal.clone()),
            host: Some(acl.host.clone()),
            operation: Some(acl.operation),
            permission: Some(acl.permission),
        }
    }

    /// Whether `acl` matches, field by field (literal comparison; Kafka's `MATCH` pattern semantics are not
    /// used).
    pub fn matches(&self, acl: &KafkaAcl) -> bool {
        fn eq<T: PartialEq>(want: &Option<T>, have: &T) -> bool {
            want.as_ref().is_none_or(|w| w == have)
        }
        eq(&self.resource_type, &acl.resource_type)
            && eq(&self.resource_name, &acl.resource_name)
            && eq(&self.pattern_type, &acl.pattern_type)
            && eq(&self.principal, &acl.principal)
            && eq(&self.host, &acl.host)
            && eq(&self.operation, &acl.operation)
            && eq(&self.permission, &acl.permission)
    }

    /// The DescribeAcls request for this filter (ANY resource type when none is given; the response is
    /// then narrowed to topics and groups).
    pub(crate) fn describe_request(&self) -> DescribeAclsRequest {
        DescribeAclsRequest::default()
            .with_resource_type_filter(self.resource_type.map_or(ANY, resource_type_code))
            .with_resource_name_filter(self.resource_name.clone().map(StrBytes::from_string))
            .with_pattern_type_filter(self.pattern_type.map_or(ANY, pattern_type_code))
            .with_principal_filter(self.principal.clone().map(StrBytes::from_string))
            .with_host_filter(self.host.clone().map(StrBytes::from_string))
            .with_operation(self.operation.map_or(ANY, operation_code))
            .with_permission_type(self.permission.map_or(ANY, permission_code))
    }

    /// The DeleteAcls filters for this filter: one per resource type, so that a filter without one never
    /// deletes a cluster or transactional-id ACL.
    pub(crate) fn delete_filters(&self) -> Vec<DeleteAclsFilter> {
        let types = match self.resource_type {
            Some(t) => vec![t],
            None => vec![AclResourceType::Topic, AclResourceType::Group],
        };
        types
            .into_iter()
            .map(|t| {
                DeleteAclsFilter::default()
                    .with_resource_type_filter(resource_type_code(t))
                    .with_resource_name_filter(self.resource_name.clone().map(StrBytes::from_string))
                    .with_pattern_type_filter(self.pattern_type.map_or(ANY, pattern_type_code))
                    .with_principal_filter(self.principal.clone().map(StrBytes::from_string))
                    .with_host_filter(self.host.clone().map(StrBytes::from_string))
                    .with_operation(self.operation.map_or(ANY, operation_code))
                    .with_permission_type(self.permission.map_or(ANY, permission_code))
            })
            .collect()
    }
}

/// The bindings of a DescribeAcls response that Holt can express and `filter` matches, sorted, without
/// duplicates.
pub(crate) fn described(resources: &[DescribeAclsResource], filter: &AclFilter) -> Vec<KafkaAcl> {
    let mut found = std::collections::BTreeSet::new();
    for resource in resources {
        for acl in &resource.acls {
            let codes = WireCodes {
                resource_type: resource.resource_type,
                pattern_type: resource.pattern_type,
                operation: acl.operation,
                permission: acl.permission_type,
            };
            let binding = from_wire(codes, &resource.resource_name, &acl.principal, &acl.host);
            found.extend(binding.filter(|b| filter.matches(b)));
        }
    }
    found.into_iter().collect()
}

/// The CreateAcls entry for `acl`.
pub(crate) fn creation(acl: &KafkaAcl) -> AclCreation {
    AclCreation::default()
        .with_resource_type(resource_type_code(acl.resource_type))
        .with_resource_name(StrBytes::from_string(acl.resource_name.clone()))
        .with_resource_pattern_type(pattern_type_code(acl.pattern_type))
        .with_principal(StrBytes::from_string(acl.principal.clone()))
        .with_host(StrBytes::from_string(acl.host.clone()))
        .with_operation(operation_code(acl.operation))
        .with_permission_type(permission_code(acl.permission))
}

/// The numeric fields of one binding as the broker sent them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WireCodes {
    pub resource_type: i8,
    pub pattern_type: i8,
    pub operation: i8,
    pub permission: i8,
}

/// The binding the broker described, or `None` when Holt cannot express it (see the module docs).
pub(crate) fn from_wire(
    codes: WireCodes,
    resource_name: &str,
    principal: &str,
    host: &str,
) -> Option<KafkaAcl> {
    Some(KafkaAcl {
        resource_type: resource_type_from(codes.resource_type)?,
        resource_name: resource_name.to_owned(),
        pattern_type: pattern_type_from(codes.pattern_type)?,
        principal: principal.to_owned(),
        host: host.to_owned(),
        operation: operation_from(codes.operation)?,
        permission: permission_from(codes.permission)?,
    })
}

// Codes from Kafka's ResourceType, PatternType, AclOperation and AclPermissionType.

pub(crate) fn resource_type_code(t: AclResourceType) -> i8 {
    match t {
        AclResourceType::Topic => 2,
        AclResourceType::Group => 3,
    }
}

fn resource_type_from(code: i8) -> Option<AclResourceType> {
    match code {
        2 => Some(AclResourceType::Topic),
        3 => Some(AclResourceType::Group),
        _ => None,
    }
}

pub(crate) fn pattern_type_code(p: AclPatternType) -> i8 {
    match p {
        AclPatternType::Literal => 3,
        AclPatternType::Prefixed => 4,
    }
}

fn pattern_type_from(code: i8) -> Option<AclPatternType> {
    match code {
        3 => Some(AclPatternType::Literal),
        4 => Some(AclPatternType::Prefixed),
        _ => None,
    }
}

pub(crate) fn operation_code(o: AclOperation) -> i8 {
    match o {
        AclOperation::All => 2,
        AclOperation::Read => 3,
        AclOperation::Write => 4,
        AclOperation::Create => 5,
        AclOperation::Delete => 6,
        AclOperation::Alter => 7,
        AclOperation::Describe => 8,
        AclOperation::ClusterAction => 9,
        AclOperation::DescribeConfigs => 10,
        AclOperation::AlterConfigs => 11,
        AclOperation::IdempotentWrite => 12,
    }
}

fn operation_from(code: i8) -> Option<AclOperation> {
    Some(match code {
        2 => AclOperation::All,
        3 => AclOperation::Read,
        4 => AclOperation::Write,
        5 => AclOperation::Create,
        6 => AclOperation::Delete,
        7 => AclOperation::Alter,
        8 => AclOperation::Describe,
        9 => AclOperation::ClusterAction,
        10 => AclOperation::DescribeConfigs,
        11 => AclOperation::AlterConfigs,
        12 => AclOperation::IdempotentWrite,
        _ => return None,
    })
}

pub(crate) fn permission_code(p: AclPermission) -> i8 {
    match p {
        AclPermission::Deny => 2,
        AclPermission::Allow => 3,
    }
}

fn permission_from(code: i8) -> Option<AclPermission> {
    match code {
        2 => Some(AclPermission::Deny),
        3 => Some(AclPermission::Allow),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::messages::DescribeAclsResponse;
    use kafka_protocol::protocol::Decodable;

    use super::*;

    #[test]
    fn a_describe_acls_v1_response_becomes_topic_and_group_acls_only() {
        let bytes: Vec<u8> = [
            &[0, 0, 0, 0][..], // throttle
            &[0, 0],           // no error
            &[0xff, 0xff],     // no message
            &[0, 0, 0, 2],     // two resources
            &[2],              // TOPIC
            &[0, 6],
            b"orders",
            &[3],          // LITERAL
            &[0, 0, 0, 1], // one ACL
            &[0, 9],
            b"User:CN=a",
            &[0, 1],
            b"*",
            &[4, 3], // WRITE, ALLOW
            &[4],    // CLUSTER: not Holt's to see
            &[0, 13],
            b"kafka-cluster",
            &[3],
            &[0, 0, 0, 1],
            &[0, 9],
            b"User:CN=a",
            &[0, 1],
            b"*",
            &[9, 3], // CLUSTER_ACTION, ALLOW
        ]
        .concat();
        let response = DescribeAclsResponse::decode(&mut Bytes::from(bytes), 1).expect("decodes");
        let acls = described(&response.resources, &AclFilter::any());
        assert_eq!(
            acls,
            [KafkaAcl {
                resource_type: AclResourceType::Topic,
                resource_name: "orders".to_owned(),
                pattern_type: AclPatternType::Literal,
                principal: "User:CN=a".to_owned(),
                host: "*".to_owned(),
                operation: AclOperation::Write,
                permission: AclPermission::Allow,
            }]
        );
        let other = AclFilter::principal("User:CN=b");
        assert!(described(&response.resources, &other).is_empty());
    }

    fn acl(operation: AclOperation) -> KafkaAcl {
        KafkaAcl {
            resource_type: AclResourceType::Topic,
            resource_name: "orders".to_owned(),
            pattern_type: AclPatternType::Prefixed,
            principal: "User:CN=a.ns".to_owned(),
            host: "*".to_owned(),
            operation,
            permission: AclPermission::Deny,
        }
    }

    #[test]
    fn every_operation_round_trips_through_its_code() {
        use AclOperation::*;
        for op in [
            All,
            Read,
            Write,
            Create,
            Delete,
            Alter,
            Describe,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
        ] {
            let want = acl(op);
            let codes = WireCodes {
                resource_type: resource_type_code(want.resource_type),
                pattern_type: pattern_type_code(want.pattern_type),
                operation: operation_code(op),
                permission: permission_code(want.permission),
            };
            assert_eq!(from_wire(codes, "orders", "User:CN=a.ns", "*"), Some(want));
        }
    }

    #[test]
    fn bindings_holt_cannot_express_are_not_returned() {
        let cluster = WireCodes {
            resource_type: 4, // CLUSTER
            pattern_type: 3,
            operation: 2,
            permission: 3,
        };
        assert_eq!(from_wire(cluster, "kafka-cluster", "User:x", "*"), None);
        let two_phase_commit = WireCodes {
            resource_type: 2,
            pattern_type: 3,
            operation: 15,
            permission: 3,
        };
        assert_eq!(from_wire(two_phase_commit, "t", "User:x", "*"), None);
    }

    #[test]
    fn a_filter_without_a_resource_type_deletes_topics_and_groups_only() {
        let filters = AclFilter::principal("User:CN=a.ns").delete_filters();
        let types: Vec<i8> = filters.iter().map(|f| f.resource_type_filter).collect();
        assert_eq!(types, [2, 3]);
        assert!(
            filters
                .iter()
                .all(|f| f.operation == ANY && f.pattern_type_filter == ANY)
        );
    }

    #[test]
    fn exact_filters_match_one_binding() {
        let a = acl(AclOperation::Read);
        let b = acl(AclOperation::Write);
        assert!(AclFilter::exact(&a).matches(&a));
        assert!(!AclFilter::exact(&a).matches(&b));
        assert!(AclFilter::any().matches(&b));
        assert!(AclFilter::principal("User:CN=a.ns").matches(&b));
        assert!(!AclFilter::principal("User:CN=b.ns").matches(&b));
    }
}
