//! Running the mapper: load the discovered intents from the state directory, start the watches and
//! timers, serve the HTTP API until `shutdown` completes, then write a last snapshot.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::args::Args;
use crate::cluster::ClusterIndex;
use crate::ingest::{IngestConfig, Mapper};
use crate::shared::{Shared, now_ms};
use crate::snapshot::{self, Loaded, SnapshotError};
use crate::store::Store;
use crate::{http, publish, watch};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("cannot read the kubeconfig {path}: {reason}")]
    Kubeconfig { path: String, reason: String },
    #[error("cannot find how to reach the API server: {0}")]
    ApiServer(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Http(std::io::Error),
}

/// Runs the mapper until `shutdown` completes. `on_listening` gets the bound address (useful with port 0).
pub async fn serve(
    args: Args,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
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
        use_image_name_for_service_id_for_jobs: args.use_image_name_for_service_id_for_jobs,
        ..holt_model::Config::default()
    };
    let ingest = IngestConfig {
        cluster_domain: args.cluster_domain.clone(),
        hold_ms: args.hold_ms,
        excluded_namespaces: args
            .exclude_namespaces
            .iter()
            .map(|ns| ns.trim())
            .filter(|ns| !ns.is_empty())
            .map(str::to_owned)
            .collect(),
        ..IngestConfig::default()
    };
    let mapper = Mapper::new(ClusterIndex::new(config), store, ingest);
    let shared = Arc::new(Shared::new(mapper, watch::watched_kinds()));

    let mut tasks = vec![
        tokio::spawn(watch::run(client.clone(), shared.clone())),
        tokio::spawn(retry_held(shared.clone())),
        tokio::spawn(snapshots(shared.clone(), args.clone())),
    ];
    if args.resolved_ips_interval_ms > 0 {
        let interval = Duration::from_millis(args.resolved_ips_interval_ms);
        tasks.push(tokio::spawn(publish::run(client, shared.clone(), interval)));
    }

    let listener = tokio::net::TcpListener::bind(args.bind_address)
        .await
        .map_err(|source| ServeError::Listen {
            address: args.bind_address,
            source,
        })?;
    let address = listener.local_addr().map_err(ServeError::Http)?;
    tracing::info!(%address, "serving the mapper API");
    on_listening(address);
    let served = axum::serve(listener, http::router(shared.clone()))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Http);

    for task in tasks {
        task.abort();
    }
    save(&shared, &args).await;
    tracing::info!("stopped");
    served
}

async fn kube_client(args: &Args) -> Result<kube::Client, ServeError> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &args.kubeconfig {
        Some(path) => {
            let error = |reason: String| ServeError::Kubeconfig {
                path: path.display().to_string(),
                reason,
            };
            let kubeconfig = Kubeconfig::read_from(path).map_err(|e| error(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| error(e.to_string()))?
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| ServeError::ApiServer(e.to_string()))?,
        None => kube::Config::infer()
            .await
            .map_err(|e| ServeError::ApiServer(e.to_string()))?,
    };
    kube::Client::try_from(config).map_err(|e| ServeError::ApiServer(e.to_string()))
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
///
/// Writes never overlap and never go backwards: the periodic task may be aborted at shutdown while its
/// blocking write still runs, so each write takes the snapshot lock and is skipped if a newer one (taken
/// from the store later) was already written.
async fn save(shared: &Arc<Shared>, args: &Args) {
    let (sequence, contents) = {
        let mut mapper = shared.mapper();
        if !mapper.store.is_dirty() {
            return;
        }
        mapper.store.mark_clean();
        (
            shared.snapshot_sequence.fetch_add(1, Ordering::SeqCst) + 1,
            mapper.store.contents(),
        )
    };
    let dir = args.state_dir.clone();
    let writer = shared.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut written = writer.snapshot_lock.lock().unwrap_or_else(|p| p.into_inner());
        if *written > sequence {
            return Ok(());
        }
        snapshot::save(&dir, &contents)?;
        *written = sequence;
        Ok::<(), SnapshotError>(())
    })
    .await;
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
