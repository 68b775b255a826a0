//! The HTTP/JSON API (documented endpoint by endpoint in `docs/mapper.md`): reports in; intents, export,
//! graph, insights, reset, limits, health, readiness and metrics out; the reference's GraphQL API
//! ([`crate::graphql`]) beside it; and the access graph page ([`crate::ui`], static: no token). Bad input
//! is answered `400` with a plain-text reason.
//!
//! [`app`] is the whole API as one [`Router`] with its per-request checks and bounds: who may call
//! each route ([`crate::access`]: a bearer token and an RBAC verb, checked by
//! [`crate::access_review`] before anything else — `401`, `403`, `429`), the report body limit (`413`,
//! announced in a header on every answer to a report and at `GET /v1/limits`), a limit on API
//! requests handled at once (the others wait; a refused request never takes a turn), and the request
//! timeout (`408`). Connections are bounded by [`crate::connections`], which serves this router.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use holt_mapper_api::{
    EXPORT_PATH, ExportFormat, ExportQuery, Filters, GRAPH_PATH, GraphFormat, GraphQuery, INSIGHTS_PATH,
    INTENTS_PATH, InsightsQuery, KAFKA_PATH, KafkaTopicUse, LIMITS_PATH, Limits, MAX_REPORT_BYTES_HEADER,
    REPORTS_PATH, RESET_PATH, Report,
};
use tokio::sync::Semaphore;

use crate::access::{Permission, bearer_token};
use crate::access_review::{AccessReviewer, Caller};
use crate::export::{ExportOptions, export, export_files};
use crate::graphql::{self, GRAPHQL_PATH};
use crate::insights::{InsightsFilter, Snapshot};
use crate::insights_cache::StateVersion;
use crate::shared::{InsightsInputs, Shared, now_ms};
use crate::store::Filter;
use crate::{graph, metrics};

/// The per-request bounds.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    pub max_report_bytes: u64,
    pub max_concurrent_requests: usize,
    pub request_timeout: Duration,
    /// GraphQL queries without a credential are answered (`--graphql-allow-anonymous-reads`).
    pub graphql_anonymous_reads: bool,
}

/// The largest GraphQL request body accepted (the reference CLI's largest is under 1 KiB).
pub const MAX_GRAPHQL_BYTES: usize = 64 * 1024;

/// The API's routes with their per-request checks and bounds: what [`crate::connections::serve`]
/// serves. `access` checks who calls; `None` (`--insecure-skip-authentication`) lets anyone in.
pub fn app(shared: Arc<Shared>, limits: RequestLimits, access: Option<Arc<AccessReviewer>>) -> Router {
    let body_limit = usize::try_from(limits.max_report_bytes).unwrap_or(usize::MAX);
    let announced = HeaderValue::from(limits.max_report_bytes);
    let permits = Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1)));
    // Each route: its turn (inner), then who may call it (outer: a refused request never waits for a
    // turn, and never takes one from the sniffers).
    let guarded = |routes: Router<Arc<Shared>>, permission: Permission| {
        routes
            .route_layer(middleware::from_fn(take_turn(permits.clone())))
            .route_layer(middleware::from_fn(require(access.clone(), permission)))
    };
    let reports = guarded(
        Router::new().route(REPORTS_PATH, post(report)),
        Permission::Report,
    )
    .layer(DefaultBodyLimit::max(body_limit))
    .layer(middleware::map_response(move |mut response: Response| {
        let announced = announced.clone();
        async move {
            response.headers_mut().insert(MAX_REPORT_BYTES_HEADER, announced);
            response
        }
    }));
    let reads = guarded(
        Router::new()
            .route(INTENTS_PATH, get(intents))
            .route(EXPORT_PATH, get(export_intents))
            .route(GRAPH_PATH, get(graph_intents))
            .route(INSIGHTS_PATH, get(insights))
            .route(KAFKA_PATH, get(kafka_topics)),
        Permission::Read,
    );
    let resets = guarded(Router::new().route(RESET_PATH, post(reset)), Permission::Reset);
    // GraphQL checks its caller itself: the permission depends on the document (a mutation resets).
    let schema = graphql::schema(shared.clone());
    let anonymous_reads = limits.graphql_anonymous_reads;
    let graphql_access = access.clone();
    let graphql =
        Router::new()
            .route(
                GRAPHQL_PATH,
                post(move |headers: HeaderMap, body: Bytes| {
                    let (schema, access) = (schema.clone(), graphql_access.clone());
                    async move {
                        graphql_request(&schema, access.as_deref(), anonymous_reads, &headers, &body).await
                    }
                }),
            )
            .route_layer(middleware::from_fn(take_turn(permits.clone())))
            .layer(DefaultBodyLimit::max(MAX_GRAPHQL_BYTES));
    let api = Router::new()
        .merge(reports)
        .merge(reads)
        .merge(resets)
        .merge(graphql);
    let max_report_bytes = limits.max_report_bytes;
    let request_timeout = limits.request_timeout;
    Router::new()
        .merge(api)
        .route(
            LIMITS_PATH,
            get(move || async move { axum::Json(Limits { max_report_bytes }) }),
        )
        .merge(crate::ui::routes())
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .layer(middleware::from_fn(
            move |request: Request, next: Next| async move {
                match tokio::time::timeout(request_timeout, next.run(request)).await {
                    Ok(response) => response,
                    Err(_) => (
                        StatusCode::REQUEST_TIMEOUT,
                        format!("the request took longer than {request_timeout:?}\n"),
                    )
                        .into_response(),
                }
            },
        ))
        .with_state(shared)
}

/// A middleware that lets a request through once one of `permits` is free (the request timeout bounds
/// the wait).
fn take_turn(
    permits: Arc<Semaphore>,
) -> impl Fn(Request, Next) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send>> + Clone {
    move |request: Request, next: Next| {
        let permits = permits.clone();
        Box::pin(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            };
            next.run(request).await
        })
    }
}

/// A middleware that lets a request through when `access` finds its caller allowed `permission` (the
/// caller goes into the request's extensions), or answers why not. Without `access`, everyone is.
fn require(
    access: Option<Arc<AccessReviewer>>,
    permission: Permission,
) -> impl Fn(Request, Next) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send>> + Clone {
    move |mut request: Request, next: Next| {
        let access = access.clone();
        Box::pin(async move {
            if let Some(access) = access {
                let credential = bearer_token(request.headers()).map(str::to_owned);
                match access.check(credential, permission).await {
                    Ok(caller) => {
                        request.extensions_mut().insert(caller);
                    }
                    Err(refusal) => return refusal.into_response(),
                }
            }
            next.run(request).await
        })
    }
}

/// A `400 Bad Request` with its reason as plain text.
#[derive(Debug)]
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, format!("{}\n", self.0)).into_response()
    }
}

fn bad_request(reason: impl std::fmt::Display) -> Response {
    BadRequest(reason.to_string()).into_response()
}

async fn report(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let report: Report = match serde_json::from_slice(&body) {
        Ok(report) => report,
        Err(e) => return bad_request(format_args!("the report does not parse: {e}")),
    };
    shared.mapper().ingest(report, now_ms());
    StatusCode::NO_CONTENT.into_response()
}

fn filter(filters: &Filters) -> Result<Filter, BadRequest> {
    Filter::parse(filters).map_err(|e| BadRequest(e.to_string()))
}

async fn intents(State(shared): State<Arc<Shared>>, Query(filters): Query<Filters>) -> Response {
    let filter = match filter(&filters) {
        Ok(f) => f,
        Err(bad) => return bad.into_response(),
    };
    let intents = shared.mapper().intents(&filter);
    axum::Json(intents).into_response()
}

async fn export_intents(State(shared): State<Arc<Shared>>, Query(query): Query<ExportQuery>) -> Response {
    let filter = match filter(&query.filters) {
        Ok(f) => f,
        Err(bad) => return bad.into_response(),
    };
    let intents = shared.mapper().intents(&filter);
    let kafka = shared.kafka().uses(&filter);
    let options = ExportOptions {
        format: query.format,
        version: query.version,
        as_kubernetes_service: query.as_kubernetes_service,
    };
    let result = if query.split {
        export_files(&intents, &kafka, &options).map(|files| axum::Json(files).into_response())
    } else {
        let content_type = match options.format {
            ExportFormat::Yaml => "application/yaml",
            ExportFormat::Json => "application/json",
        };
        export(&intents, &kafka, &options)
            .map(|text| ([(header::CONTENT_TYPE, content_type)], text).into_response())
    };
    result.unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response())
}

/// `GET /v1/kafka`: the Kafka topic use read from brokers' authorizer logs, with what was denied.
async fn kafka_topics(State(shared): State<Arc<Shared>>, Query(filters): Query<Filters>) -> Response {
    match filter(&filters) {
        Ok(filter) => {
            let uses = shared.kafka().uses(&filter);
            let uses: Vec<KafkaTopicUse> = uses.into_iter().map(KafkaTopicUse::from).collect();
            axum::Json(uses).into_response()
        }
        Err(bad) => bad.into_response(),
    }
}

async fn graph_intents(State(shared): State<Arc<Shared>>, Query(query): Query<GraphQuery>) -> Response {
    let filter = match filter(&query.filters) {
        Ok(f) => f,
        Err(bad) => return bad.into_response(),
    };
    let intents = shared.mapper().intents(&filter);
    let content_type = match query.format {
        GraphFormat::Dot => "text/vnd.graphviz",
        GraphFormat::Mermaid => "text/plain; charset=utf-8",
        GraphFormat::Svg => "image/svg+xml",
    };
    (
        [(header::CONTENT_TYPE, content_type)],
        graph::render(&intents, query.format),
    )
        .into_response()
}

/// The shadow-mode insights of the discovered calls the query selects. `404` while the insights are off,
/// `503` while a kind they read has not listed yet or holds fewer objects than the cluster has
/// (`--max-declared-objects`). An answer is computed from the current state off the async threads, once
/// per state and query ([`crate::insights_cache`]): while the state is unchanged the same answer is served
/// again, or `304 Not Modified` to a caller whose `If-None-Match` names its `ETag`.
async fn insights(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<InsightsQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(inputs) = &shared.insights else {
        return (
            StatusCode::NOT_FOUND,
            "the shadow-mode insights are off: start the mapper with --operator-config FILE \
             (HOLT_MAPPER_OPERATOR_CONFIG), the operator's configuration file; the chart does it when it \
             installs the operator (docs/insights.md)\n",
        )
            .into_response();
    };
    let (filter, exclusions) = match InsightsFilter::parse(&query) {
        Ok(parsed) => parsed,
        Err(e) => return bad_request(e),
    };
    // The pods, Services and owners as much as the declared state.
    let waiting: Vec<String> = shared.unsynced().iter().map(ToString::to_string).collect();
    if !waiting.is_empty() {
        return unavailable(format!(
            "the insights wait for the first list of: {}",
            waiting.join(", ")
        ));
    }
    let asked = InsightsRequest {
        query: uri.query().unwrap_or_default(),
        if_none_match: headers
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok()),
        exclusions: &exclusions,
    };
    // At hand (cached, or not modified) without waiting for a computation in progress.
    if let Prepared::Answered(response) = asked.prepare(&shared, inputs, false) {
        return response;
    }
    let _turn = inputs.cache.computing.lock().await;
    let (version, snapshot) = match asked.prepare(&shared, inputs, true) {
        Prepared::Answered(response) => return response,
        Prepared::Compute(version, snapshot) => (version, snapshot),
        // Not given when a snapshot is asked for.
        Prepared::NotAtHand => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let started = std::time::Instant::now();
    let computed = tokio::task::spawn_blocking(move || {
        snapshot
            .insights(&filter)
            .map(|insights| serde_json::to_vec(&insights).map(Bytes::from))
    })
    .await;
    let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    inputs
        .computations
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    inputs
        .last_computation_us
        .store(elapsed_us, std::sync::atomic::Ordering::Relaxed);
    match computed {
        Ok(Ok(Ok(body))) => {
            inputs.cache.put(version, asked.query, body.clone());
            insights_answer(inputs.cache.etag(version, asked.query), body)
        }
        Ok(Ok(Err(error))) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the insights cannot be written as JSON: {error}\n"),
        )
            .into_response(),
        Ok(Err(error)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the insights cannot be computed: {error}\n"),
        )
            .into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the insights computation failed: {error}\n"),
        )
            .into_response(),
    }
}

/// What one insights request asks, beside its filter.
struct InsightsRequest<'a> {
    /// The raw query: the key of the cached answers.
    query: &'a str,
    if_none_match: Option<&'a str>,
    exclusions: &'a Filter,
}

/// What the current state gives an insights request.
enum Prepared {
    /// An answer with no computation: from the cache, `304`, or `503`.
    Answered(Response),
    /// To compute, from this snapshot of this version.
    Compute(StateVersion, Snapshot),
    /// Neither at hand nor asked to snapshot.
    NotAtHand,
}

impl InsightsRequest<'_> {
    /// Under the mapper's and the declared state's locks: `503` when the declared state is incomplete, `304`
    /// when the caller holds the current answer, the cached answer when there is one; else, with `snapshot`,
    /// the snapshot to compute from and its version.
    fn prepare(&self, shared: &Shared, inputs: &InsightsInputs, snapshot: bool) -> Prepared {
        let mapper = shared.mapper();
        let declared = inputs.declared();
        let incomplete = declared.incomplete();
        if !incomplete.is_empty() {
            let kinds: Vec<&str> = incomplete.iter().map(|k| k.name()).collect();
            return Prepared::Answered(unavailable(format!(
                "the insights do not answer: the cluster has more {} than --max-declared-objects ({}) \
                 lets the mapper keep, and a call's verdict could be wrong without them; raise the limit",
                kinds.join(", "),
                declared.max_per_kind()
            )));
        }
        let version = InsightsInputs::version(&mapper, &declared);
        let etag = inputs.cache.etag(version, self.query);
        if self
            .if_none_match
            .is_some_and(|tags| inputs.cache.matches(tags, version, self.query))
        {
            inputs.not_modified.fetch_add(1, Ordering::Relaxed);
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            set_etag(&mut response, &etag);
            return Prepared::Answered(response);
        }
        if let Some(body) = inputs.cache.get(version, self.query) {
            inputs.answered_from_cache.fetch_add(1, Ordering::Relaxed);
            return Prepared::Answered(insights_answer(etag, body));
        }
        if !snapshot {
            return Prepared::NotAtHand;
        }
        let intents = mapper.intents(self.exclusions);
        Prepared::Compute(
            version,
            Snapshot::take(&inputs.config, &mapper.index, &declared, intents),
        )
    }
}

/// `200` with the insights' JSON and their `ETag`; `Cache-Control: no-cache` (a browser asks again each time,
/// with `If-None-Match`).
fn insights_answer(etag: String, body: Bytes) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response();
    set_etag(&mut response, &etag);
    response
}

fn set_etag(response: &mut Response, etag: &str) {
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
}

/// `503 Service Unavailable` with its reason and `Retry-After: 1`.
fn unavailable(reason: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        format!("{reason}\n"),
    )
        .into_response()
}

/// Forgets every intent and DNS answer, durably, and has the publisher take back the addresses it
/// published in `status.resolvedIPs` ([`crate::published_reset`]); answered once both are on disk.
async fn reset(State(shared): State<Arc<Shared>>, caller: Option<Extension<Arc<Caller>>>) -> Response {
    let by = caller.map_or_else(|| "anyone (authentication is off)".to_owned(), |c| c.user.clone());
    match reset_all(&shared, &by).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{message}\n")).into_response(),
    }
}

/// One GraphQL request: its caller checked for the permission its document needs (reading, or resetting
/// for a mutation), then executed. A malformed body is `400`; GraphQL errors are answered in the body, as
/// GraphQL servers do.
async fn graphql_request(
    schema: &graphql::MapperSchema,
    access: Option<&AccessReviewer>,
    anonymous_reads: bool,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut request: async_graphql::Request = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => return bad_request(format_args!("the GraphQL request does not parse: {e}")),
    };
    let mutation = graphql::has_mutation(&request.query);
    let anonymous = !headers.contains_key(header::AUTHORIZATION);
    if let Some(access) = access.filter(|_| mutation || !(anonymous_reads && anonymous)) {
        let permission = if mutation {
            Permission::Reset
        } else {
            Permission::Read
        };
        let credential = bearer_token(headers).map(str::to_owned);
        match access.check(credential, permission).await {
            Ok(caller) => request = request.data(graphql::Caller(caller.user.clone())),
            Err(refusal) => return refusal.into_response(),
        }
    }
    axum::Json(schema.execute(request).await).into_response()
}

/// What a reset does, for the HTTP API and GraphQL's `resetCapture`: the store emptied, the reset recorded
/// for `status.resolvedIPs`, both on disk. `Err` says which step failed and what to do.
pub(crate) async fn reset_all(shared: &Arc<Shared>, by: &str) -> Result<(), String> {
    // The store first: a publisher pass that sees the reset request must see the emptied store.
    shared.mapper().store.reset();
    shared.kafka().clear();
    let requesting = shared.clone();
    let requested = tokio::task::spawn_blocking(move || requesting.published_reset.request()).await;
    if let Err(error) = requested
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
    {
        tracing::error!(%error, "cannot record the reset for status.resolvedIPs");
        return Err(format!(
            "the intents were forgotten, but the reset could not be recorded for status.resolvedIPs: {error}; try again"
        ));
    }
    if let Err(error) = crate::serve::save(shared).await {
        return Err(format!(
            "the intents were forgotten, but not yet on disk: {error}; the next snapshot tries again"
        ));
    }
    tracing::info!(by = %by, "discovered intents reset");
    Ok(())
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let unsynced = shared.unsynced();
    if unsynced.is_empty() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let waiting: Vec<String> = unsynced.iter().map(ToString::to_string).collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("waiting for the first list of: {}\n", waiting.join(", ")),
        )
            .into_response()
    }
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, holt_runtime::metrics::CONTENT_TYPE)],
        metrics::render(&shared.metrics()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use holt_mapper_api::ExportVersion;

    #[test]
    fn queries_read_the_shared_filters_beside_their_own_fields() {
        let uri: axum::http::Uri =
            "/v1/export?namespace=a,b&server=s.a&excludeServices=x,y.b&excludeLabels=tier=db\
             &format=json&version=v1alpha3&asKubernetesService=true&split=true"
                .parse()
                .expect("uri");
        let Query(export) = Query::<ExportQuery>::try_from_uri(&uri).expect("export query");
        assert_eq!(
            export.filters,
            Filters {
                namespace: Some("a,b".into()),
                client: None,
                server: Some("s.a".into()),
                exclude_services: Some("x,y.b".into()),
                exclude_labels: Some("tier=db".into()),
            }
        );
        assert_eq!(
            (
                export.format,
                export.version,
                export.as_kubernetes_service,
                export.split
            ),
            (ExportFormat::Json, ExportVersion::V1alpha3, true, true)
        );
        let uri: axum::http::Uri = "/v1/graph?client=c.a&format=mermaid".parse().expect("uri");
        let Query(graph) = Query::<GraphQuery>::try_from_uri(&uri).expect("graph query");
        assert_eq!(graph.filters.client.as_deref(), Some("c.a"));
        assert_eq!(graph.format, GraphFormat::Mermaid);
    }
}
