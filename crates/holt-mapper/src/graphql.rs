//! The reference network mapper's GraphQL API, for the reference's CLI (`otterize network-mapper list|export|
//! visualize|reset`) and its agents' health checks. In: a GraphQL request (`POST /query`, JSON
//! `{"query", "variables", "operationName"}`). Out: the same discovered intents as Holt's JSON API, in the
//! reference's types. Served: the queries `serviceIntents`, `intents` (its filters: `namespaces`,
//! `includeLabels`, `includeAllLabels`, `excludeServiceWithLabels`, `serverName`, `server`) and `health`, and
//! the mutation `resetCapture`. The reference's report mutations are not: Holt's sniffers report over
//! [`holt_mapper_api::REPORTS_PATH`]. Queries need the read permission, `resetCapture` the reset permission
//! ([`crate::access`]); bounds are the API's: body size, one request's time, concurrent requests, and here
//! the query's depth and complexity.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use async_graphql::{
    Context, EmptySubscription, Enum, InputObject, Object, Schema, SimpleObject, parser::types::OperationType,
};
use holt_api::v2beta1::KafkaOperation;
use holt_mapper_api::{DiscoveredIntent, Filters, HttpPath, Target, Workload};

use crate::kafka_discovery::KafkaUse;
use crate::shared::Shared;
use crate::store::Filter;

/// The schema served at [`GRAPHQL_PATH`].
pub type MapperSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Where the reference's mapper serves GraphQL.
pub const GRAPHQL_PATH: &str = "/query";

/// The deepest query accepted (the reference CLI's deepest is 4 levels).
const MAX_DEPTH: usize = 8;
/// The most fields a query may select.
const MAX_COMPLEXITY: usize = 200;

/// The schema over the shared state; who sent the request goes in its data ([`Caller`]).
pub fn schema(shared: Arc<Shared>) -> MapperSchema {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .data(shared)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// Whether the request's document holds a mutation (it then needs the reset permission). A document that
/// does not parse holds none: executing it answers the parse error.
pub fn has_mutation(query: &str) -> bool {
    async_graphql::parser::parse_query(query).is_ok_and(|document| {
        document
            .operations
            .iter()
            .any(|(_, operation)| operation.node.ty == OperationType::Mutation)
    })
}

/// Who sent the request, for the log of a reset.
#[derive(Debug)]
pub struct Caller(pub String);

#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct PodLabel {
    key: String,
    value: String,
}

#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct GroupVersionKind {
    group: Option<String>,
    version: String,
    kind: String,
}

#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
#[graphql(rename_fields = "camelCase")]
pub struct OtterizeServiceIdentity {
    name: String,
    namespace: String,
    labels: Option<Vec<PodLabel>>,
    /// The pod owner's group, version and kind, when the identity was resolved from a pod owner.
    pod_owner_kind: Option<GroupVersionKind>,
    /// The Kubernetes Service the client called, when it called one.
    kubernetes_service: Option<String>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct ServiceIntents {
    client: OtterizeServiceIdentity,
    intents: Vec<OtterizeServiceIdentity>,
}

/// The reference's intent types: Holt's calls with HTTP paths are `HTTP`, its Kafka topic use `KAFKA`, other
/// calls between workloads carry none.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum IntentType {
    Http,
    Kafka,
    Database,
    Aws,
    S3,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct KafkaConfig {
    name: String,
    operations: Option<Vec<String>>,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct HttpResource {
    path: String,
    methods: Option<Vec<String>>,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(rename_fields = "camelCase")]
pub struct Intent {
    client: OtterizeServiceIdentity,
    server: OtterizeServiceIdentity,
    #[graphql(name = "type")]
    intent_type: Option<IntentType>,
    kafka_topics: Option<Vec<KafkaConfig>>,
    http_resources: Option<Vec<HttpResource>>,
}

#[derive(InputObject, Clone, Debug)]
pub struct ServerFilter {
    name: String,
    namespace: String,
}

#[derive(Debug)]
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Clients and the workloads they call (the reference CLI's `list`, `export` and `visualize` before its
    /// `intents` query).
    async fn service_intents(
        &self,
        ctx: &Context<'_>,
        namespaces: Option<Vec<String>>,
        include_labels: Option<Vec<String>>,
        include_all_labels: Option<bool>,
    ) -> async_graphql::Result<Vec<ServiceIntents>> {
        let filters = Filters {
            namespace: joined(namespaces),
            ..Filters::default()
        };
        let read = Read::new(
            ctx,
            &filters,
            LabelChoice::new(include_labels, include_all_labels),
        )?;
        let mut by_client: BTreeMap<(String, String), ServiceIntents> = BTreeMap::new();
        for (intent, server, service, _) in read.calls() {
            let key = (intent.client.namespace.clone(), intent.client.name.clone());
            let entry = by_client.entry(key).or_insert_with(|| ServiceIntents {
                client: read.identity(&intent.client, None),
                intents: Vec::new(),
            });
            entry.intents.push(read.identity(server, service));
        }
        Ok(by_client.into_values().collect())
    }

    /// One intent per client and called workload, with the reference's filters.
    #[allow(clippy::too_many_arguments)]
    async fn intents(
        &self,
        ctx: &Context<'_>,
        namespaces: Option<Vec<String>>,
        include_labels: Option<Vec<String>>,
        exclude_service_with_labels: Option<Vec<String>>,
        include_all_labels: Option<bool>,
        server_name: Option<String>,
        server: Option<ServerFilter>,
    ) -> async_graphql::Result<Vec<Intent>> {
        let server = match (server, server_name) {
            (Some(ServerFilter { name, namespace }), _) => Some(format!("{name}.{namespace}")),
            (None, name) => name,
        };
        let filters = Filters {
            namespace: joined(namespaces),
            server,
            exclude_labels: joined(exclude_service_with_labels),
            ..Filters::default()
        };
        let read = Read::new(
            ctx,
            &filters,
            LabelChoice::new(include_labels, include_all_labels),
        )?;
        let calls = read.calls().map(|(intent, server, service, http)| Intent {
            client: read.identity(&intent.client, None),
            server: read.identity(server, service),
            intent_type: (!http.is_empty()).then_some(IntentType::Http),
            kafka_topics: None,
            http_resources: (!http.is_empty()).then(|| {
                http.iter()
                    .map(|p| HttpResource {
                        path: p.path.clone(),
                        methods: Some(p.methods.clone()),
                    })
                    .collect()
            }),
        });
        let kafka = read.kafka().map(|(client, broker, topics)| Intent {
            client: read.identity(client, None),
            server: read.identity(&broker, None),
            intent_type: Some(IntentType::Kafka),
            kafka_topics: Some(topics),
            http_resources: None,
        });
        Ok(calls.chain(kafka).collect())
    }

    /// Always true when the mapper answers (its agents' liveness check).
    async fn health(&self) -> bool {
        true
    }
}

#[derive(Debug)]
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Forgets every discovered intent, as `POST /v1/reset` does.
    async fn reset_capture(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let shared = ctx.data::<Arc<Shared>>()?;
        let by = ctx
            .data_opt::<Caller>()
            .map_or("anyone (authentication is off)", |c| c.0.as_str());
        crate::http::reset_all(shared, by).await?;
        Ok(true)
    }
}

/// Which pod labels identities carry.
enum LabelChoice {
    None,
    Some(Vec<String>),
    All,
}

impl LabelChoice {
    fn new(include: Option<Vec<String>>, all: Option<bool>) -> Self {
        match (all, include) {
            (Some(true), _) => LabelChoice::All,
            (_, Some(keys)) if !keys.is_empty() => LabelChoice::Some(keys),
            _ => LabelChoice::None,
        }
    }
}

/// The discovered intents and Kafka topic use one query reads, with the labels it asked for.
struct Read {
    intents: Vec<DiscoveredIntent>,
    kafka: Vec<KafkaUse>,
    labels: LabelChoice,
    workload_labels: HashMap<(String, String), BTreeMap<String, String>>,
}

impl Read {
    fn new(ctx: &Context<'_>, filters: &Filters, labels: LabelChoice) -> async_graphql::Result<Read> {
        let shared = ctx.data::<Arc<Shared>>()?;
        let filter = Filter::parse(filters)?;
        let mapper = shared.mapper();
        let intents = mapper.intents(&filter);
        let kafka = shared.kafka().uses(&filter);
        let workload_labels = match labels {
            LabelChoice::None => HashMap::new(),
            LabelChoice::Some(_) | LabelChoice::All => mapper.index.workload_labels(),
        };
        Ok(Read {
            intents,
            kafka,
            labels,
            workload_labels,
        })
    }

    /// Calls between workloads (internet destinations are not in the reference's open-source answers), with
    /// the Service each was made through.
    fn calls(&self) -> impl Iterator<Item = (&DiscoveredIntent, &Workload, Option<&str>, &[HttpPath])> {
        self.intents.iter().filter_map(|intent| match &intent.target {
            Target::Kubernetes {
                server,
                service,
                http,
            } => Some((intent, server, service.as_deref(), http.as_slice())),
            Target::Internet { .. } => None,
        })
    }

    /// Kafka topic use per client and broker: the broker as a workload of its `name.namespace`, each topic
    /// with every operation seen, named as the reference's schema names them (`PRODUCE`, `CONSUME`, ...).
    fn kafka(&self) -> impl Iterator<Item = (&Workload, Workload, Vec<KafkaConfig>)> {
        let mut by_pair: BTreeMap<(&str, &str, &str), (&Workload, Vec<KafkaConfig>)> = BTreeMap::new();
        for used in &self.kafka {
            let key = (
                used.client.namespace.as_str(),
                used.client.name.as_str(),
                used.broker.as_str(),
            );
            let operations = used
                .allowed
                .iter()
                .chain(&used.denied)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|operation| reference_operation(*operation).to_owned())
                .collect();
            by_pair
                .entry(key)
                .or_insert_with(|| (&used.client, Vec::new()))
                .1
                .push(KafkaConfig {
                    name: used.topic.clone(),
                    operations: Some(operations),
                });
        }
        by_pair.into_iter().map(|((_, _, broker), (client, topics))| {
            let (name, namespace) = broker.split_once('.').unwrap_or((broker, ""));
            let broker = Workload {
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                kind: None,
            };
            (client, broker, topics)
        })
    }

    fn identity(&self, workload: &Workload, service: Option<&str>) -> OtterizeServiceIdentity {
        let labels = match &self.labels {
            LabelChoice::None => None,
            LabelChoice::Some(keys) => Some(self.labels_of(workload, |key| keys.iter().any(|k| k == key))),
            LabelChoice::All => Some(self.labels_of(workload, |_| true)),
        };
        OtterizeServiceIdentity {
            name: workload.name.clone(),
            namespace: workload.namespace.clone(),
            labels,
            pod_owner_kind: workload.kind.as_deref().and_then(group_version_kind),
            kubernetes_service: service.map(str::to_owned),
        }
    }

    fn labels_of(&self, workload: &Workload, wanted: impl Fn(&str) -> bool) -> Vec<PodLabel> {
        self.workload_labels
            .get(&(workload.namespace.clone(), workload.name.clone()))
            .into_iter()
            .flatten()
            .filter(|(key, _)| wanted(key))
            .map(|(key, value)| PodLabel {
                key: key.clone(),
                value: value.clone(),
            })
            .collect()
    }
}

/// A list argument as the read filters take it (comma separated); an empty list filters nothing.
fn joined(list: Option<Vec<String>>) -> Option<String> {
    list.filter(|l| !l.is_empty()).map(|l| l.join(","))
}

/// A Kafka operation as the reference's GraphQL enum `KafkaOperation` names it.
fn reference_operation(operation: KafkaOperation) -> &'static str {
    match operation {
        KafkaOperation::All => "ALL",
        KafkaOperation::Consume => "CONSUME",
        KafkaOperation::Produce => "PRODUCE",
        KafkaOperation::Create => "CREATE",
        KafkaOperation::Alter => "ALTER",
        KafkaOperation::Delete => "DELETE",
        KafkaOperation::Describe => "DESCRIBE",
        KafkaOperation::ClusterAction => "CLUSTER_ACTION",
        KafkaOperation::DescribeConfigs => "DESCRIBE_CONFIGS",
        KafkaOperation::AlterConfigs => "ALTER_CONFIGS",
        KafkaOperation::IdempotentWrite => "IDEMPOTENT_WRITE",
    }
}

/// The group and version of the owner kinds the mapper resolves.
fn group_version_kind(kind: &str) -> Option<GroupVersionKind> {
    let (group, version) = match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => (Some("apps"), "v1"),
        "Job" | "CronJob" => (Some("batch"), "v1"),
        "Pod" | "Service" => (None, "v1"),
        _ => return None,
    };
    Some(GroupVersionKind {
        group: group.map(str::to_owned),
        version: version.to_owned(),
        kind: kind.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_told_from_queries() {
        assert!(has_mutation("mutation ResetCapture { resetCapture }"));
        assert!(has_mutation("query A { health }\nmutation B { resetCapture }"));
        assert!(!has_mutation("query Health { health }"));
        assert!(!has_mutation("{ health }"));
        assert!(!has_mutation("not graphql"));
    }

    #[test]
    fn owner_kinds_carry_their_api_group() {
        let deployment = group_version_kind("Deployment").expect("known");
        assert_eq!(deployment.group.as_deref(), Some("apps"));
        assert_eq!(group_version_kind("Pod").expect("known").group, None);
        assert_eq!(group_version_kind("Unknown"), None);
    }

    #[test]
    fn the_schema_is_the_references_shape() {
        let sdl = Schema::build(QueryRoot, MutationRoot, EmptySubscription)
            .finish()
            .sdl();
        for expected in [
            "serviceIntents(namespaces: [String!], includeLabels: [String!], includeAllLabels: Boolean): [ServiceIntents!]!",
            "health: Boolean!",
            "resetCapture: Boolean!",
            "podOwnerKind: GroupVersionKind",
            "type: IntentType",
            "kafkaTopics: [KafkaConfig!]",
        ] {
            assert!(sdl.contains(expected), "{expected} in\n{sdl}");
        }
    }
}
