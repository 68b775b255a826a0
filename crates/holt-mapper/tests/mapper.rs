//! The `holt-mapper` binary against a real kube-apiserver (with kube-controller-manager making the
//! ReplicaSets and Pods of Deployments): reports in, intents and ClientIntents out, restarts, corrupt
//! state, held observations and `status.resolvedIPs`. Each mapper checks its callers: the test reports
//! with a sniffer's token and reads and resets with an administrator's.

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use holt_mapper::shared::now_ms;
use holt_mapper_api::{Connection, Counters, DiscoveredIntent, DnsAnswer, Report, SeenBy, Target};
use holt_testenv::{ControlPlane, deployment_with_pod_ips, eventually, set_pod_ips};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Held by the tests that publish `resolvedIPs` and the one that resets: a mapper publishes for every
/// ClientIntents of the (shared) cluster, and a reset takes back every address it sees there, which
/// another test's mapper would publish again.
static PUBLISHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn cluster() -> anyhow::Result<(Client, &'static ControlPlane)> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    support::install_crds(&client).await?;
    Ok((client, plane))
}

/// A running `holt-mapper` process (killed when dropped) and kube clients of it.
struct MapperProcess {
    process: support::Mapper,
    /// Reads and resets (an administrator's token).
    client: Client,
    /// Reports (a sniffer's token).
    sniffer: Client,
}

/// A client of the mapper at `url` sending `token`.
fn client_with_token(url: &str, token: &str) -> anyhow::Result<Client> {
    let mut config = kube::Config::new(url.parse()?);
    config.auth_info.token = Some(token.to_owned().into());
    Ok(Client::try_from(config)?)
}

impl MapperProcess {
    /// Snapshots every 100 ms, connections held 20 s, `resolvedIPs` published every 200 ms.
    async fn start(plane: &ControlPlane, state_dir: &Path) -> anyhow::Result<MapperProcess> {
        let settings = [
            ("HOLT_MAPPER_SNAPSHOT_INTERVAL_MS", "100"),
            ("HOLT_MAPPER_HOLD_MS", "20000"),
            ("HOLT_MAPPER_RESOLVED_IPS_INTERVAL_MS", "200"),
        ];
        let (process, _) = support::Mapper::start(plane, state_dir, &settings).await?;
        let url = format!("http://{}", process.address);
        Ok(MapperProcess {
            client: client_with_token(&url, &process.callers.admin)?,
            sniffer: client_with_token(&url, &process.callers.sniffer)?,
            process,
        })
    }

    fn log_text(&self) -> String {
        self.process.log_text()
    }

    async fn get(&self, path: &str) -> anyhow::Result<String> {
        let request = http::Request::get(path).body(Vec::new())?;
        Ok(self.client.request_text(request).await?)
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> Result<String, kube::Error> {
        let request = http::Request::post(path)
            .header("content-type", "application/json")
            .body(body)
            .map_err(kube::Error::HttpError)?;
        let client = if path == holt_mapper_api::REPORTS_PATH {
            &self.sniffer
        } else {
            &self.client
        };
        client.request_text(request).await
    }

    async fn report(&self, report: &Report) -> anyhow::Result<()> {
        self.post(holt_mapper_api::REPORTS_PATH, serde_json::to_vec(report)?)
            .await?;
        Ok(())
    }

    async fn intents(&self, query: &str) -> anyhow::Result<Vec<DiscoveredIntent>> {
        Ok(serde_json::from_str(
            &self.get(&format!("/v1/intents{query}")).await?,
        )?)
    }

    /// Stops the process with SIGTERM and waits for it.
    async fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.process.child.id().context("pid")?;
        let pid = rustix::process::Pid::from_raw(i32::try_from(pid)?).context("pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
        Ok(tokio::time::timeout(TIMEOUT, self.process.child.wait()).await??)
    }

    /// Kills the process with SIGKILL (no chance to write anything more).
    async fn kill(mut self) -> anyhow::Result<()> {
        self.process.child.kill().await?;
        Ok(())
    }
}

async fn service(client: &Client, ns: &str, name: &str) -> anyhow::Result<IpAddr> {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}
    }))?;
    let created = services.create(&PostParams::default(), &service).await?;
    let ip = created.spec.and_then(|s| s.cluster_ip).context("cluster IP")?;
    Ok(ip.parse()?)
}

fn connection(src: &str, dst: IpAddr) -> Connection {
    Connection {
        src_ip: src.parse().expect("ip"),
        dst_ip: dst,
        dst_port: 80,
        seen_by: SeenBy::Syn,
        src_hostname: None,
        last_seen_ms: now_ms(),
    }
}

fn dns(client: &str, name: &str, ip: &str) -> DnsAnswer {
    DnsAnswer {
        client_ip: client.parse().expect("ip"),
        name: name.into(),
        ip: ip.parse().expect("ip"),
        ttl_seconds: 30,
        last_seen_ms: now_ms(),
    }
}

fn report(dns: Vec<DnsAnswer>, connections: Vec<Connection>) -> Report {
    Report {
        node: "node-a".into(),
        dns,
        connections,
        counters: Counters {
            packets: 1_000,
            kernel_drops: 2,
            decode_errors: [("truncated".to_owned(), 3)].into(),
            report_drops: 0,
        },
        http: Vec::new(),
    }
}

/// The tutorial: client and client2 call server. Returns the namespace.
async fn tutorial(
    client: &Client,
    plane: &ControlPlane,
    subnet: u8,
) -> anyhow::Result<(String, [String; 3], IpAddr)> {
    let ns = plane.create_namespace(client, "mapper-tutorial").await?;
    let ips = [1, 2, 3].map(|host| format!("10.244.{subnet}.{host}"));
    deployment_with_pod_ips(client, &ns, "client", &[ips[0].as_str()]).await?;
    deployment_with_pod_ips(client, &ns, "client2", &[ips[1].as_str()]).await?;
    deployment_with_pod_ips(client, &ns, "server", &[ips[2].as_str()]).await?;
    let server_ip = service(client, &ns, "server").await?;
    Ok((ns, ips, server_ip))
}

fn tutorial_export(ns: &str) -> Value {
    let one = |name: &str| {
        json!({
            "kind": "ClientIntents",
            "apiVersion": "k8s.otterize.com/v2beta1",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": null},
            "spec": {"workload": {"name": name, "kind": "Deployment"},
                     "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}}]},
            "status": {"upToDate": false, "observedGeneration": 0}
        })
    };
    json!([one("client"), one("client2")])
}

#[tokio::test]
async fn reports_become_the_tutorials_client_intents_and_survive_restarts() -> anyhow::Result<()> {
    let _alone = PUBLISHING.lock().await;
    let (client, plane) = cluster().await?;
    let (ns, ips, server_ip) = tutorial(&client, plane, 1).await?;
    let state = tempfile::tempdir()?;
    let mapper = MapperProcess::start(plane, state.path()).await?;

    let sent = report(
        vec![dns(
            &ips[0],
            &format!("server.{ns}.svc.cluster.local"),
            &server_ip.to_string(),
        )],
        vec![
            connection(&ips[0], server_ip),
            connection(&ips[1], ips[2].parse()?),
        ],
    );
    mapper.report(&sent).await?;
    let export = mapper
        .get(&format!("/v1/export?format=json&namespace={ns}"))
        .await?;
    assert_eq!(serde_json::from_str::<Value>(&export)?, tutorial_export(&ns));

    let yaml = mapper
        .get(&format!("/v1/export?namespace={ns}&client=client2.{ns}"))
        .await?;
    assert!(
        yaml.starts_with("apiVersion: k8s.otterize.com/v2beta1\nkind: ClientIntents\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("name: client2") && !yaml.contains("name: client\n"),
        "{yaml}"
    );
    let v1 = mapper
        .get(&format!("/v1/export?namespace={ns}&version=v1alpha3&format=json"))
        .await?;
    assert_eq!(
        serde_json::from_str::<Value>(&v1)?[0]["spec"]["calls"][0]["name"],
        "server"
    );

    let before = mapper.intents(&format!("?namespace={ns}")).await?;
    assert_eq!(before.len(), 2);
    let metrics = mapper.get("/metrics").await?;
    assert!(
        metrics.contains("holt_mapper_reports_received_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("holt_sniffer_kernel_drops_total{node=\"node-a\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("holt_sniffer_decode_errors_total{node=\"node-a\",category=\"truncated\"} 3\n"),
        "{metrics}"
    );
    // The reference mapper's names: one DNS answer and two connections came in, all attributed.
    for sample in [
        "dns_incoming_connections 1\n",
        "dns_reported_connections 1\n",
        "socketscan_incoming_connections 2\n",
        "socketscan_reported_connections 2\n",
        "socketscan_dropped_connections 0\n",
        "# TYPE process_resident_memory_bytes gauge\n",
    ] {
        assert!(metrics.contains(sample), "{sample:?} missing from\n{metrics}");
    }

    // A clean stop (SIGTERM) writes the last snapshot; the new process serves the same intents.
    let status = mapper.stop().await?;
    assert!(status.success(), "the mapper exited with {status}");
    let mapper = MapperProcess::start(plane, state.path()).await?;
    assert_eq!(mapper.intents(&format!("?namespace={ns}")).await?, before);
    assert!(
        mapper.log_text().contains("discovered intents restored"),
        "{}",
        mapper.log_text()
    );

    // A crash (SIGKILL) loses at most the last snapshot interval: wait for the intent log to have it,
    // then kill.
    mapper
        .report(&report(
            vec![dns(&ips[2], "api.example.com", "192.0.2.7")],
            vec![],
        ))
        .await?;
    eventually("a snapshot with the internet intent", TIMEOUT, || async {
        let log = std::fs::read(state.path().join("intents.log")).unwrap_or_default();
        let written = log.windows(15).any(|w| w == b"api.example.com");
        Ok(written.then_some(()))
    })
    .await?;
    mapper.kill().await?;
    let mapper = MapperProcess::start(plane, state.path()).await?;
    let after = mapper.intents(&format!("?client=server.{ns}")).await?;
    assert_eq!(after.len(), 1);
    assert_eq!(
        after[0].target,
        Target::Internet {
            domain: Some("api.example.com".into()),
            ips: vec!["192.0.2.7".parse()?]
        }
    );

    // Reset forgets everything, durably.
    mapper.post(holt_mapper_api::RESET_PATH, Vec::new()).await?;
    assert!(mapper.intents(&format!("?namespace={ns}")).await?.is_empty());
    mapper.stop().await?;
    let mapper = MapperProcess::start(plane, state.path()).await?;
    assert!(mapper.intents(&format!("?namespace={ns}")).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn bad_input_is_refused_with_a_reason_and_loses_nothing() -> anyhow::Result<()> {
    let (client, plane) = cluster().await?;
    let (ns, ips, server_ip) = tutorial(&client, plane, 2).await?;
    let state = tempfile::tempdir()?;
    let mapper = MapperProcess::start(plane, state.path()).await?;
    mapper
        .report(&report(vec![], vec![connection(&ips[0], server_ip)]))
        .await?;

    let refused = mapper
        .post(holt_mapper_api::REPORTS_PATH, b"{\"node\": 3}".to_vec())
        .await;
    match refused {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 400);
            assert!(
                status.message.contains("the report does not parse"),
                "{}",
                status.message
            );
        }
        other => bail!("expected 400, got {other:?}"),
    }
    match mapper.get("/v1/intents?server=no-namespace").await {
        Err(e) => assert!(e.to_string().contains("server must be name.namespace"), "{e}"),
        Ok(body) => bail!("expected 400, got {body}"),
    }
    assert_eq!(mapper.intents(&format!("?namespace={ns}")).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_corrupt_snapshot_is_moved_aside_and_reported() -> anyhow::Result<()> {
    let (_client, plane) = cluster().await?;
    let state = tempfile::tempdir()?;
    std::fs::write(
        state.path().join("intents.json"),
        b"{\"version\": 1, \"intents\": [{\"client\"",
    )?;
    let mapper = MapperProcess::start(plane, state.path()).await?;
    let log = mapper.log_text();
    assert!(
        log.contains("the snapshot could not be read; it was moved aside"),
        "{log}"
    );
    let moved: Vec<_> = std::fs::read_dir(state.path())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("intents.json.corrupt-"))
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(
        std::fs::read(state.path().join(&moved[0]))?,
        b"{\"version\": 1, \"intents\": [{\"client\"",
        "the unreadable file is kept as it was"
    );
    assert!(mapper.intents("").await?.is_empty(), "the mapper starts empty");
    Ok(())
}

#[tokio::test]
async fn observations_from_pods_not_known_yet_are_held_and_attributed_later() -> anyhow::Result<()> {
    let (client, plane) = cluster().await?;
    let ns = plane.create_namespace(&client, "mapper-held").await?;
    deployment_with_pod_ips(&client, &ns, "server", &["10.244.3.3"]).await?;
    let state = tempfile::tempdir()?;
    let mapper = MapperProcess::start(plane, state.path()).await?;
    // The client's pod has no IP yet when its connection is reported.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let late: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "late"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "late"}},
                 "template": {"metadata": {"labels": {"app": "late"}},
                              "spec": {"containers": [{"name": "late", "image": "registry.example/app:1"}]}}}
    }))?;
    deployments.create(&PostParams::default(), &late).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    mapper
        .report(&report(
            vec![],
            vec![connection("10.244.3.9", "10.244.3.3".parse()?)],
        ))
        .await?;
    assert!(mapper.intents(&format!("?namespace={ns}")).await?.is_empty());
    assert!(
        mapper
            .get("/metrics")
            .await?
            .contains("holt_mapper_observations_held 1\n")
    );
    set_pod_ips(&client, &ns, "late", &["10.244.3.9"]).await?;
    let intents = eventually("the held connection attributed", TIMEOUT, || async {
        let intents = mapper.intents(&format!("?namespace={ns}")).await?;
        Ok((!intents.is_empty()).then_some(intents))
    })
    .await?;
    assert_eq!(intents[0].client.name, "late");
    assert_eq!(intents[0].client.kind.as_deref(), Some("Deployment"));
    Ok(())
}

#[tokio::test]
async fn resolved_ips_are_published_on_client_intents_with_internet_domains() -> anyhow::Result<()> {
    let _alone = PUBLISHING.lock().await;
    let (client, plane) = cluster().await?;
    let ns = plane.create_namespace(&client, "mapper-resolved").await?;
    deployment_with_pod_ips(&client, &ns, "client", &["10.244.4.1"]).await?;
    let intents: Api<holt_api::v2alpha1::ClientIntents> = Api::namespaced(client.clone(), &ns);
    let ci: holt_api::v2alpha1::ClientIntents = serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v2alpha1", "kind": "ClientIntents",
        "metadata": {"name": "client"},
        "spec": {"workload": {"name": "client"},
                 "targets": [{"internet": {"domains": ["api.example.com", "*.cdn.example.net"]}}]}
    }))?;
    intents.create(&PostParams::default(), &ci).await?;
    let state = tempfile::tempdir()?;
    let mapper = MapperProcess::start(plane, state.path()).await?;
    mapper
        .report(&report(
            vec![
                dns("10.244.4.1", "api.example.com", "192.0.2.10"),
                dns("10.244.4.1", "img.cdn.example.net", "198.51.100.20"),
                dns("10.244.4.1", "unrelated.example.org", "203.0.113.1"),
            ],
            vec![],
        ))
        .await?;
    let expected = json!([
        {"dns": "api.example.com", "ips": ["192.0.2.10"]},
        {"dns": "*.cdn.example.net", "ips": ["198.51.100.20"]},
    ]);
    let resolved = |want: Value| {
        let intents = intents.clone();
        async move {
            eventually("status.resolvedIPs", TIMEOUT, || async {
                let ci = intents.get("client").await?;
                let status = serde_json::to_value(ci.status.unwrap_or_default())?;
                Ok((status["resolvedIPs"] == want).then_some(()))
            })
            .await
        }
    };
    resolved(expected).await?;
    // A new address accumulates; the old one stays.
    mapper
        .report(&report(
            vec![dns("10.244.4.1", "api.example.com", "192.0.2.11")],
            vec![],
        ))
        .await?;
    resolved(json!([
        {"dns": "api.example.com", "ips": ["192.0.2.10", "192.0.2.11"]},
        {"dns": "*.cdn.example.net", "ips": ["198.51.100.20"]},
    ]))
    .await?;
    // The domain leaves the intents: its entry goes.
    let spec = json!({"spec": {"targets": [{"internet": {"domains": ["api.example.com"]}}]}});
    intents
        .patch("client", &PatchParams::default(), &Patch::Merge(&spec))
        .await?;
    mapper
        .report(&report(
            vec![dns("10.244.4.1", "api.example.com", "192.0.2.12")],
            vec![],
        ))
        .await?;
    resolved(json!([{"dns": "api.example.com", "ips": ["192.0.2.10", "192.0.2.11", "192.0.2.12"]}])).await?;
    // No internet target left: no entry left.
    let spec = json!({"spec": {"targets": [{"kubernetes": {"name": "server"}}]}});
    intents
        .patch("client", &PatchParams::default(), &Patch::Merge(&spec))
        .await?;
    resolved(Value::Null).await?;
    Ok(())
}

#[tokio::test]
async fn an_ip_reused_by_a_newer_pod_is_not_blamed_for_older_traffic() -> anyhow::Result<()> {
    let (client, plane) = cluster().await?;
    let (ns, ips, server_ip) = tutorial(&client, plane, 5).await?;
    let state = tempfile::tempdir()?;
    let mapper = MapperProcess::start(plane, state.path()).await?;
    let mut old = connection(&ips[0], server_ip);
    old.last_seen_ms = now_ms() - 3_600_000;
    let mut wrong_host = connection(&ips[1], server_ip);
    wrong_host.src_hostname = Some("someone-else".into());
    mapper.report(&report(vec![], vec![old, wrong_host])).await?;
    assert!(mapper.intents(&format!("?namespace={ns}")).await?.is_empty());
    let metrics = mapper.get("/metrics").await?;
    assert!(
        metrics.contains("reason=\"pod_newer_than_observation\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("reason=\"hostname_mismatch\"} 1\n"), "{metrics}");
    Ok(())
}
