//! The shadow-mode insights the mapper serves (`GET /v1/insights`, `docs/insights.md`). In: the discovered
//! intents of the store, the pods, Services and owners of the cluster index, the declared state
//! ([`DeclaredState`]) and the operator's configuration. Out: `holt-insights`' [`Insights`] for the calls
//! and servers an [`InsightsFilter`] selects.
//!
//! Two steps, so that no lock is held while computing: [`Snapshot::take`] copies what the computation reads
//! (the caller holds the locks; nothing is converted or computed), [`Snapshot::insights`] turns the
//! discovered intents into calls (as `holt mapper export` writes them, read back by `holt-insights`), the
//! pods' facts into Pods, and computes.
//!
//! Filtering selects the calls to evaluate, exactly: a call's fate depends only on its two ends and the
//! declared state, and a server's row on the calls to it, which a filter keeps or drops together. Every
//! discovered call still counts as seen, so a declared call is *not seen* only when no call matches it.

use std::collections::BTreeSet;

use holt_insights::{ClusterState, DiscoveredCall, Insights, InsightsError, WorkloadName, discovered_calls};
use holt_mapper_api::{DiscoveredIntent, Filters, InsightsQuery};
use holt_model::facts::PodFacts;
use holt_model::{Config, Identity, Object};
use holt_reach::NamespaceInput;
use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::cluster::ClusterIndex;
use crate::declared::DeclaredState;
use crate::export::client_intents;
use crate::store::{Filter, FilterError};

/// Which calls and servers a query asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InsightsFilter {
    /// The calls whose client or server is in one of these, and the servers in one of them; empty: all.
    pub namespaces: BTreeSet<String>,
    /// The calls to the server named this (its workload name, or `name.namespace`) and its row.
    pub server: Option<String>,
}

/// A query the insights cannot answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error(
        "client: the insights are not filtered by client (a server's readiness depends on all its clients); \
         filter by namespace or server"
    )]
    Client,
    #[error(transparent)]
    Filter(#[from] FilterError),
}

impl InsightsFilter {
    /// The query's selection, and the store filter of its exclusions (`excludeServices`, `excludeLabels`,
    /// as the other read endpoints apply them).
    pub fn parse(query: &InsightsQuery) -> Result<(InsightsFilter, Filter), QueryError> {
        if query.client.as_deref().is_some_and(|c| !c.is_empty()) {
            return Err(QueryError::Client);
        }
        let exclusions = Filter::parse(&Filters {
            exclude_services: query.exclude_services.clone(),
            exclude_labels: query.exclude_labels.clone(),
            ..Filters::default()
        })?;
        let filter = InsightsFilter {
            namespaces: query
                .namespace
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect(),
            server: query
                .server
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        };
        Ok((filter, exclusions))
    }

    fn in_namespaces(&self, namespace: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.contains(namespace)
    }

    fn is_server(&self, namespace: &str, name: &str) -> bool {
        self.server.as_deref().is_none_or(|wanted| {
            wanted == name
                || wanted
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .is_some_and(|ns| ns == namespace)
        })
    }

    pub fn keeps_call(&self, call: &DiscoveredCall) -> bool {
        self.keeps(&call.client, &call.server)
    }

    /// Whether the call of `client` to `server` (discovered or declared) is selected.
    pub fn keeps(&self, client: &Identity, server: &Identity) -> bool {
        (self.in_namespaces(&client.namespace) || self.in_namespaces(&server.namespace))
            && self.is_server(&server.namespace, &server.name)
    }

    pub fn keeps_server(&self, server: &WorkloadName) -> bool {
        self.in_namespaces(&server.namespace) && self.is_server(&server.namespace, &server.name)
    }
}

/// What the insights read, copied out of the mapper and the declared state.
#[derive(Clone, Debug)]
pub struct Snapshot {
    config: Config,
    objects: Vec<Object>,
    pods: Vec<PodFacts>,
    namespaces: Vec<NamespaceInput>,
    policies: Vec<NetworkPolicy>,
    intents: Vec<DiscoveredIntent>,
}

impl Snapshot {
    /// Copies the declared state, the Services and owners, the pods (those that have not finished: a
    /// finished pod serves nothing and its address may be another's) and the discovered `intents`.
    pub fn take(
        config: &Config,
        index: &ClusterIndex,
        declared: &DeclaredState,
        intents: Vec<DiscoveredIntent>,
    ) -> Snapshot {
        let mut objects = declared.model_objects();
        objects.extend(index.services().cloned().map(Object::Service));
        objects.extend(index.owners().cloned().map(Object::Owner));
        Snapshot {
            config: config.clone(),
            objects,
            pods: index
                .pods()
                .filter(|pod| !pod.finished)
                .map(|pod| pod.facts.clone())
                .collect(),
            namespaces: declared.namespaces(),
            policies: declared.policies(),
            intents,
        }
    }

    /// The insights of the discovered calls `filter` keeps, and of the declared calls it keeps that no
    /// discovered call matches (every discovered call counts as seen, kept or not).
    pub fn insights(self, filter: &InsightsFilter) -> Result<Insights, InsightsError> {
        let calls = self.calls();
        let state = ClusterState {
            config: self.config,
            objects: self.objects,
            pods: self.pods.iter().map(PodFacts::to_pod).collect(),
            namespaces: self.namespaces,
            policies: self.policies,
        };
        let mut insights =
            holt_insights::insights_where(&state, &calls, &|client, server| filter.keeps(client, server))?;
        insights
            .servers
            .retain(|server| filter.keeps_server(&server.server));
        Ok(insights)
    }

    /// The in-cluster calls of the discovered intents, as their export reads back.
    fn calls(&self) -> Vec<DiscoveredCall> {
        client_intents(&self.intents, &[], false)
            .iter()
            .flat_map(discovered_calls)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(client: (&str, &str), server: (&str, &str)) -> DiscoveredCall {
        DiscoveredCall {
            client: Identity::new(client.0, client.1, Some("Deployment")),
            server: Identity::new(server.0, server.1, Some("Deployment")),
        }
    }

    fn parse(namespace: Option<&str>, server: Option<&str>) -> InsightsFilter {
        let query = InsightsQuery {
            namespace: namespace.map(str::to_owned),
            server: server.map(str::to_owned),
            ..InsightsQuery::default()
        };
        InsightsFilter::parse(&query).expect("valid").0
    }

    #[test]
    fn a_namespace_keeps_calls_from_or_to_it_and_its_servers() {
        let filter = parse(Some("shop, pay"), None);
        assert!(filter.keeps_call(&call(("shop", "web"), ("db", "postgres"))));
        assert!(filter.keeps_call(&call(("other", "batch"), ("pay", "api"))));
        assert!(!filter.keeps_call(&call(("other", "batch"), ("db", "postgres"))));
        let server = |ns: &str, name: &str| WorkloadName::from(&Identity::new(ns, name, None));
        assert!(filter.keeps_server(&server("pay", "api")));
        assert!(!filter.keeps_server(&server("db", "postgres")));
        assert_eq!(parse(Some(" , "), None), InsightsFilter::default());
    }

    #[test]
    fn a_server_is_named_alone_or_with_its_namespace() {
        let to = |ns: &str, name: &str| call(("shop", "web"), (ns, name));
        let by_name = parse(None, Some("api"));
        assert!(by_name.keeps_call(&to("pay", "api")) && by_name.keeps_call(&to("shop", "api")));
        assert!(!by_name.keeps_call(&to("pay", "api-v2")));
        let qualified = parse(None, Some("api.pay"));
        assert!(qualified.keeps_call(&to("pay", "api")));
        assert!(!qualified.keeps_call(&to("shop", "api")));
        // A dotted workload name matches as a whole name too.
        assert!(qualified.keeps_call(&to("shop", "api.pay")));
        assert!(parse(None, Some("")).keeps_call(&to("x", "y")));
    }

    #[test]
    fn a_client_filter_is_refused_naming_why() {
        let query = InsightsQuery {
            client: Some("web.shop".into()),
            ..InsightsQuery::default()
        };
        let error = InsightsFilter::parse(&query).expect_err("refused");
        assert_eq!(error, QueryError::Client);
        assert!(error.to_string().starts_with("client: "), "{error}");
    }
}
