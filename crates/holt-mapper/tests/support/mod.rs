//! Test support: a `holt-mapper` process against the test API server, and plain HTTP/1.1 over TCP to
//! it (no client library between the test and the server's limits).
#![allow(dead_code)]

pub mod kafka_scene;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use holt_mapper_api::{Connection, Counters, DnsAnswer, Report, SeenBy};
use holt_testenv::ControlPlane;

/// The binary under test: this package's `holt-mapper`, or `HOLT_MAPPER_UNDER_TEST` (to run a test
/// against another build, such as the one before a fix).
pub fn binary() -> PathBuf {
    std::env::var_os("HOLT_MAPPER_UNDER_TEST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_holt-mapper")))
}

/// A running `holt-mapper` process; killed when dropped.
pub struct Mapper {
    pub child: tokio::process::Child,
    pub address: SocketAddr,
    pub log: PathBuf,
    /// Who may call it: [`Mapper::post`] to the reports path sends the sniffer's token, every other
    /// [`Mapper::get`] and [`Mapper::post`] the administrator's.
    pub callers: Callers,
}

impl Mapper {
    /// Starts the mapper on a free loopback port with its state in `state_dir` and `settings` as
    /// environment variables (`HOLT_MAPPER_…`: a build that does not know one ignores it, so a test can
    /// run against a build from before a setting existed), checking permissions in the namespace of new
    /// [`Callers`], and waits until it is ready. Returns it and how long it took to be ready.
    pub async fn start(
        plane: &ControlPlane,
        state_dir: &Path,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<(Mapper, Duration)> {
        Mapper::start_binary(&binary(), plane, state_dir, settings).await
    }

    /// [`Mapper::start`] with the shadow-mode insights on: the operator's configuration (`mode:
    /// defaultShadow`) written to `dir`, the state in `dir/state`, and `settings` besides.
    pub async fn start_in_shadow_mode(
        plane: &ControlPlane,
        dir: &Path,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<Mapper> {
        let config = dir.join("operator-config.yaml");
        std::fs::write(&config, "mode: defaultShadow\n")?;
        let config = config.display().to_string();
        let mut all = vec![("HOLT_MAPPER_OPERATOR_CONFIG", config.as_str())];
        all.extend_from_slice(settings);
        let (mapper, _) = Mapper::start(plane, &dir.join("state"), &all).await?;
        Ok(mapper)
    }

    /// [`Mapper::start`] with another binary.
    pub async fn start_binary(
        binary: &Path,
        plane: &ControlPlane,
        state_dir: &Path,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<(Mapper, Duration)> {
        Mapper::start_with(binary, plane, plane.kubeconfig(), state_dir, settings).await
    }

    /// [`Mapper::start`] reaching the API server with `kubeconfig` (e.g. a ServiceAccount's token, to run
    /// the mapper with only the permissions the chart grants it).
    pub async fn start_as(
        plane: &ControlPlane,
        kubeconfig: &Path,
        state_dir: &Path,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<Mapper> {
        let (mapper, _) = Mapper::start_with(&binary(), plane, kubeconfig, state_dir, settings).await?;
        Ok(mapper)
    }

    async fn start_with(
        binary: &Path,
        plane: &ControlPlane,
        kubeconfig: &Path,
        state_dir: &Path,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<(Mapper, Duration)> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let address: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let log = state_dir.with_extension(format!("log-{port}"));
        let callers = Callers::new(plane).await?;
        let started = Instant::now();
        let child = tokio::process::Command::new(binary)
            .arg("--bind-address")
            .arg(address.to_string())
            .arg("--state-dir")
            .arg(state_dir)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            // Defaults a test may change through `settings`.
            .env("HOLT_MAPPER_RESOLVED_IPS_INTERVAL_MS", "0")
            .env("HOLT_MAPPER_SNAPSHOT_INTERVAL_MS", "200")
            .env("HOLT_MAPPER_AUTHORIZATION_NAMESPACE", &callers.namespace)
            .envs(settings.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()
            .context("start holt-mapper")?;
        let mapper = Mapper {
            child,
            address,
            log,
            callers,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if matches!(mapper.get("/readyz"), Ok((200, _))) {
                return Ok((mapper, started.elapsed()));
            }
            if Instant::now() > deadline {
                bail!("the mapper did not become ready; log:\n{}", mapper.log_text());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        self.send("GET", path, &[], Some(&self.callers.admin))
    }

    pub fn post(&self, path: &str, body: &[u8]) -> anyhow::Result<(u16, String)> {
        let token = if path == holt_mapper_api::REPORTS_PATH {
            &self.callers.sniffer
        } else {
            &self.callers.admin
        };
        self.send("POST", path, body, Some(token))
    }

    /// One request with `token` (or none) as `Authorization: Bearer`.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        token: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization
            .as_deref()
            .map(|value| ("authorization", value))
            .into_iter()
            .collect();
        request_with(self.address, method, path, &headers, body)
    }

    pub fn report(&self, report: &Report) -> anyhow::Result<()> {
        let (status, body) = self.post(holt_mapper_api::REPORTS_PATH, &serde_json::to_vec(report)?)?;
        anyhow::ensure!(status == 204, "report answered {status}: {body}");
        Ok(())
    }

    /// The unlabelled (or fully labelled, `name{...}`) sample `name` of `/metrics`.
    pub fn metric(&self, name: &str) -> anyhow::Result<u64> {
        let (_, text) = self.get("/metrics")?;
        sample(&text, name).with_context(|| format!("{name} not in /metrics:\n{text}"))
    }

    /// Resident and peak resident memory, KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Stops the process with SIGTERM and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.pid())?).context("pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
        Ok(tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await??)
    }
}

impl Drop for Mapper {
    /// The process goes with the child handle (`kill_on_drop`); its log stays only when a test failed.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// The value of `name` (with its labels, if any) in a Prometheus text page.
pub fn sample(metrics: &str, name: &str) -> Option<u64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

/// One HTTP/1.1 request on a new connection (`Connection: close`): the status and the body.
pub fn request(address: SocketAddr, method: &str, path: &str, body: &[u8]) -> anyhow::Result<(u16, String)> {
    request_with(address, method, path, &[], body)
}

/// [`request`] with more header lines.
pub fn request_with(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: mapper\r\nconnection: close\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("no HTTP header end in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// A report from `node` of `connections` from `src` to each of `destinations` (port 443).
pub fn connections_report(
    src: &str,
    destinations: impl IntoIterator<Item = std::net::IpAddr>,
    seen_ms: u64,
) -> Report {
    let src = src.parse().expect("ip");
    Report {
        node: "node-a".into(),
        dns: Vec::new(),
        connections: destinations
            .into_iter()
            .map(|dst_ip| Connection {
                src_ip: src,
                dst_ip,
                dst_port: 443,
                seen_by: SeenBy::Syn,
                src_hostname: None,
                last_seen_ms: seen_ms,
            })
            .collect(),
        counters: Counters::default(),
        http: Vec::new(),
    }
}

/// A report of DNS answers to `client` for each (name, address).
pub fn dns_report(
    client: &str,
    answers: impl IntoIterator<Item = (String, std::net::IpAddr)>,
    seen_ms: u64,
) -> Report {
    let client_ip = client.parse().expect("ip");
    Report {
        node: "node-a".into(),
        dns: answers
            .into_iter()
            .map(|(name, ip)| DnsAnswer {
                client_ip,
                name,
                ip,
                ttl_seconds: 30,
                last_seen_ms: seen_ms,
            })
            .collect(),
        connections: Vec::new(),
        counters: Counters::default(),
        http: Vec::new(),
    }
}

/// The `n`-th of a sequence of distinct public IPv4 addresses (in 11.0.0.0/8 and up, never private).
pub fn public_address(n: u32) -> std::net::IpAddr {
    std::net::IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000u32 + n))
}

/// Who calls the mapper in a test: ServiceAccounts in a namespace of their own, each with a token for
/// the mapper's audience (`holt-mapper`), granted the mapper's roles there. [`Mapper::start`] makes
/// its own and has the mapper check permissions in their namespace.
pub struct Callers {
    pub namespace: String,
    /// May report (`create reports.mapper.holt.dev`).
    pub sniffer: String,
    /// May read (`list discoveredintents.mapper.holt.dev`).
    pub reader: String,
    /// May read and reset (`list`, `deletecollection`).
    pub admin: String,
    /// Authenticated, granted nothing.
    pub stranger: String,
}

impl Callers {
    pub async fn new(plane: &ControlPlane) -> anyhow::Result<Callers> {
        use holt_mapper::access::Role;
        use holt_mapper_api::TOKEN_AUDIENCE;
        let client = plane.client().await?;
        let namespace = plane.create_namespace(&client, "mapper-callers").await?;
        let mut tokens = Vec::new();
        for (name, role) in [
            ("sniffer", Some(Role::Sniffer)),
            ("reader", Some(Role::Reader)),
            ("admin", Some(Role::Admin)),
            ("stranger", None),
        ] {
            let account =
                holt_testenv::service_account_token(&client, &namespace, name, &[TOKEN_AUDIENCE]).await?;
            if let Some(role) = role {
                holt_testenv::bind_role(
                    &client,
                    &namespace,
                    &format!("holt-mapper-{name}"),
                    role.rules(),
                    &[(namespace.as_str(), name)],
                )
                .await?;
            }
            tokens.push(account.token);
        }
        let [sniffer, reader, admin, stranger]: [String; 4] =
            tokens.try_into().map_err(|_| anyhow::anyhow!("four tokens"))?;
        Ok(Callers {
            namespace,
            sniffer,
            reader,
            admin,
            stranger,
        })
    }
}

/// A Service `name` in `ns` selecting the pods labelled `app: <name>` on `port` (the same target port).
pub async fn service(client: &kube::Client, ns: &str, name: &str, port: u16) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Service;
    let service: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": port}]}
    }))?;
    kube::Api::<Service>::namespaced(client.clone(), ns)
        .create(&kube::api::PostParams::default(), &service)
        .await?;
    Ok(())
}

/// Installs Holt's CRDs without a conversion webhook (no operator runs in these tests; the mapper reads
/// and writes `v2alpha1`, the storage version, which needs none).
pub async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    holt_testenv::install_crds_without_conversion(client, &holt_api::crds::crds_yaml()?).await?;
    Ok(())
}

/// The newest modification time of the files in `dir`.
pub fn newest_write(dir: &Path) -> Option<SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.metadata().ok()?.modified().ok())
        .max()
}
