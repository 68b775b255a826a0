//! Capture throughput on veth traffic, the sniffer side by side with `tcpdump -w /dev/null` and the same
//! kernel filter. Run as root: `cargo bench -p holt-sniffer --bench capture`.
//!
//! A network namespace made for the run holds a veth pair `gen0` ↔ `cap0`. A generator thread writes
//! pre-built Ethernet frames into `gen0` with `sendmmsg` on an `AF_PACKET` socket (half DNS answers — a
//! CNAME and two A records, or one AAAA — and half TCP SYNs, IPv4 and IPv6, from 256 clients), paced to
//! an offered rate. The capturer (the `holt-sniffer` binary, or tcpdump) listens on `cap0` only. For
//! each offered rate it reports packets captured, kernel drops, and the capturer's CPU time
//! (utime + stime from `/proc/<pid>/stat`), hence packets per CPU-second.
//!
//! What the CPU time covers: the capturer's own process. The kernel's share (veth delivery, the BPF
//! filter, copying into the ring) runs in the generator's softirq context for both capturers alike, and
//! the generator competes with the capturer for the machine's cores.
//!
//! Three capturers: the sniffer; `tcpdump -w /dev/null` (copies each packet out, decodes nothing: the
//! target's yardstick); and `tcpdump` printing each packet as text to `/dev/null` (decodes every
//! packet and writes something for it, as the sniffer must for a packet it has not seen before).
//!
//! A third traffic, `http`, mixes the repeating DNS answers and SYNs with HTTP: a quarter of the frames
//! are HTTP/1.1 requests (IPv4 and IPv6), a quarter other TCP data (responses, bare ACKs). On it the
//! sniffer runs twice, with HTTP recognition on (the default) and off (`--enable-http false`), side by
//! side with `tcpdump -w`; the table gives the CPU per packet captured and per packet sent.
//!
//! Environment: `HOLT_BENCH_RATES` (packets/s, comma-separated; 0 = as fast as the generator can),
//! `HOLT_BENCH_SECONDS` (per run, default 3).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use holt_sniffer::capture::FrameSender;
use holt_sniffer::filter::TCPDUMP_EXPRESSION;
use support::frames::{frames, http_frames};
use support::netns::{Netns, veth};
use support::servers::{http_get, report_collector};

const SNIFFER: &str = env!("CARGO_BIN_EXE_holt-sniffer");
const HEALTH: &str = "127.0.0.1:9092";
/// Both capturers get the same ring memory: 16 blocks of 1 MiB, and tcpdump `-B 16384` (KiB).
const RING_BLOCKS: &str = "16";
const TCPDUMP_BUFFER_KIB: &str = "16384";

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` asks for a listing; there are no named benchmarks.
        return Ok(());
    }
    // `cargo bench` passes `--bench`; under `cargo test --all-targets` one short run checks that it works.
    let benching = std::env::args().any(|a| a == "--bench");
    let env = |name: &str, default: &str, smoke: &str| {
        std::env::var(name).unwrap_or_else(|_| if benching { default } else { smoke }.to_owned())
    };
    let rates: Vec<u64> = env("HOLT_BENCH_RATES", "300000,0", "100000")
        .split(',')
        .map(|r| r.trim().parse().context("HOLT_BENCH_RATES"))
        .collect::<anyhow::Result<_>>()?;
    let seconds: f64 = env("HOLT_BENCH_SECONDS", "5", "0.5")
        .parse()
        .context("HOLT_BENCH_SECONDS")?;
    let repeats: usize = env("HOLT_BENCH_REPEATS", "3", "1")
        .parse()
        .context("HOLT_BENCH_REPEATS")?;
    let traffics: Vec<String> = env(
        "HOLT_BENCH_TRAFFIC",
        "repeating,unique,http",
        "repeating,unique,http",
    )
    .split(',')
    .map(str::to_owned)
    .collect();
    let ticks = clock_ticks()?;
    let netns = Netns::create(&format!("holt-bench-{}", std::process::id()))?;
    veth(&netns, "gen0", &netns, "cap0")?;
    // The sniffer reports to a collector in the namespace, so its reporting cost is measured too.
    let listener = netns.within(|| std::net::TcpListener::bind("127.0.0.1:0"))??;
    let collector = listener.local_addr()?;
    let (_collector, _reports) = report_collector(listener);
    let setup = Setup {
        netns: &netns,
        collector,
        seconds,
        ticks,
    };
    println!("filter: {TCPDUMP_EXPRESSION}");
    println!("{repeats} runs of {seconds} s per line; the ratio is of the median CPU per packet");
    for traffic in &traffics {
        let (frames, interval) = match traffic.as_str() {
            // 1,024 frames cycled, reports every second: every DNS answer and SYN repeats hundreds of
            // times per report, as on a node whose pods keep calling the same services.
            "repeating" => (frames(1), "1s"),
            // 65,536 frames, reports every 200 ms: at 300,000 packets/s each DNS answer and SYN key is
            // new to its report (the caches never hit); every report carries ~60,000 observations.
            "unique" => (frames(64), "200ms"),
            // The repeating frames with as many HTTP frames interleaved (1,024 of each), reports every
            // second.
            "http" => {
                let (dns_and_syns, http) = (frames(1), http_frames(1));
                let mixed = dns_and_syns
                    .into_iter()
                    .zip(http)
                    .flat_map(|(a, b)| [a, b])
                    .collect();
                (mixed, "1s")
            }
            other => bail!("HOLT_BENCH_TRAFFIC: unknown traffic {other:?} (repeating, unique, http)"),
        };
        let (capturers, what): (&[Capturer], &str) = if traffic == "http" {
            (
                &[Capturer::Sniffer, Capturer::SnifferHttpOff, Capturer::Tcpdump],
                "a quarter DNS answers, a quarter SYNs, a quarter HTTP requests, a quarter other TCP data",
            )
        } else {
            (
                &[Capturer::Sniffer, Capturer::Tcpdump, Capturer::TcpdumpText],
                "half DNS answers, half SYNs",
            )
        };
        println!(
            "\ntraffic {traffic}: {} distinct frames ({what}; half IPv4, half IPv6), {:?} bytes",
            frames.len(),
            frame_sizes(&frames)
        );
        println!(
            "{:<12} {:>10} {:>12} {:>12} {:>8} {:>9} {:>14} {:>12} {:>9}",
            "capturer",
            "offered/s",
            "sent/s",
            "captured",
            "drops",
            "cpu s",
            "pkts/cpu-s",
            "ns/packet",
            "ns/sent"
        );
        for &rate in &rates {
            let mut per_packet: Vec<Vec<f64>> = vec![Vec::new(); capturers.len()];
            let mut per_sent: Vec<Vec<f64>> = vec![Vec::new(); capturers.len()];
            for _ in 0..repeats {
                for (n, &capturer) in capturers.iter().enumerate() {
                    let run = run(&setup, capturer, interval, &frames, rate)
                        .with_context(|| format!("{capturer:?} at {rate}/s"))?;
                    let ns = run.cpu_seconds / run.captured.max(1) as f64 * 1e9;
                    let ns_sent = run.cpu_seconds / run.sent.max(1) as f64 * 1e9;
                    println!(
                        "{:<12} {:>10} {:>12.0} {:>12} {:>8} {:>9.2} {:>14.0} {:>12.0} {:>9.1}",
                        capturer.name(),
                        if rate == 0 {
                            "max".to_owned()
                        } else {
                            rate.to_string()
                        },
                        run.sent as f64 / run.elapsed,
                        run.captured,
                        run.drops,
                        run.cpu_seconds,
                        run.captured as f64 / run.cpu_seconds.max(1.0 / ticks),
                        ns,
                        ns_sent,
                    );
                    per_packet[n].push(ns);
                    per_sent[n].push(ns_sent);
                }
            }
            let medians: Vec<(f64, f64)> = per_packet
                .into_iter()
                .map(median)
                .zip(per_sent.into_iter().map(median))
                .collect();
            if let [(sniffer, _), (tcpdump, _), (text, _)] = medians[..]
                && traffic != "http"
            {
                println!(
                    "{:<10} median CPU per packet: sniffer {sniffer:.0} ns, tcpdump {tcpdump:.0} ns (ratio {:.2}), \
                     tcpdump text {text:.0} ns (ratio {:.2})",
                    "",
                    sniffer / tcpdump,
                    sniffer / text
                );
            } else {
                let line: Vec<String> = capturers
                    .iter()
                    .zip(&medians)
                    .map(|(capturer, (captured, sent))| {
                        format!("{} {captured:.0} ns/captured, {sent:.1} ns/sent", capturer.name())
                    })
                    .collect();
                println!("{:<10} median CPU per packet: {}", "", line.join("; "));
            }
        }
    }
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

#[derive(Debug, Clone, Copy)]
enum Capturer {
    Sniffer,
    /// The sniffer with `--enable-http false`.
    SnifferHttpOff,
    /// `tcpdump -w /dev/null`.
    Tcpdump,
    /// `tcpdump` printing every packet, to `/dev/null`.
    TcpdumpText,
}

impl Capturer {
    fn name(self) -> &'static str {
        match self {
            Capturer::Sniffer => "sniffer",
            Capturer::SnifferHttpOff => "sniffer-nohttp",
            Capturer::Tcpdump => "tcpdump",
            Capturer::TcpdumpText => "tcpdump-text",
        }
    }
}

struct Run {
    sent: u64,
    elapsed: f64,
    captured: u64,
    drops: u64,
    cpu_seconds: f64,
}

/// A capturer process, killed on drop, with tcpdump's standard error lines.
struct Process {
    child: Child,
    lines: Option<mpsc::Receiver<String>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What every run shares.
struct Setup<'a> {
    netns: &'a Netns,
    collector: std::net::SocketAddr,
    seconds: f64,
    ticks: f64,
}

fn run(
    setup: &Setup<'_>,
    capturer: Capturer,
    report_interval: &str,
    frames: &[Vec<u8>],
    rate: u64,
) -> anyhow::Result<Run> {
    let Setup {
        netns,
        collector,
        seconds,
        ticks,
    } = *setup;
    let mut process = match capturer {
        Capturer::Sniffer | Capturer::SnifferHttpOff => {
            let http = if matches!(capturer, Capturer::Sniffer) {
                "true"
            } else {
                "false"
            };
            let child = netns
                .command(SNIFFER)
                .args([
                    "--interface",
                    "cap0",
                    "--enable-socket-scan",
                    "false",
                    "--enable-http",
                    http,
                ])
                .args(["--ring-blocks", RING_BLOCKS, "--health-bind-address", HEALTH])
                .args([
                    "--mapper-url",
                    &format!("http://{collector}"),
                    "--report-interval",
                    report_interval,
                    "--node-name",
                    "bench",
                ])
                .env("RUST_LOG", "error")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting the sniffer")?;
            let process = Process { child, lines: None };
            wait_until(|| netns.within(|| http_get(HEALTH.parse().expect("address"), "/healthz").is_ok()))?;
            process
        }
        Capturer::Tcpdump | Capturer::TcpdumpText => {
            let output: &[&str] = match capturer {
                Capturer::TcpdumpText => &[],
                _ => &["-w", "/dev/null"],
            };
            let mut child = netns
                .command("tcpdump")
                .args(["-i", "cap0", "-n", "-p", "-B", TCPDUMP_BUFFER_KIB])
                .args(output)
                .arg(TCPDUMP_EXPRESSION)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .context("starting tcpdump (apt-get install tcpdump)")?;
            let stderr = child.stderr.take().context("tcpdump stderr")?;
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            let process = Process {
                child,
                lines: Some(rx),
            };
            loop {
                let lines = process.lines.as_ref().context("tcpdump output")?;
                let line = lines
                    .recv_timeout(Duration::from_secs(10))
                    .context("tcpdump did not start")?;
                if line.contains("listening on") {
                    break;
                }
            }
            process
        }
    };
    let pid = process.child.id();
    let before_counts = counts(netns, capturer, &mut process, false)?;
    let before_cpu = cpu_seconds(pid, ticks)?;
    let frames: Vec<Vec<u8>> = frames.to_vec();
    let (sent, elapsed) = netns.within(move || generate(&frames, rate, seconds))??;
    std::thread::sleep(Duration::from_millis(500));
    let after_cpu = cpu_seconds(pid, ticks)?;
    let after_counts = counts(netns, capturer, &mut process, true)?;
    Ok(Run {
        sent,
        elapsed,
        captured: after_counts.0 - before_counts.0,
        drops: after_counts.1 - before_counts.1,
        cpu_seconds: after_cpu - before_cpu,
    })
}

/// (captured, dropped) so far. tcpdump tells only at exit: at the end it is stopped with SIGINT and its
/// summary read; before, it has captured nothing (the traffic has not started).
fn counts(netns: &Netns, capturer: Capturer, process: &mut Process, end: bool) -> anyhow::Result<(u64, u64)> {
    match capturer {
        Capturer::Sniffer | Capturer::SnifferHttpOff => {
            let metrics = netns.within(|| http_get(HEALTH.parse().expect("address"), "/metrics"))??;
            let value = |name: &str| {
                metrics
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .with_context(|| format!("{name} missing from the metrics"))
            };
            Ok((
                value("holt_sniffer_packets_total ")?,
                value("holt_sniffer_kernel_drops_total ")?,
            ))
        }
        Capturer::Tcpdump | Capturer::TcpdumpText if !end => Ok((0, 0)),
        Capturer::Tcpdump | Capturer::TcpdumpText => {
            rustix::process::kill_process(
                rustix::process::Pid::from_child(&process.child),
                rustix::process::Signal::INT,
            )?;
            let _ = process.child.wait();
            let lines = process.lines.take().context("tcpdump output")?;
            let (mut captured, mut dropped) = (None, None);
            while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
                let number = line.split_whitespace().next().and_then(|n| n.parse::<u64>().ok());
                if line.ends_with("packets captured") {
                    captured = number;
                } else if line.ends_with("packets dropped by kernel") {
                    dropped = number;
                }
            }
            Ok((
                captured.context("no capture count from tcpdump")?,
                dropped.context("no drop count from tcpdump")?,
            ))
        }
    }
}

fn wait_until(mut ready: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if ready()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("the capturer did not become ready within 10 s")
}

/// Sends frames round-robin at `rate` per second (0: unpaced) for `seconds`; returns (sent, elapsed).
fn generate(frames: &[Vec<u8>], rate: u64, seconds: f64) -> anyhow::Result<(u64, f64)> {
    let sender = FrameSender::open("gen0")?;
    let slices: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let burst = 256usize;
    let start = Instant::now();
    let mut sent = 0u64;
    let mut next = 0usize;
    let mut batch: Vec<&[u8]> = Vec::with_capacity(burst);
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= seconds {
            return Ok((sent, elapsed));
        }
        if rate > 0 {
            let due = (elapsed * rate as f64) as u64;
            if sent >= due {
                std::thread::sleep(Duration::from_micros(100));
                continue;
            }
        }
        batch.clear();
        for _ in 0..burst {
            batch.push(slices[next]);
            next = (next + 1) % slices.len();
        }
        sent += sender.send_all(&batch)? as u64;
    }
}

fn cpu_seconds(pid: u32, ticks: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("utime")?.parse()?;
    let stime: f64 = fields.get(12).context("stime")?.parse()?;
    Ok((utime + stime) / ticks)
}

fn clock_ticks() -> anyhow::Result<f64> {
    let output = support::netns::run("getconf", &["CLK_TCK"])?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().parse()?)
}

fn frame_sizes(frames: &[Vec<u8>]) -> (usize, usize) {
    let sizes = frames.iter().map(Vec::len);
    (sizes.clone().min().unwrap_or(0), sizes.max().unwrap_or(0))
}
