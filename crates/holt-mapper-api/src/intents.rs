//! Discovered intents as the mapper serves them, and the queries of its read endpoints.
//!
//! A discovered intent is one (client workload, target) pair the mapper saw, with the first and last time
//! it was seen (RFC 3339 on the wire). Targets are in-cluster workloads or internet destinations.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::IpBlock;

/// `GET`: the discovered intents matching an [`IntentsQuery`], as a JSON list of [`DiscoveredIntent`].
pub const INTENTS_PATH: &str = "/v1/intents";
/// `GET`: the discovered intents as ClientIntents objects ([`ExportQuery`]).
pub const EXPORT_PATH: &str = "/v1/export";
/// `GET`: the discovered intents as a graph ([`GraphQuery`]).
pub const GRAPH_PATH: &str = "/v1/graph";
/// `POST`: forget every discovered intent and DNS answer (`204 No Content`).
pub const RESET_PATH: &str = "/v1/reset";
/// `GET`: the shadow-mode insights of the discovered calls an [`InsightsQuery`] selects: `holt-insights`'
/// `Insights` as JSON (that crate defines it: it carries NetworkPolicy names this crate stays free of).
/// `404` when the mapper runs without the operator's configuration (`--operator-config`), the message
/// saying so.
pub const INSIGHTS_PATH: &str = "/v1/insights";

/// A workload: the identity the mapper resolved a pod to (its root owner, or the override annotation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    pub name: String,
    pub namespace: String,
    /// The root owner's kind (`Deployment`, `StatefulSet`, `Pod`, `Service` for the API server); absent
    /// when the name comes from the override annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `name.namespace`, the form the CLI's `--client`/`--server` filters take.
impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.name, self.namespace)
    }
}

/// What a client called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Target {
    /// An in-cluster workload, reached directly or through a Kubernetes Service.
    #[serde(rename_all = "camelCase")]
    Kubernetes {
        server: Workload,
        /// The Service (in the server's namespace) the client dialed by name or ClusterIP, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// The HTTP paths the client was seen requesting, with their methods, sorted by path (plaintext
        /// HTTP/1.x only; empty when none was seen).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        http: Vec<HttpPath>,
    },
    /// A destination outside the cluster: a DNS name and the addresses seen for it, or only an address
    /// when no name was seen, or a network (`93.184.216.0/24`) standing for the addresses of a client
    /// past the mapper's grouping limit.
    #[serde(rename_all = "camelCase")]
    Internet {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        domain: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ips: Vec<IpBlock>,
    },
}

/// A path (exact, folded, or a prefix ending in `*`) and the methods seen with it, sorted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpPath {
    pub path: String,
    pub methods: Vec<String>,
}

/// One (client, target) pair the mapper saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredIntent {
    pub client: Workload,
    pub target: Target,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// Filters shared by every read endpoint. Empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filters {
    /// Client namespaces, comma separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The client, `name.namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The server, `name.namespace` (in-cluster targets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Workloads to leave out, comma separated, each `name` or `name.namespace`: as a client (all its
    /// calls) and as a server (the calls to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_services: Option<String>,
    /// Pod labels whose workloads are left out, comma separated, each `key=value` or `key` (any value):
    /// as a client and as a server. Judged on the workload's current pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_labels: Option<String>,
}

/// Query of [`INTENTS_PATH`].
pub type IntentsQuery = Filters;

/// Query of [`INSIGHTS_PATH`]: the [`Filters`], read for calls rather than intents. `namespace` keeps the
/// calls whose client *or* server is in one of the namespaces, and the servers there; `server` is a server's
/// workload name (in any namespace) or `name.namespace`; the exclusions as for intents. `client` is refused:
/// a server's readiness depends on all its clients.
pub type InsightsQuery = Filters;

/// How exported ClientIntents are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Multi-document YAML.
    #[default]
    Yaml,
    /// A JSON list.
    Json,
}

/// The API version of exported ClientIntents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportVersion {
    #[default]
    V2beta1,
    V1alpha3,
}

/// Query of [`EXPORT_PATH`]. Without `split` the body is the document itself (`application/yaml` or
/// `application/json`); with `split=true` it is a JSON list of [`ExportFile`], one per client.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportQuery {
    #[serde(flatten)]
    pub filters: Filters,
    #[serde(default)]
    pub format: ExportFormat,
    #[serde(default)]
    pub version: ExportVersion,
    /// Write calls made through a Kubernetes Service as `service` targets.
    #[serde(default)]
    pub as_kubernetes_service: bool,
    #[serde(default)]
    pub split: bool,
}

/// One client's ClientIntents, for `--output-type dir`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportFile {
    /// `<workload>.<namespace>.yaml` (or `.json`).
    pub file_name: String,
    pub content: String,
}

/// Graph formats of [`GRAPH_PATH`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphFormat {
    /// Graphviz DOT.
    #[default]
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// An SVG image laid out by the mapper itself (no Graphviz needed).
    Svg,
}

/// Query of [`GRAPH_PATH`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphQuery {
    #[serde(flatten)]
    pub filters: Filters,
    #[serde(default)]
    pub format: GraphFormat,
}

/// `path?query`, the query serialized from one of the query types ([`IntentsQuery`], [`ExportQuery`],
/// [`GraphQuery`]); `path` alone when every field is empty.
pub fn path_with_query(path: &str, query: &impl Serialize) -> Result<String, serde_urlencoded::ser::Error> {
    let query = serde_urlencoded::to_string(query)?;
    Ok(if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_carry_rfc3339_times_and_tagged_targets() {
        let intent = DiscoveredIntent {
            client: Workload {
                name: "client".into(),
                namespace: "shop".into(),
                kind: Some("Deployment".into()),
            },
            target: Target::Internet {
                domain: Some("api.example.com".into()),
                ips: vec!["192.0.2.1".parse().expect("ip")],
            },
            first_seen: Timestamp::from_millisecond(1_700_000_000_123).expect("time"),
            last_seen: Timestamp::from_millisecond(1_700_000_001_000).expect("time"),
        };
        let json = serde_json::to_value(&intent).expect("serialize");
        assert_eq!(json["firstSeen"], "2023-11-14T22:13:20.123Z");
        assert_eq!(json["target"]["type"], "internet");
        assert_eq!(json["target"]["domain"], "api.example.com");
        let back: DiscoveredIntent = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, intent);
    }

    #[test]
    fn queries_serialize_to_percent_encoded_urls_and_back() {
        let query = ExportQuery {
            filters: Filters {
                namespace: Some("x,y z".into()),
                client: Some("a.b".into()),
                ..Filters::default()
            },
            version: ExportVersion::V1alpha3,
            split: true,
            ..ExportQuery::default()
        };
        let url = path_with_query(EXPORT_PATH, &query).expect("serialize");
        assert_eq!(
            url,
            "/v1/export?namespace=x%2Cy+z&client=a.b&format=yaml&version=v1alpha3&asKubernetesService=false&split=true"
        );
        let parsed: ExportQuery =
            serde_urlencoded::from_str(url.split_once('?').expect("query").1).expect("parse");
        assert_eq!(parsed, query);
        assert_eq!(
            path_with_query(INTENTS_PATH, &IntentsQuery::default()).expect("serialize"),
            INTENTS_PATH
        );
    }
}
