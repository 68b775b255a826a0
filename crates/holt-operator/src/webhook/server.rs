//! The HTTPS server: an axum router for the review endpoints, served over rustls by a hyper accept loop,
//! and the background task that keeps its certificate current ([`Webhook`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use holt_api::validate::ValidationConfig;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionResponse, AdmissionReview};
use kube::core::conversion::{ConversionResponse, ConversionReview};
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::cert_store::SecretStore;
use super::{
    CONVERT_PATH, CertificateBundle, CertificateOptions, HEALTH_PATH, Neighbourhood, Registration,
    ReloadableCert, VALIDATE_PATH, WebhookError, WebhookTarget, ensure_registration, repair,
    review_admission, review_conversion, server_config,
};

/// Reviews can be large: a conversion of a long list carries every object.
const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// A client that does not finish its TLS handshake in time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may wait for its next request's headers, idle keep-alive time included (hyper does
/// not tell them apart). Longer than the API server's idle-connection timeout (Go's 90 s), so that the API
/// server, not Holt, closes idle connections: closing first made every review after 10 s of quiet pay a new
/// TLS handshake, and raced with a review sent on the closing connection (a failed create, since reviews are
/// not retried).
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// An HTTP/2 connection is pinged this often; one whose client does not answer within [`HANDSHAKE_TIMEOUT`]
/// is closed (a peer that vanished without closing).
const H2_PING_INTERVAL: Duration = Duration::from_secs(60);

/// Where the serving certificate comes from.
#[derive(Clone, Debug)]
pub enum CertificateSource {
    /// Holt's own CA and serving certificate, kept in the Secret `namespace/name` and rotated before expiry.
    Secret {
        namespace: String,
        name: String,
        options: CertificateOptions,
    },
    /// User-supplied PEM files (e.g. a mounted cert-manager Secret), re-read when they change.
    Files {
        cert: PathBuf,
        key: PathBuf,
        ca: PathBuf,
    },
}

/// How to run the webhook.
#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// Address to listen on (`0.0.0.0:9443` in a pod, `127.0.0.1:0` in tests).
    pub addr: SocketAddr,
    pub certificate: CertificateSource,
    /// Strict mode and its excluded namespaces.
    pub validation: ValidationConfig,
    /// When set, [`Webhook::start`] registers the webhook there, registers again when the CA changes, and
    /// restores Holt's fields of the registration whenever someone changes them (see `repair`).
    pub registration: Option<WebhookTarget>,
    /// How often the certificate is checked (and re-read from the Secret or files).
    pub refresh_interval: Duration,
}

impl WebhookOptions {
    /// Listen on `addr` with Holt's own certificate in the Secret `namespace/secret`, for the Service
    /// `service`; no strict mode, no registration, a check every hour.
    pub fn new(addr: SocketAddr, service: &str, namespace: &str, secret: &str) -> Self {
        WebhookOptions {
            addr,
            certificate: CertificateSource::Secret {
                namespace: namespace.to_owned(),
                name: secret.to_owned(),
                options: CertificateOptions::for_service(service, namespace),
            },
            validation: ValidationConfig::default(),
            registration: None,
            refresh_interval: Duration::from_secs(60 * 60),
        }
    }
}

/// A running webhook server and its certificate keeper. Dropping it stops both.
#[derive(Debug)]
pub struct Webhook {
    local_addr: SocketAddr,
    keeper: Arc<Keeper>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    registration: Option<Registration>,
    handshakes: Arc<AtomicU64>,
}

impl Webhook {
    /// Loads (or creates) the certificate, binds `options.addr`, serves, registers when asked, and keeps the
    /// certificate current in the background.
    pub async fn start<N: Neighbourhood>(
        client: kube::Client,
        neighbourhood: N,
        options: WebhookOptions,
    ) -> Result<Webhook, WebhookError> {
        let bundle = load(&client, &options.certificate, SystemTime::now()).await?;
        let cert = Arc::new(ReloadableCert::new(&bundle)?);
        let tls = server_config(cert.clone())?;
        let listener = TcpListener::bind(options.addr)
            .await
            .map_err(|source| WebhookError::Bind {
                addr: options.addr,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| WebhookError::Bind {
            addr: options.addr,
            source,
        })?;
        let registration = options.registration.clone();
        let (ca_sender, ca) = watch::channel(bundle.ca_bundle().to_vec());
        let keeper = Arc::new(Keeper {
            client,
            source: options.certificate.clone(),
            registration: options.registration.clone(),
            cert,
            current: Mutex::new(bundle),
            ca: ca_sender,
        });
        let (shutdown, stopped) = watch::channel(false);
        let app = router(Arc::new(neighbourhood), options.validation.clone());
        let handshakes = Arc::new(AtomicU64::new(0));
        let server = tokio::spawn(serve(listener, tls, app, handshakes.clone(), stopped.clone()));
        let refresher = tokio::spawn(refresh_loop(
            keeper.clone(),
            options.refresh_interval,
            stopped.clone(),
        ));
        tracing::info!(%local_addr, "webhook server listening");
        let mut webhook = Webhook {
            local_addr,
            keeper,
            shutdown,
            tasks: vec![server, refresher],
            registration: None,
            handshakes,
        };
        // Registered once serving, so the API server never calls a port nobody answers; then kept so.
        if let Some(target) = &registration {
            let report = ensure_registration(&webhook.keeper.client, target, &webhook.ca_bundle()).await?;
            webhook.registration = Some(report);
            let client = webhook.keeper.client.clone();
            webhook
                .tasks
                .push(repair::spawn(client, target.clone(), ca, stopped));
        }
        Ok(webhook)
    }

    /// What the start-up registration found and did (`None` without [`WebhookOptions::registration`]).
    pub fn registration(&self) -> Option<&Registration> {
        self.registration.as_ref()
    }

    /// TLS handshakes completed so far (each a new connection from the API server or another client).
    pub fn tls_handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Relaxed)
    }

    /// The address the server listens on (the port chosen when `addr` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The CA bundle the API server must trust (PEM).
    pub fn ca_bundle(&self) -> Vec<u8> {
        self.certificate().ca_bundle().to_vec()
    }

    /// The certificate being served.
    pub fn certificate(&self) -> CertificateBundle {
        self.keeper.current()
    }

    /// Re-reads the certificate as of `now` (re-issuing it when it is due) and serves the result from the
    /// next handshake on; registers again when the CA changed. True when the served certificate changed.
    /// The background task calls this every `refresh_interval`.
    pub async fn refresh(&self, now: SystemTime) -> Result<bool, WebhookError> {
        self.keeper.refresh(now).await
    }

    /// Stops accepting connections and stops the certificate keeper.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Keeps the served certificate current.
struct Keeper {
    client: kube::Client,
    source: CertificateSource,
    registration: Option<WebhookTarget>,
    cert: Arc<ReloadableCert>,
    current: Mutex<CertificateBundle>,
    /// The CA bundle the registration must carry (read by the repair task).
    ca: watch::Sender<Vec<u8>>,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("source", &self.source)
            .field("registration", &self.registration)
            .finish_non_exhaustive()
    }
}

impl Keeper {
    fn current(&self) -> CertificateBundle {
        match self.current.lock() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    async fn refresh(&self, now: SystemTime) -> Result<bool, WebhookError> {
        let next = load(&self.client, &self.source, now).await?;
        let previous = self.current();
        if next == previous {
            return Ok(false);
        }
        self.cert.set(&next)?;
        match self.current.lock() {
            Ok(mut current) => *current = next.clone(),
            Err(poisoned) => *poisoned.into_inner() = next.clone(),
        }
        tracing::info!("webhook serving certificate reloaded");
        if next.ca_cert_pem != previous.ca_cert_pem {
            self.ca.send_replace(next.ca_bundle().to_vec());
            if let Some(target) = &self.registration {
                ensure_registration(&self.client, target, next.ca_bundle()).await?;
            }
        }
        Ok(true)
    }
}

async fn refresh_loop(keeper: Arc<Keeper>, interval: Duration, mut stopped: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Err(error) = keeper.refresh(SystemTime::now()).await {
                    tracing::warn!(%error, "cannot refresh the webhook certificate; serving the current one");
                }
            }
            _ = stopped.changed() => return,
        }
    }
}

/// The certificate from its source as of `now`.
async fn load(
    client: &kube::Client,
    source: &CertificateSource,
    now: SystemTime,
) -> Result<CertificateBundle, WebhookError> {
    match source {
        CertificateSource::Secret {
            namespace,
            name,
            options,
        } => {
            SecretStore::new(client.clone(), namespace, name)
                .load_or_create(options, now)
                .await
        }
        CertificateSource::Files { cert, key, ca } => Ok(CertificateBundle {
            ca_cert_pem: read(ca).await?,
            ca_key_pem: None,
            cert_pem: read(cert).await?,
            key_pem: read(key).await?,
        }),
    }
}

async fn read(path: &PathBuf) -> Result<String, WebhookError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|source| WebhookError::ReadFile {
            path: path.clone(),
            source,
        })
}

/// Accepts TLS connections on `listener` and serves `app` over HTTP/2 or HTTP/1.1 (as the client chose by
/// ALPN) until `stopped` turns true, counting completed TLS handshakes in `handshakes`.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    handshakes: Arc<AtomicU64>,
    mut stopped: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "webhook accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        // Responses go out at once: with Nagle's algorithm an HTTP/2 response (HEADERS, then DATA) waited for
        // the client's delayed ACK, 40 ms per review.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let acceptor = acceptor.clone();
        let app = app.clone();
        let handshakes = handshakes.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    handshakes.fetch_add(1, Ordering::Relaxed);
                    stream
                }
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(IDLE_TIMEOUT);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(H2_PING_INTERVAL)
                .keep_alive_timeout(HANDSHAKE_TIMEOUT);
            let served = builder
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
                .await;
            if let Err(error) = served {
                tracing::debug!(%peer, %error, "webhook connection ended with an error");
            }
        });
    }
}

struct AppState<N> {
    neighbourhood: Arc<N>,
    validation: ValidationConfig,
}

impl<N> Clone for AppState<N> {
    fn clone(&self) -> Self {
        AppState {
            neighbourhood: self.neighbourhood.clone(),
            validation: self.validation.clone(),
        }
    }
}

/// The endpoints: `POST /convert`, `POST /validate`, `POST /validate-k8s-otterize-com-<version>-<resource>`
/// (the reference's paths; the object says which kind and version it is), `GET /healthz`.
pub fn router<N: Neighbourhood>(neighbourhood: Arc<N>, validation: ValidationConfig) -> Router {
    let state = AppState {
        neighbourhood,
        validation,
    };
    Router::new()
        .route(CONVERT_PATH, post(convert))
        .route(VALIDATE_PATH, post(validate::<N>))
        .route("/{endpoint}", post(validate_reference::<N>))
        .route(HEALTH_PATH, get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn convert(body: Bytes) -> Response {
    let review: ConversionReview = match serde_json::from_slice(&body) {
        Ok(review) => review,
        Err(error) => {
            tracing::warn!(%error, "unreadable ConversionReview");
            let status = kube::core::Status::failure(
                &format!("cannot read the ConversionReview: {error}"),
                "BadRequest",
            );
            return json(
                StatusCode::BAD_REQUEST,
                &ConversionResponse::invalid(status).into_review(),
            );
        }
    };
    json(StatusCode::OK, &review_conversion(review))
}

async fn validate<N: Neighbourhood>(State(state): State<AppState<N>>, body: Bytes) -> Response {
    let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(&body) {
        Ok(review) => review,
        Err(error) => {
            tracing::warn!(%error, "unreadable AdmissionReview");
            let response = AdmissionResponse::invalid(format!("cannot read the AdmissionReview: {error}"));
            return json(StatusCode::BAD_REQUEST, &response.into_review());
        }
    };
    let answer = review_admission(review, state.neighbourhood.as_ref(), &state.validation).await;
    json(StatusCode::OK, &answer)
}

async fn validate_reference<N: Neighbourhood>(
    Path(endpoint): Path<String>,
    state: State<AppState<N>>,
    body: Bytes,
) -> Response {
    let prefix = format!("validate-{}-", holt_api::GROUP.replace('.', "-"));
    if !endpoint.starts_with(&prefix) {
        return (StatusCode::NOT_FOUND, format!("no endpoint /{endpoint}")).into_response();
    }
    validate(state, body).await
}

fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the review: {error}"),
        )
            .into_response(),
    }
}
