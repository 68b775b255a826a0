//! Readiness probes of the components' health endpoints: over HTTPS with the test CA and a client
//! certificate (kube-apiserver, kube-controller-manager, kube-scheduler), or plain HTTP (kube-proxy).
//!
//! In: the endpoint (a client for it, or a port on 127.0.0.1) and its path. Out: `Ok` once it answers
//! with success, else what went wrong as text, the shape [`crate::process::Process::wait_ready`] polls.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::Error;
use crate::kubeconfig::{self, ClientFiles};

/// A client of the HTTPS endpoint on `127.0.0.1:port` that trusts `ca` and presents `client`, through a
/// kubeconfig written to `path` (a kube::Client speaks HTTPS with our CA to any URL).
pub(crate) async fn local_https_client(
    path: &Path,
    port: u16,
    ca: &Path,
    client: &ClientFiles<'_>,
) -> Result<kube::Client, Error> {
    kubeconfig::write(path, &format!("https://127.0.0.1:{port}"), ca, client)?;
    kubeconfig::client(path).await
}

/// `GET <path>` through `client` answered with success.
pub(crate) async fn https_get_ok(client: &kube::Client, path: &str) -> Result<(), String> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    client
        .request_text(request)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `GET http://127.0.0.1:<port><path>` answered 200.
pub(crate) async fn http_get_ok(port: u16, path: &str) -> Result<(), String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default().to_owned();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("{path} answered {status:?}"))
    }
}
