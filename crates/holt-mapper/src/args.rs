//! The `holt-mapper` command line (every flag also an environment variable, and some also the reference's
//! `OTTERIZE_*` variable: [`REFERENCE_ENV`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use holt_runtime::reference_env::{ReferenceVariable, Shape, parse_with_reference_env};

/// Holt's network mapper: receives sniffer reports, resolves them to workloads through the API server,
/// keeps the discovered intents in a state directory and serves them over HTTP/JSON.
#[derive(Parser, Debug, Clone)]
#[command(name = "holt-mapper", version)]
pub struct Args {
    /// Address the HTTP API (reports, intents, export, health, metrics) listens on.
    #[arg(long, env = "HOLT_MAPPER_BIND_ADDRESS", default_value = "0.0.0.0:9090")]
    pub bind_address: SocketAddr,
    /// Directory holding the discovered intents (`intents.log`); created if missing.
    #[arg(long, env = "HOLT_MAPPER_STATE_DIR", default_value = "/var/lib/holt-mapper")]
    pub state_dir: PathBuf,
    /// Kubeconfig file to reach the API server; default: `KUBECONFIG`, `~/.kube/config`, or in-cluster.
    #[arg(long, env = "HOLT_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (default: the current context).
    #[arg(long, env = "HOLT_KUBE_CONTEXT")]
    pub context: Option<String>,
    /// The cluster's DNS domain: `<service>.<namespace>.svc.<domain>` names are Services.
    #[arg(long, env = "HOLT_CLUSTER_DOMAIN", default_value = "cluster.local")]
    pub cluster_domain: String,
    /// How often what changed is written to the state directory, in milliseconds.
    #[arg(long, env = "HOLT_MAPPER_SNAPSHOT_INTERVAL_MS", default_value_t = 2_000)]
    pub snapshot_interval_ms: u64,
    /// How long an observation whose pod or Service is not known yet is held and retried, in milliseconds.
    #[arg(long, env = "HOLT_MAPPER_HOLD_MS", default_value_t = 10_000)]
    pub hold_ms: u64,
    /// How often `status.resolvedIPs` of ClientIntents with internet domains is brought up to date, in
    /// milliseconds; 0 turns it off.
    #[arg(long, env = "HOLT_MAPPER_RESOLVED_IPS_INTERVAL_MS", default_value_t = 1_000)]
    pub resolved_ips_interval_ms: u64,
    /// Pod annotation that overrides the workload name (as configured for the operator: same flag and
    /// variable, so that both name workloads alike).
    #[arg(
        long,
        env = "HOLT_WORKLOAD_NAME_OVERRIDE_ANNOTATION",
        default_value = holt_model::labels::WORKLOAD_NAME_OVERRIDE
    )]
    pub workload_name_override_annotation: String,
    /// Identify Jobs by their container images instead of their names (as configured for the operator).
    #[arg(
        long,
        env = "HOLT_USE_IMAGE_NAME_FOR_SERVICE_ID_FOR_JOBS",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value_t = false
    )]
    pub use_image_name_for_service_id_for_jobs: bool,
    /// Namespaces whose workloads are left out of discovered intents, as clients and as servers (the
    /// reference chart's default: service meshes' own traffic). An empty value leaves none out.
    #[arg(
        long,
        env = "HOLT_MAPPER_EXCLUDE_NAMESPACES",
        value_delimiter = ',',
        default_value = "istio-system,linkerd"
    )]
    pub exclude_namespaces: Vec<String>,
    /// The operator's configuration file (what `holt-operator --config` reads: YAML with the Helm
    /// values' keys, read by the same parser). Turns on the shadow-mode insights (`GET /v1/insights`,
    /// `holt mapper insights`) with the operator's mode and enforced namespaces, and the watches they
    /// need: Namespaces, ClientIntents, ProtectedServices, NetworkPolicies and Ingresses. Without it the
    /// insights are off (`404`).
    #[arg(long, env = "HOLT_MAPPER_OPERATOR_CONFIG", value_name = "FILE")]
    pub operator_config: Option<PathBuf>,
    #[command(flatten)]
    pub log: holt_runtime::LogArgs,

    /// The namespace whose RBAC decides who may report, read and reset: callers need verbs on
    /// `reports` / `discoveredintents` of API group `mapper.holt.dev` there (the mapper's own
    /// namespace; `docs/mapper.md`, access).
    #[arg(
        long,
        env = "HOLT_MAPPER_AUTHORIZATION_NAMESPACE",
        default_value = "otterize-system"
    )]
    pub authorization_namespace: String,
    /// The audience bearer tokens for the mapper are issued for (the sniffers' projected
    /// ServiceAccount tokens).
    #[arg(long, env = "HOLT_MAPPER_TOKEN_AUDIENCE", default_value = holt_mapper_api::TOKEN_AUDIENCE)]
    pub token_audience: String,
    /// Also accept tokens issued for the API server itself (a kubeconfig's token, which `holt mapper`
    /// passes on). `false`: only tokens for `--token-audience`, which are useless against the API
    /// server.
    #[arg(
        long,
        env = "HOLT_MAPPER_ACCEPT_API_SERVER_TOKENS",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub accept_api_server_tokens: bool,
    /// Serve every request without checking who sends it: anyone who reaches the port may report,
    /// read and reset. For local development only; logged loudly at start.
    #[arg(
        long,
        env = "HOLT_MAPPER_INSECURE_SKIP_AUTHENTICATION",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub insecure_skip_authentication: bool,
    /// Answer GraphQL queries (`POST /query`: `serviceIntents`, `intents`, `health`) that carry no
    /// credential, as the reference's mapper does: the reference's CLI sends none. Anyone who reaches the
    /// port can then read the discovered intents through GraphQL; `resetCapture` and a request with a
    /// credential are still checked.
    #[arg(
        long,
        env = "HOLT_MAPPER_GRAPHQL_ALLOW_ANONYMOUS_READS",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub graphql_allow_anonymous_reads: bool,
    /// How long the API server's acceptance of a token and grant of a verb are reused, in
    /// milliseconds (refusals: at most 10 s). A revoked grant stops working within this long.
    #[arg(long, env = "HOLT_MAPPER_REVIEW_CACHE_TTL_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub review_cache_ttl_ms: u64,
    /// TokenReviews and SubjectAccessReviews asked of the API server per second (twice that at once);
    /// requests past it are answered `429`. Answers from the cache are not counted.
    #[arg(long, env = "HOLT_MAPPER_MAX_REVIEWS_PER_SECOND", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_reviews_per_second: u32,

    /// The largest report body accepted, in bytes (larger ones: `413`). Announced to sniffers at
    /// `GET /v1/limits` and in the `holt-max-report-bytes` header; they cut their reports to fit.
    #[arg(long, env = "HOLT_MAPPER_MAX_REPORT_BYTES", default_value_t = holt_mapper_api::DEFAULT_MAX_REPORT_BYTES, value_parser = clap::value_parser!(u64).range(1024..))]
    pub max_report_bytes: u64,
    /// Connections open at once; one more is accepted and closed at once (counted).
    #[arg(long, env = "HOLT_MAPPER_MAX_CONNECTIONS", default_value_t = 1_024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// API requests (reports, intents, export, graph, reset) handled at once; more wait their turn
    /// within the request timeout. Health, readiness, limits and metrics are not counted.
    #[arg(long, env = "HOLT_MAPPER_MAX_CONCURRENT_REQUESTS", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_concurrent_requests: u64,
    /// A connection with no request in progress is closed after this long without a byte, in
    /// milliseconds (from its opening or the end of its last response).
    #[arg(long, env = "HOLT_MAPPER_IDLE_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,
    /// From the first byte of a request to its complete head, at most this long, in milliseconds;
    /// else the connection is closed.
    #[arg(long, env = "HOLT_MAPPER_HEADER_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// From a request's complete head to its answer (its body read and handled), at most this long, in
    /// milliseconds: else `408`, and the connection is closed if the answer is not written within 5 s
    /// more.
    #[arg(long, env = "HOLT_MAPPER_REQUEST_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,

    /// Discovered intents kept in all; new ones past it are dropped and counted (`store_full`).
    #[arg(long, env = "HOLT_MAPPER_MAX_INTENTS", default_value_t = 100_000)]
    pub max_intents: usize,
    /// Discovered intents (targets) kept per client workload; new ones past it are dropped and
    /// counted (`client_full`).
    #[arg(long, env = "HOLT_MAPPER_MAX_INTENTS_PER_CLIENT", default_value_t = 1_000)]
    pub max_intents_per_client: usize,
    /// Internet targets (names, addresses, networks) kept per client workload; new ones past it are
    /// dropped and counted (`internet_full`).
    #[arg(
        long,
        env = "HOLT_MAPPER_MAX_INTERNET_TARGETS_PER_CLIENT",
        default_value_t = 500
    )]
    pub max_internet_targets_per_client: usize,
    /// Internet addresses with no name kept one by one per client; past this many, a client's new
    /// addresses are kept as their network (IPv4 /24, IPv6 /64), as the operator groups egress
    /// peers (its default limit, 50).
    #[arg(
        long,
        env = "HOLT_MAPPER_GROUP_INTERNET_ADDRESSES_AFTER",
        default_value_t = 50
    )]
    pub group_internet_addresses_after: usize,
    /// Addresses listed per internet name target of a client; more are not listed (counted
    /// `target_addresses_full`).
    #[arg(long, env = "HOLT_MAPPER_MAX_ADDRESSES_PER_TARGET", default_value_t = 64)]
    pub max_addresses_per_target: usize,
    /// DNS answers (internet name, address) kept, for naming connections and `status.resolvedIPs`;
    /// past it the names seen longest ago are forgotten (counted).
    #[arg(long, env = "HOLT_MAPPER_MAX_DNS_ADDRESSES", default_value_t = 200_000)]
    pub max_dns_addresses: usize,
    /// Addresses kept per internet name; past it the ones seen longest ago are forgotten (counted).
    /// Addresses already written to `status.resolvedIPs` stay there.
    #[arg(long, env = "HOLT_MAPPER_MAX_ADDRESSES_PER_DNS_NAME", default_value_t = 64)]
    pub max_addresses_per_dns_name: usize,
    /// Distinct HTTP paths kept per server, across all its clients; past it paths the server was not
    /// seen with are kept in a coarser form (`/orders/*`, else `/*`) and counted
    /// (`holt_mapper_http_paths_folded_total`).
    #[arg(long, env = "HOLT_MAPPER_MAX_HTTP_PATHS_PER_SERVER", default_value_t = 100)]
    pub max_http_paths_per_server: usize,
    /// Which ID-like path segments fold into `*` (with the rest of the path): a comma-separated list of
    /// `number`, `uuid`, `hex`; `none` keeps paths exact. `/orders/17` → `/orders/*`.
    #[arg(long, env = "HOLT_MAPPER_HTTP_PATH_FOLD", default_value = "number,uuid,hex")]
    pub http_path_fold: crate::path_fold::PathFold,
    /// Observations held while their pod or Service is not known yet; past it the oldest are dropped
    /// (counted).
    #[arg(long, env = "HOLT_MAPPER_MAX_HELD", default_value_t = 100_000)]
    pub max_held: usize,
    /// Brokers' authorizer logs to discover Kafka topic use from, each `<broker>.<namespace>=<path>`:
    /// the file a broker's `kafka.authorizer.logger` appends to (allowed decisions are logged at DEBUG,
    /// denied ones at INFO; docs/mapper.md, "Kafka topics"). Repeatable, or comma-separated in the variable.
    #[arg(long, env = "HOLT_MAPPER_KAFKA_AUTHORIZER_LOGS", value_delimiter = ',')]
    pub kafka_authorizer_log: Vec<crate::kafka_log::AuthorizerLog>,
    /// Broker pods whose logs (through the API server, `pods/log`) hold their authorizer lines, each
    /// `<pod>.<namespace>` (the reference's `kafka-servers` form; the broker is the pod's workload, e.g.
    /// `kafka-0.kafka` is broker `kafka.kafka`) or `<broker>.<namespace>=<pod namespace>/<pod>[:<container>]`
    /// (default container: the pod's `kubectl.kubernetes.io/default-container`, else its first). The broker
    /// writes `kafka.authorizer.logger` to stdout (docs/mapper.md, "Kafka topics"). Repeatable, or
    /// comma-separated in the variable.
    #[arg(long, env = "HOLT_MAPPER_KAFKA_BROKER_PODS", value_delimiter = ',')]
    pub kafka_broker_pod: Vec<crate::kafka_pod_log::BrokerPod>,
    /// How often the authorizer logs (files and broker pods) are read, in milliseconds.
    #[arg(long, env = "HOLT_MAPPER_KAFKA_LOG_INTERVAL_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub kafka_log_interval_ms: u64,
    /// (client, broker, topic) records of Kafka topic use kept; decisions about new ones past it are
    /// counted (`kafka_dropped_topics`) and not kept.
    #[arg(long, env = "HOLT_MAPPER_MAX_KAFKA_TOPIC_RECORDS", default_value_t = crate::shared::DEFAULT_MAX_KAFKA_RECORDS)]
    pub max_kafka_topic_records: usize,
    /// Nodes whose sniffer counters are kept for `/metrics`; reports from more nodes are still
    /// ingested, their counters not kept (counted).
    #[arg(long, env = "HOLT_MAPPER_MAX_NODES", default_value_t = 10_000)]
    pub max_nodes: usize,
    /// Objects of each kind the insights read (Namespaces, ClientIntents, ProtectedServices,
    /// NetworkPolicies not Holt's, Ingresses) kept; past it new ones are left out (counted) and
    /// `GET /v1/insights` answers `503` until a relist of that kind fits.
    #[arg(long, env = "HOLT_MAPPER_MAX_DECLARED_OBJECTS", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_declared_objects: u64,
}

/// The reference's variables the mapper reads (its mapper's and its Kafka watcher's keys, `OTTERIZE_<KEY>`)
/// where Holt has the option; the flags and `HOLT_*` variables win (docs/mapper.md, "Running it").
pub const REFERENCE_ENV: [ReferenceVariable; 7] = [
    reference(
        "OTTERIZE_CLUSTER_DOMAIN",
        "cluster-domain",
        "HOLT_CLUSTER_DOMAIN",
        Shape::Text,
    ),
    reference(
        "OTTERIZE_EXCLUDE_NAMESPACES",
        "exclude-namespaces",
        "HOLT_MAPPER_EXCLUDE_NAMESPACES",
        Shape::List,
    ),
    reference(
        "OTTERIZE_DNS_CACHE_ITEMS_MAX_CAPACITY",
        "max-dns-addresses",
        "HOLT_MAPPER_MAX_DNS_ADDRESSES",
        Shape::Text,
    ),
    // The switch first: turned off, it wins over the interval.
    reference(
        "OTTERIZE_DNS_CLIENT_INTENTS_UPDATE_ENABLED",
        "resolved-ips-interval-ms",
        "HOLT_MAPPER_RESOLVED_IPS_INTERVAL_MS",
        Shape::OffIsZero,
    ),
    reference(
        "OTTERIZE_DNS_CLIENT_INTENTS_UPDATE_INTERVAL",
        "resolved-ips-interval-ms",
        "HOLT_MAPPER_RESOLVED_IPS_INTERVAL_MS",
        Shape::Millis,
    ),
    reference(
        "OTTERIZE_KAFKA_SERVERS",
        "kafka-broker-pod",
        "HOLT_MAPPER_KAFKA_BROKER_PODS",
        Shape::List,
    ),
    reference(
        "OTTERIZE_KAFKA_COOLDOWN_INTERVAL",
        "kafka-log-interval-ms",
        "HOLT_MAPPER_KAFKA_LOG_INTERVAL_MS",
        Shape::Millis,
    ),
];

const fn reference(
    variable: &'static str,
    flag: &'static str,
    holt_variable: &'static str,
    shape: Shape,
) -> ReferenceVariable {
    ReferenceVariable {
        variable,
        flag,
        holt_variable,
        shape,
    }
}

impl Args {
    /// The flags of `args`, with the reference's variables of [`REFERENCE_ENV`] that `lookup` finds read as
    /// the flags they stand for. Errors are clap's, so that they are printed (and exit) as a flag's.
    pub fn parse_with_reference_env(
        args: impl IntoIterator<Item = std::ffi::OsString>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Args, clap::Error> {
        parse_with_reference_env(args, &REFERENCE_ENV, lookup)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Args::command().debug_assert();
    }

    #[test]
    fn each_reference_variable_stands_for_a_flag_with_that_holt_variable() {
        let command = super::Args::command();
        for entry in super::REFERENCE_ENV {
            let arg = command
                .get_arguments()
                .find(|a| a.get_long() == Some(entry.flag))
                .unwrap_or_else(|| panic!("no --{}", entry.flag));
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(entry.holt_variable),
                "--{}",
                entry.flag
            );
        }
    }

    #[test]
    fn the_references_variables_set_what_the_flags_do_not() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
        };
        let args = super::Args::parse_with_reference_env(
            ["holt-mapper", "--cluster-domain", "given.local"].map(Into::into),
            env(&[
                ("OTTERIZE_CLUSTER_DOMAIN", "reference.local"),
                ("OTTERIZE_EXCLUDE_NAMESPACES", "istio-system kube-system"),
                ("OTTERIZE_DNS_CLIENT_INTENTS_UPDATE_INTERVAL", "2s"),
                ("OTTERIZE_KAFKA_SERVERS", "kafka-0.kafka kafka-1.kafka"),
                ("OTTERIZE_KAFKA_COOLDOWN_INTERVAL", "30s"),
            ]),
        )
        .expect("parsed");
        assert_eq!(args.cluster_domain, "given.local", "the flag wins");
        assert_eq!(args.exclude_namespaces, ["istio-system", "kube-system"]);
        assert_eq!(args.resolved_ips_interval_ms, 2_000);
        assert_eq!(args.kafka_broker_pod.len(), 2);
        assert_eq!(args.kafka_log_interval_ms, 30_000);
        let off = super::Args::parse_with_reference_env(
            ["holt-mapper"].map(Into::into),
            env(&[
                ("OTTERIZE_DNS_CLIENT_INTENTS_UPDATE_ENABLED", "false"),
                ("OTTERIZE_DNS_CLIENT_INTENTS_UPDATE_INTERVAL", "2s"),
            ]),
        )
        .expect("parsed");
        assert_eq!(off.resolved_ips_interval_ms, 0, "turned off");
        let error = super::Args::parse_with_reference_env(
            ["holt-mapper"].map(Into::into),
            env(&[("OTTERIZE_KAFKA_SERVERS", "not-a-pod")]),
        )
        .expect_err("refused");
        assert!(error.to_string().contains("--kafka-broker-pod"), "{error}");
    }

    #[test]
    fn access_is_checked_unless_turned_off_explicitly() {
        use clap::Parser;
        let args = super::Args::try_parse_from(["holt-mapper"]).expect("defaults");
        assert!(!args.insecure_skip_authentication);
        assert!(args.accept_api_server_tokens);
        assert_eq!(args.token_audience, "holt-mapper");
        assert_eq!(args.authorization_namespace, "otterize-system");
        let args = super::Args::try_parse_from([
            "holt-mapper",
            "--accept-api-server-tokens=false",
            "--insecure-skip-authentication",
        ])
        .expect("flags");
        assert!(!args.accept_api_server_tokens);
        assert!(args.insecure_skip_authentication);
    }

    #[test]
    fn every_flag_has_a_long_name_and_an_environment_variable() {
        for arg in super::Args::command().get_arguments() {
            if ["help", "version"].contains(&arg.get_id().as_str()) {
                continue;
            }
            assert!(arg.get_long().is_some(), "{} has no long name", arg.get_id());
            assert!(
                arg.get_env().is_some(),
                "{} has no environment variable",
                arg.get_id()
            );
        }
    }
}
