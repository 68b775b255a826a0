//! `holt mapper list|export|visualize|insights|ui|reset`: the network mapper's discovered intents (and their
//! shadow-mode insights) from the command line. The mapper does the work (resolution, export, layout,
//! insights); this is a thin client that reaches it by URL or through the API server ([`endpoint`]). The
//! insights come as JSON and are printed with `holt plan --traffic`'s table ([`crate::insights_table`]);
//! `ui` serves the mapper's access graph page on 127.0.0.1 with the CLI's token ([`ui_proxy`]).

mod endpoint;
mod list;
mod raster;
mod ui_proxy;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use holt_mapper_api::{
    DiscoveredIntent, EXPORT_PATH, ExportFile, ExportFormat, ExportQuery, ExportVersion, Filters, GRAPH_PATH,
    GraphFormat, GraphQuery, INSIGHTS_PATH, INTENTS_PATH, InsightsQuery, KAFKA_PATH, KafkaTopicUse,
    RESET_PATH, path_with_query,
};

use crate::insights_table;

pub use endpoint::EndpointArgs;
use endpoint::{Endpoint, EndpointError};

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
    /// Print the discovered intents as text (`<client> in namespace <ns> calls:`), with the HTTP paths and
    /// Kafka topics seen under each server.
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
        /// `dot` (Graphviz), `mermaid`, `svg` (laid out by the mapper; no Graphviz needed), or `png` and
        /// `jpg` (the SVG drawn here, with the machine's fonts). Default: from the output file's extension
        /// (`.dot`/`.gv`, `.mmd`/`.mermaid`, `.svg`, `.png`, `.jpg`/`.jpeg`), else `svg`.
        #[arg(long, env = "HOLT_MAPPER_GRAPH_FORMAT", value_enum)]
        format: Option<GraphFormatArg>,
        /// File to write; default: standard output. An extension Holt cannot write is refused.
        #[arg(short, long, env = "HOLT_MAPPER_GRAPH_OUTPUT", alias = "output-path")]
        output: Option<PathBuf>,
    },
    /// The shadow-mode insights of the discovered calls: each one declared or not, allowed or blocked now
    /// (and by which policy, Holt's or another's), once its server is protected and once the mode is
    /// defaultActive; each server's enforcement and whether it is ready to protect. Needs a mapper started
    /// with the operator's configuration (`--operator-config`; the chart does it).
    Insights {
        /// Only the calls whose client or server is in these namespaces, and the servers in them (repeat or
        /// separate with commas).
        #[arg(
            short = 'n',
            long = "namespace",
            alias = "namespaces",
            env = "HOLT_MAPPER_INSIGHTS_NAMESPACES",
            value_delimiter = ','
        )]
        namespaces: Vec<String>,
        /// Only the calls to this server: its workload name (in any namespace), or `name.namespace`.
        #[arg(long, env = "HOLT_MAPPER_INSIGHTS_SERVER")]
        server: Option<String>,
        /// `table`: calls, servers and the reasons of blocked calls, for people; `json`: the insights as the
        /// mapper serves them (`{"calls": [...], "servers": [...]}`).
        #[arg(short, long, env = "HOLT_OUTPUT", value_enum, default_value_t = InsightsFormat::Table)]
        output: InsightsFormat,
    },
    /// Serve the mapper's access graph page (its insights drawn in a browser) on 127.0.0.1, passing the
    /// page's requests on to the mapper with this command's token, as `kubectl proxy` does; prints the
    /// page's address and runs until interrupted (Ctrl-C).
    Ui {
        /// The local port to listen on (127.0.0.1 only); 0 picks a free one.
        #[arg(long, env = "HOLT_MAPPER_UI_PORT", default_value_t = 8091)]
        port: u16,
    },
    /// Forget every discovered intent.
    Reset,
}

/// How `holt mapper insights` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InsightsFormat {
    Table,
    Json,
}

/// Filters of the read commands.
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only clients in these namespaces (repeat or separate with commas).
    #[arg(
        short = 'n',
        long = "namespace",
        alias = "namespaces",
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
    /// The mapper's filters: these and the exclusions.
    fn filters(self, excluded: &Exclusions) -> Filters {
        let joined = |values: &[String]| (!values.is_empty()).then(|| values.join(","));
        Filters {
            namespace: joined(&self.namespaces),
            client: self.client,
            server: self.server,
            exclude_services: joined(&excluded.services),
            exclude_labels: joined(&excluded.labels),
        }
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
    Png,
    #[value(alias = "jpeg")]
    Jpg,
}

impl GraphFormatArg {
    /// The format a file name's extension asks for; `Err` with the extension when Holt writes no such file,
    /// `Ok(None)` without an extension.
    fn of_file(path: &Path) -> Result<Option<Self>, String> {
        let Some(extension) = path.extension() else {
            return Ok(None);
        };
        let extension = extension.to_string_lossy().to_ascii_lowercase();
        match extension.as_str() {
            "dot" | "gv" => Ok(Some(Self::Dot)),
            "mmd" | "mermaid" => Ok(Some(Self::Mermaid)),
            "svg" => Ok(Some(Self::Svg)),
            "png" => Ok(Some(Self::Png)),
            "jpg" | "jpeg" => Ok(Some(Self::Jpg)),
            _ => Err(extension),
        }
    }

    /// The format to write: `--format`, else the output file's extension, else SVG. A file whose extension
    /// Holt cannot write, or that names another format than `--format`, is refused.
    fn choose(format: Option<Self>, output: Option<&Path>) -> anyhow::Result<Self> {
        let by_file = match output.map(Self::of_file).transpose() {
            Ok(found) => found.flatten(),
            Err(extension) => anyhow::bail!(
                "cannot write a .{extension} file: visualize writes .svg, .png, .jpg/.jpeg, .dot/.gv and .mmd/.mermaid"
            ),
        };
        match (format, by_file) {
            (Some(asked), Some(named)) if asked != named => anyhow::bail!(
                "--format {} but the file name ends in another format's extension: {}",
                asked.name(),
                output.map(|p| p.display().to_string()).unwrap_or_default()
            ),
            (Some(asked), _) => Ok(asked),
            (None, Some(named)) => Ok(named),
            (None, None) => Ok(Self::Svg),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Dot => "dot",
            Self::Mermaid => "mermaid",
            Self::Svg => "svg",
            Self::Png => "png",
            Self::Jpg => "jpg",
        }
    }
}

impl From<ExportFormatArg> for ExportFormat {
    fn from(format: ExportFormatArg) -> Self {
        match format {
            ExportFormatArg::Yaml => ExportFormat::Yaml,
            ExportFormatArg::Json => ExportFormat::Json,
        }
    }
}

impl From<VersionArg> for ExportVersion {
    fn from(version: VersionArg) -> Self {
        match version {
            VersionArg::V2beta1 => ExportVersion::V2beta1,
            VersionArg::V1alpha3 => ExportVersion::V1alpha3,
        }
    }
}

impl From<GraphFormatArg> for GraphFormat {
    /// What the mapper is asked for: pictures are drawn here from its SVG.
    fn from(format: GraphFormatArg) -> Self {
        match format {
            GraphFormatArg::Dot => GraphFormat::Dot,
            GraphFormatArg::Mermaid => GraphFormat::Mermaid,
            GraphFormatArg::Svg | GraphFormatArg::Png | GraphFormatArg::Jpg => GraphFormat::Svg,
        }
    }
}

/// `path?query` for one of the mapper's query types.
fn url(path: &str, query: &impl serde::Serialize) -> anyhow::Result<String> {
    path_with_query(path, query).with_context(|| format!("cannot write the query of {path}"))
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
            let filters = filters.filters(&excluded);
            let body = endpoint.get(&url(INTENTS_PATH, &filters)?).await?;
            let intents: Vec<DiscoveredIntent> =
                serde_json::from_str(&body).context("the mapper's intents do not parse")?;
            // A mapper older than Kafka discovery answers 404: no topics to list.
            let kafka: Vec<KafkaTopicUse> = match endpoint.get(&url(KAFKA_PATH, &filters)?).await {
                Ok(body) => {
                    serde_json::from_str(&body).context("the mapper's Kafka topic use does not parse")?
                }
                Err(EndpointError::Refused { code: 404, .. }) => Vec::new(),
                Err(error) => return Err(error.into()),
            };
            if intents.is_empty() && kafka.is_empty() {
                eprintln!("no discovered intents match");
            }
            print!("{}", list::render(&intents, &kafka));
        }
        MapperCommand::Export {
            filters,
            output,
            output_type,
            format,
            output_version,
            as_kubernetes_service,
        } => {
            let mut query = ExportQuery {
                filters: filters.filters(&excluded),
                format: format.into(),
                version: output_version.into(),
                as_kubernetes_service,
                split: false,
            };
            match output_type {
                OutputType::SingleFile => {
                    let text = endpoint.get(&url(EXPORT_PATH, &query)?).await?;
                    write_or_print(output.as_deref(), text.as_bytes())?;
                }
                OutputType::Dir => {
                    let dir = output.context("--output-type dir needs --output DIRECTORY")?;
                    query.split = true;
                    let body = endpoint.get(&url(EXPORT_PATH, &query)?).await?;
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
            let format = GraphFormatArg::choose(format, output.as_deref())?;
            let query = GraphQuery {
                filters: filters.filters(&excluded),
                format: format.into(),
            };
            let text = endpoint.get(&url(GRAPH_PATH, &query)?).await?;
            let picture = match format {
                GraphFormatArg::Png => Some(raster::Picture::Png),
                GraphFormatArg::Jpg => Some(raster::Picture::Jpeg),
                GraphFormatArg::Dot | GraphFormatArg::Mermaid | GraphFormatArg::Svg => None,
            };
            match picture {
                Some(picture) => write_or_print(output.as_deref(), &raster::rasterise(&text, picture)?)?,
                None => write_or_print(output.as_deref(), text.as_bytes())?,
            }
        }
        MapperCommand::Insights {
            namespaces,
            server,
            output,
        } => {
            let joined = |values: &[String]| (!values.is_empty()).then(|| values.join(","));
            let query = InsightsQuery {
                namespace: joined(&namespaces),
                server,
                exclude_services: joined(&excluded.services),
                exclude_labels: joined(&excluded.labels),
                ..InsightsQuery::default()
            };
            let body = endpoint.get(&url(INSIGHTS_PATH, &query)?).await?;
            let insights: holt_insights::Insights =
                serde_json::from_str(&body).context("the mapper's insights do not parse")?;
            match output {
                InsightsFormat::Table => {
                    print!("{}", insights_table::table(endpoint.target(), "now", &insights));
                }
                InsightsFormat::Json => println!("{}", serde_json::to_string_pretty(&insights)?),
            }
        }
        MapperCommand::Ui { port } => ui_proxy::serve(endpoint, port).await?,
        MapperCommand::Reset => {
            endpoint.post(RESET_PATH).await?;
            eprintln!("the mapper's discovered intents were reset");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_or_print(output: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match output {
        Some(path) => std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(bytes)
                .and_then(|()| stdout.flush())
                .context("writing to standard output")
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
    use super::*;

    #[test]
    fn filters_and_exclusions_become_the_mapper_query() {
        let filters = FilterArgs {
            namespaces: vec!["shop".into(), "pay".into()],
            client: Some("client.shop".into()),
            server: None,
        };
        let excluded = Exclusions {
            services: vec!["db".into(), "cache.shop".into()],
            labels: Vec::new(),
        };
        let query = GraphQuery {
            filters: filters.filters(&excluded),
            format: GraphFormatArg::Mermaid.into(),
        };
        assert_eq!(
            url(GRAPH_PATH, &query).expect("url"),
            "/v1/graph?namespace=shop%2Cpay&client=client.shop&excludeServices=db%2Ccache.shop&format=mermaid"
        );
        assert_eq!(
            url(
                INTENTS_PATH,
                &FilterArgs::default().filters(&Exclusions::default())
            )
            .expect("url"),
            "/v1/intents"
        );
    }
}
