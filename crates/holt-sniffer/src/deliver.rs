//! One exchange with the mapper over a fresh HTTP/1.1 connection, bounded by a timeout: posting a
//! report, or reading the mapper's limits. In: the endpoint, the serialised report and the credential
//! (`Authorization`). Out: the mapper's answer when it is final for that report (accepted, too large,
//! rejected), or an error saying which step failed when it is worth trying again (no connection,
//! timeout, `5xx`, `429`, and `401`/`403`: the credential was refused, not the report).

use std::time::Duration;

use bytes::Bytes;
use holt_mapper_api::{Limits, MAX_REPORT_BYTES_HEADER};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::endpoint::Endpoint;

/// The most of an answer's body read (for the log, or the limits document).
const ANSWER_BYTES: usize = 4096;

/// Why an exchange did not get a final answer; the report may be tried again later.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("connecting to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP exchange with {endpoint}: {source}")]
    Http {
        endpoint: String,
        #[source]
        source: hyper::Error,
    },
    #[error("building the request for {endpoint}: {source}")]
    Request {
        endpoint: String,
        #[source]
        source: http::Error,
    },
    #[error("{endpoint} answered {status}: {body}")]
    Status {
        endpoint: String,
        status: StatusCode,
        body: String,
    },
    #[error("{endpoint} did not answer within {timeout:?}")]
    Timeout { endpoint: String, timeout: Duration },
    #[error("{endpoint} sent limits that do not parse: {reason}")]
    Limits { endpoint: String, reason: String },
    /// `401` or `403`: the mapper does not accept the sniffer's credential (a missing or expired token,
    /// a ServiceAccount without `create reports.mapper.holt.dev`). The report is fine: it is kept.
    #[error("{endpoint} refused the sniffer's credential ({status}): {body}")]
    Unauthorized {
        endpoint: String,
        status: StatusCode,
        body: String,
    },
    #[error(transparent)]
    Token(#[from] crate::token::TokenError),
}

/// The mapper's final answer to one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `2xx`: delivered. `limit` is the mapper's report limit, when it said.
    Accepted { limit: Option<u64> },
    /// `413`: the body is larger than the mapper takes; `limit` is its limit, when it said.
    TooLarge { limit: Option<u64> },
    /// Any other `4xx`: the mapper refuses this report as it is, and would refuse it again.
    Rejected { status: StatusCode, body: String },
}

/// Posts `body` (JSON) to the endpoint's reports path, with `authorization` (`Bearer <token>`) if
/// given.
pub async fn post_report(
    endpoint: &Endpoint,
    body: Bytes,
    timeout: Duration,
    authorization: Option<&HeaderValue>,
) -> Result<Answer, DeliverError> {
    let (status, headers, text) = bounded(
        endpoint,
        timeout,
        exchange(
            endpoint,
            Method::POST,
            &endpoint.reports_path,
            body,
            authorization,
        ),
    )
    .await?;
    let limit = announced_limit(&headers);
    if status.is_success() {
        Ok(Answer::Accepted { limit })
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        Ok(Answer::TooLarge { limit })
    } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        Err(DeliverError::Unauthorized {
            endpoint: endpoint.to_string(),
            status,
            body: text.trim().to_owned(),
        })
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        // The mapper's review budget, not the report: tried again after the back-off.
        Err(DeliverError::Status {
            endpoint: endpoint.to_string(),
            status,
            body: text,
        })
    } else if status.is_client_error() {
        Ok(Answer::Rejected { status, body: text })
    } else {
        Err(DeliverError::Status {
            endpoint: endpoint.to_string(),
            status,
            body: text,
        })
    }
}

/// Reads the mapper's limits; `None` when it answers `4xx` (a mapper that announces none, or a proxy
/// that does not pass the path: the default limit is then assumed, and a `413` corrects it).
pub async fn fetch_limits(endpoint: &Endpoint, timeout: Duration) -> Result<Option<Limits>, DeliverError> {
    let (status, _, text) = bounded(
        endpoint,
        timeout,
        exchange(endpoint, Method::GET, &endpoint.limits_path, Bytes::new(), None),
    )
    .await?;
    match status {
        StatusCode::OK => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| DeliverError::Limits {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            }),
        status if status.is_client_error() => Ok(None),
        status => Err(DeliverError::Status {
            endpoint: endpoint.to_string(),
            status,
            body: text,
        }),
    }
}

fn announced_limit(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(MAX_REPORT_BYTES_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

async fn bounded<T>(
    endpoint: &Endpoint,
    timeout: Duration,
    exchange: impl Future<Output = Result<T, DeliverError>>,
) -> Result<T, DeliverError> {
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(DeliverError::Timeout {
            endpoint: endpoint.to_string(),
            timeout,
        }),
    }
}

/// One request; the answer's status, headers and (at most [`ANSWER_BYTES`] of its) body.
async fn exchange(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    body: Bytes,
    authorization: Option<&HeaderValue>,
) -> Result<(StatusCode, HeaderMap, String), DeliverError> {
    let name = || endpoint.to_string();
    let stream = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|source| DeliverError::Connect {
            endpoint: name(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| DeliverError::Http {
            endpoint: name(),
            source,
        })?;
    let driver = tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, endpoint.authority.as_str());
    if !body.is_empty() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization.clone());
    }
    let request = request
        .body(Full::new(body))
        .map_err(|source| DeliverError::Request {
            endpoint: name(),
            source,
        })?;
    let result = match sender.send_request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let text = match Limited::new(body, ANSWER_BYTES).collect().await {
                Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
                Err(_) => String::from("(unreadable body)"),
            };
            Ok((parts.status, parts.headers, text))
        }
        Err(source) => Err(DeliverError::Http {
            endpoint: name(),
            source,
        }),
    };
    driver.abort();
    result
}
