//! `holt-mapper`: loads the discovered intents from the state directory, starts the watches, serves the
//! HTTP API, writes snapshots when the intents change and once more on SIGTERM/SIGINT.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use holt_mapper::args::{Args, LogFormat};
use holt_mapper::cluster::ClusterIndex;
use holt_mapper::ingest::{IngestConfig, Mapper};
use holt_mapper::shared::{Shared, now_ms};
use holt_mapper::snapshot::{self, Loaded};
use holt_mapper::store::Store;
use holt_mapper::{http, publish, watch};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }

    let store = match snapshot::load(&args.state_dir, now_ms())? {
        Loaded::Fresh => {
            tracing::info!(dir = %args.state_dir.display(), "no snapshot yet: starting empty");
            Store::default()
        }
        Loaded::Restored(contents) => {
            tracing::info!(dir = %args.state_dir.display(), intents = contents.intents.len(), "discovered intents restored");
            Store::from_contents(contents)
        }
        Loaded::MovedAside {
            reason,
            moved_to,
            contents,
        } => {
            tracing::error!(
                moved_to = %moved_to.display(),
                %reason,
                "the snapshot could not be read; it was moved aside and the mapper starts empty"
            );
            let mut store = Store::from_contents(contents);
            store.mark_dirty();
            store
        }
    };

    let client = kube_client(&args).await?;
    let config = holt_model::Config {
        workload_name_override_annotation: args.workload_name_override_annotation.clone(),
        ..holt_model::Config::default()
    };
    let ingest = IngestConfig {
        cluster_domain: args.cluster_domain.clone(),
        hold_ms: args.hold_ms,
        ..IngestConfig::default()
    };
    let mapper = Mapper::new(ClusterIndex::new(config), store, ingest);
    let shared = Arc::new(Shared::new(mapper, watch::watched_kinds()));

    tokio::spawn(watch::run(client.clone(), shared.clone()));
    if args.resolved_ips_interval_ms > 0 {
        let interval = Duration::from_millis(args.resolved_ips_interval_ms);
        tokio::spawn(publish::run(client, shared.clone(), interval));
    }
    tokio::spawn(retry_held(shared.clone()));
    let snapshots = tokio::spawn(snapshots(shared.clone(), args.clone()));

    let listener = tokio::net::TcpListener::bind(args.bind_address)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind_address))?;
    tracing::info!(address = %listener.local_addr()?, "serving the mapper API");
    axum::serve(listener, http::router(shared.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the HTTP server failed")?;

    snapshots.abort();
    save(&shared, &args).await;
    tracing::info!("stopped");
    Ok(())
}

async fn kube_client(args: &Args) -> anyhow::Result<kube::Client> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .with_context(|| format!("cannot use the kubeconfig {}", path.display()))?
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .context("cannot use the kubeconfig")?,
        None => kube::Config::infer()
            .await
            .context("cannot find how to reach the API server")?,
    };
    kube::Client::try_from(config).context("cannot build the API client")
}

async fn shutdown_signal() {
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
    }
}

async fn retry_held(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    loop {
        ticker.tick().await;
        let mut mapper = shared.mapper();
        if mapper.held() > 0 {
            mapper.retry_held(now_ms());
        }
    }
}

async fn snapshots(shared: Arc<Shared>, args: Args) {
    let mut ticker = tokio::time::interval(Duration::from_millis(args.snapshot_interval_ms.max(10)));
    loop {
        ticker.tick().await;
        save(&shared, &args).await;
    }
}

/// Writes a snapshot if the intents changed since the last one.
async fn save(shared: &Arc<Shared>, args: &Args) {
    let contents = {
        let mut mapper = shared.mapper();
        if !mapper.store.is_dirty() {
            return;
        }
        mapper.store.mark_clean();
        mapper.store.contents()
    };
    let dir = args.state_dir.clone();
    let result = tokio::task::spawn_blocking(move || snapshot::save(&dir, &contents)).await;
    match result {
        Ok(Ok(())) => {
            shared.snapshot_writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Err(error)) => {
            shared.snapshot_failures.fetch_add(1, Ordering::Relaxed);
            shared.mapper().store.mark_dirty();
            tracing::error!(%error, "snapshot not written; will retry");
        }
        Err(error) => {
            shared.snapshot_failures.fetch_add(1, Ordering::Relaxed);
            shared.mapper().store.mark_dirty();
            tracing::error!(%error, "snapshot task failed; will retry");
        }
    }
}
