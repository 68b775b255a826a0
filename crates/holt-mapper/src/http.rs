//! The HTTP/JSON API (documented endpoint by endpoint in `docs/mapper.md`): reports in; intents, export,
//! graph, reset, limits, health, readiness and metrics out. Bad input is answered `400` with a
//! plain-text reason.
//!
//! [`app`] is the whole API as one [`Router`] with its per-request bounds: the report body limit (`413`,
//! announced in a header on every answer to a report and at `GET /v1/limits`), a limit on API
//! requests handled at once (the others wait), and the request timeout (`408`). Connections are
//! bounded by [`crate::connections`], which serves this router. A check that applies to every
//! request (authentication, say) belongs in [`app`], as one more layer around the routes.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use holt_mapper_api::{
    EXPORT_PATH, ExportFormat, ExportQuery, Filters, GRAPH_PATH, GraphFormat, GraphQuery, INTENTS_PATH,
    LIMITS_PATH, Limits, MAX_REPORT_BYTES_HEADER, REPORTS_PATH, RESET_PATH, Report,
};
use tokio::sync::Semaphore;

use crate::export::{ExportOptions, export, export_files};
use crate::shared::{Shared, now_ms};
use crate::store::Filter;
use crate::{graph, metrics};

/// The per-request bounds.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    pub max_report_bytes: u64,
    pub max_concurrent_requests: usize,
    pub request_timeout: Duration,
}

/// The API's routes with their per-request bounds: what [`crate::connections::serve`] serves.
pub fn app(shared: Arc<Shared>, limits: RequestLimits) -> Router {
    let body_limit = usize::try_from(limits.max_report_bytes).unwrap_or(usize::MAX);
    let announced = HeaderValue::from(limits.max_report_bytes);
    let reports = Router::new()
        .route(REPORTS_PATH, post(report))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::map_response(move |mut response: Response| {
            let announced = announced.clone();
            async move {
                response.headers_mut().insert(MAX_REPORT_BYTES_HEADER, announced);
                response
            }
        }));
    let permits = Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1)));
    let api = Router::new()
        .merge(reports)
        .route(INTENTS_PATH, get(intents))
        .route(EXPORT_PATH, get(export_intents))
        .route(GRAPH_PATH, get(graph_intents))
        .route(RESET_PATH, post(reset))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let permits = permits.clone();
            async move {
                // Waits for a turn; the request timeout bounds the wait.
                let Ok(_permit) = permits.acquire_owned().await else {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                };
                next.run(request).await
            }
        }));
    let max_report_bytes = limits.max_report_bytes;
    let request_timeout = limits.request_timeout;
    Router::new()
        .merge(api)
        .route(
            LIMITS_PATH,
            get(move || async move { axum::Json(Limits { max_report_bytes }) }),
        )
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
    let options = ExportOptions {
        format: query.format,
        version: query.version,
        as_kubernetes_service: query.as_kubernetes_service,
    };
    let result = if query.split {
        export_files(&intents, &options).map(|files| axum::Json(files).into_response())
    } else {
        let content_type = match options.format {
            ExportFormat::Yaml => "application/yaml",
            ExportFormat::Json => "application/json",
        };
        export(&intents, &options).map(|text| ([(header::CONTENT_TYPE, content_type)], text).into_response())
    };
    result.unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response())
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

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.mapper().store.reset();
    tracing::info!("discovered intents reset");
    StatusCode::NO_CONTENT
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let unsynced = shared.unsynced();
    if unsynced.is_empty() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let waiting: Vec<String> = unsynced.iter().map(|k| format!("{k:?}")).collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("waiting for the first list of: {}\n", waiting.join(", ")),
        )
            .into_response()
    }
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
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
