//! The shadow-mode tutorial end to end, on real traffic and a real API server: sniffer, mapper (with the
//! operator's configuration, `defaultShadow`) and `holt mapper insights` together. Network namespaces made by
//! the test — `client`, `client2`, `client3`, `dns` and `server` on a bridge in `node`, `node` joined to the
//! test's own namespace — carry DNS lookups of `server.<namespace>.svc.cluster.local` and TCP connections to
//! the server, which listens on port 8080 (its container port, the target of Service port 80). The sniffer
//! binary runs in `node` and reports to a mapper served in-process, which resolves both ends through the API
//! server of `holt-testenv` and watches the declared state there.
//!
//! 1. `client` and `client2` call the server, nothing declares them: each call passes now and would be
//!    blocked once the server is protected; the server is in shadow and not ready to protect.
//! 2. ClientIntents declare both: their calls pass even once protected; the server is ready to protect.
//! 3. `client3`, which nothing declares, starts calling: the server is not ready any more; after a
//!    ProtectedService names it, `client3`'s call is blocked now, by Holt's policy (the table says so too),
//!    and the declared calls still pass.

mod support;

use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, ensure};
use holt_insights::{CallInsight, Direction, Insights, Outcome, ServerInsight};
use holt_testenv::{ControlPlane, deployment_serving, eventually};
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use support::access::MapperAccess;
use support::netns::{Bridged, bridged, uplink};
use support::process::probe;
use support::servers::{Zone, dns_responder, tcp_server};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The tutorial's namespaces: (name, IPv4, IPv6) of each workload's pod.
const CLIENT: (&str, &str, &str) = ("client", "10.79.0.2", "fd79::2");
const CLIENT2: (&str, &str, &str) = ("client2", "10.79.0.4", "fd79::4");
const CLIENT3: (&str, &str, &str) = ("client3", "10.79.0.5", "fd79::5");
const SERVER: (&str, &str, &str) = ("server", "10.79.0.3", "fd79::3");
const DNS: (&str, &str, &str) = ("dns", "10.79.0.53", "fd79::53");
/// The port the server listens on, declared as its container port.
const SERVER_PORT: u16 = 8080;

/// The `holt` binary, built by cargo (a package's tests only get its own binaries).
fn holt_binary() -> anyhow::Result<PathBuf> {
    let mut built = holt_testenv::build_binaries(&["holt"])?;
    built.remove("holt").context("the holt binary")
}

/// Each client resolves the Service's name and connects to the server: the real traffic the sniffer sees.
fn call_the_server(
    net: &Bridged,
    (name, _, _): (&str, &str, &str),
    pod: &str,
    service: &str,
) -> anyhow::Result<()> {
    let dns = format!("{}:53", DNS.1);
    let server = format!("{}:{SERVER_PORT}", SERVER.1);
    let args = ["--dns-server", &dns, "--name", service, "--connect", &server];
    probe(net.netns(name), pod, &args, false)?;
    Ok(())
}

/// The call of `client` to the server, and the server's row.
fn call<'a>(insights: &'a Insights, client: &str) -> &'a CallInsight {
    insights.call(client, "server").expect("the client's call")
}

fn server(insights: &Insights) -> &ServerInsight {
    insights.server("server").expect("the server's row")
}

fn undeclared(insights: &Insights) -> Vec<&str> {
    server(insights)
        .undeclared_clients
        .iter()
        .map(|w| w.name.as_str())
        .collect()
}

/// Whether `outcome` is blocked by Holt's policies alone, on the server's ingress, on the server's port.
fn blocked_by_holt(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Blocked { port, by, .. }
        if *port == SERVER_PORT && !by.is_empty() && by.iter().all(|b| b.holt && b.direction == Direction::Ingress))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shadow_tutorial_on_real_traffic_ends_with_the_undeclared_call_blocked() -> anyhow::Result<()> {
    let holt = tokio::task::spawn_blocking(holt_binary).await??;

    // Kubernetes: the tutorial's Deployments (the server's container serves SERVER_PORT), their pods at the
    // namespaces' addresses, Service server (port 80 → SERVER_PORT), Holt's CRDs.
    let plane = ControlPlane::shared().await?;
    let kube = plane.client().await?;
    // Holt's CRDs, without a conversion webhook (no operator runs here; every object is written in
    // `v2beta1`, the storage version's schema).
    holt_testenv::install_crds_without_conversion(&kube, &holt_api::crds::crds_yaml()?).await?;
    let ns = plane.create_namespace(&kube, "shadow-tutorial").await?;
    let mut pods = Vec::new();
    for ((name, v4, v6), ports) in [
        (CLIENT, &[][..]),
        (CLIENT2, &[]),
        (CLIENT3, &[]),
        (SERVER, &[SERVER_PORT]),
    ] {
        pods.push(deployment_serving(&kube, &ns, name, &[v4, v6], ports).await?);
    }
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "server"},
        "spec": {"clusterIP": "None", "selector": {"app": "server"},
                 "ports": [{"port": 80, "targetPort": SERVER_PORT}]}
    }))?;
    Api::<Service>::namespaced(kube.clone(), &ns)
        .create(&PostParams::default(), &service)
        .await?;

    // The network, its DNS server (a headless Service's answer: the pod's addresses) and the server.
    let pid = std::process::id();
    let net = bridged(
        &format!("holt-shd-{pid}"),
        &[CLIENT, CLIENT2, CLIENT3, SERVER, DNS],
    )?;
    let host_address = uplink(&net, &format!("hshd{}", pid % 1_000_000), 235, (pid % 250) as u8)?;
    let service_name = format!("server.{ns}.svc.cluster.local");
    let mut zone = Zone::default();
    zone.addresses
        .insert(service_name.clone(), vec![SERVER.1.parse()?, SERVER.2.parse()?]);
    let dns_socket = net.netns("dns").within(|| UdpSocket::bind("[::]:53"))??;
    let _dns = dns_responder(dns_socket, zone);
    let listener = net
        .netns("server")
        .within(move || TcpListener::bind(("::", SERVER_PORT)))??;
    let _server = tcp_server(listener);

    // The mapper, on the host end of the node's uplink, with the operator's configuration (shadow mode).
    let access = MapperAccess::new(plane).await?;
    let state = tempfile::tempdir()?;
    let operator_config = state.path().join("operator-config.yaml");
    std::fs::write(&operator_config, "mode: defaultShadow\n")?;
    let mut args = access.mapper_args(plane, &format!("{host_address}:0"), &state.path().join("state"))?;
    args.operator_config = Some(operator_config);
    let mapper = holt_mapper::serve::Background::start(args).await?;
    let mapper_url = mapper.url();

    // The sniffer in the node namespace, reporting to the mapper.
    let _sniffer = access.sniffer(&net.node, &mapper_url, "shadow-node", "127.0.0.1:9091", &[])?;
    // Let the sniffer open its capture before the traffic starts.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // `holt mapper insights` as a user runs it.
    let insights_cli = |output: &str| -> anyhow::Result<String> {
        let out = Command::new(&holt)
            .args([
                "mapper",
                "--url",
                &mapper_url,
                "insights",
                "-n",
                &ns,
                "-o",
                output,
            ])
            .env("HOLT_MAPPER_TOKEN", &access.reader)
            .output()
            .context("running holt mapper insights")?;
        ensure!(
            out.status.success(),
            "holt mapper insights failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    };
    let insights_until = |what: &'static str, ready: fn(&Insights) -> bool| {
        let insights_cli = &insights_cli;
        async move {
            eventually(what, TIMEOUT, || async {
                let text = tokio::task::block_in_place(|| insights_cli("json"))?;
                let insights: Insights = serde_json::from_str(&text)?;
                Ok(ready(&insights).then_some(insights))
            })
            .await
        }
    };

    // 1. The tutorial's traffic, nothing declared.
    tokio::task::block_in_place(|| {
        call_the_server(&net, CLIENT, &pods[0], &service_name)?;
        call_the_server(&net, CLIENT2, &pods[1], &service_name)
    })?;
    let before = insights_until("both clients' calls", |i| i.calls.len() == 2).await?;
    for client in ["client", "client2"] {
        let seen = call(&before, client);
        assert_eq!(
            (seen.declared, &seen.now, &seen.ports),
            (false, &Outcome::Allowed, &vec![SERVER_PORT]),
            "{client}: {seen:?}"
        );
        assert!(blocked_by_holt(&seen.if_protected), "{client}: {seen:?}");
    }
    assert_eq!(server(&before).enforcement.state, "shadow");
    assert_eq!(undeclared(&before), ["client", "client2"]);
    assert!(!server(&before).ready_to_protect);

    // 2. ClientIntents declare every client seen: the server is ready to protect.
    for client in ["client", "client2"] {
        let intents = json!({
            "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
            "metadata": {"name": client},
            "spec": {"workload": {"name": client, "kind": "Deployment"},
                     "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}}]}
        });
        holt_testenv::create_custom_object(&kube, &ns, "clientintents", intents).await?;
    }
    let declared = insights_until("the server ready to protect", |i| server(i).ready_to_protect).await?;
    for client in ["client", "client2"] {
        let seen = call(&declared, client);
        assert!(seen.declared, "{seen:?}");
        assert_eq!(
            (&seen.now, &seen.if_protected),
            (&Outcome::Allowed, &Outcome::Allowed)
        );
    }

    // 3. A client nothing declares starts calling; then a ProtectedService enforces the server.
    tokio::task::block_in_place(|| call_the_server(&net, CLIENT3, &pods[2], &service_name))?;
    let third = insights_until("client3's call", |i| i.calls.len() == 3).await?;
    assert_eq!(undeclared(&third), ["client3"]);
    assert!(!server(&third).ready_to_protect);
    assert!(blocked_by_holt(&call(&third, "client3").if_protected));
    assert_eq!(
        call(&third, "client3").now,
        Outcome::Allowed,
        "shadow: nothing blocked yet"
    );
    let protect = json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ProtectedService",
        "metadata": {"name": "server-protect"}, "spec": {"name": "server"}
    });
    holt_testenv::create_custom_object(&kube, &ns, "protectedservices", protect).await?;
    let protected = insights_until("client3 blocked now", |i| call(i, "client3").now.is_blocked()).await?;
    assert!(
        blocked_by_holt(&call(&protected, "client3").now),
        "{protected:#?}"
    );
    for client in ["client", "client2"] {
        assert_eq!(call(&protected, client).now, Outcome::Allowed, "{client}");
    }
    assert_eq!(
        (
            server(&protected).enforcement.state.as_str(),
            server(&protected).enforcement.why.as_str()
        ),
        ("enforced", "ProtectedService server-protect")
    );

    // The table says the same, for people.
    let table = tokio::task::block_in_place(|| insights_cli("table"))?;
    eprintln!("holt mapper insights:\n{table}");
    ensure!(table.contains("3 call(s), 1 blocked now."), "{table}");
    ensure!(
        table.contains(&format!(
            "{ns}/client3 -> {ns}/server: blocked on {SERVER_PORT}/TCP by {ns}/"
        )) && table.contains("(Holt's, ingress)"),
        "{table}"
    );
    ensure!(
        table.contains("enforced (ProtectedService server-protect)"),
        "{table}"
    );

    mapper.stop().await?;
    Ok(())
}
