//! The HTTPS server: an axum router for the review endpoints, served over rustls by a hyper accept loop,
//! and the background task that keeps its certificate current ([`Webhook`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use holt_api::validate::ValidationConfig;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionResponse, AdmissionReview};
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::body::{BodyError, declared_length, discard_body, read_body};
use super::buffer::ReviewBuffer;
use super::cert_store::SecretStore;
use super::conversion::{ConversionAnswer, ConversionBounds};
use super::gate::{Busy, ReviewGate};
use super::limits::{
    ADMISSION_MEMORY_PER_BODY_BYTE, CONVERSION_MEMORY_PER_BODY_BYTE, MAX_ADMISSION_BODY,
    MAX_CONCURRENT_REVIEWS, MAX_CONVERSION_BODY, QUEUE_WAIT, REQUEST_TIMEOUT, RETRY_AFTER_SECONDS,
    REVIEW_MEMORY, ReviewLimits, Setting, mib,
};
use super::{
    CONVERT_PATH, CertificateBundle, CertificateOptions, HEALTH_PATH, Neighbourhood, Registration,
    ReloadableCert, VALIDATE_PATH, WebhookError, WebhookTarget, ensure_registration, repair,
    review_admission, review_conversion, server_config,
};
/// Conversion reviews up to this size are converted on the runtime's worker (well under a millisecond);
/// larger ones on a blocking thread.
const CONVERT_IN_PLACE_BODY: usize = 64 * 1024;
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
    /// How large, how long and how many reviews are taken.
    pub limits: ReviewLimits,
}

impl WebhookOptions {
    /// Listen on `addr` with Holt's own certificate in the Secret `namespace/secret`, for the Service
    /// `service`; no strict mode, no registration, a check every hour, the default limits.
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
            limits: ReviewLimits::default(),
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
        let app = router(
            Arc::new(neighbourhood),
            options.validation.clone(),
            options.limits.clone(),
        );
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
    gate: Arc<ReviewGate>,
}

impl<N> Clone for AppState<N> {
    fn clone(&self) -> Self {
        AppState {
            neighbourhood: self.neighbourhood.clone(),
            validation: self.validation.clone(),
            gate: self.gate.clone(),
        }
    }
}

/// The endpoints: `POST /convert`, `POST /validate`, `POST /validate-k8s-otterize-com-<version>-<resource>`
/// (the reference's paths; the object says which kind and version it is), `GET /healthz`. Reviews are held
/// to `limits`.
pub fn router<N: Neighbourhood>(
    neighbourhood: Arc<N>,
    validation: ValidationConfig,
    limits: ReviewLimits,
) -> Router {
    let state = AppState {
        neighbourhood,
        validation,
        gate: Arc::new(ReviewGate::new(&limits)),
    };
    Router::new()
        .route(CONVERT_PATH, post(convert::<N>))
        .route(VALIDATE_PATH, post(validate::<N>))
        .route("/{endpoint}", post(validate_reference::<N>))
        .route(HEALTH_PATH, get(|| async { "ok" }))
        .with_state(state)
}

/// Which review a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReviewKind {
    Conversion,
    Admission,
}

impl ReviewKind {
    fn name(self) -> &'static str {
        match self {
            ReviewKind::Conversion => "ConversionReview",
            ReviewKind::Admission => "AdmissionReview",
        }
    }

    fn max_body(self, limits: &ReviewLimits) -> (usize, Setting) {
        match self {
            ReviewKind::Conversion => (limits.max_conversion_body, MAX_CONVERSION_BODY),
            ReviewKind::Admission => (limits.max_admission_body, MAX_ADMISSION_BODY),
        }
    }

    fn memory_per_body_byte(self) -> usize {
        match self {
            ReviewKind::Conversion => CONVERSION_MEMORY_PER_BODY_BYTE,
            ReviewKind::Admission => ADMISSION_MEMORY_PER_BODY_BYTE,
        }
    }
}

/// A review's body, read within its limits, and its turn, held until the answer is written.
struct Received {
    body: ReviewBuffer,
    deadline: Instant,
    turn: super::gate::Admitted,
}

/// Takes a review in: refuses a body declared over its limit at once (`413`), waits for a turn (`429` with
/// `Retry-After` when none comes), reads the body before the deadline (`408`, connection closed, when it is
/// still arriving; `413` when it passes its limit).
async fn receive<N>(state: &AppState<N>, request: Request, kind: ReviewKind) -> Result<Received, Response> {
    let limits = state.gate.limits();
    let mut deadline = Instant::now() + limits.request_timeout;
    // The API server says how long it waits for an admission review (the webhook's `timeoutSeconds`).
    if let Some(timeout) = request.uri().query().and_then(caller_timeout) {
        deadline = deadline.min(Instant::now() + timeout);
    }
    let (max_body, setting) = kind.max_body(limits);
    let declared = declared_length(request.headers())
        .map_err(|problem| refusal(StatusCode::BAD_REQUEST, "BadRequest", &problem))?;
    if let Some(declared) = declared
        && declared > max_body
    {
        return Err(too_large(kind, Some(declared), max_body, setting));
    }
    let memory = declared
        .unwrap_or(max_body)
        .saturating_mul(kind.memory_per_body_byte());
    let wait = limits
        .queue_wait
        .min(deadline.saturating_duration_since(Instant::now()) / 2);
    let body = request.into_body();
    let turn = match state.gate.admit(memory, wait).await {
        Ok(turn) => turn,
        Err(busy) => {
            // Read to nothing first, so that the client is reading when the answer comes.
            let discarded = tokio::time::timeout_at(deadline.into(), discard_body(body, max_body)).await;
            return Err(match discarded {
                Ok(Ok(_)) => busy_answer(kind, busy, limits),
                Ok(Err(error)) => body_error(kind, error, setting),
                Err(_) => still_arriving(kind, limits),
            });
        }
    };
    match tokio::time::timeout_at(deadline.into(), read_body(body, declared, max_body)).await {
        Ok(Ok(body)) => Ok(Received { body, deadline, turn }),
        Ok(Err(error)) => Err(body_error(kind, error, setting)),
        Err(_) => Err(still_arriving(kind, limits)),
    }
}

fn body_error(kind: ReviewKind, error: BodyError, setting: Setting) -> Response {
    match error {
        BodyError::TooLarge { limit } => too_large(kind, None, limit, setting),
        BodyError::Read(_) => {
            tracing::debug!(%error, "webhook request body");
            closing(refusal(StatusCode::BAD_REQUEST, "BadRequest", &error.to_string()))
        }
    }
}

/// `408`, connection closed: the body was still arriving at the deadline.
fn still_arriving(kind: ReviewKind, limits: &ReviewLimits) -> Response {
    tracing::warn!(
        kind = kind.name(),
        "review body still arriving at the deadline: connection closed"
    );
    let message = format!(
        "the {} body was still arriving after {:?} ({REQUEST_TIMEOUT})",
        kind.name(),
        limits.request_timeout
    );
    closing(refusal(StatusCode::REQUEST_TIMEOUT, "Timeout", &message))
}

/// The `timeout` the API server adds to an admission review's URL (`?timeout=10s`), in whole seconds.
fn caller_timeout(query: &str) -> Option<Duration> {
    let value = query.split('&').find_map(|pair| pair.strip_prefix("timeout="))?;
    let seconds: u64 = value.strip_suffix('s')?.parse().ok()?;
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

async fn convert<N: Neighbourhood>(State(state): State<AppState<N>>, request: Request) -> Response {
    let received = match receive(&state, request, ReviewKind::Conversion).await {
        Ok(received) => received,
        Err(refused) => return refused,
    };
    let bounds = ConversionBounds {
        max_object: state.gate.limits().max_admission_body,
        deadline: Some(received.deadline),
    };
    let in_place = received.body.len() <= CONVERT_IN_PLACE_BODY;
    let convert = move || {
        let Received { body, turn, .. } = received;
        let answer = review_conversion(body.as_slice(), &bounds);
        drop(body);
        (answer, turn)
    };
    // A large review takes a core for a while: converted off the runtime's workers, with its turn held until
    // it is done (also when nobody waits for the answer any more). A small one (the API server converts most
    // reads one object at a time) is converted in place.
    let converted = if in_place {
        Ok(convert())
    } else {
        tokio::task::spawn_blocking(convert).await
    };
    match converted {
        Ok((Ok(ConversionAnswer::Answered(bytes)), turn)) => {
            json_body(StatusCode::OK, turn.hold_until_sent(bytes))
        }
        Ok((Ok(ConversionAnswer::Unreadable(bytes)), turn)) => {
            json_body(StatusCode::BAD_REQUEST, turn.hold_until_sent(bytes))
        }
        Ok((Err(stopped), _turn)) => {
            tracing::warn!(%stopped, "conversion stopped at the deadline");
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "Timeout",
                &format!("{stopped} ({REQUEST_TIMEOUT})"),
            )
        }
        Err(error) => {
            tracing::error!(%error, "conversion task failed");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "the conversion failed",
            )
        }
    }
}

async fn validate<N: Neighbourhood>(State(state): State<AppState<N>>, request: Request) -> Response {
    let received = match receive(&state, request, ReviewKind::Admission).await {
        Ok(received) => received,
        Err(refused) => return refused,
    };
    let Received {
        body,
        deadline,
        turn: _turn,
    } = received;
    let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(body.as_slice()) {
        Ok(review) => review,
        Err(error) => {
            tracing::warn!(%error, "unreadable AdmissionReview");
            let response = AdmissionResponse::invalid(format!("cannot read the AdmissionReview: {error}"));
            return json(StatusCode::BAD_REQUEST, &response.into_review());
        }
    };
    drop(body);
    let answered = tokio::time::timeout_at(
        deadline.into(),
        review_admission(review, state.neighbourhood.as_ref(), &state.validation),
    )
    .await;
    match answered {
        Ok(answer) => json(StatusCode::OK, &answer),
        Err(_) => refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "Timeout",
            &format!("the admission review was not answered in time ({REQUEST_TIMEOUT})"),
        ),
    }
}

async fn validate_reference<N: Neighbourhood>(
    Path(endpoint): Path<String>,
    state: State<AppState<N>>,
    request: Request,
) -> Response {
    let prefix = format!("validate-{}-", holt_api::GROUP.replace('.', "-"));
    if !endpoint.starts_with(&prefix) {
        return (StatusCode::NOT_FOUND, format!("no endpoint /{endpoint}")).into_response();
    }
    validate(state, request).await
}

fn too_large(kind: ReviewKind, declared: Option<usize>, limit: usize, setting: Setting) -> Response {
    let size = match declared {
        Some(declared) => format!("of {}", mib(declared)),
        None => "sent without a length".to_owned(),
    };
    let message = format!(
        "the {} body {size} is larger than the webhook takes: {} ({setting})",
        kind.name(),
        mib(limit)
    );
    tracing::warn!(%message, "review refused");
    closing(refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &message,
    ))
}

/// `429` with `Retry-After`: the API server sends the review again after that many seconds.
fn busy_answer(kind: ReviewKind, busy: Busy, limits: &ReviewLimits) -> Response {
    let message = format!(
        "the webhook is busy: {} reviews holding {} in flight, this {} needs {} ({} reviews at most, \
         {MAX_CONCURRENT_REVIEWS}; {} of memory, {REVIEW_MEMORY}; waited {:?}, {QUEUE_WAIT}): retry",
        busy.reviews,
        mib(busy.memory),
        kind.name(),
        mib(busy.wanted),
        limits.max_concurrent_reviews,
        mib(limits.review_memory),
        limits.queue_wait,
    );
    tracing::warn!(status = 429, %message, "review refused for now");
    let mut response = refusal(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", &message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

/// An error answer the API server reads: a `metav1.Status` (its webhook client takes the message from it).
fn refusal(status: StatusCode, reason: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": status.as_u16(),
    });
    json(status, &body)
}

/// The answer with `Connection: close`: a request whose body was not read whole cannot be followed by
/// another on the same HTTP/1.1 connection. (HTTP/2 drops the header and resets only the stream.)
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn json_body(status: StatusCode, body: axum::body::Body) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
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
