//! One report to the mapper: a JSON `POST` over a fresh HTTP/1.1 connection, bounded by a timeout. In:
//! the endpoint and the serialised report. Out: success, or an error saying which step failed.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::endpoint::Endpoint;

/// Why a report was not accepted.
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
}

/// Posts `body` (JSON) to the endpoint's reports path; any 2xx status is success.
pub async fn post_report(endpoint: &Endpoint, body: Bytes, timeout: Duration) -> Result<(), DeliverError> {
    match tokio::time::timeout(timeout, exchange(endpoint, body)).await {
        Ok(result) => result,
        Err(_) => Err(DeliverError::Timeout {
            endpoint: endpoint.to_string(),
            timeout,
        }),
    }
}

async fn exchange(endpoint: &Endpoint, body: Bytes) -> Result<(), DeliverError> {
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
    let request = Request::post(endpoint.reports_path.as_str())
        .header(header::HOST, endpoint.authority.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|source| DeliverError::Request {
            endpoint: name(),
            source,
        })?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|source| DeliverError::Http {
            endpoint: name(),
            source,
        });
    let result = match response {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => {
            let status = response.status();
            // The mapper's message, for the log; at most 4 KiB of it.
            let text = match Limited::new(response.into_body(), 4096).collect().await {
                Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
                Err(_) => String::from("(unreadable body)"),
            };
            Err(DeliverError::Status {
                endpoint: name(),
                status,
                body: text,
            })
        }
        Err(e) => Err(e),
    };
    driver.abort();
    result
}
