//! Holt's network mapper.
//!
//! In: sniffer [`Report`](holt_mapper_api::Report)s (DNS answers and TCP connections by IP) over HTTP, and
//! Pods, Services, pod owners and ClientIntents from the API server, and Kafka brokers' authorizer logs
//! (from files, [`kafka_log`], or from broker pods' logs through the API server, [`kafka_pod_log`]; parsed
//! by [`kafka_authz`], kept by [`kafka_discovery`], each source's health in [`kafka_source_health`]). Out: discovered intents — which
//! workload called which workload or internet name, first and last seen — kept durably in a state
//! directory, served as JSON, exported as ClientIntents (`v2beta1`/`v1alpha3`, YAML/JSON), drawn as
//! DOT/Mermaid/SVG, and published as `status.resolvedIPs` on ClientIntents with internet domains; with the
//! operator's configuration, their shadow-mode insights ([`insights`], kept per state by
//! [`insights_cache`]) and the access graph page that draws them in a browser ([`ui`]).
//!
//! The pure core ([`cluster`], [`resolve`], [`store`], [`ingest`], [`export`], [`graph`],
//! [`resolved_ips`], [`metrics`], [`record_codec`], and for access [`access`], [`review_cache`],
//! [`review_budget`]) has no I/O; [`watch`], [`publish`] (with [`published_reset`]), [`intent_log`]
//! (with [`snapshot`], the format of earlier versions, imported once), [`access_review`] (TokenReview
//! and SubjectAccessReview) and [`http`] do the I/O around it ([`connections`] is where every request
//! enters, with its bounds), and [`serve`] runs it all (the `holt-mapper` binary is [`serve::serve`]
//! plus signals).
//!
//! Who may call: reports need `create reports.mapper.holt.dev`, reads `list` and resets
//! `deletecollection discoveredintents.mapper.holt.dev`, checked against the API server ([`access`]).

pub mod access;
pub mod access_review;
pub mod args;
pub mod cluster;
pub mod connections;
pub mod declared;
pub mod export;
pub mod graph;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod insights;
pub mod insights_cache;
pub mod intent_log;
pub mod kafka_authz;
pub mod kafka_discovery;
pub mod kafka_log;
pub mod kafka_pod_log;
pub mod kafka_source_health;
pub mod metrics;
pub mod path_fold;
pub mod publish;
pub mod published_reset;
pub mod record_codec;
pub mod resolve;
pub mod resolved_ips;
pub mod review_budget;
pub mod review_cache;
pub mod serve;
pub mod shared;
pub mod snapshot;
pub mod store;
pub mod ui;
pub mod watch;
