//! Wire types of the network mapper's HTTP/JSON API, shared by the sniffer (which sends [`Report`]s),
//! the mapper (which receives them and serves discovered intents) and the `holt mapper` CLI.
//!
//! No I/O and no Kubernetes types: the sniffer depends on this crate and must stay free of API-server
//! clients. Field names are camelCase on the wire; times are Unix milliseconds (UTC).
//!
//! Endpoints (all JSON):
//! - `POST` [`REPORTS_PATH`] with a [`Report`] body → `204 No Content` (`400` with a message when the
//!   body does not parse, `413` when it is larger than the mapper takes). Every answer carries the
//!   mapper's limit in the [`MAX_REPORT_BYTES_HEADER`] header.
//! - `GET` [`LIMITS_PATH`] → the mapper's [`Limits`]: what a sniffer reads before its first report.
//! - `GET` [`INTENTS_PATH`], [`EXPORT_PATH`], [`GRAPH_PATH`] and `POST` [`RESET_PATH`]: the discovered
//!   intents ([`intents`]); `GET` [`KAFKA_PATH`]: Kafka topic use ([`kafka`]); `GET` [`INSIGHTS_PATH`]:
//!   the shadow-mode insights of the discovered calls;
//!   `docs/mapper.md` describes every endpoint.
//!
//! Reports, intents, export, graph, insights and reset need a bearer token (`Authorization: Bearer`, or
//! [`FORWARDED_AUTHORIZATION_HEADER`] through the API server's proxy) that the API server vouches for
//! and whose owner has the RBAC verb the request needs: `401` without one, `403` without the verb.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub mod intents;
pub mod ip_block;
pub mod kafka;

pub use intents::{
    DiscoveredIntent, EXPORT_PATH, ExportFile, ExportFormat, ExportQuery, ExportVersion, Filters, GRAPH_PATH,
    GraphFormat, GraphQuery, HttpPath, INSIGHTS_PATH, INTENTS_PATH, InsightsQuery, IntentsQuery, RESET_PATH,
    Target, Workload, path_with_query,
};
pub use ip_block::{IpBlock, IpBlockError};
pub use kafka::{KAFKA_PATH, KafkaTopicUse};

/// Where sniffers post their [`Report`]s.
pub const REPORTS_PATH: &str = "/v1/reports";

/// Where the mapper announces its [`Limits`].
pub const LIMITS_PATH: &str = "/v1/limits";

/// The response header (on every answer to a report) that carries [`Limits::max_report_bytes`].
pub const MAX_REPORT_BYTES_HEADER: &str = "holt-max-report-bytes";

/// The mapper's report limit unless configured otherwise (2 MiB).
pub const DEFAULT_MAX_REPORT_BYTES: u64 = 2 * 1024 * 1024;

/// The request header that carries the bearer token for the mapper when `Authorization` cannot: the
/// API server's service proxy authenticates the caller with `Authorization` and removes it before
/// passing the request on. Same form, `Bearer <token>`; `Authorization` wins when both are present.
pub const FORWARDED_AUTHORIZATION_HEADER: &str = "holt-mapper-authorization";

/// The audience of tokens issued for the mapper: the sniffers' projected ServiceAccount tokens, and
/// `kubectl create token <service account> --audience holt-mapper`. A token for this audience is
/// useless against the API server.
pub const TOKEN_AUDIENCE: &str = "holt-mapper";

/// What the mapper accepts from a sniffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// The largest report body, in bytes; a larger one is answered `413 Payload Too Large`.
    pub max_report_bytes: u64,
}

/// What one sniffer saw on its node since its previous report, plus its cumulative counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The node the sniffer runs on (`NODE_NAME`), for metrics and logs.
    pub node: String,
    /// DNS answers seen, deduplicated by (client, name, address) within the report.
    #[serde(default)]
    pub dns: Vec<DnsAnswer>,
    /// Connection attempts (TCP SYN) and established client sockets, deduplicated by
    /// (source, destination, port) within the report.
    #[serde(default)]
    pub connections: Vec<Connection>,
    /// HTTP/1.x requests seen (method and path), deduplicated by (source, destination, port, method,
    /// path) within the report. Absent from older sniffers' reports and left out when empty, so older
    /// mappers, which ignore unknown fields, take newer reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpRequest>,
    /// Counters since the sniffer started (cumulative: the mapper keeps the latest per node).
    #[serde(default)]
    pub counters: Counters,
}

/// One resolved address in a DNS response sent to `client_ip`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsAnswer {
    /// The address the response was sent to (the pod that asked).
    pub client_ip: IpAddr,
    /// The question name, lower case, without the trailing dot (`server.ns.svc.cluster.local`).
    pub name: String,
    /// One A or AAAA address the name resolved to (through its CNAME chain).
    pub ip: IpAddr,
    /// The smallest TTL along the chain, in seconds.
    pub ttl_seconds: u32,
    /// When the answer was last seen.
    pub last_seen_ms: u64,
}

/// A client-side TCP connection from `src_ip` to `dst_ip:dst_port`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    /// How it was seen.
    pub seen_by: SeenBy,
    /// The source process's host name when known (from `/proc/<pid>/environ` `HOSTNAME`); lets the
    /// mapper reject a match when the IP has since been reused by another pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_hostname: Option<String>,
    /// When the connection was last seen.
    pub last_seen_ms: u64,
}

/// A plaintext HTTP/1.x request from `src_ip` to `dst_ip:dst_port`, read from its request line only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    /// The method token (`GET`, `POST`, ...).
    pub method: String,
    /// The path of the request-target, without query string or fragment, percent-encoding as sent.
    /// A path ending in `*` is a prefix: the sniffer saw only how the path starts (a request line
    /// split across TCP segments, or a path longer than the sniffer keeps), up to its last `/`.
    pub path: String,
    /// When the request was last seen.
    pub last_seen_ms: u64,
}

/// The observation a [`Connection`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SeenBy {
    /// A TCP SYN captured on an interface.
    Syn,
    /// An ESTABLISHED client socket found in `/proc/<pid>/net/tcp{,6}` (long-lived connections).
    SocketScan,
}

/// The sniffer's cumulative counters since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Frames read from the capture socket.
    pub packets: u64,
    /// Frames the kernel dropped because the sniffer did not keep up.
    pub kernel_drops: u64,
    /// Malformed or truncated frames, by `holt_decode::DecodeError::category()`.
    #[serde(default)]
    pub decode_errors: BTreeMap<String, u64>,
    /// Observations lost because a report could not be delivered (after retries) or a batch was full.
    pub report_drops: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trips_in_camel_case() {
        let report = Report {
            node: "node-1".into(),
            dns: vec![DnsAnswer {
                client_ip: "10.0.0.1".parse().expect("ip"),
                name: "server.ns.svc.cluster.local".into(),
                ip: "fd00::5".parse().expect("ip"),
                ttl_seconds: 30,
                last_seen_ms: 1_700_000_000_000,
            }],
            connections: vec![Connection {
                src_ip: "10.0.0.1".parse().expect("ip"),
                dst_ip: "10.0.0.2".parse().expect("ip"),
                dst_port: 80,
                seen_by: SeenBy::SocketScan,
                src_hostname: None,
                last_seen_ms: 1,
            }],
            http: vec![HttpRequest {
                src_ip: "10.0.0.1".parse().expect("ip"),
                dst_ip: "10.0.0.2".parse().expect("ip"),
                dst_port: 80,
                method: "GET".into(),
                path: "/orders/17".into(),
                last_seen_ms: 2,
            }],
            counters: Counters {
                packets: 3,
                ..Counters::default()
            },
        };
        let json = serde_json::to_value(&report).expect("serialize");
        assert_eq!(json["dns"][0]["clientIp"], "10.0.0.1");
        assert_eq!(json["connections"][0]["seenBy"], "socketScan");
        assert!(json["connections"][0].get("srcHostname").is_none());
        assert_eq!(json["http"][0]["dstPort"], 80);
        assert_eq!(json["http"][0]["path"], "/orders/17");
        let back: Report = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, report);
    }
}

#[cfg(test)]
mod compatibility {
    use super::*;

    #[test]
    fn a_report_without_http_requests_parses_and_is_written_without_the_field() {
        let older = r#"{"node":"n","dns":[],"connections":[],"counters":{"packets":1,"kernelDrops":0,"reportDrops":0}}"#;
        let report: Report = serde_json::from_str(older).expect("an older sniffer's report");
        assert!(report.http.is_empty());
        let written = serde_json::to_value(&report).expect("serialize");
        assert!(written.get("http").is_none());
    }
}
