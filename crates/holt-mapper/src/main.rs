//! `holt-mapper`: parses its flags (and the reference's variables for them), sets up logging, and runs [`holt_mapper::serve::serve`] until
//! SIGTERM or SIGINT (a last snapshot is written before it exits).

use anyhow::Context;
use holt_mapper::args::Args;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse_with_reference_env(std::env::args_os(), |key| std::env::var(key).ok())
        .unwrap_or_else(|error| error.exit());
    holt_runtime::logging::init(&args.log);
    let shutdown = async {
        holt_runtime::shutdown::signal().await;
    };
    holt_mapper::serve::serve(args, shutdown, |_| {})
        .await
        .context("holt-mapper failed")
}
