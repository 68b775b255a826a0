//! A `holt-operator` process for tests and benchmarks: started against a control plane with its webhook on a
//! loopback port, its resident size read from `/proc`, and a small HTTP/1.1 client over TLS to send it
//! reviews; the 32 MB ConversionReview of 40,000 ClientIntents.
#![allow(dead_code)] // the test and the benchmark each use a different subset

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use holt_testenv::{ControlPlane, rss_kib};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Objects in the large review: 40,000 ClientIntents of about 800 bytes each, 32 MB, what the API server
/// sends to convert a list of 40,000.
pub const OBJECTS: usize = 40_000;

/// A `holt-operator` process started by the test, its webhook on a loopback port, killed when dropped.
pub struct OperatorProcess {
    child: tokio::process::Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub ca_pem: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl OperatorProcess {
    /// Starts the operator against `plane` with `env` added (the webhook's limits), registered by URL, its
    /// controller watching an empty namespace; returns once its webhook answers.
    pub async fn start(
        binary: &std::path::Path,
        plane: &ControlPlane,
        env: &[(&str, &str)],
    ) -> anyhow::Result<OperatorProcess> {
        let client = plane.client().await?;
        let system = plane.create_namespace(&client, "holt-system").await?;
        let watched = plane.create_namespace(&client, "watched").await?;
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("operator.log");
        let port = free_port()?;
        let probes = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let log_file = std::fs::File::create(&log)?;
        let mut command = tokio::process::Command::new(binary);
        command
            .arg("--operator-namespace")
            .arg(&system)
            .arg("--watched-namespaces")
            .arg(&watched)
            .arg("--webhook-bind-address")
            .arg(addr.to_string())
            .arg("--webhook-url")
            .arg(format!("https://127.0.0.1:{port}"))
            .arg("--health-probe-bind-address")
            .arg(format!("127.0.0.1:{probes}"))
            .arg("--log-format")
            .arg("text")
            .env("KUBECONFIG", plane.kubeconfig())
            .env("RUST_LOG", "info,holt_operator::webhook=debug")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            // Logs go to standard error; anything printed is kept beside them.
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().context("starting holt-operator")?;
        let pid = child.id().context("no pid")?;
        let mut process = OperatorProcess {
            child,
            pid,
            addr,
            ca_pem: String::new(),
            log,
            _dir: dir,
        };
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &system);
        let started = Instant::now();
        loop {
            if let Some(status) = process.child.try_wait()? {
                bail!("holt-operator exited ({status}):\n{}", process.log_tail());
            }
            if let Some(secret) = secrets
                .get_opt(holt_operator::webhook::cert_store::DEFAULT_SECRET_NAME)
                .await?
                && let Some(bundle) = holt_operator::webhook::cert_store::from_secret(&secret)
            {
                process.ca_pem = bundle.ca_cert_pem;
                if let Ok(response) = process.post("/healthz", b"", "GET").await
                    && response.status == 200
                {
                    return Ok(process);
                }
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "holt-operator's webhook did not answer in 60 s:\n{}",
                    process.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn rss_mib(&self) -> f64 {
        rss_kib(self.pid).unwrap_or(0) as f64 / 1024.0
    }

    /// The resident size once it stops moving: the idle baseline (sampled until two readings a second
    /// apart differ by less than 1 MiB).
    pub async fn settled_rss_mib(&self) -> f64 {
        let mut last = self.rss_mib();
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = self.rss_mib();
            if (now - last).abs() < 1.0 {
                return now;
            }
            last = now;
        }
        last
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn connect(&self) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        connect(self.addr, &self.ca_pem).await
    }

    pub async fn post(&self, path: &str, body: &[u8], method: &str) -> anyhow::Result<Response> {
        let mut tls = self.connect().await?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        // A server may answer before the body is sent (and close): the answer is read all the same.
        let sent = async {
            tls.write_all(head.as_bytes()).await?;
            tls.write_all(body).await?;
            tls.flush().await
        }
        .await;
        let mut raw = Vec::new();
        let read = tls.read_to_end(&mut raw).await;
        match Response::parse(&raw) {
            Ok(response) => Ok(response),
            Err(error) => Err(error.context(format!("sent: {sent:?}, read: {read:?}"))),
        }
    }

    /// POSTs as the API server's webhook client does: a 429 or 5xx with `Retry-After` is retried after that
    /// many seconds, at most 10 times.
    pub async fn post_retrying(&self, path: &str, body: &[u8]) -> anyhow::Result<(Response, usize)> {
        let mut retries = 0;
        loop {
            let response = self.post(path, body, "POST").await?;
            let retry_after = response
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok());
            match retry_after {
                Some(seconds) if (response.status == 429 || response.status >= 500) && retries < 10 => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_secs(seconds)).await;
                }
                _ => return Ok((response, retries)),
            }
        }
    }

    /// `count` POSTs of `body` to `path` sent at once, each retried as [`Self::post_retrying`] does; the
    /// answers (and how often each was retried) in the order sent.
    pub async fn post_retrying_at_once(
        &self,
        path: &str,
        body: &[u8],
        count: usize,
    ) -> Vec<anyhow::Result<(Response, usize)>> {
        futures::future::join_all((0..count).map(|_| self.post_retrying(path, body))).await
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

pub async fn connect(
    addr: SocketAddr,
    ca_pem: &str,
) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1".to_owned())?;
    Ok(connector.connect(name, tcp).await?)
}

/// An HTTP/1.1 response read to the end of the connection.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn parse(raw: &[u8]) -> anyhow::Result<Response> {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .with_context(|| format!("no complete response head in {} bytes", raw.len()))?;
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("no status in {head}"))?;
        let mut response = Response {
            status,
            head,
            body: raw[end + 4..].to_vec(),
        };
        if response
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            response.body = dechunk(&response.body)?;
        }
        Ok(response)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then_some(value.trim())
        })
    }

    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(600).collect()
    }
}

fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("chunk size line")?;
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line])?.trim(), 16)?;
        body = &body[line + 2..];
        if size == 0 {
            return Ok(out);
        }
        ensure!(body.len() >= size + 2, "truncated chunk");
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// The largest resident size of `pid` while it runs, read every 5 ms.
pub struct PeakSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakSampler {
    pub fn start(pid: u32) -> PeakSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let thread = std::thread::spawn({
            let stop = stop.clone();
            let peak = peak.clone();
            move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_kib(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        });
        PeakSampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

/// A ClientIntents in `v1alpha3` as the API server holds it (metadata with managed fields), about 800 bytes.
pub fn v1alpha3_intents(ns: &str, index: usize) -> Value {
    let name = format!("client-{index:05}");
    json!({
        "apiVersion": "k8s.otterize.com/v1alpha3",
        "kind": "ClientIntents",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": format!("6f1c2a4e-0000-4000-8000-{index:012}"),
            "resourceVersion": format!("{}", 100_000 + index),
            "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": { "app.kubernetes.io/part-of": "shop" },
            "managedFields": [{
                "manager": "kubectl-client-side-apply", "operation": "Update",
                "apiVersion": "k8s.otterize.com/v1alpha3", "time": "2026-01-01T00:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": { "f:spec": { ".": {}, "f:calls": {}, "f:service": { ".": {}, "f:name": {} } } },
            }],
        },
        "spec": {
            "service": { "name": name },
            "calls": [
                { "name": "checkout" },
                { "name": "svc:payments.shop" },
                { "name": "kafka", "type": "kafka",
                  "kafkaTopics": [{ "name": "orders", "operations": ["produce", "describe"] }] },
                { "name": "api.example.com", "type": "internet",
                  "internet": { "domains": ["api.example.com"], "ports": [443] } },
            ],
        },
    })
}

/// A ConversionReview of [`OBJECTS`] ClientIntents from `v1alpha3` to `v2beta1`: 32 MB.
pub fn large_conversion_review() -> Vec<u8> {
    conversion_review(OBJECTS)
}

/// A ConversionReview of `count` ClientIntents from `v1alpha3` to `v2beta1` (about 800 bytes each).
pub fn conversion_review(count: usize) -> Vec<u8> {
    let objects: Vec<Value> = (0..count).map(|i| v1alpha3_intents("shop", i)).collect();
    serde_json::to_vec(&json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "desiredAPIVersion": "k8s.otterize.com/v2beta1",
            "objects": objects,
        },
    }))
    .expect("json")
}
