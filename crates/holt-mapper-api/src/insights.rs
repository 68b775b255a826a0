//! The query of the mapper's shadow-mode insights ([`INSIGHTS_PATH`]): which discovered calls are allowed or
//! blocked now, once their server is protected, once the mode is `defaultActive`, and which servers are
//! ready to protect. The answer is `holt-insights`' `Insights` as JSON (that crate, not this one, defines
//! it: it carries NetworkPolicy names and Kubernetes semantics this crate stays free of).

use serde::{Deserialize, Serialize};

/// `GET`: the insights of the discovered calls matching an [`InsightsQuery`]. `404` when the mapper runs
/// without the operator's configuration (`--operator-config`), the message saying so.
pub const INSIGHTS_PATH: &str = "/v1/insights";

/// Query of [`INSIGHTS_PATH`]. Empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InsightsQuery {
    /// Namespaces, comma separated: the calls whose client or server is in one of them, and the servers in
    /// one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A server's workload name (in any namespace), or `name.namespace`: the calls to it and its row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Workloads to leave out, as in [`crate::Filters::exclude_services`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_services: Option<String>,
    /// Pod labels whose workloads are left out, as in [`crate::Filters::exclude_labels`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_labels: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path_with_query;

    #[test]
    fn the_query_is_written_as_the_mapper_reads_it() {
        let query = InsightsQuery {
            namespace: Some("shop,pay".into()),
            server: Some("server".into()),
            ..InsightsQuery::default()
        };
        let url = path_with_query(INSIGHTS_PATH, &query).expect("serialize");
        assert_eq!(url, "/v1/insights?namespace=shop%2Cpay&server=server");
        let parsed: InsightsQuery =
            serde_urlencoded::from_str(url.split_once('?').expect("query").1).expect("parse");
        assert_eq!(parsed, query);
        assert_eq!(
            path_with_query(INSIGHTS_PATH, &InsightsQuery::default()).expect("serialize"),
            INSIGHTS_PATH
        );
    }
}
