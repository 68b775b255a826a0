//! `holt-operator`: the intents operator binary. Flags (and `HOLT_*` environment variables) carry the
//! reference's option names; see `holt-operator --help`.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use holt_config::ConfigArgs;
use holt_operator::controller::{Options, Progress};
use holt_operator::leader::{self, LeaseOptions};
use holt_operator::webhook::{
    CertificateSource, KubeNeighbourhood, ReviewLimits, Webhook, WebhookOptions, WebhookTarget,
};
use holt_runtime::duration::parse_duration;
use tracing::{info, warn};

#[derive(Parser, Debug)]
#[command(name = "holt-operator", version, about = "Holt's intents operator")]
struct Args {
    #[command(flatten)]
    config: ConfigArgs,

    /// Address of the `/healthz` and `/readyz` probes.
    #[arg(long, env = "HOLT_HEALTH_PROBE_BIND_ADDRESS", default_value = "0.0.0.0:8181")]
    health_probe_bind_address: SocketAddr,

    /// The namespace the operator runs in (where its webhook Service and certificate Secret live).
    #[arg(long, env = "POD_NAMESPACE", default_value = "holt-system")]
    operator_namespace: String,

    /// Address of the conversion and admission webhook server (HTTPS).
    #[arg(long, env = "HOLT_WEBHOOK_BIND_ADDRESS", default_value = "0.0.0.0:9443")]
    webhook_bind_address: SocketAddr,

    /// The Service in front of the webhook server, registered in the CRDs and the
    /// ValidatingWebhookConfiguration (port 443).
    #[arg(long, env = "HOLT_WEBHOOK_SERVICE_NAME", default_value = "holt-webhook")]
    webhook_service_name: String,

    /// The Secret holding the webhook's own CA and serving certificate (created and rotated by the operator).
    #[arg(long, env = "HOLT_WEBHOOK_CERT_SECRET", default_value = "holt-webhook-cert")]
    webhook_cert_secret: String,

    /// A user-supplied webhook directory with `tls.crt`, `tls.key` and `ca.crt` (e.g. a mounted cert-manager
    /// Secret) instead of the operator's own certificate.
    #[arg(long, env = "HOLT_WEBHOOK_CERT_DIR", value_name = "DIR")]
    webhook_cert_dir: Option<std::path::PathBuf>,

    /// Register the webhooks at this base URL instead of the Service (for an operator running outside the
    /// cluster, e.g. `https://127.0.0.1:9443` against `cargo xtask testenv up`).
    #[arg(long, env = "HOLT_WEBHOOK_URL", value_name = "URL")]
    webhook_url: Option<String>,

    /// Do not run the webhook server (for example when it runs in a separate pod).
    #[arg(long, env = "HOLT_DISABLE_WEBHOOK_SERVER")]
    disable_webhook_server: bool,

    /// Run the controller only while holding a Lease, so that several replicas never both write (webhooks and
    /// probes are served by every replica).
    #[arg(long, env = "HOLT_LEADER_ELECT")]
    leader_elect: bool,

    /// Namespace of the leader Lease (default: --operator-namespace).
    #[arg(long, env = "HOLT_LEADER_ELECTION_NAMESPACE")]
    leader_election_namespace: Option<String>,

    /// Client certificate (PEM) for Kafka brokers whose KafkaServerConfig sets no `spec.tls`. Its subject
    /// after the CN (OU, O, L, ST, C) is appended to every client principal: `User:CN=<client>.<ns>,O=…`.
    #[arg(long, env = "HOLT_KAFKA_SERVER_TLS_CERT", value_name = "FILE", requires_all = ["kafka_server_tls_key", "kafka_server_tls_ca"])]
    kafka_server_tls_cert: Option<std::path::PathBuf>,

    /// Private key (PEM) of --kafka-server-tls-cert.
    #[arg(
        long,
        env = "HOLT_KAFKA_SERVER_TLS_KEY",
        value_name = "FILE",
        requires = "kafka_server_tls_cert"
    )]
    kafka_server_tls_key: Option<std::path::PathBuf>,

    /// CA certificate (PEM) the brokers' certificates must chain to.
    #[arg(
        long,
        env = "HOLT_KAFKA_SERVER_TLS_CA",
        value_name = "FILE",
        requires = "kafka_server_tls_cert"
    )]
    kafka_server_tls_ca: Option<std::path::PathBuf>,

    /// How often each broker's ACLs are reconciled again while nothing changes, so that ACLs removed or
    /// added behind Holt's back are repaired (`30s`, `5m`, `1h`).
    #[arg(long, env = "HOLT_KAFKA_ACL_RESYNC_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    kafka_acl_resync_interval: std::time::Duration,

    /// The least time between two status writes of one ClientIntents (`1s`, `500ms`): a bound on status
    /// writes whatever happens.
    #[arg(long, env = "HOLT_STATUS_WRITE_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    status_write_interval: std::time::Duration,

    /// How long the webhook gives one review, from its headers to its answer (waiting for a turn and reading
    /// the body included); a body still arriving then is answered 408 and its connection closed. The API
    /// server waits 30 s at most.
    #[arg(long, env = "HOLT_WEBHOOK_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    webhook_request_timeout: std::time::Duration,

    /// The largest ConversionReview body the webhook takes, in MiB (about 80,000 ClientIntents at the
    /// default; the API server sends a whole list in one review). Larger ones are refused with 413.
    #[arg(long, env = "HOLT_WEBHOOK_MAX_CONVERSION_BODY_MIB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    webhook_max_conversion_body_mib: u32,

    /// The largest AdmissionReview body, and the largest object in a ConversionReview, in MiB (an object and
    /// its previous version at the API server's 3 MiB write limit). Larger ones are refused with 413.
    #[arg(long, env = "HOLT_WEBHOOK_MAX_ADMISSION_BODY_MIB", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    webhook_max_admission_body_mib: u32,

    /// Memory the webhook's reviews in flight may hold together, in MiB: a conversion is charged twice its
    /// body, an admission eight times. Reviews that do not fit wait for their turn.
    #[arg(long, env = "HOLT_WEBHOOK_REVIEW_MEMORY_MIB", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    webhook_review_memory_mib: u32,

    /// Reviews the webhook runs at once; more wait for their turn.
    #[arg(long, env = "HOLT_WEBHOOK_MAX_CONCURRENT_REVIEWS", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    webhook_max_concurrent_reviews: u32,

    /// How long a review waits for its turn (at most half its deadline) before it is answered 429 with
    /// `Retry-After: 1`, which the API server retries after a second, up to 10 times.
    #[arg(long, env = "HOLT_WEBHOOK_QUEUE_WAIT", default_value = "10s", value_parser = parse_duration)]
    webhook_queue_wait: std::time::Duration,

    /// At start-up, adopt the reference operator's (Otterize's) NetworkPolicies, Istio AuthorizationPolicies,
    /// pod labels and Kafka ACLs that Holt wants, and delete its policies Holt does not want once a pass has
    /// written all of Holt's own (docs/migrating-from-otterize.md). `false` leaves them alone.
    #[arg(long, env = "HOLT_ADOPT_REFERENCE_OBJECTS", default_value_t = true, action = clap::ArgAction::Set)]
    adopt_reference_objects: bool,

    #[command(flatten)]
    log: holt_runtime::LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    holt_runtime::logging::init(&args.log);
    let resolved = args.config.resolve().context("reading the configuration")?;
    for notice in &resolved.notices {
        warn!(%notice, "configuration value not acted on");
    }
    let config = resolved.config;
    let client = kube::Client::try_default()
        .await
        .context("connecting to the API server")?;
    info!(mode = ?config.mode, "starting");
    // The operator keeps its webhook certificate, Kafka ACL ledgers and leader Lease in its namespace; the
    // chart creates it. Said in one line rather than failing later on the first write there.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    match namespaces.get_opt(&args.operator_namespace).await {
        Ok(Some(_)) => {}
        Ok(None) => anyhow::bail!(
            "the operator's namespace {ns} does not exist: create it (`kubectl create namespace {ns}`) or \
             name another with --operator-namespace",
            ns = args.operator_namespace
        ),
        Err(error) => {
            tracing::warn!(%error, namespace = %args.operator_namespace, "cannot check the operator's namespace")
        }
    }
    let _webhook = if args.disable_webhook_server {
        None
    } else {
        let mut options = WebhookOptions::new(
            args.webhook_bind_address,
            &args.webhook_service_name,
            &args.operator_namespace,
            &args.webhook_cert_secret,
        );
        if let (Some(_), CertificateSource::Secret { options, .. }) =
            (&args.webhook_url, &mut options.certificate)
        {
            options.loopback = true; // the API server dials the URL: the certificate must name 127.0.0.1
        }
        if let Some(dir) = &args.webhook_cert_dir {
            options.certificate = CertificateSource::Files {
                cert: dir.join("tls.crt"),
                key: dir.join("tls.key"),
                ca: dir.join("ca.crt"),
            };
        }
        options.validation = holt_api::validate::ValidationConfig {
            strict_mode: config.enable_strict_mode_intents,
            excluded_strict_mode_namespaces: config.excluded_strict_mode_namespaces.clone(),
        };
        options.limits = args.review_limits();
        options.registration = Some(match &args.webhook_url {
            Some(url) => WebhookTarget::Url(url.clone()),
            None => WebhookTarget::Service {
                name: args.webhook_service_name.clone(),
                namespace: args.operator_namespace.clone(),
                port: Some(443),
            },
        });
        let neighbourhood = KubeNeighbourhood::new(client.clone());
        Some(
            Webhook::start(client.clone(), neighbourhood, options)
                .await
                .context("starting the webhook server")?,
        )
    };
    // Probes answer from the start (a standby replica is alive but not ready); the controller's progress is
    // forwarded to them once it runs.
    let (progress_tx, progress_rx) = tokio::sync::watch::channel(Progress::default());
    let health = tokio::spawn(holt_operator::health::serve(
        args.health_probe_bind_address,
        progress_rx,
    ));
    let leadership = match args.leader_elect {
        true => {
            let identity =
                std::env::var("POD_NAME").unwrap_or_else(|_| format!("holt-operator-{}", std::process::id()));
            let namespace = args
                .leader_election_namespace
                .as_deref()
                .unwrap_or(&args.operator_namespace);
            info!(%identity, "waiting for the leader Lease");
            Some(leader::acquire(client.clone(), LeaseOptions::new(namespace, &identity)).await)
        }
        false => None,
    };
    let mut options = Options {
        status_interval: args.status_write_interval,
        adopt_reference_objects: args.adopt_reference_objects,
        ..Options::default()
    };
    options.kafka.ledger_namespace = args.operator_namespace.clone();
    options.kafka.resync = args.kafka_acl_resync_interval;
    if let (Some(cert), Some(key), Some(ca)) = (
        args.kafka_server_tls_cert.clone(),
        args.kafka_server_tls_key.clone(),
        args.kafka_server_tls_ca.clone(),
    ) {
        options.kafka.default_tls = Some(holt_operator::kafka::TlsFiles { cert, key, ca });
    }
    let (controller, mut progress) = holt_operator::start(client, config, options).await;
    tokio::spawn(async move {
        while progress.changed().await.is_ok() {
            let current = progress.borrow().clone();
            progress_tx.send_replace(current);
        }
    });
    holt_runtime::leader::run_leading(controller, health, leadership).await
}

impl Args {
    /// The webhook's limits from their flags.
    fn review_limits(&self) -> ReviewLimits {
        let mib = |value: u32| (value as usize).saturating_mul(1024 * 1024);
        ReviewLimits {
            request_timeout: self.webhook_request_timeout,
            max_conversion_body: mib(self.webhook_max_conversion_body_mib),
            max_admission_body: mib(self.webhook_max_admission_body_mib),
            review_memory: mib(self.webhook_review_memory_mib),
            max_concurrent_reviews: self.webhook_max_concurrent_reviews as usize,
            queue_wait: self.webhook_queue_wait,
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
    fn the_webhook_limits_default_to_the_documented_figures_and_are_named_in_answers_as_flagged() {
        use clap::Parser;
        use holt_operator::webhook::limits;
        let args = super::Args::try_parse_from(["holt-operator"]).expect("defaults");
        assert_eq!(args.review_limits(), super::ReviewLimits::default());
        let command = super::Args::command();
        for setting in [
            limits::REQUEST_TIMEOUT,
            limits::MAX_CONVERSION_BODY,
            limits::MAX_ADMISSION_BODY,
            limits::REVIEW_MEMORY,
            limits::MAX_CONCURRENT_REVIEWS,
            limits::QUEUE_WAIT,
        ] {
            let argument = command
                .get_arguments()
                .find(|a| a.get_long() == Some(setting.flag))
                .unwrap_or_else(|| panic!("no --{}", setting.flag));
            assert_eq!(
                argument.get_env().and_then(|e| e.to_str()),
                Some(setting.env),
                "{}",
                setting.flag
            );
        }
    }
}
