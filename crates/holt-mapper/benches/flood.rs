//! The flood of issue 12, side by side: `holt-mapper` processes against a real kube-apiserver, each sent
//! 100,000 reports of 10 new public addresses from one client pod (a million new internet destinations),
//! over HTTP as a sniffer would.
//!
//! For each mapper: the flood's duration, the intents kept, resident memory after it, its peak up to the
//! end of the flood and at the end (listing included), the time to list every intent (`GET
//! /v1/intents`), the state directory's size, how long after the last report it was on disk, how long
//! one more change takes to be on disk (snapshot interval included) and to write, and the restart time
//! (to `/readyz` with every intent back).
//!
//! Mappers: `baseline` (the binary in `HOLT_BENCH_BASELINE`, if set: a build from before the bounds),
//! `current` (this build, default flags) and `unbounded` (this build with the store's bounds lifted, so
//! that it keeps a million intents: the intent log at that size).
//!
//! `cargo bench -p holt-mapper --bench flood` (release); under `cargo test --all-targets` one small run
//! checks that it works. `HOLT_BENCH_REPORTS` sets the number of reports, `HOLT_BENCH_MAPPERS` (a comma
//! list of the names above) which mappers run.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use holt_mapper::shared::now_ms;
use holt_testenv::{ControlPlane, deployment_with_pod_ips};
use support::{Mapper, connections_report, newest_write, public_address};

const CLIENT_IP: &str = "10.246.0.1";
const PER_REPORT: u32 = 10;

/// An environment variable of the mapper, and its value.
type Setting = (&'static str, &'static str);

const UNBOUNDED: [Setting; 4] = [
    ("HOLT_MAPPER_MAX_INTENTS", "100000000"),
    ("HOLT_MAPPER_MAX_INTENTS_PER_CLIENT", "100000000"),
    ("HOLT_MAPPER_MAX_INTERNET_TARGETS_PER_CLIENT", "100000000"),
    ("HOLT_MAPPER_GROUP_INTERNET_ADDRESSES_AFTER", "100000000"),
];

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// How long after `since` everything the mapper had then was on disk (polled every 20 ms, at most
/// `limit`): its intent log written or found up to date after `since` (its metric), or, for a mapper
/// without one (the baseline, which rewrites its snapshot on every change), a write in its state
/// directory after `since`.
async fn durable_after(mapper: &Mapper, dir: &Path, since: SystemTime, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let elapsed = since.elapsed().ok()?;
        match mapper.metric("holt_mapper_intent_log_age_milliseconds") {
            Ok(age_ms) if u128::from(age_ms) < elapsed.as_millis() => return Some(elapsed),
            Ok(_) => {}
            Err(_) if newest_write(dir).is_some_and(|written| written > since) => return Some(elapsed),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

struct Row {
    name: &'static str,
    flood: Duration,
    intents: u64,
    rss_mib: u64,
    /// Peak resident memory up to the end of the flood (before the listing).
    flood_peak_mib: u64,
    /// Peak resident memory at the end (the listing included).
    peak_mib: u64,
    list: Duration,
    disk_mb: f64,
    durable: Option<Duration>,
    change: Option<Duration>,
    /// The write of that change alone (the intent log's metric; a mapper without it: unknown).
    change_write: Option<Duration>,
    restart: Duration,
}

async fn run(
    plane: &ControlPlane,
    name: &'static str,
    binary: &Path,
    extra: &[(&str, &str)],
    reports: u32,
) -> anyhow::Result<Row> {
    let state = tempfile::tempdir()?;
    let (mapper, _) = Mapper::start_binary(binary, plane, state.path(), extra).await?;
    let started = Instant::now();
    let mut next = 0u32;
    for _ in 0..reports {
        let seen = now_ms();
        mapper.report(&connections_report(
            CLIENT_IP,
            (next..next + PER_REPORT).map(public_address),
            seen,
        ))?;
        next += PER_REPORT;
    }
    let flood = started.elapsed();
    let flood_end = SystemTime::now();
    let durable = durable_after(&mapper, state.path(), flood_end, Duration::from_secs(300)).await;
    let (_, flood_peak) = mapper.memory_kib();
    let started = Instant::now();
    let (_, listing) = mapper.get("/v1/intents")?;
    let list = started.elapsed();
    let intents = serde_json::from_str::<Vec<serde_json::Value>>(&listing)?.len() as u64;
    drop(listing);
    // One change more (the first destination seen again: every mapper keeps that one), once the
    // directory is quiet.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let before_change = SystemTime::now();
    mapper.report(&connections_report(CLIENT_IP, [public_address(0)], now_ms()))?;
    let change = durable_after(&mapper, state.path(), before_change, Duration::from_secs(300)).await;
    let change_write = mapper
        .metric("holt_mapper_intent_log_last_write_microseconds")
        .ok()
        .map(Duration::from_micros);
    let (rss, peak) = mapper.memory_kib();
    let disk_mb = dir_bytes(state.path()) as f64 / 1e6;
    mapper.stop().await?;
    let (mapper, restart) = Mapper::start_binary(binary, plane, state.path(), extra).await?;
    let (_, listing) = mapper.get("/v1/intents")?;
    let restored = serde_json::from_str::<Vec<serde_json::Value>>(&listing)?.len() as u64;
    anyhow::ensure!(
        restored >= intents,
        "{name}: {restored} intents after the restart, {intents} before"
    );
    mapper.stop().await?;
    Ok(Row {
        name,
        flood,
        intents,
        rss_mib: rss / 1024,
        flood_peak_mib: flood_peak / 1024,
        peak_mib: peak / 1024,
        list,
        disk_mb,
        durable,
        change,
        change_write,
        restart,
    })
}

fn seconds(d: Option<Duration>) -> String {
    d.map_or("never".to_owned(), |d| format!("{:.2}", d.as_secs_f64()))
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let full = std::env::args().any(|a| a == "--bench");
    let reports: u32 = std::env::var("HOLT_BENCH_REPORTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full { 100_000 } else { 200 });
    let current = PathBuf::from(env!("CARGO_BIN_EXE_holt-mapper"));
    let mut mappers: Vec<(&'static str, PathBuf, &[Setting])> = Vec::new();
    if let Some(baseline) = std::env::var_os("HOLT_BENCH_BASELINE") {
        mappers.push(("baseline", PathBuf::from(baseline), &[]));
    }
    mappers.push(("current", current.clone(), &[]));
    mappers.push(("unbounded", current, &UNBOUNDED));
    // HOLT_BENCH_MAPPERS=current,unbounded runs only those.
    if let Ok(only) = std::env::var("HOLT_BENCH_MAPPERS") {
        let only: Vec<&str> = only.split(',').map(str::trim).collect();
        mappers.retain(|(name, _, _)| only.contains(name));
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let rows = runtime.block_on(async {
        let plane = ControlPlane::shared().await?;
        let client = plane.client().await?;
        let ns = plane.create_namespace(&client, "mapper-flood-bench").await?;
        deployment_with_pod_ips(&client, &ns, "crawler", &[CLIENT_IP]).await?;
        let mut rows = Vec::new();
        for (name, binary, extra) in &mappers {
            let row = run(plane, name, binary, extra, reports).await?;
            eprintln!("{name} done");
            rows.push(row);
        }
        anyhow::Ok(rows)
    })?;
    println!(
        "{} reports of {PER_REPORT} new public addresses each, one client\n\
         mapper     flood_s  intents    rss_mib  flood_peak_mib  peak_mib  list_s  disk_mb  on_disk_after_s  change_on_disk_s  change_write_ms  restart_s",
        reports
    );
    for row in rows {
        println!(
            "{:<10} {:<8.1} {:<10} {:<8} {:<15} {:<9} {:<7.2} {:<8.1} {:<16} {:<17} {:<16} {:.2}",
            row.name,
            row.flood.as_secs_f64(),
            row.intents,
            row.rss_mib,
            row.flood_peak_mib,
            row.peak_mib,
            row.list.as_secs_f64(),
            row.disk_mb,
            seconds(row.durable),
            seconds(row.change),
            row.change_write
                .map_or("-".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1e3)),
            row.restart.as_secs_f64()
        );
    }
    Ok(())
}
