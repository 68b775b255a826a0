//! The sniffer against real traffic. Four network namespaces made by the test — `client`, `dns` and
//! `server` attached by veth pairs to a bridge in `node` — carry a real DNS exchange (UDP, IPv4 and
//! IPv6, a CNAME chain to A and AAAA records; over TCP, an answer written in two segments) and real TCP
//! connections (IPv4 and IPv6). The sniffer
//! binary runs in `node`, capturing on all its interfaces, and posts its reports to a collector on
//! `node`'s loopback. A connection opened before the sniffer started must be found by the socket scan,
//! with the client's host name. Malformed frames and a truncated DNS response must be counted by
//! category and must not stop the sniffer.

mod support;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use holt_mapper_api::{Report, SeenBy};
use holt_sniffer::capture::FrameSender;
use support::frames;
use support::netns::{Bridged, Netns, bridged};
use support::process::{self, Process, SNIFFER, sniffer};
use support::servers::{
    Reports, Zone, dns_responder, dns_tcp_responder, http_get, report_collector, tcp_server,
};

const HEALTH: &str = "127.0.0.1:9091";
const CLIENT_HOSTNAME: &str = "client-pod-7";

fn topology() -> anyhow::Result<Bridged> {
    bridged(
        &format!("holt-sniff-{}", std::process::id()),
        &[
            ("client", "10.77.0.2", "fd77::2"),
            ("dns", "10.77.0.53", "fd77::53"),
            ("server", "10.77.0.3", "fd77::3"),
        ],
    )
}

fn zone() -> Zone {
    let mut zone = Zone::default();
    zone.cnames
        .insert("web.holt.test".into(), "edge.holt.test".into());
    zone.cnames
        .insert("edge.holt.test".into(), "server.holt.test".into());
    zone.addresses.insert(
        "server.holt.test".into(),
        vec!["10.77.0.3".parse().expect("ip"), "fd77::3".parse().expect("ip")],
    );
    zone.addresses
        .insert("cut.holt.test".into(), vec!["10.77.0.99".parse().expect("ip")]);
    zone.addresses.insert("big.holt.test".into(), big_answer());
    zone.truncated.push("cut.holt.test".into());
    zone
}

/// Runs the probe in `client` with the client's host name.
fn probe(client: &Netns, args: &[&str], hold: bool) -> anyhow::Result<Process> {
    process::probe(client, CLIENT_HOSTNAME, args, hold)
}

fn start_sniffer(node: &Netns, collector: SocketAddr) -> anyhow::Result<Process> {
    let mapper_url = format!("http://{collector}");
    let args = ["--mapper-url", &mapper_url, "--report-interval", "200ms"];
    sniffer(
        node,
        &[
            &args[..],
            &["--health-bind-address", HEALTH, "--node-name", "test-node"],
        ]
        .concat(),
    )
}

/// Waits until `done` holds for the reports received so far.
fn wait_for(reports: &Reports, what: &str, done: impl Fn(&[Report]) -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if done(&reports.lock().expect("reports")) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "timed out waiting for {what}; reports: {:#?}",
                reports.lock().expect("reports")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The addresses of the name asked over TCP: 200 A records, 3.2 KB, more than one segment in each half
/// the responder writes (a headless Service of 200 pods).
fn big_answer() -> Vec<IpAddr> {
    (1..=200u16)
        .map(|i| ip(&format!("10.77.{}.{}", 1 + i / 250, i % 250)))
        .collect()
}

/// The name in the DNS answer sent behind a hop-by-hop header.
const HOP_BY_HOP_NAME: &str = "web.ns.svc.cluster.local";

fn ip6(s: &str) -> std::net::Ipv6Addr {
    s.parse().expect("ip")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// Malformed frames that pass the kernel filter (UDP from port 53, or so it seems) but not the decoder.
fn malformed_frames() -> Vec<Vec<u8>> {
    let ethernet = |ethertype: u16, payload: &[u8]| {
        let mut frame = vec![0xff; 6];
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x53]);
        frame.extend_from_slice(&ethertype.to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    };
    // IPv4 + UDP from port 53 whose length field (4) is shorter than the UDP header: bad_length.
    let mut bad_udp_length = vec![
        0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 10, 77, 0, 53, 10, 77, 0, 2,
    ];
    bad_udp_length.extend_from_slice(&[0, 53, 0x9c, 0x40, 0, 4, 0, 0]);
    bad_udp_length.extend_from_slice(&[0; 12]);
    // IPv4 header length of 3 words; the "source port" the filter reads at offset 12 is the source
    // address 0.53.0.0: bad_header_length.
    let mut bad_ihl = vec![
        0x43, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 0, 53, 0, 0, 10, 77, 0, 2,
    ];
    bad_ihl.extend_from_slice(&[0; 20]);
    // IPv6 + UDP from port 53 cut inside the UDP header: truncated.
    let mut cut_ipv6 = vec![0x60, 0, 0, 0, 0, 4, 17, 64];
    cut_ipv6.extend_from_slice(&[0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53]);
    cut_ipv6.extend_from_slice(&[0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02]);
    cut_ipv6.extend_from_slice(&[0, 53, 0x9c, 0x40]);
    vec![
        ethernet(0x0800, &bad_udp_length),
        ethernet(0x0800, &bad_ihl),
        ethernet(0x86dd, &cut_ipv6),
    ]
}

#[test]
fn sniffer_reports_real_dns_and_tcp_traffic_in_network_namespaces() -> anyhow::Result<()> {
    let net = topology()?;

    let (dns_socket, dns_listener) = net.netns("dns").within(|| -> std::io::Result<_> {
        Ok((UdpSocket::bind("[::]:53")?, TcpListener::bind("[::]:53")?))
    })??;
    let _dns = dns_responder(dns_socket, zone());
    let _dns_tcp = dns_tcp_responder(dns_listener, zone());
    let (web, long_lived) = net.netns("server").within(|| -> std::io::Result<_> {
        Ok((TcpListener::bind("[::]:8080")?, TcpListener::bind("[::]:9443")?))
    })??;
    let _web = tcp_server(web);
    let _long_lived_server = tcp_server(long_lived);
    let collector_listener = net.node.within(|| TcpListener::bind("127.0.0.1:0"))??;
    let collector = collector_listener.local_addr()?;
    let (_collector, reports) = report_collector(collector_listener);

    // A connection that exists before the sniffer starts: only the socket scan can find it.
    let mut holder = probe(net.netns("client"), &["--connect", "10.77.0.3:9443"], true)?;

    let mut sniffer = start_sniffer(&net.node, collector)?;
    wait_for(&reports, "a first report", |r| !r.is_empty())?;

    // Malformed frames written straight onto the dns namespace's wire, and a truncated DNS response.
    // With them, a DNS answer behind an IPv6 hop-by-hop header: the kernel filter must follow it.
    let mut frames = malformed_frames();
    frames.push(frames::ipv6_dns_answer_after_hop_by_hop(
        ip6("fd77::53"),
        ip6("fd77::2"),
        ip6("fd77::aa"),
    ));
    let sent = net.netns("dns").within(move || -> anyhow::Result<usize> {
        let sender = FrameSender::open("eth0")?;
        let frames: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        Ok(sender.send_all(&frames)?)
    })??;
    assert_eq!(sent, 4);
    let client = net.netns("client");
    probe(
        client,
        &["--dns-server", "10.77.0.53:53", "--name", "cut.holt.test"],
        false,
    )?;

    // Then the traffic to report: DNS over IPv4 and IPv6, TCP over IPv4 and IPv6.
    for (dns_server, web) in [
        ("10.77.0.53:53", "10.77.0.3:8080"),
        ("[fd77::53]:53", "[fd77::3]:8080"),
    ] {
        let call = [
            "--dns-server",
            dns_server,
            "--name",
            "web.holt.test",
            "--connect",
            web,
        ];
        probe(client, &call, false)?;
    }
    // DNS over TCP, the answer in two segments: only reassembly can read it.
    let over_tcp = [
        "--dns-server",
        "10.77.0.53:53",
        "--dns-over-tcp",
        "--name",
        "big.holt.test",
    ];
    probe(client, &over_tcp, false)?;

    let expected_dns = [
        ("10.77.0.2", "10.77.0.3"),
        ("10.77.0.2", "fd77::3"),
        ("fd77::2", "10.77.0.3"),
        ("fd77::2", "fd77::3"),
    ];
    let has_dns = |reports: &[Report], client: &str, address: &str| {
        reports.iter().flat_map(|r| &r.dns).any(|a| {
            a.client_ip == ip(client)
                && a.name == "web.holt.test"
                && a.ip == ip(address)
                && a.ttl_seconds == 30
        })
    };
    let has_connection = |reports: &[Report], src: &str, dst: &str, port: u16, seen_by: SeenBy| {
        reports.iter().flat_map(|r| &r.connections).any(|c| {
            c.src_ip == ip(src)
                && c.dst_ip == ip(dst)
                && c.dst_port == port
                && c.seen_by == seen_by
                && (seen_by == SeenBy::Syn || c.src_hostname.as_deref() == Some(CLIENT_HOSTNAME))
        })
    };
    let has_big_answer = |reports: &[Report]| {
        big_answer().iter().all(|address| {
            reports
                .iter()
                .flat_map(|r| &r.dns)
                .any(|a| a.client_ip == ip("10.77.0.2") && a.name == "big.holt.test" && a.ip == *address)
        })
    };
    let has_hop_by_hop_answer = |reports: &[Report]| {
        reports
            .iter()
            .flat_map(|r| &r.dns)
            .any(|a| a.client_ip == ip("fd77::2") && a.name == HOP_BY_HOP_NAME && a.ip == ip("fd77::aa"))
    };
    wait_for(&reports, "every expected observation", |r| {
        expected_dns
            .iter()
            .all(|(client, address)| has_dns(r, client, address))
            && has_big_answer(r)
            && has_hop_by_hop_answer(r)
            && has_connection(r, "10.77.0.2", "10.77.0.3", 8080, SeenBy::Syn)
            && has_connection(r, "fd77::2", "fd77::3", 8080, SeenBy::Syn)
            && has_connection(r, "10.77.0.2", "10.77.0.3", 9443, SeenBy::SocketScan)
            && r.last()
                .is_some_and(|last| last.counters.decode_errors.values().sum::<u64>() >= 4)
    })?;

    let reports = reports.lock().expect("reports").clone();
    assert!(reports.iter().all(|r| r.node == "test-node"));
    let all_dns: Vec<_> = reports.iter().flat_map(|r| &r.dns).collect();
    // The CNAME chain resolves to the question name, never to an intermediate name; the answer for
    // cut.holt.test was truncated and must not appear.
    assert!(
        all_dns
            .iter()
            .all(|a| ["web.holt.test", "big.holt.test", HOP_BY_HOP_NAME].contains(&a.name.as_str())),
        "{all_dns:#?}"
    );
    // The long-lived connection's SYN happened before the sniffer started.
    assert!(
        !reports
            .iter()
            .flat_map(|r| &r.connections)
            .any(|c| c.dst_port == 9443 && c.seen_by == SeenBy::Syn)
    );

    let counters = &reports.last().expect("a report").counters;
    let errors: &BTreeMap<String, u64> = &counters.decode_errors;
    assert!(errors.get("truncated").copied().unwrap_or(0) >= 2, "{errors:?}");
    assert!(errors.get("bad_length").copied().unwrap_or(0) >= 1, "{errors:?}");
    assert!(
        errors.get("bad_header_length").copied().unwrap_or(0) >= 1,
        "{errors:?}"
    );
    assert_eq!(counters.kernel_drops, 0);
    assert!(counters.packets >= 10, "{counters:?}");

    let metrics = net
        .node
        .within(|| http_get(HEALTH.parse().expect("address"), "/metrics"))??;
    let metric = |line_start: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line_start))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line_start} missing from {metrics}"))
    };
    assert!(metric("holt_sniffer_packets_total ") >= counters.packets);
    assert!(metric("holt_sniffer_decode_errors_total{category=\"bad_length\"} ") >= 1);
    assert!(metric("holt_sniffer_reports_total{result=\"sent\"} ") >= 2);
    assert_eq!(metric("holt_sniffer_kernel_drops_total "), 0);
    // The bridge shows every packet twice: the second sighting of each DNS response is a repeat.
    assert!(metric("holt_sniffer_dns_repeats_total ") >= 1);
    // ... and each segment of the DNS answer over TCP after its first sighting.
    assert!(metric("holt_sniffer_skipped_total{reason=\"tcp_dns_repeat\"} ") >= 1);
    assert!(!metrics.contains("incomplete_tcp_dns") && !metrics.contains("tcp_dns_lost"));
    // The process's own figures, under the names every Prometheus client writes.
    assert!(metric("process_resident_memory_bytes ") > 1 << 20);
    assert!(metric("process_open_fds ") >= 3);
    let health = net
        .node
        .within(|| http_get(HEALTH.parse().expect("address"), "/healthz"))??;
    assert_eq!(health.trim(), "ok");

    // SIGTERM: a last report, then a clean exit.
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&sniffer.0),
        rustix::process::Signal::TERM,
    )?;
    let status = wait_exit(&mut sniffer.0)?;
    assert!(status.success(), "sniffer exited with {status}");

    // Closing its standard input ends the holding probe.
    drop(holder.0.stdin.take());
    let status = holder.0.wait()?;
    assert!(status.success(), "holding probe: {status}");
    Ok(())
}

#[test]
fn a_missing_interface_is_a_clear_error() -> anyhow::Result<()> {
    let node = Netns::create(&format!("holt-sniff-{}-lonely", std::process::id()))?;
    let output = node
        .command(SNIFFER)
        .args(["--interface", "nope0", "--health-bind-address", "127.0.0.1:0"])
        .output()
        .context("running the sniffer")?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("interface \"nope0\" does not exist"), "{stderr}");
    Ok(())
}

fn wait_exit(child: &mut Child) -> anyhow::Result<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        ensure!(
            Instant::now() < deadline,
            "the sniffer did not exit within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The mapper is down when the sniffer starts: reports fail and back off, observations wait in the
/// bounded pending batch (what does not fit is counted), and everything kept arrives once the mapper
/// listens. The traffic is the sniffer's own connection attempts to the mapper and a few more, on the
/// loopback of a namespace of its own.
#[test]
fn observations_wait_for_an_unreachable_mapper() -> anyhow::Result<()> {
    let node = Netns::create(&format!("holt-sniff-{}-retry", std::process::id()))?;
    // A port nobody listens on yet (the namespace is private: nothing else can take it).
    let port = node
        .within(|| TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()))??
        .port();
    let mapper: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mapper_url = format!("http://{mapper}");
    let _sniffer = sniffer(
        &node,
        &[
            "--interface",
            "lo",
            "--enable-socket-scan",
            "false",
            "--max-batch",
            "2",
            "--mapper-url",
            &mapper_url,
            "--report-interval",
            "100ms",
            "--health-bind-address",
            HEALTH,
            "--node-name",
            "retry-node",
        ],
    )?;
    let metric = |name: &str| -> anyhow::Result<u64> {
        let metrics = node.within(|| http_get(HEALTH.parse().expect("address"), "/metrics"))??;
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("{name} missing from {metrics}"))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric("holt_sniffer_reports_total{result=\"failed\"} ").unwrap_or(0) < 2 {
        ensure!(Instant::now() < deadline, "the sniffer never failed to report");
        std::thread::sleep(Duration::from_millis(50));
    }
    // More distinct connection attempts (refused) than the batch holds.
    node.within(move || {
        for offset in 1..=4 {
            let _ = std::net::TcpStream::connect_timeout(
                &SocketAddr::new(mapper.ip(), port.wrapping_add(offset)),
                Duration::from_millis(200),
            );
        }
    })?;
    std::thread::sleep(Duration::from_millis(300));

    let listener = node.within(move || TcpListener::bind(mapper))??;
    let (_collector, reports) = report_collector(listener);
    wait_for(&reports, "a report after the outage", |r| !r.is_empty())?;
    let first = reports.lock().expect("reports")[0].clone();
    assert_eq!(first.node, "retry-node");
    assert_eq!(first.connections.len(), 2, "the batch holds two: {first:#?}");
    assert!(
        first
            .connections
            .iter()
            .any(|c| c.dst_port == port && c.seen_by == SeenBy::Syn),
        "the sniffer's own first attempt to the mapper, seen during the outage: {first:#?}"
    );
    assert!(first.counters.report_drops >= 3, "{:?}", first.counters);
    assert!(metric("holt_sniffer_reports_total{result=\"sent\"} ")? >= 1);
    Ok(())
}
