//! `holt mapper ui`: the mapper's access graph page in the user's own browser, with the user's token, as
//! `kubectl proxy` does for the API server. In: the [`Endpoint`] every `holt mapper` command reaches the mapper
//! by (its URL, or its Service through the API server, with the CLI's bearer token) and a local port. Out: an
//! HTTP server on 127.0.0.1 that answers the browser's requests for the page and the mapper's reads by
//! forwarding them to the mapper with the token added, until interrupted.
//!
//! What a browser's request can do through it is bounded, since any page the user opens could send one:
//! - only `GET` and `HEAD`, only the page (`/ui/…`) and the mapper's reads (`/v1/insights`, `/v1/intents`,
//!   `/v1/graph`, `/v1/export`): never a report or a reset; only `If-None-Match` is passed on;
//! - only with `Host: 127.0.0.1:PORT` or `localhost:PORT` (another name is a page reaching it through DNS
//!   rebinding), and every answer says `Cross-Origin-Resource-Policy: same-origin`, so that another site's
//!   page cannot read it;
//! - a request body of at most [`MAX_REQUEST_BODY_BYTES`] (the page sends none; `413`), a request head of at
//!   most [`MAX_HEAD_BYTES`] read within [`HEADER_TIMEOUT`], at most [`MAX_CONNECTIONS`] connections (one more
//!   is closed at once), [`MAX_CONCURRENT_REQUESTS`] forwarded at once (the others wait their turn), and the
//!   mapper's answer read within [`REQUEST_TIMEOUT`] (`504`) and at most [`MAX_RESPONSE_BYTES`] (`502`).

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::endpoint::Endpoint;

/// The largest request body accepted (the page's requests have none).
pub const MAX_REQUEST_BODY_BYTES: usize = 16 * 1024;
/// The largest request head read.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// From a connection's first byte of a request to its complete head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Requests forwarded to the mapper at once.
pub const MAX_CONCURRENT_REQUESTS: usize = 4;
/// From a request's head to the mapper's whole answer (the turn waited for included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer of the mapper passed back.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// The paths passed on to the mapper: the page's, and the reads.
const FORWARDED_PREFIXES: [&str; 5] = ["/ui/", "/v1/insights", "/v1/intents", "/v1/graph", "/v1/export"];

/// The mapper's answer headers passed back to the browser.
const ANSWER_HEADERS: [HeaderName; 6] = [
    header::CONTENT_TYPE,
    header::ETAG,
    header::CACHE_CONTROL,
    header::CONTENT_SECURITY_POLICY,
    header::X_CONTENT_TYPE_OPTIONS,
    header::REFERRER_POLICY,
];

/// The proxy's state.
struct Proxy {
    endpoint: Endpoint,
    /// The `Host` values a request may carry.
    hosts: [String; 2],
    turns: Semaphore,
}

/// Checks that the mapper answers, listens on 127.0.0.1:`port` (0: any free port), prints the page's
/// address, and forwards until Ctrl-C.
pub async fn serve(endpoint: Endpoint, port: u16) -> anyhow::Result<()> {
    endpoint
        .get("/healthz")
        .await
        .context("the mapper does not answer")?;
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let port = listener.local_addr()?.port();
    println!(
        "The access graph of the {} is at http://127.0.0.1:{port}/ui/ (Ctrl-C to stop)",
        endpoint.target()
    );
    let proxy = Arc::new(Proxy {
        endpoint,
        hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
        turns: Semaphore::new(MAX_CONCURRENT_REQUESTS),
    });
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let accepted = tokio::select! {
            _ = &mut interrupted => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                eprintln!("cannot accept a connection: {error}");
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            // Closed at once: past the connection limit.
            continue;
        };
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |request| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(proxy.answer(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    eprintln!("stopped");
    Ok(())
}

/// An answer of the proxy itself, plain text.
fn refusal(status: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{reason}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// What the proxy does with a request, before anything is forwarded.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `/`: the page is at `/ui/`.
    ToPage,
    Forward,
    Refuse(StatusCode, &'static str),
}

/// Where a request of `method` for `path` with `host` goes.
fn route(method: &Method, host: Option<&str>, path: &str, hosts: &[String]) -> Route {
    if !host.is_some_and(|host| hosts.iter().any(|allowed| allowed == host)) {
        return Route::Refuse(
            StatusCode::FORBIDDEN,
            "holt mapper ui answers only requests for 127.0.0.1 or localhost on its own port",
        );
    }
    if method != Method::GET && method != Method::HEAD {
        return Route::Refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "holt mapper ui passes on only GET and HEAD: the page and the mapper's reads",
        );
    }
    match path {
        "/" | "/ui" => Route::ToPage,
        _ if FORWARDED_PREFIXES.iter().any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| prefix.ends_with('/') || rest.is_empty())
        }) =>
        {
            Route::Forward
        }
        _ => Route::Refuse(
            StatusCode::NOT_FOUND,
            "holt mapper ui passes on only the page (/ui/) and the mapper's reads (/v1/insights, /v1/intents, \
             /v1/graph, /v1/export)",
        ),
    }
}

impl Proxy {
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let mut response = match tokio::time::timeout(REQUEST_TIMEOUT, self.handle(request)).await {
            Ok(response) => response,
            Err(_) => refusal(
                StatusCode::GATEWAY_TIMEOUT,
                &format!("the mapper did not answer within {REQUEST_TIMEOUT:?}"),
            ),
        };
        let headers = response.headers_mut();
        headers.insert(
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let path = request.uri().path().to_owned();
        match route(request.method(), host.as_deref(), &path, &self.hosts) {
            Route::Refuse(status, reason) => return refusal(status, reason),
            Route::ToPage => {
                let mut response = refusal(StatusCode::FOUND, "the page is at /ui/");
                response
                    .headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static("/ui/"));
                return response;
            }
            Route::Forward => {}
        }
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or(path.clone(), |p| p.as_str().to_owned());
        let passed: Vec<(HeaderName, HeaderValue)> = request
            .headers()
            .get(header::IF_NONE_MATCH)
            .map(|value| (header::IF_NONE_MATCH, value.clone()))
            .into_iter()
            .collect();
        // The body (none expected) is read, within its bound, and not passed on.
        if Limited::new(request.into_body(), MAX_REQUEST_BODY_BYTES)
            .collect()
            .await
            .is_err()
        {
            return refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("a request body larger than {MAX_REQUEST_BODY_BYTES} bytes"),
            );
        }
        let Ok(_turn) = self.turns.acquire().await else {
            return refusal(StatusCode::SERVICE_UNAVAILABLE, "stopping");
        };
        let answer = match self.endpoint.forward(&path_and_query, &passed).await {
            Ok(answer) => answer,
            Err(error) => return refusal(StatusCode::BAD_GATEWAY, &error.to_string()),
        };
        let (parts, body) = answer.into_parts();
        let body = match Limited::new(body, MAX_RESPONSE_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                return refusal(
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "the mapper's answer could not be read (at most {MAX_RESPONSE_BYTES} bytes): {error}"
                    ),
                );
            }
        };
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = parts.status;
        for name in ANSWER_HEADERS {
            if let Some(value) = parts.headers.get(&name) {
                response.headers_mut().insert(name, value.clone());
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> [String; 2] {
        ["127.0.0.1:8091".into(), "localhost:8091".into()]
    }

    #[test]
    fn only_the_page_and_the_reads_are_passed_on_for_the_local_host() {
        let get = |path: &str| route(&Method::GET, Some("127.0.0.1:8091"), path, &hosts());
        for path in [
            "/ui/",
            "/ui/graph.js",
            "/v1/insights",
            "/v1/intents",
            "/v1/graph",
            "/v1/export",
        ] {
            assert_eq!(get(path), Route::Forward, "{path}");
        }
        assert_eq!(get("/"), Route::ToPage);
        assert_eq!(get("/ui"), Route::ToPage);
        for path in ["/v1/reset", "/v1/reports", "/metrics", "/v1/insightsx", "/uix"] {
            assert!(
                matches!(get(path), Route::Refuse(StatusCode::NOT_FOUND, _)),
                "{path}"
            );
        }
        assert!(matches!(
            route(&Method::POST, Some("localhost:8091"), "/v1/insights", &hosts()),
            Route::Refuse(StatusCode::METHOD_NOT_ALLOWED, _)
        ));
        for host in [None, Some("evil.example:8091"), Some("127.0.0.1:9999")] {
            assert!(matches!(
                route(&Method::GET, host, "/ui/", &hosts()),
                Route::Refuse(StatusCode::FORBIDDEN, _)
            ));
        }
    }
}
