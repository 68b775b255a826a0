//! etcd on 127.0.0.1, single member, no fsync, data in the run directory.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::components::Component;
use crate::error::Error;
use crate::ports::free_port;
use crate::process::{Lifetime, Process};

/// A running etcd.
#[derive(Debug)]
pub(crate) struct Etcd {
    pub(crate) process: Process,
    pub(crate) client_url: String,
    pub(crate) startup: Duration,
}

impl Etcd {
    pub(crate) async fn start(dir: &Path, lifetime: Lifetime) -> Result<Self, Error> {
        let binary = Component::Etcd.file("etcd")?;
        let port = || free_port("etcd");
        let (client, peer) = (port()?, port()?);
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        // A retry after a port clash starts from an empty data directory.
        let data = dir.join("etcd-data");
        if data.exists() {
            std::fs::remove_dir_all(&data).map_err(Error::io("etcd", "remove", &data))?;
        }
        let mut command = Command::new(&binary);
        command
            .arg("--name=holt")
            .arg(format!("--data-dir={}", data.display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=holt={peer_url}"))
            .arg("--unsafe-no-fsync")
            .arg("--log-level=warn");
        let mut process = Process::spawn("etcd", command, &dir.join("etcd.log"), lifetime)?;
        let addr = format!("127.0.0.1:{client}");
        let startup = process
            .wait_ready(Duration::from_secs(60), || health(addr.clone()))
            .await?;
        Ok(Self {
            process,
            client_url,
            startup,
        })
    }
}

/// `GET /health` over plain HTTP/1.0: etcd answers `{"health":"true",...}` once it serves.
async fn health(addr: String) -> Result<(), String> {
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .map_err(|e| format!("write to {addr}: {e}"))?;
    let mut response = String::new();
    let read = stream.read_to_string(&mut response);
    tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .map_err(|_| format!("no answer from {addr}/health"))?
        .map_err(|e| format!("read from {addr}: {e}"))?;
    if response.contains(r#""health":"true""#) {
        Ok(())
    } else {
        Err(format!(
            "/health said: {}",
            response.lines().last().unwrap_or_default()
        ))
    }
}
