//! The `holt-mapper` binary under hostile load, against a real kube-apiserver: idle, slow and excess
//! connections are closed within the stated timeouts; a flood of new internet destinations and DNS
//! answers stays within the store's bounds (memory stated in the output); a large store is written
//! incrementally (a change in milliseconds) and read back at restart within seconds.
//!
//! `HOLT_MAPPER_UNDER_TEST=/path/to/holt-mapper` runs these against another build (the one before the
//! bounds, say: every test here fails on it). Settings are passed as environment variables, which an
//! older build ignores.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use holt_mapper::shared::now_ms;
use holt_testenv::{ControlPlane, deployment_with_pod_ips};
use support::{Mapper, connections_report, dns_report, newest_write, public_address};

/// Reads until the peer closes the connection (or resets it); how long that took, or `None` if it
/// was still open after `limit`.
fn time_to_close(mut stream: &TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if started.elapsed() >= limit {
                    return None;
                }
            }
            Err(_) => return Some(started.elapsed()),
        }
    }
}

/// Each file of `dir`: (name, inode, size).
fn files(dir: &Path) -> Vec<(std::ffi::OsString, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let meta = e.metadata().ok()?;
                    Some((e.file_name(), meta.ino(), meta.len()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Bytes written between two listings: a file that is new (or replaced: another inode) counts whole,
/// one that grew counts what it grew.
fn bytes_written(before: &[(std::ffi::OsString, u64, u64)], after: &[(std::ffi::OsString, u64, u64)]) -> u64 {
    after
        .iter()
        .map(
            |(name, inode, size)| match before.iter().find(|(old_name, _, _)| old_name == name) {
                Some((_, old_inode, old_size)) if old_inode == inode => size.saturating_sub(*old_size),
                _ => *size,
            },
        )
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_slow_and_excess_connections_are_closed_within_the_timeouts() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let state = tempfile::tempdir()?;
    let (mapper, _) = Mapper::start(
        plane,
        state.path(),
        &[
            ("HOLT_MAPPER_IDLE_TIMEOUT_MS", "1000"),
            ("HOLT_MAPPER_HEADER_TIMEOUT_MS", "1000"),
            ("HOLT_MAPPER_REQUEST_TIMEOUT_MS", "2000"),
            ("HOLT_MAPPER_MAX_CONNECTIONS", "16"),
        ],
    )
    .await?;
    let address = mapper.address;
    let sniffer = mapper.callers.sniffer.clone();
    let results = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<(&'static str, Option<Duration>)>> {
        let mut results = Vec::new();
        // Opened, never used.
        let idle = TcpStream::connect(address)?;
        results.push(("idle", time_to_close(&idle, Duration::from_secs(10))));

        // A request head sent a byte every 200 ms.
        let slow_head = TcpStream::connect(address)?;
        let mut writer = slow_head.try_clone()?;
        let trickle = std::thread::spawn(move || {
            for byte in b"GET /healthz HTTP/1.1\r\nhost: mapper\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
                if writer.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        results.push(("header", time_to_close(&slow_head, Duration::from_secs(10))));
        let _ = trickle.join();

        // A report whose body trickles: answered 408 at the request timeout.
        let mut slow_body = TcpStream::connect(address)?;
        write!(
            slow_body,
            "POST /v1/reports HTTP/1.1\r\nhost: mapper\r\nauthorization: Bearer {sniffer}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{{"
        )?;
        let mut writer = slow_body.try_clone()?;
        let trickle = std::thread::spawn(move || {
            for _ in 0..100 {
                if writer.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let started = Instant::now();
        slow_body.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut answer = [0u8; 12];
        let read = slow_body.read(&mut answer).unwrap_or(0);
        let text = String::from_utf8_lossy(&answer[..read]).into_owned();
        anyhow::ensure!(text.starts_with("HTTP/1.1 408"), "the trickled report was answered {text:?}");
        results.push(("request", Some(started.elapsed())));
        drop(slow_body);
        let _ = trickle.join();

        // A request head longer than a connection buffers.
        let mut big_head = TcpStream::connect(address)?;
        let long = "a".repeat(70 * 1024);
        let _ = write!(big_head, "GET /healthz HTTP/1.1\r\nhost: mapper\r\nx-long: {long}\r\n\r\n");
        big_head.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut answer = [0u8; 12];
        let read = big_head.read(&mut answer).unwrap_or(0);
        let text = String::from_utf8_lossy(&answer[..read]).into_owned();
        anyhow::ensure!(text.starts_with("HTTP/1.1 431"), "a 70 KiB head was answered {text:?}");
        drop(big_head);

        // Keep-alive: one request answered, then nothing.
        let mut kept = TcpStream::connect(address)?;
        write!(kept, "GET /healthz HTTP/1.1\r\nhost: mapper\r\n\r\n")?;
        let mut response = [0u8; 256];
        let _ = kept.read(&mut response)?;
        results.push(("keep-alive idle", time_to_close(&kept, Duration::from_secs(10))));

        // More connections than the limit, all at once: those past it are closed at once.
        let many: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(address)).collect::<Result<_, _>>()?;
        std::thread::sleep(Duration::from_millis(300));
        let closed_at_once = many
            .iter()
            .filter(|stream| time_to_close(stream, Duration::from_millis(50)).is_some())
            .count();
        anyhow::ensure!(
            closed_at_once >= 40 - 16,
            "{closed_at_once} of 40 connections closed at once with --max-connections 16"
        );
        let kept_open: Vec<&TcpStream> = many
            .iter()
            .filter(|stream| time_to_close(stream, Duration::from_millis(10)).is_none())
            .collect();
        let mut latest = Duration::ZERO;
        for stream in kept_open {
            let closed = time_to_close(stream, Duration::from_secs(10)).context("an idle connection never closed")?;
            latest = latest.max(closed);
        }
        results.push(("excess, idle", Some(latest)));
        Ok(results)
    })
    .await??;
    for (what, closed) in &results {
        eprintln!("{what}: closed after {closed:?}");
    }
    let bound = |what: &str, max: Duration| {
        let closed = results
            .iter()
            .find(|(name, _)| *name == what)
            .and_then(|(_, closed)| *closed);
        assert!(
            closed.is_some_and(|closed| closed <= max),
            "{what}: closed after {closed:?}, more than {max:?}"
        );
    };
    // Each timeout plus scheduling slack.
    bound("idle", Duration::from_millis(1_800));
    bound("header", Duration::from_millis(1_800));
    bound("request", Duration::from_millis(2_800));
    bound("keep-alive idle", Duration::from_millis(1_800));
    bound("excess, idle", Duration::from_millis(1_800));
    assert!(mapper.metric("holt_mapper_connections_refused_total")? >= 24);
    assert!(mapper.metric("holt_mapper_connections_timed_out_total{phase=\"idle\"}")? >= 2);
    assert!(mapper.metric("holt_mapper_connections_timed_out_total{phase=\"header\"}")? >= 1);
    // The mapper still answers.
    assert_eq!(mapper.get("/healthz")?.0, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_new_internet_destinations_and_names_stays_within_the_bounds() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    let ns = plane.create_namespace(&client, "mapper-flood").await?;
    let sources = ["10.245.7.1", "10.245.7.2", "10.245.7.3"];
    for (i, ip) in sources.iter().enumerate() {
        deployment_with_pod_ips(&client, &ns, &format!("client-{i}"), &[ip]).await?;
    }
    let state = tempfile::tempdir()?;
    let (mapper, _) =
        Mapper::start(plane, state.path(), &[("HOLT_MAPPER_MAX_DNS_ADDRESSES", "20000")]).await?;
    let (rss_before, _) = mapper.memory_kib();
    // The flood in shape (reports of new public addresses), 150,000 addresses in all, and as
    // many DNS answers for names never seen again.
    let started = Instant::now();
    let mut next = 0u32;
    for round in 0..150 {
        let src = sources[round % sources.len()];
        let seen = now_ms();
        mapper.report(&connections_report(
            src,
            (next..next + 1_000).map(public_address),
            seen,
        ))?;
        let names = (next..next + 1_000).map(|n| (format!("n{n}.flood.example"), public_address(n)));
        mapper.report(&dns_report(src, names, seen))?;
        next += 1_000;
    }
    let flood_time = started.elapsed();
    let intents = mapper.metric("holt_mapper_intents")?;
    let (rss, peak) = mapper.memory_kib();
    let (_, listing) = mapper.get(&format!("/v1/intents?namespace={ns}"))?;
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listing)?;
    eprintln!(
        "flood of 300,000 observations in {flood_time:?}: {intents} intents; RSS {} MiB before, {} MiB \
         after, peak {} MiB",
        rss_before / 1024,
        rss / 1024,
        peak / 1024
    );
    // Three clients, 500 internet targets each (--max-internet-targets-per-client), and a few in-cluster.
    assert!(intents <= 3 * 500, "{intents} intents");
    let dns = mapper.metric("holt_mapper_dns_addresses")?;
    let refused = mapper.metric("holt_mapper_intents_refused_total{reason=\"internet_full\"}")?;
    let grouped = mapper.metric("holt_mapper_internet_addresses_grouped_total")?;
    let forgotten = mapper.metric("holt_mapper_dns_addresses_forgotten_total")?;
    eprintln!(
        "{dns} DNS answers kept, {refused} new internet targets refused, {grouped} addresses grouped, \
         {forgotten} DNS answers forgotten"
    );
    assert_eq!(listed.len() as u64, intents);
    assert!(refused > 0 && grouped > 0);
    assert!(dns <= 20_000, "{dns} DNS answers");
    assert!(forgotten >= 130_000, "{forgotten} forgotten");
    // Grouped addresses are listed as their network.
    assert!(
        listing.contains(".0/24\""),
        "{}",
        &listing[..listing.len().min(2_000)]
    );
    // Nothing grows with the flood: a debug build, the whole process.
    assert!(peak < 300 * 1024, "peak RSS {} MiB", peak / 1024);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_store_is_written_change_by_change_and_restarts_within_seconds() -> anyhow::Result<()> {
    const INTENTS: u32 = 300_000;
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    let ns = plane.create_namespace(&client, "mapper-large").await?;
    deployment_with_pod_ips(&client, &ns, "crawler", &["10.245.8.1"]).await?;
    let state = tempfile::tempdir()?;
    let unbounded = [
        ("HOLT_MAPPER_MAX_INTENTS", "10000000"),
        ("HOLT_MAPPER_MAX_INTENTS_PER_CLIENT", "10000000"),
        ("HOLT_MAPPER_MAX_INTERNET_TARGETS_PER_CLIENT", "10000000"),
        ("HOLT_MAPPER_GROUP_INTERNET_ADDRESSES_AFTER", "10000000"),
    ];
    let (mapper, _) = Mapper::start(plane, state.path(), &unbounded).await?;
    for start in (0..INTENTS).step_by(15_000) {
        mapper.report(&connections_report(
            "10.245.8.1",
            (start..start + 15_000).map(public_address),
            now_ms(),
        ))?;
    }
    assert_eq!(mapper.metric("holt_mapper_intents")?, u64::from(INTENTS));
    // Written: nothing more to write for a while (every write that was due has happened).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut quiet_since = Instant::now();
    let mut last = newest_write(state.path());
    while quiet_since.elapsed() < Duration::from_secs(2) {
        anyhow::ensure!(Instant::now() < deadline, "the state directory never settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = newest_write(state.path());
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
    // One change more: on disk within the snapshot interval (200 ms) and the write itself, and what
    // is written is in proportion to the change, not to the store.
    let files_before = files(state.path());
    let before = SystemTime::now();
    mapper.report(&connections_report("10.245.8.1", [public_address(7)], now_ms()))?;
    let on_disk = loop {
        if newest_write(state.path()).is_some_and(|written| written > before) {
            break before.elapsed()?;
        }
        anyhow::ensure!(Instant::now() < deadline, "the change was never written");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // The write may still be under way when its file's time changes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = bytes_written(&files_before, &files(state.path()));
    let change_us = mapper
        .metric("holt_mapper_intent_log_last_write_microseconds")
        .unwrap_or(0);
    let disk_bytes: u64 = std::fs::read_dir(state.path())?
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let (_, peak) = mapper.memory_kib();
    mapper.stop().await?;
    let (mapper, restart) = Mapper::start(plane, state.path(), &unbounded).await?;
    let restored = mapper.metric("holt_mapper_intents")?;
    eprintln!(
        "{INTENTS} intents: a one-intent change on disk {on_disk:?} after its report, {written} bytes \
         written (the write itself {change_us} µs); state {} MB; peak RSS {} MiB; restart to ready in \
         {restart:?} with {restored} intents",
        disk_bytes / 1_000_000,
        peak / 1024
    );
    assert_eq!(restored, u64::from(INTENTS));
    assert!(written < 64 * 1024, "a one-intent change wrote {written} bytes");
    assert!(
        on_disk < Duration::from_millis(700),
        "a change took {on_disk:?} to be on disk"
    );
    assert!(restart < Duration::from_secs(15), "restart took {restart:?}");
    Ok(())
}
