//! A plain HTTP/1.0 GET, for probes and the small JSON APIs the tests read (no HTTP client in the tree
//! speaks to a bare address without TLS and pooling concerns; this needs neither).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// `method path` on `address` with an optional JSON body and bearer token; `None` when nothing answered
/// within `timeout`.
pub async fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
    timeout: Duration,
) -> Option<Answer> {
    tokio::time::timeout(timeout, async {
        let mut stream = TcpStream::connect(address).await.ok()?;
        let body = body.unwrap_or("");
        let authorization = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             {authorization}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let text = String::from_utf8_lossy(&answer);
        let status = text.split(' ').nth(1)?.parse().ok()?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Some(Answer { status, body })
    })
    .await
    .ok()
    .flatten()
}

/// `GET path` on `address`.
pub async fn get(address: SocketAddr, path: &str) -> Option<Answer> {
    request(address, "GET", path, None, None, Duration::from_secs(2)).await
}
