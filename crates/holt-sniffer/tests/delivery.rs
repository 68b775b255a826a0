//! Delivery that cannot wedge, on real traffic and a real mapper: a busy node's backlog is larger than
//! one report may be, and must still arrive in full.
//!
//! Network namespaces made by the test — `client` and `server` attached by veth pairs to a bridge in
//! `node`, `node` joined to the test's own namespace by one more pair — carry 30,000 distinct TCP
//! connection attempts (client → server, one per destination port, each refused by the server's
//! kernel). The sniffer binary runs in `node`, capturing on the client's bridge port only (so the
//! connections it reports are exactly the test's), and reports to a mapper (`holt_mapper::serve`, the
//! real service over HTTP, resolving through the API server of `holt-testenv`) that is down while the
//! burst happens: when the mapper comes up, the sniffer's backlog is 30,000 observations, about 2.9 MB
//! of JSON, more than the mapper's 2 MiB report limit. The mapper must receive all 30,000, and the
//! sniffer must have lost none.

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use holt_testenv::ControlPlane;
use support::access::MapperAccess;
use support::netns::{bridged, uplink};
use support::servers::http_get;

const CLIENT: (&str, &str, &str) = ("client", "10.79.0.2", "fd79::2");
const SERVER: (&str, &str, &str) = ("server", "10.79.0.3", "fd79::3");
const CONNECTIONS: u16 = 30_000;
const SNIFFER_HEALTH: &str = "127.0.0.1:9091";

/// The value of the unlabelled sample `name` in a Prometheus text page.
fn sample(metrics: &str, name: &str) -> Option<u64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_a_report_is_delivered_in_full() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let pid = std::process::id();
    let net = bridged(&format!("holt-dlv-{pid}"), &[CLIENT, SERVER])?;
    let host_address: Ipv4Addr = uplink(&net, &format!("hdlv{}", pid % 1_000_000), 234, (pid % 250) as u8)?;

    // The mapper's address, reserved now and listened on only after the burst.
    let mapper_address = TcpListener::bind((host_address, 0))?.local_addr()?;
    let mapper_url = format!("http://{mapper_address}");
    let access = MapperAccess::new(plane).await?;
    let _sniffer = access.sniffer(
        &net.node,
        &mapper_url,
        "busy-node",
        SNIFFER_HEALTH,
        &[
            "--interface",
            "vclient",
            "--enable-dns",
            "false",
            "--enable-socket-scan",
            "false",
        ],
    )?;
    let sniffer_metrics = || -> anyhow::Result<String> {
        net.node
            .within(|| http_get(SNIFFER_HEALTH.parse().expect("address"), "/metrics"))?
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let failed = sniffer_metrics().ok().and_then(|m| {
            m.lines().find_map(|l| {
                l.strip_prefix("holt_sniffer_reports_total{result=\"failed\"} ")?
                    .parse::<u64>()
                    .ok()
            })
        });
        if failed.unwrap_or(0) >= 1 {
            break;
        }
        ensure!(Instant::now() < deadline, "the sniffer never tried to report");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The burst: one connection attempt per destination port, each refused at once by the server.
    let server: Ipv4Addr = SERVER.1.parse()?;
    let started = Instant::now();
    let refused = net.netns("client").within(move || {
        (1..=CONNECTIONS)
            .filter(|port| {
                std::net::TcpStream::connect_timeout(
                    &SocketAddr::from((server, *port)),
                    Duration::from_secs(1),
                )
                .is_err()
            })
            .count()
    })?;
    eprintln!(
        "{CONNECTIONS} connection attempts in {:?} ({refused} refused)",
        started.elapsed()
    );
    ensure!(refused == usize::from(CONNECTIONS), "every attempt is refused");
    // The last SYNs are in the sniffer's batch once a report interval has passed.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let state = tempfile::tempdir()?;
    let args = access.mapper_args(plane, &mapper_address.to_string(), state.path())?;
    let mapper = holt_mapper::serve::Background::start(args).await?;

    let mapper_metrics = move || http_get(mapper_address, "/metrics");
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        let metrics = tokio::task::block_in_place(mapper_metrics).unwrap_or_default();
        let received = sample(&metrics, "holt_mapper_connections_received_total").unwrap_or(0);
        if received >= u64::from(CONNECTIONS) {
            break metrics;
        }
        ensure!(
            Instant::now() < deadline,
            "the mapper received {received} of {CONNECTIONS} connections within 60 s; sniffer metrics:\n{}",
            sniffer_metrics().unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let received = sample(&metrics, "holt_mapper_connections_received_total").context("received")?;
    let reports = sample(&metrics, "holt_mapper_reports_received_total").context("reports")?;
    eprintln!("the mapper received {received} connections in {reports} reports");
    assert_eq!(
        received,
        u64::from(CONNECTIONS),
        "each of the 30,000 exactly once (nothing else is captured on vclient)"
    );
    assert!(reports >= 2, "more than one report was needed: {reports}");
    let sniffer_side = sniffer_metrics()?;
    assert!(
        sniffer_side
            .lines()
            .filter(|l| l.starts_with("holt_sniffer_report_drops_total"))
            .all(|l| l.ends_with(" 0")),
        "the sniffer lost nothing:\n{sniffer_side}"
    );
    assert!(
        metrics.contains("holt_sniffer_report_drops_total{node=\"busy-node\"} 0\n"),
        "the sniffer's own count, as the mapper has it:\n{metrics}"
    );

    mapper.stop().await?;
    Ok(())
}
