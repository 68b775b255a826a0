//! Running the mapper: load the discovered intents from the state directory, start the watches and
//! timers, serve the HTTP API until `shutdown` completes, then write a last snapshot. [`Background`] runs
//! the same in a task of its own, for tests and programs that embed the mapper.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::access_review::{AccessReviewer, ReviewSettings};
use crate::args::Args;
use crate::cluster::ClusterIndex;
use crate::declared::DeclaredState;
use crate::ingest::{IngestConfig, Mapper};
use crate::intent_log::{self, IntentLog, LogError};
use crate::kafka_discovery::{KafkaDiscovery, KafkaKey, KafkaRecord};
use crate::published_reset::PublishedReset;
use crate::shared::{InsightsInputs, Shared, now_ms};
use crate::store::{Store, StoreLimits};
use crate::{connections, http, kafka_log, kafka_pod_log, publish, watch};

/// How long one TokenReview or SubjectAccessReview may take.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("reading the intent log stopped: {0}")]
    Open(String),
    #[error("cannot read the kubeconfig {path}: {reason}")]
    Kubeconfig { path: String, reason: String },
    #[error("cannot find how to reach the API server: {0}")]
    ApiServer(String),
    #[error("cannot read the operator's configuration (--operator-config): {0}")]
    OperatorConfig(#[from] holt_config::ConfigError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("the mapper stopped before it listened: {0}")]
    NotListening(String),
}

/// A mapper serving in a task of its own until [`Background::stop`] (or until it is dropped, which stops it
/// without waiting).
#[derive(Debug)]
pub struct Background {
    /// Where it listens (the bound address when `--bind-address` asked for port 0).
    pub address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Background {
    /// Starts [`serve`] with `args` in a task and returns once it listens, or with the error that stopped it
    /// before (a bad `--operator-config`, an address it cannot bind).
    pub async fn start(args: Args) -> Result<Background, ServeError> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (listening, address) = tokio::sync::oneshot::channel();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve(args, shutdown, move |address| {
            let _ = listening.send(address);
        }));
        match address.await {
            Ok(address) => Ok(Background { address, stop, task }),
            Err(_) => Err(match task.await {
                Ok(Err(error)) => error,
                Ok(Ok(())) => ServeError::NotListening("it returned".into()),
                Err(error) => ServeError::NotListening(error.to_string()),
            }),
        }
    }

    /// `http://<address>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops serving, writes the last snapshot, and returns how serving ended.
    pub async fn stop(self) -> Result<(), ServeError> {
        let _ = self.stop.send(());
        self.task
            .await
            .map_err(|error| ServeError::NotListening(error.to_string()))?
    }
}

/// Runs the mapper until `shutdown` completes. `on_listening` gets the bound address (useful with port 0).
pub async fn serve(
    args: Args,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let limits = StoreLimits {
        max_intents: args.max_intents,
        max_intents_per_client: args.max_intents_per_client,
        max_internet_targets_per_client: args.max_internet_targets_per_client,
        group_internet_addresses_after: args.group_internet_addresses_after,
        max_addresses_per_target: args.max_addresses_per_target,
        max_dns_addresses: args.max_dns_addresses,
        max_addresses_per_dns_name: args.max_addresses_per_dns_name,
        max_http_paths_per_server: args.max_http_paths_per_server,
        http_path_fold: args.http_path_fold,
    };
    let insights = insights_inputs(&args)?;
    let (store, log, kafka_records) = open_store(&args.state_dir, limits).await?;
    let mut kafka = KafkaDiscovery::new(args.max_kafka_topic_records);
    kafka.load(kafka_records);

    let client = kube_client(&args).await?;
    let config = holt_model::Config {
        workload_name_override_annotation: args.workload_name_override_annotation.clone(),
        use_image_name_for_service_id_for_jobs: args.use_image_name_for_service_id_for_jobs,
        ..holt_model::Config::default()
    };
    let ingest = IngestConfig {
        cluster_domain: args.cluster_domain.clone(),
        hold_ms: args.hold_ms,
        max_held: args.max_held,
        max_nodes: args.max_nodes,
        excluded_namespaces: args
            .exclude_namespaces
            .iter()
            .map(|ns| ns.trim())
            .filter(|ns| !ns.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let mapper = Mapper::new(ClusterIndex::new(config), store, ingest);
    let published_reset = PublishedReset::open(&args.state_dir, args.resolved_ips_interval_ms > 0);
    let watched = watch::watched_kinds(insights.is_some());
    let shared = Arc::new(Shared::new(mapper, insights, watched, log, published_reset).with_kafka(kafka));
    let access = if args.insecure_skip_authentication {
        tracing::error!(
            "AUTHENTICATION IS OFF (--insecure-skip-authentication): anyone who reaches {} may report \
             observations, read every discovered intent and reset them; for local development only",
            args.bind_address
        );
        None
    } else {
        tracing::info!(
            namespace = %args.authorization_namespace,
            audience = %args.token_audience,
            accept_api_server_tokens = args.accept_api_server_tokens,
            "reports need `create reports.mapper.holt.dev`, reads `list discoveredintents.mapper.holt.dev`, \
             resets `deletecollection discoveredintents.mapper.holt.dev`"
        );
        Some(Arc::new(AccessReviewer::new(
            client.clone(),
            ReviewSettings {
                audience: args.token_audience.clone(),
                accept_api_server_tokens: args.accept_api_server_tokens,
                namespace: args.authorization_namespace.clone(),
                cache_ttl: Duration::from_millis(args.review_cache_ttl_ms),
                reviews_per_second: args.max_reviews_per_second,
                timeout: REVIEW_TIMEOUT,
            },
            shared.access.clone(),
        )))
    };

    let mut tasks = vec![
        tokio::spawn(watch::run(client.clone(), shared.clone())),
        tokio::spawn(retry_held(shared.clone())),
        tokio::spawn(snapshots(shared.clone(), args.snapshot_interval_ms)),
    ];
    if !args.kafka_authorizer_log.is_empty() {
        let interval = Duration::from_millis(args.kafka_log_interval_ms);
        let logs = args.kafka_authorizer_log.clone();
        tasks.push(tokio::spawn(kafka_log::run(shared.clone(), logs, interval)));
    }
    if !args.kafka_broker_pod.is_empty() {
        let interval = Duration::from_millis(args.kafka_log_interval_ms);
        let pods = args.kafka_broker_pod.clone();
        tasks.push(tokio::spawn(kafka_pod_log::run(
            shared.clone(),
            client.clone(),
            pods,
            interval,
        )));
    }
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
    let app = http::app(
        shared.clone(),
        http::RequestLimits {
            max_report_bytes: args.max_report_bytes,
            max_concurrent_requests: usize::try_from(args.max_concurrent_requests).unwrap_or(usize::MAX),
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            graphql_anonymous_reads: args.graphql_allow_anonymous_reads,
        },
        access,
    );
    let limits = connections::ConnectionLimits {
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        idle: Duration::from_millis(args.idle_timeout_ms),
        header: Duration::from_millis(args.header_timeout_ms),
        request: Duration::from_millis(args.request_timeout_ms),
    };
    let served = connections::serve(listener, app, limits, shared.connections.clone(), shutdown)
        .await
        .map_err(ServeError::Http);

    for task in tasks {
        task.abort();
    }
    let _ = save(&shared).await;
    tracing::info!("stopped");
    served
}

/// The insights' inputs when `--operator-config` is given: the operator's configuration (read as the
/// operator reads it) and an empty declared state bounded by `--max-declared-objects`.
fn insights_inputs(args: &Args) -> Result<Option<InsightsInputs>, ServeError> {
    let Some(path) = &args.operator_config else {
        tracing::info!("shadow-mode insights off: no --operator-config");
        return Ok(None);
    };
    let resolved = holt_config::ConfigArgs {
        config: Some(path.clone()),
        ..holt_config::ConfigArgs::default()
    }
    .resolve()?;
    for notice in &resolved.notices {
        tracing::warn!(%notice, "operator configuration value not acted on");
    }
    let config = resolved.config;
    if config.workload_name_override_annotation != args.workload_name_override_annotation
        || config.use_image_name_for_service_id_for_jobs != args.use_image_name_for_service_id_for_jobs
    {
        tracing::warn!(
            "the operator's configuration names workloads differently from this mapper's flags \
             (--workload-name-override-annotation, --use-image-name-for-service-id-for-jobs): the insights \
             may not match discovered calls to declared ones"
        );
    }
    tracing::info!(
        config = %path.display(),
        mode = ?config.mode,
        enforced_namespaces = ?config.enforced_namespaces,
        "shadow-mode insights on"
    );
    let max = usize::try_from(args.max_declared_objects).unwrap_or(usize::MAX);
    Ok(Some(InsightsInputs::new(config, DeclaredState::new(max))))
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

async fn snapshots(shared: Arc<Shared>, interval_ms: u64) {
    let mut ticker = tokio::time::interval(Duration::from_millis(interval_ms.max(10)));
    loop {
        ticker.tick().await;
        // Failures are logged and counted; the next tick tries again.
        let _ = save(&shared).await;
    }
}

/// Reads the intent log of `dir` into a store bounded by `limits`, saying what it found.
async fn open_store(
    dir: &std::path::Path,
    limits: StoreLimits,
) -> Result<(Store, IntentLog, BTreeMap<KafkaKey, KafkaRecord>), ServeError> {
    let dir = dir.to_owned();
    let started = Instant::now();
    let (store, log, opened) = tokio::task::spawn_blocking(move || {
        let mut store = Store::new(limits);
        let (log, opened) = IntentLog::open(&dir, &mut store, now_ms())?;
        Ok::<_, LogError>((store, log, opened))
    })
    .await
    .map_err(|e| ServeError::Open(e.to_string()))??;
    if let Some((moved_to, reason)) = &opened.moved_aside {
        tracing::error!(
            moved_to = %moved_to.display(),
            %reason,
            "the intent log could not be read; it was moved aside and the mapper starts empty"
        );
    }
    if let Some((moved_to, reason)) = &opened.import_failed {
        tracing::error!(
            moved_to = %moved_to.display(),
            %reason,
            "the snapshot could not be read; it was moved aside and the mapper starts empty"
        );
    }
    if let Some(imported) = &opened.imported {
        tracing::info!(moved_to = %imported.display(), intents = store.len(), "the snapshot of an earlier version was imported");
    }
    if opened.torn_bytes > 0 {
        tracing::warn!(
            bytes = opened.torn_bytes,
            "the intent log ended in a write cut short (a crash); it was cut back to the last whole record"
        );
    }
    tracing::info!(
        intents = store.len(),
        dns_names = store.dns().len(),
        kafka_records = opened.kafka.len(),
        log_bytes = log.bytes(),
        replay_ms = opened.replay_ms,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "discovered intents restored"
    );
    Ok((store, log, opened.kafka))
}

/// Writes what changed in the store since the last write to the intent log (or rewrites the log when
/// a compaction is due). Writes never overlap and keep their order: each takes the log first, then
/// what changed from the store, so a change is never written before one taken earlier. A failure is
/// logged and counted, and returned with its reason.
pub(crate) async fn save(shared: &Arc<Shared>) -> Result<(), String> {
    let writer = shared.clone();
    let result = tokio::task::spawn_blocking(move || write_changes(&writer)).await;
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => {
            shared.snapshot_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, "intent log not written; will retry");
            Err(error.to_string())
        }
        Err(error) => {
            shared.snapshot_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, "intent log task failed; will retry");
            Err(error.to_string())
        }
    }
}

fn write_changes(shared: &Shared) -> Result<bool, LogError> {
    let mut log = shared.log.lock().unwrap_or_else(|p| p.into_inner());
    let started = Instant::now();
    let (changes, records, compact) = {
        let mut mapper = shared.mapper();
        let compact = log.compaction_due();
        if !mapper.store.is_dirty() && !shared.kafka().is_dirty() && !compact {
            // Up to date as of now.
            shared
                .snapshot_last_write_at_ms
                .store(now_ms(), Ordering::Relaxed);
            return Ok(false);
        }
        let changes = mapper.store.take_changes();
        // After the mapper in lock order.
        let mut kafka = shared.kafka();
        let kafka_changes = kafka.take_changes();
        if compact || changes.reset {
            let mut records = intent_log::encode_store(&mapper.store);
            intent_log::encode_kafka(&kafka, &mut records);
            ((changes, kafka_changes), records, true)
        } else {
            let mut records = intent_log::encode_changes(&changes);
            intent_log::encode_kafka_changes(&kafka_changes, &mut records);
            ((changes, kafka_changes), records, false)
        }
    };
    let result = if compact {
        log.compact(&records)
    } else {
        log.append(&records)
    };
    if result.is_err() {
        let (changes, kafka_changes) = &changes;
        let mut mapper = shared.mapper();
        mapper.store.restore_changes(changes);
        shared.kafka().restore_changes(kafka_changes);
    }
    result?;
    shared.snapshot_writes.fetch_add(1, Ordering::Relaxed);
    if compact {
        shared.snapshot_compactions.fetch_add(1, Ordering::Relaxed);
    }
    shared.snapshot_bytes.store(log.bytes(), Ordering::Relaxed);
    shared.snapshot_last_write_us.store(
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    shared
        .snapshot_last_write_at_ms
        .store(now_ms(), Ordering::Relaxed);
    Ok(true)
}
