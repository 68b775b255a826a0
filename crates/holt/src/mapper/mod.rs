//! `holt mapper list|export|visualize|reset`: the network mapper's discovered intents from the command
//! line. The mapper does the work (resolution, export, layout); this is a thin client that reaches it by
//! URL or through the API server ([`endpoint`]).

mod endpoint;
mod list;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use holt_mapper_api::{
    DiscoveredIntent, EXPORT_PATH, ExportFile, GRAPH_PATH, INTENTS_PATH, RESET_PATH, query_string,
};

use endpoint::Endpoint;
pub use endpoint::EndpointArgs;

/// `holt mapper`.
#[derive(Args, Debug)]
pub struct MapperArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// Leave out these workloads (`name` or `name.namespace`; repeat or separate with commas): their
    /// own calls and the calls to them. A client left with no call is left out too.
    #[arg(
        long,
        env = "HOLT_MAPPER_EXCLUDE_SERVICES",
        value_delimiter = ',',
        global = true
    )]
    pub exclude_services: Vec<String>,
    /// Leave out workloads whose pods carry one of these labels (`key=value`, or `key` for any value;
    /// repeat or separate with commas), as clients and as servers. Judged on their current pods.
    #[arg(
        long,
        env = "HOLT_MAPPER_EXCLUDE_LABELS",
        value_delimiter = ',',
        global = true
    )]
    pub exclude_labels: Vec<String>,
    #[command(subcommand)]
    pub command: MapperCommand,
}

#[derive(Subcommand, Debug)]
pub enum MapperCommand {
    /// Print the discovered intents as text (`<client> in namespace <ns> calls:`).
    List {
        #[command(flatten)]
        filters: FilterArgs,
    },
    /// Print or write the discovered intents as ClientIntents.
    Export {
        #[command(flatten)]
        filters: FilterArgs,
        /// File (or, with `--output-type dir`, directory) to write; default: standard output.
        #[arg(short, long, env = "HOLT_MAPPER_OUTPUT")]
        output: Option<PathBuf>,
        /// `single-file`: all objects in one document; `dir`: one `<workload>.<namespace>.yaml` per client.
        #[arg(long, env = "HOLT_MAPPER_OUTPUT_TYPE", value_enum, default_value_t = OutputType::SingleFile)]
        output_type: OutputType,
        /// Document format.
        #[arg(long, env = "HOLT_MAPPER_FORMAT", value_enum, default_value_t = ExportFormatArg::Yaml)]
        format: ExportFormatArg,
        /// ClientIntents API version (`v2` and `v1` are accepted as the reference spells them).
        #[arg(long, env = "HOLT_MAPPER_OUTPUT_VERSION", value_enum, default_value_t = VersionArg::V2beta1)]
        output_version: VersionArg,
        /// Write calls made through a Kubernetes Service as `service` targets.
        #[arg(long, env = "HOLT_MAPPER_AS_KUBERNETES_SERVICE")]
        as_kubernetes_service: bool,
    },
    /// Draw the discovered intents as a graph.
    Visualize {
        #[command(flatten)]
        filters: FilterArgs,
        /// `dot` (Graphviz), `mermaid`, or `svg` (laid out by the mapper; no Graphviz needed).
        #[arg(long, env = "HOLT_MAPPER_GRAPH_FORMAT", value_enum, default_value_t = GraphFormatArg::Svg)]
        format: GraphFormatArg,
        /// File to write; default: standard output.
        #[arg(short, long, env = "HOLT_MAPPER_GRAPH_OUTPUT")]
        output: Option<PathBuf>,
    },
    /// Forget every discovered intent.
    Reset,
}

/// Filters of the read commands.
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only clients in these namespaces (repeat or separate with commas).
    #[arg(
        short = 'n',
        long = "namespace",
        env = "HOLT_MAPPER_FILTER_NAMESPACES",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,
    /// Only this client, `name.namespace`.
    #[arg(long, env = "HOLT_MAPPER_FILTER_CLIENT")]
    pub client: Option<String>,
    /// Only calls to this server, `name.namespace`.
    #[arg(long, env = "HOLT_MAPPER_FILTER_SERVER")]
    pub server: Option<String>,
}

/// What `--exclude-services` and `--exclude-labels` leave out.
#[derive(Debug, Default)]
struct Exclusions {
    services: Vec<String>,
    labels: Vec<String>,
}

impl FilterArgs {
    /// The query of the filters and of the exclusions.
    fn pairs(&self, excluded: &Exclusions) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if !self.namespaces.is_empty() {
            pairs.push(("namespace", self.namespaces.join(",")));
        }
        pairs.extend(self.client.clone().map(|c| ("client", c)));
        pairs.extend(self.server.clone().map(|s| ("server", s)));
        if !excluded.services.is_empty() {
            pairs.push(("excludeServices", excluded.services.join(",")));
        }
        if !excluded.labels.is_empty() {
            pairs.push(("excludeLabels", excluded.labels.join(",")));
        }
        pairs
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputType {
    SingleFile,
    Dir,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    Yaml,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VersionArg {
    #[value(alias = "v2")]
    V2beta1,
    #[value(alias = "v1")]
    V1alpha3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormatArg {
    Dot,
    Mermaid,
    Svg,
}

/// A flag value as the mapper's queries spell it: the CLI's value names are the wire names
/// ([`holt_mapper_api::ExportFormat`], [`holt_mapper_api::ExportVersion`], [`holt_mapper_api::GraphFormat`]).
fn wire_name(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

fn path_with_query(path: &str, pairs: &[(&'static str, String)]) -> String {
    if pairs.is_empty() {
        path.to_owned()
    } else {
        format!(
            "{path}?{}",
            query_string(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        )
    }
}

/// Runs `holt mapper …`.
pub fn run(args: MapperArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: MapperArgs) -> anyhow::Result<ExitCode> {
    let endpoint = Endpoint::connect(&args.endpoint).await?;
    let excluded = Exclusions {
        services: args.exclude_services,
        labels: args.exclude_labels,
    };
    match args.command {
        MapperCommand::List { filters } => {
            let body = endpoint
                .get(&path_with_query(INTENTS_PATH, &filters.pairs(&excluded)))
                .await?;
            let intents: Vec<DiscoveredIntent> =
                serde_json::from_str(&body).context("the mapper's intents do not parse")?;
            if intents.is_empty() {
                eprintln!("no discovered intents match");
            }
            print!("{}", list::render(&intents));
        }
        MapperCommand::Export {
            filters,
            output,
            output_type,
            format,
            output_version,
            as_kubernetes_service,
        } => {
            let mut pairs = filters.pairs(&excluded);
            pairs.push(("format", wire_name(format)));
            pairs.push(("version", wire_name(output_version)));
            if as_kubernetes_service {
                pairs.push(("asKubernetesService", "true".into()));
            }
            match output_type {
                OutputType::SingleFile => {
                    let text = endpoint.get(&path_with_query(EXPORT_PATH, &pairs)).await?;
                    write_or_print(output.as_deref(), &text)?;
                }
                OutputType::Dir => {
                    let dir = output.context("--output-type dir needs --output DIRECTORY")?;
                    pairs.push(("split", "true".into()));
                    let body = endpoint.get(&path_with_query(EXPORT_PATH, &pairs)).await?;
                    let files: Vec<ExportFile> =
                        serde_json::from_str(&body).context("the mapper's export does not parse")?;
                    write_dir(&dir, &files)?;
                    eprintln!("wrote {} files to {}", files.len(), dir.display());
                }
            }
        }
        MapperCommand::Visualize {
            filters,
            format,
            output,
        } => {
            let mut pairs = filters.pairs(&excluded);
            pairs.push(("format", wire_name(format)));
            let text = endpoint.get(&path_with_query(GRAPH_PATH, &pairs)).await?;
            write_or_print(output.as_deref(), &text)?;
        }
        MapperCommand::Reset => {
            endpoint.post(RESET_PATH).await?;
            eprintln!("the mapper's discovered intents were reset");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_or_print(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn write_dir(dir: &Path, files: &[ExportFile]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for file in files {
        // The mapper names files after Kubernetes object names; refuse anything that would leave `dir`.
        if file.file_name.contains('/') || file.file_name.starts_with('.') {
            anyhow::bail!("the mapper sent an unsafe file name {:?}", file.file_name);
        }
        let path = dir.join(&file.file_name);
        std::fs::write(&path, &file.content).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use holt_mapper_api::{ExportFormat, ExportVersion, GraphFormat};
    use serde::de::DeserializeOwned;

    use super::*;

    fn parsed<T: DeserializeOwned>(value: impl ValueEnum) -> T {
        let name = wire_name(value);
        serde_json::from_value(serde_json::Value::String(name.clone()))
            .unwrap_or_else(|e| panic!("{name:?} is no wire name: {e}"))
    }

    #[test]
    fn flag_values_are_the_wire_names_of_the_mapper_queries() {
        assert_eq!(parsed::<ExportFormat>(ExportFormatArg::Yaml), ExportFormat::Yaml);
        assert_eq!(parsed::<ExportFormat>(ExportFormatArg::Json), ExportFormat::Json);
        assert_eq!(
            parsed::<ExportVersion>(VersionArg::V2beta1),
            ExportVersion::V2beta1
        );
        assert_eq!(
            parsed::<ExportVersion>(VersionArg::V1alpha3),
            ExportVersion::V1alpha3
        );
        assert_eq!(parsed::<GraphFormat>(GraphFormatArg::Dot), GraphFormat::Dot);
        assert_eq!(
            parsed::<GraphFormat>(GraphFormatArg::Mermaid),
            GraphFormat::Mermaid
        );
        assert_eq!(parsed::<GraphFormat>(GraphFormatArg::Svg), GraphFormat::Svg);
    }
}
