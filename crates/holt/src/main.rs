//! `holt`: Holt's command line.
//!
//! `holt plan PATH...` reads Kubernetes manifests and an operator configuration and prints what Holt would
//! create — NetworkPolicies, Istio AuthorizationPolicies, Kafka ACLs, pod labels — with no cluster.
//! `holt validate PATH...` checks ClientIntents, ProtectedServices and KafkaServerConfigs for CI and
//! pre-commit hooks. Invalid input exits non-zero naming the file, object and field; a document nested
//! deeper than 128 levels or larger than `--max-document-mib` is refused before it is parsed. Both are
//! linear in the number of objects.
//! `holt mapper list|export|visualize|reset` reads the network mapper's discovered intents.

mod document_limits;
mod egress_summary;
mod holt_objects;
mod manifests;
mod mapper;
mod model_input;
mod output;
mod plan;
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
    Mapper(mapper::MapperArgs),
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
            config,
            limits,
        } => plan::run(&paths, output, &config, &limits.limits()),
        Command::Validate {
            paths,
            strict,
            limits,
        } => validate::run(&paths, strict, &limits.limits()),
        Command::Mapper(args) => mapper::run(args),
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
