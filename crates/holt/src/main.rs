//! `holt`: Holt's command line.
//!
//! `holt plan PATH...` reads Kubernetes manifests and an operator configuration and prints what Holt would
//! create — NetworkPolicies, Istio AuthorizationPolicies, Kafka ACLs, pod labels — with no cluster; with
//! `--traffic FILE` (a mapper export) it also says which discovered calls the plan would block.
//! `holt validate PATH...` checks ClientIntents, ProtectedServices and KafkaServerConfigs for CI and
//! pre-commit hooks. Invalid input exits non-zero naming the file, object and field; a document nested
//! deeper than 128 levels or larger than `--max-document-mib` is refused before it is parsed. Both are
//! linear in the number of objects.
//! `holt mapper list|export|visualize|insights|reset` reads the network mapper's discovered intents and
//! their shadow-mode insights.
//! `holt reach PATH...` decides whether flows pass the NetworkPolicies of the manifests, and why.
//! `holt diff OLD NEW` lists the calls between workloads that a change of manifests allows or blocks.
//! `holt migrate --dry-run` lists what the operator would adopt and delete on the current cluster when it
//! takes over from the reference operator.

mod config_notices;
mod diff;
mod document_limits;
mod egress_summary;
mod holt_objects;
mod insights_table;
mod manifests;
mod mapper;
mod migrate;
mod model_input;
mod output;
mod plan;
mod reach;
mod traffic;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use document_limits::LimitArgs;
use holt_config::ConfigArgs;

#[derive(Parser, Debug)]
#[command(name = "holt", version, about = "Intent-based access control for Kubernetes")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print what Holt would create for these manifests (files or directories; no cluster needed).
    Plan {
        /// Manifest files or directories (`.yaml`, `.yml`, `.json`, read recursively).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// `table`: a summary per server; `yaml`: the objects as multi-document YAML; `json`: a JSON list.
        #[arg(short, long, env = "HOLT_OUTPUT", value_enum, default_value_t = Format::Table)]
        output: Format,
        /// A network mapper export (`holt mapper export`, YAML or JSON): print, after the plan, whether each
        /// discovered call is allowed or blocked now, once its server is protected, and in defaultActive mode,
        /// and which servers are ready to protect. Exits 1 when the plan blocks a discovered call, 2 on bad
        /// input.
        #[arg(long, env = "HOLT_PLAN_TRAFFIC", value_name = "FILE")]
        traffic: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Validate ClientIntents, ProtectedServices and KafkaServerConfigs (files or directories).
    Validate {
        /// Manifest files or directories (`.yaml`, `.yml`, `.json`, read recursively).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Apply strict-mode rules (no wildcard domains, ports required, plain targets must be Services).
        #[arg(long, env = "HOLT_ENABLE_STRICT_MODE_INTENTS")]
        strict: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// The network mapper's discovered intents: list, export as ClientIntents, visualize, reset.
    #[command(alias = "network-mapper")]
    Mapper(mapper::MapperArgs),
    /// Decide whether flows pass the NetworkPolicies of these manifests, and why (no cluster needed).
    ///
    /// One flow: `--from NS/POD --to NS/POD --port 80[/TCP]`. Many: `--flows FILE`, JSON lines
    /// `{"from":"ns/pod","to":"ns/pod","port":80,"protocol":"TCP"}`. Exits 0 whatever the verdicts; non-zero
    /// only on bad input.
    Reach {
        /// Manifest files or directories: Namespaces (labels count), Pods, workloads (a workload without Pods
        /// stands for one Pod of its template) and NetworkPolicies.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// The source: NAMESPACE/POD, NAMESPACE/WORKLOAD, or an IP address (outside the cluster unless a pod
        /// has it).
        #[arg(long, env = "HOLT_REACH_FROM", value_name = "NS/POD|IP", requires_all = ["to", "port"], conflicts_with = "flows")]
        from: Option<String>,
        /// The destination: NAMESPACE/POD, NAMESPACE/WORKLOAD, or an IP address.
        #[arg(long, env = "HOLT_REACH_TO", value_name = "NS/POD|IP", requires_all = ["from", "port"], conflicts_with = "flows")]
        to: Option<String>,
        /// The destination port and protocol: `80`, `80/TCP`, `53/UDP`, `9/SCTP` (TCP when not given).
        #[arg(long, env = "HOLT_REACH_PORT", value_name = "PORT[/PROTOCOL]", requires_all = ["from", "to"], conflicts_with = "flows")]
        port: Option<String>,
        /// The HTTP method of the request (with --path), for Istio AuthorizationPolicies.
        #[arg(long, env = "HOLT_REACH_METHOD", value_name = "METHOD", requires_all = ["from", "path"])]
        method: Option<String>,
        /// The HTTP path of the request, without the query string (with --method), for Istio
        /// AuthorizationPolicies.
        #[arg(long, env = "HOLT_REACH_PATH", value_name = "PATH", requires_all = ["from", "method"])]
        path: Option<String>,
        /// A file of flows, one JSON object a line: `from`, `to` (NS/POD or an IP), `port`, `protocol`
        /// (optional, TCP), and `method` with `path` (optional, for Istio).
        #[arg(
            long,
            env = "HOLT_REACH_FLOWS",
            value_name = "FILE",
            required_unless_present = "from"
        )]
        flows: Option<PathBuf>,
        /// `text`: the verdict and its reasons; `json`: one JSON line a flow with `"verdict":"allow"|"deny"`.
        #[arg(short, long, env = "HOLT_OUTPUT", value_enum, default_value_t = reach::ReachFormat::Text)]
        output: reach::ReachFormat,
        /// The Istio trust domain in the principals of meshed callers (the operator's istioTrustDomain).
        #[arg(long, env = "HOLT_REACH_ISTIO_TRUST_DOMAIN", default_value = "cluster.local")]
        istio_trust_domain: String,
        /// The Istio root namespace: its AuthorizationPolicies apply to the whole mesh.
        #[arg(long, env = "HOLT_REACH_ISTIO_ROOT_NAMESPACE", default_value = holt_reach::istio::DEFAULT_ROOT_NAMESPACE)]
        istio_root_namespace: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// The calls between workloads (and ports) that a change of manifests allows or blocks (no cluster needed).
    ///
    /// `holt diff OLD NEW` (two files or directories) or `holt diff --old PATH... --new PATH...`. Each side is
    /// read and rendered as `holt plan` does; its NetworkPolicies and Holt's are evaluated for every call that
    /// the change can affect. Exits 0, or 1 with `--fail-on-blocked` when a call becomes blocked; 2 on bad
    /// input.
    Diff {
        /// The manifests before the change: a file or directory (or use --old).
        #[arg(value_name = "OLD", required_unless_present = "old", requires = "new_tree", conflicts_with_all = ["old", "new"])]
        old_tree: Option<PathBuf>,
        /// The manifests after the change: a file or directory (or use --new).
        #[arg(value_name = "NEW", conflicts_with_all = ["old", "new"])]
        new_tree: Option<PathBuf>,
        /// Manifest files or directories before the change (repeat or list several).
        #[arg(long, env = "HOLT_DIFF_OLD", value_name = "PATH", num_args = 1.., requires = "new")]
        old: Vec<PathBuf>,
        /// Manifest files or directories after the change (repeat or list several).
        #[arg(long, env = "HOLT_DIFF_NEW", value_name = "PATH", num_args = 1.., requires = "old")]
        new: Vec<PathBuf>,
        /// `table`: one row a changed call; `json`: one JSON object a line with `"change":"allowed"|"blocked"`.
        #[arg(short, long, env = "HOLT_OUTPUT", value_enum, default_value_t = diff::DiffFormat::Table)]
        output: diff::DiffFormat,
        /// Exit with status 1 when any call becomes blocked (for CI).
        #[arg(long, env = "HOLT_DIFF_FAIL_ON_BLOCKED")]
        fail_on_blocked: bool,
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// What the operator would adopt and delete on the current kubeconfig's cluster when it takes over from
    /// the reference operator (Otterize's); read-only. The take-over itself is the operator's, at start-up.
    Migrate {
        /// List what would happen, change nothing (required: the operator does the take-over).
        #[arg(long, env = "HOLT_MIGRATE_DRY_RUN")]
        dry_run: bool,
        /// `table`: one row per object of the reference's, then the pods; `json`: the same as one object.
        #[arg(short, long, env = "HOLT_OUTPUT", value_enum, default_value_t = migrate::MigrateFormat::Table)]
        output: migrate::MigrateFormat,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Yaml,
    Json,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Plan {
            paths,
            output,
            traffic,
            config,
            limits,
        } => {
            let limits = limits.limits();
            let request = plan::PlanRequest {
                paths: &paths,
                format: output,
                config: &config,
                limits: &limits,
                traffic: traffic.as_deref(),
            };
            match (plan::run(&request), traffic.is_some()) {
                // With --traffic, status 1 means "the plan blocks a discovered call"; bad input must not look
                // like it.
                (Err(error), true) => {
                    eprintln!("error: {error:#}");
                    return ExitCode::from(2);
                }
                (result, _) => result,
            }
        }
        Command::Validate {
            paths,
            strict,
            limits,
        } => validate::run(&paths, strict, &limits.limits()),
        Command::Mapper(args) => mapper::run(args),
        Command::Migrate {
            dry_run,
            output,
            config,
        } => migrate::run(dry_run, output, &config),
        Command::Reach {
            paths,
            from,
            to,
            port,
            method,
            path,
            flows,
            output,
            istio_trust_domain,
            istio_root_namespace,
            limits,
        } => {
            let mesh = holt_insights::MeshSettings {
                trust_domain: istio_trust_domain,
                root_namespace: istio_root_namespace,
            };
            let flows = match (from, to, port, flows) {
                (Some(from), Some(to), Some(port), _) => {
                    let http = method
                        .zip(path)
                        .map(|(method, path)| holt_reach::istio::HttpRequest { method, path });
                    Ok(reach::FlowSource::One { from, to, port, http })
                }
                (_, _, _, Some(file)) => Ok(reach::FlowSource::File(file)),
                _ => Err(anyhow::anyhow!("give --from, --to and --port, or --flows FILE")),
            };
            flows.and_then(|flows| reach::run(&paths, flows, output, &mesh, &limits.limits()))
        }
        Command::Diff {
            old_tree,
            new_tree,
            old,
            new,
            output,
            fail_on_blocked,
            config,
            limits,
        } => {
            let (old, new) = match (old_tree, new_tree) {
                (Some(before), Some(after)) => (vec![before], vec![after]),
                _ => (old, new),
            };
            let limits = limits.limits();
            let request = diff::DiffRequest {
                old: &old,
                new: &new,
                config: &config,
                format: output,
                fail_on_blocked,
                limits: &limits,
            };
            // Status 1 means "a call becomes blocked"; bad input must not look like it.
            return diff::run(&request).unwrap_or_else(|error| {
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            });
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
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
    fn the_reference_cli_spellings_are_accepted() {
        use clap::Parser;
        let args = super::Args::try_parse_from([
            "holt",
            "mapper",
            "--mapper-service-name",
            "mapper",
            "--mapper-service-port",
            "9191",
            "visualize",
            "--namespaces",
            "a,b",
            "--output-path",
            "graph.svg",
        ])
        .expect("parse");
        let super::Command::Mapper(mapper) = args.command else {
            panic!("not mapper: {args:?}");
        };
        assert_eq!(
            (
                mapper.endpoint.mapper_service.as_str(),
                mapper.endpoint.mapper_port
            ),
            ("mapper", 9191)
        );
        let super::mapper::MapperCommand::Visualize { filters, output, .. } = mapper.command else {
            panic!("not visualize: {:?}", mapper.command);
        };
        assert_eq!(filters.namespaces, ["a", "b"]);
        assert_eq!(output.as_deref(), Some(std::path::Path::new("graph.svg")));
    }
}
