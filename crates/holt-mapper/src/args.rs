//! The `holt-mapper` command line (every flag also an environment variable).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Holt's network mapper: receives sniffer reports, resolves them to workloads through the API server,
/// keeps the discovered intents in a state directory and serves them over HTTP/JSON.
#[derive(Parser, Debug, Clone)]
#[command(name = "holt-mapper", version)]
pub struct Args {
    /// Address the HTTP API (reports, intents, export, health, metrics) listens on.
    #[arg(long, env = "HOLT_MAPPER_BIND_ADDRESS", default_value = "0.0.0.0:9090")]
    pub bind_address: SocketAddr,
    /// Directory holding the discovered intents (`intents.json`); created if missing.
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
    /// How often the intents are written to the state directory when they changed, in milliseconds.
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
    /// Log format.
    #[arg(long, env = "HOLT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Args::command().debug_assert();
    }
}
