//! Sniffer, mapper and CLI together, on real traffic and a real API server: the reference's
//! network-mapper tutorial (client and client2 call server). Network namespaces made by the test —
//! `client`, `client2`, `dns` and `server` attached by veth pairs to a bridge in `node`, and `node`
//! joined to the test's own namespace by one more veth pair — carry DNS lookups of
//! `server.<namespace>.svc.cluster.local` and TCP connections to the server over IPv4 and IPv6. The
//! sniffer binary runs in `node` and reports to a mapper served in-process (host side of the pair), which
//! resolves both ends through the API server of `holt-testenv`, where Deployments `client`, `client2` and
//! `server` have Pods whose `status.podIPs` are the namespaces' addresses. The mapper checks its
//! callers: the sniffer reports with a token for the mapper, `holt mapper export` reads with a reader's.
//! `holt mapper export` must then print the tutorial's ClientIntents.

mod support;

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use holt_testenv::{ControlPlane, deployment_with_pod_ips};
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use support::access::MapperAccess;
use support::netns::{Bridged, bridged, veth_to_host};
use support::process::probe;
use support::servers::{Zone, dns_responder, tcp_server};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The tutorial's namespaces: (name, IPv4, IPv6) of each workload's pod.
const CLIENT: (&str, &str, &str) = ("client", "10.78.0.2", "fd78::2");
const CLIENT2: (&str, &str, &str) = ("client2", "10.78.0.4", "fd78::4");
const SERVER: (&str, &str, &str) = ("server", "10.78.0.3", "fd78::3");
const DNS: (&str, &str, &str) = ("dns", "10.78.0.53", "fd78::53");

struct Topology {
    net: Bridged,
    /// The host end of the node's veth pair, where the mapper listens.
    host_address: Ipv4Addr,
}

fn topology() -> anyhow::Result<Topology> {
    let pid = std::process::id();
    let net = bridged(&format!("holt-e2e-{pid}"), &[CLIENT, CLIENT2, SERVER, DNS])?;
    let subnet = (pid % 250) as u8;
    let host_address = Ipv4Addr::new(10, 233, subnet, 1);
    // The host end goes away with the node namespace.
    let host_if = format!("he2e{}", pid % 1_000_000);
    veth_to_host(&net.node, "uplink", &host_if)?;
    support::netns::run(
        "ip",
        &["addr", "add", &format!("{host_address}/30"), "dev", &host_if],
    )?;
    net.node
        .ip(&["addr", "add", &format!("10.233.{subnet}.2/30"), "dev", "uplink"])?;
    Ok(Topology { net, host_address })
}

/// The `holt` binary, built by cargo (a package's tests only get its own binaries).
fn holt_binary() -> anyhow::Result<PathBuf> {
    let mut built = holt_testenv::build_binaries(&["holt"])?;
    built.remove("holt").context("the holt binary")
}

/// What the reference's `otterize network-mapper export` prints in its tutorial, for one client.
fn tutorial_client_intents(client: &str, ns: &str) -> String {
    format!(
        "apiVersion: k8s.otterize.com/v2beta1
kind: ClientIntents
metadata:
  name: {client}
  namespace: {ns}
spec:
  workload:
    name: {client}
    kind: Deployment
  targets:
  - kubernetes:
      name: server
      kind: Deployment
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_traffic_becomes_client_intents_exported_by_the_cli() -> anyhow::Result<()> {
    let holt = tokio::task::spawn_blocking(holt_binary).await??;

    // Kubernetes: the tutorial's Deployments, their pods at the namespaces' addresses, Service server.
    let plane = ControlPlane::shared().await?;
    let kube = plane.client().await?;
    let ns = plane.create_namespace(&kube, "e2e-tutorial").await?;
    let mut pods = Vec::new();
    for (name, v4, v6) in [CLIENT, CLIENT2, SERVER] {
        pods.push(deployment_with_pod_ips(&kube, &ns, name, &[v4, v6]).await?);
    }
    let (client_pod, client2_pod) = (&pods[0], &pods[1]);
    let services: Api<Service> = Api::namespaced(kube.clone(), &ns);
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "server"},
        "spec": {"clusterIP": "None", "selector": {"app": "server"}, "ports": [{"port": 80}]}
    }))?;
    services.create(&PostParams::default(), &service).await?;

    // The network, its DNS server (a headless Service's answer: the pod's addresses) and the server.
    let net = topology()?;
    let service_name = format!("server.{ns}.svc.cluster.local");
    let mut zone = Zone::default();
    zone.addresses
        .insert(service_name.clone(), vec![SERVER.1.parse()?, SERVER.2.parse()?]);
    let dns_socket = net.net.netns("dns").within(|| UdpSocket::bind("[::]:53"))??;
    let _dns = dns_responder(dns_socket, zone);
    let listener = net
        .net
        .netns("server")
        .within(|| TcpListener::bind("[::]:80"))??;
    let _server = tcp_server(listener);

    // The mapper, on the host end of the node's uplink, checking its callers.
    let access = MapperAccess::new(plane).await?;
    let state = tempfile::tempdir()?;
    let args = access.mapper_args(plane, &format!("{}:0", net.host_address), state.path())?;
    let mapper = holt_mapper::serve::Background::start(args).await?;
    let mapper_url = mapper.url();

    // The sniffer in the node namespace, reporting to the mapper.
    let _sniffer = access.sniffer(&net.net.node, &mapper_url, "e2e-node", "127.0.0.1:9091", &[])?;
    // Let the sniffer open its capture before the traffic starts.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The traffic: each client resolves the Service's name and connects; client over IPv4, client2 over
    // IPv6, so that each client's intent depends on one address family being sniffed and resolved.
    let dns_v4 = format!("{}:53", DNS.1);
    let dns_v6 = format!("[{}]:53", DNS.2);
    let server_v4 = format!("{}:80", SERVER.1);
    let server_v6 = format!("[{}]:80", SERVER.2);
    for (name, pod, dns, server) in [
        (CLIENT.0, client_pod, &dns_v4, &server_v4),
        (CLIENT2.0, client2_pod, &dns_v6, &server_v6),
    ] {
        let args = ["--dns-server", dns, "--name", &service_name, "--connect", server];
        tokio::task::block_in_place(|| probe(net.net.netns(name), pod, &args, false))?;
    }

    // `holt mapper export` until both clients are there.
    let export = |client: Option<&str>| -> anyhow::Result<String> {
        let mut command = Command::new(&holt);
        command
            .args(["mapper", "export", "--url", &mapper_url, "-n", &ns])
            .env("HOLT_MAPPER_TOKEN", &access.reader);
        if let Some(client) = client {
            command.args(["--client", client]);
        }
        let output = command.output().context("running holt mapper export")?;
        ensure!(
            output.status.success(),
            "holt mapper export failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8(output.stdout)?)
    };
    let deadline = Instant::now() + TIMEOUT;
    let all = loop {
        let all = tokio::task::block_in_place(|| export(None))?;
        if all.contains("name: client2\n") && all.contains("name: client\n") {
            break all;
        }
        if Instant::now() > deadline {
            bail!("holt mapper export never showed both clients within {TIMEOUT:?}; last output:\n{all}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("holt mapper export:\n{all}");
    assert_eq!(
        all,
        format!(
            "{}---\n{}",
            tutorial_client_intents("client", &ns),
            tutorial_client_intents("client2", &ns)
        )
    );
    for client in ["client", "client2"] {
        let one = tokio::task::block_in_place(|| export(Some(&format!("{client}.{ns}"))))?;
        assert_eq!(one, tutorial_client_intents(client, &ns));
    }

    mapper.stop().await?;
    Ok(())
}
