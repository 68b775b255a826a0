//! Egress policies on a real dataplane: the `holt-operator` binary with
//! `--enable-egress-network-policy-creation` in `defaultActive` mode, kube-router enforcing, the prober
//! observing; internet targets resolved the way Holt resolves them in a cluster — the `holt-sniffer`
//! binary on the node sees the DNS answer the client gets, the mapper (served in-process) publishes the
//! address in the ClientIntents' `status.resolvedIPs`, the operator allows it.
//!
//! Pods `client`, `server` and `other` (namespace `egress`) listen on TCP 8080 and 443; `kube-dns` (its own
//! namespace) runs the DNS responder of the sniffer tests on UDP and TCP 53, answering `api.example.com` →
//! 203.0.113.10 and `other.example.com` → 203.0.113.20. Two hosts outside the cluster's range, routed by the
//! node, stand for the internet at those addresses (the documentation range), on the same ports. `client`
//! declares `server` and `internet: {domains: [api.example.com], ports: [443]}`. Then:
//!
//! 1. before any lookup: `client` reaches `server` (both ports) and nothing else it calls — not `other`,
//!    not the internet (the policy fails closed until the domain resolves) — while every call `client` does
//!    not make is as before (only `server`, now isolated, admits `client` alone);
//! 2. `client` resolves both names through `kube-dns`, over UDP and over TCP: DNS is allowed;
//! 3. the mapper publishes 203.0.113.10 for `api.example.com`, and `client` reaches it on 443 only;
//!    203.0.113.20, resolved but not declared, stays blocked.
//!
//! The time from the intents' write to enforcement, and from the DNS answer to the internet address being
//! reachable, are logged.

mod support;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use holt_api::v2beta1::ClientIntents;
use holt_testenv::{ControlPlane, Dataplane, DataplanePod, HoltOperator, Port, Prober};
use kube::Api;
use kube::api::PostParams;
use support::access::MapperAccess;
use support::discovery::{Discovery, install_holt_crds};
use support::process::PROBE;
use support::servers::{Zone, dns_responder, dns_tcp_responder};

const APP: Port = Port::tcp(8080);
const HTTPS: Port = Port::tcp(443);
const PORTS: [Port; 2] = [APP, HTTPS];
const TIMEOUT: Duration = Duration::from_secs(30);
const API_DOMAIN: &str = "api.example.com";
const OTHER_DOMAIN: &str = "other.example.com";
const API_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const OTHER_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 20);

fn client_intents(ns: &str) -> anyhow::Result<ClientIntents> {
    Ok(serde_yaml::from_str(&format!(
        "apiVersion: k8s.otterize.com/v2beta1
kind: ClientIntents
metadata:
  name: client
  namespace: {ns}
spec:
  workload:
    name: client
    kind: Deployment
  targets:
  - kubernetes:
      name: server
      kind: Deployment
  - internet:
      domains:
      - {API_DOMAIN}
      ports:
      - 443
"
    ))?)
}

/// Resolves `names` from inside `pod` through the DNS server at `dns` (the sniffer tests' probe binary: an
/// A and an AAAA query per name, over TCP with `tcp`); fails unless every query is answered.
fn resolve(pod: &DataplanePod, dns: Ipv4Addr, names: &[&str], tcp: bool) -> anyhow::Result<String> {
    let mut command = pod.endpoint().command(PROBE);
    command
        .args(["--dns-server", &format!("{dns}:53"), "--timeout-ms", "1000"])
        .args(names.iter().flat_map(|name| ["--name", name]));
    if tcp {
        command.arg("--dns-over-tcp");
    }
    let output = command.output().context("running holt-sniffer-probe")?;
    ensure!(
        output.status.success(),
        "{} could not resolve {names:?} (over {}): {}",
        pod.label(),
        if tcp { "TCP" } else { "UDP" },
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Waits until the ClientIntents' `status.resolvedIPs` lists `ip` for `domain`.
async fn published(api: &Api<ClientIntents>, domain: &str, ip: Ipv4Addr) -> anyhow::Result<()> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let intents = api.get("client").await?;
        let resolved = intents.status.map(|s| s.resolved_ips).unwrap_or_default();
        if resolved
            .iter()
            .any(|entry| entry.dns == domain && entry.ips.contains(&ip.to_string()))
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("status.resolvedIPs never listed {ip} for {domain}: {resolved:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_policies_allow_the_declared_server_dns_and_the_resolved_internet_address_only()
-> anyhow::Result<()> {
    let binaries = tokio::task::spawn_blocking(|| holt_testenv::build_binaries(&["holt-operator"])).await??;
    let holt_operator = binaries
        .get("holt-operator")
        .context("the holt-operator binary")?;
    let plane = ControlPlane::shared().await?;
    let kube = plane.client().await?;
    install_holt_crds(&kube).await?;
    let ns = plane.create_namespace(&kube, "egress").await?;
    let dns_ns = plane.create_namespace(&kube, "egress-dns").await?;

    let dataplane = Dataplane::start(plane).await?;
    let mut pods = Vec::new();
    for name in ["client", "server", "other"] {
        pods.push(dataplane.deployment(&kube, &ns, name, &PORTS).await?);
    }
    let client = pods[0].clone();
    let dns_pod = dataplane.deployment(&kube, &dns_ns, "kube-dns", &[]).await?;
    let api_host = dataplane.outside_host("api.example.com", API_IP, &PORTS)?;
    let other_host = dataplane.outside_host("other.example.com", OTHER_IP, &PORTS)?;

    // The DNS responder, inside kube-dns's namespace (dropped before the dataplane).
    let zone = Zone {
        addresses: HashMap::from([
            (API_DOMAIN.to_owned(), vec![IpAddr::V4(API_IP)]),
            (OTHER_DOMAIN.to_owned(), vec![IpAddr::V4(OTHER_IP)]),
        ]),
        ..Zone::default()
    };
    let udp = dns_pod
        .endpoint()
        .within(|| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 53)))??;
    let tcp = dns_pod
        .endpoint()
        .within(|| TcpListener::bind((Ipv4Addr::UNSPECIFIED, 53)))??;
    let _dns_udp = dns_responder(udp, zone.clone());
    let _dns_tcp = dns_tcp_responder(tcp, zone);

    let mut endpoints: Vec<_> = pods.iter().map(DataplanePod::endpoint).collect();
    endpoints.extend([api_host.endpoint(), other_host.endpoint()]);
    let prober = Prober::new(&endpoints, &PORTS)?;
    let everyone = prober.all(true);
    prober.converge(&everyone, TIMEOUT).await?;

    let access = MapperAccess::new(plane).await?;
    let discovery = Discovery::start(plane, &dataplane, &access).await?;
    let _operator = HoltOperator::start_with_flags(
        holt_operator,
        plane,
        &ns,
        "defaultActive",
        &["--enable-egress-network-policy-creation"],
    )
    .await?;

    // 1. The intents: client reaches server and nothing else it calls; server admits client alone.
    let api: Api<ClientIntents> = Api::namespaced(kube.clone(), &ns);
    let written = Instant::now();
    api.create(&PostParams::default(), &client_intents(&ns)?).await?;
    let mut before_lookup = everyone
        .clone()
        .with_pair("client", "other", false)
        .with_pair("client", API_DOMAIN, false)
        .with_pair("client", OTHER_DOMAIN, false);
    for caller in ["other", API_DOMAIN, OTHER_DOMAIN] {
        before_lookup = before_lookup.with_pair(caller, "server", false);
    }
    dataplane
        .enforced(
            &prober,
            &before_lookup,
            TIMEOUT,
            "egress to the declared server, nothing else yet (the ClientIntents' write)",
            written,
        )
        .await?;

    // 2. DNS is allowed, over UDP and TCP; the sniffer on the node sees the answers.
    let dns_ip = dns_pod.ip();
    let answered = Instant::now();
    let names = [API_DOMAIN, OTHER_DOMAIN];
    let udp_answers = tokio::task::block_in_place(|| resolve(&client, dns_ip, &names, false))?;
    let tcp_answers = tokio::task::block_in_place(|| resolve(&client, dns_ip, &names, true))?;
    eprintln!("client's lookups through kube-dns:\n{udp_answers}{tcp_answers}");
    for name in names {
        for answers in [&udp_answers, &tcp_answers] {
            ensure!(
                answers
                    .lines()
                    .any(|line| line.starts_with(&format!("{name} A: ")) && line.ends_with(", 1 records")),
                "no address for {name} in:\n{answers}"
            );
        }
    }

    // 3. The mapper publishes the declared domain's address; the operator allows it, on 443 only.
    published(&api, API_DOMAIN, API_IP).await?;
    eprintln!(
        "dataplane: {API_DOMAIN} in status.resolvedIPs {:.3} s after the DNS answer",
        answered.elapsed().as_secs_f64()
    );
    let resolved = before_lookup.with("client", API_DOMAIN, HTTPS, true);
    dataplane
        .enforced(
            &prober,
            &resolved,
            TIMEOUT,
            "egress to api.example.com's address (from the DNS answer, through status.resolvedIPs)",
            answered,
        )
        .await?;
    let status = api.get("client").await?.status.unwrap_or_default();
    ensure!(
        status.resolved_ips.iter().all(|entry| entry.dns == API_DOMAIN),
        "only the declared domain is published: {:?}",
        status.resolved_ips
    );
    discovery.stop().await?;
    Ok(())
}
