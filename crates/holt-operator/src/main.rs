//! `holt-operator`: the intents operator binary. Flags (and `HOLT_*` environment variables) carry the
//! reference's option names; see `holt-operator --help`.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use holt_config::ConfigArgs;
use holt_operator::controller::Options;
use tracing::info;

#[derive(Parser, Debug)]
#[command(name = "holt-operator", version, about = "Holt's intents operator")]
struct Args {
    #[command(flatten)]
    config: ConfigArgs,

    /// Address of the `/healthz` and `/readyz` probes.
    #[arg(long, env = "HOLT_HEALTH_PROBE_BIND_ADDRESS", default_value = "0.0.0.0:8181")]
    health_probe_bind_address: SocketAddr,

    /// Log format: `json` (structured, one object per line) or `text`.
    #[arg(long, env = "HOLT_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    log_format: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if args.log_format == "json" {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let config = args.config.resolve().context("reading the configuration")?;
    let client = kube::Client::try_default()
        .await
        .context("connecting to the API server")?;
    info!(mode = ?config.mode, "starting");
    let (controller, progress) = holt_operator::start(client, config, Options::default()).await;
    let health = tokio::spawn(holt_operator::health::serve(
        args.health_probe_bind_address,
        progress,
    ));
    tokio::select! {
        result = controller => result.context("the controller stopped")?,
        result = health => result.context("the health server stopped")?.context("serving probes")?,
        _ = tokio::signal::ctrl_c() => info!("interrupted"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Args::command().debug_assert();
    }
}
