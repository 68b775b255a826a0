//! `holt-sniffer`: parses the flags, opens the capture socket, runs the capture thread, the reporter and
//! the health server until SIGTERM or SIGINT, then flushes one last report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use holt_sniffer::args::Args;
use holt_sniffer::capture::{Capture, RingGeometry};
use holt_sniffer::filter::{self, Selection};
use holt_sniffer::reporter::{self, ReporterConfig};
use holt_sniffer::shared::Shared;
use holt_sniffer::{capture_loop, health};
use tokio::sync::watch;

fn main() -> anyhow::Result<()> {
    let args = Args::parse_with_reference_env(std::env::args_os(), |key| std::env::var(key).ok())
        .unwrap_or_else(|error| error.exit());
    holt_runtime::logging::init(&args.log);
    let node = match &args.node_name {
        Some(node) => node.clone(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .context("no --node-name given and the kernel host name is unreadable")?
            .trim()
            .to_owned(),
    };
    let shared = Arc::new(Shared::new(args.max_batch));
    let stop = Arc::new(AtomicBool::new(false));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let capture_thread = if args.enable_dns || args.enable_tcp || args.enable_http {
        let selection = Selection {
            dns: args.enable_dns,
            tcp_syn: args.enable_tcp,
            http: args.enable_http,
        };
        let geometry = RingGeometry {
            block_size: args.ring_block_size,
            block_count: args.ring_blocks,
            ..RingGeometry::default()
        };
        let capture = Capture::open(args.interface.as_deref(), &filter::program(selection), geometry)
            .context("opening the capture socket")?;
        tracing::info!(
            interface = args.interface.as_deref().unwrap_or("all"),
            ?geometry,
            "capturing"
        );
        let (shared, stop, failed) = (shared.clone(), stop.clone(), shutdown_tx.clone());
        Some(
            std::thread::Builder::new()
                .name("capture".into())
                .spawn(move || {
                    let result = capture_loop::run(capture, &shared, selection, &stop);
                    if let Err(error) = &result {
                        tracing::error!(%error, "capture failed");
                        let _ = failed.send(true);
                    }
                    result
                })
                .context("starting the capture thread")?,
        )
    } else {
        tracing::info!("DNS and TCP capture are both off: socket scan only");
        None
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = health::bind(args.health_bind_address).await?;
        let mut health_shutdown = shutdown_rx.clone();
        let health_task = tokio::spawn(health::serve(listener, shared.clone(), async move {
            let _ = health_shutdown.wait_for(|stop| *stop).await;
        }));
        let config = ReporterConfig {
            endpoint: args.mapper_url.clone(),
            node,
            interval: args.report_interval,
            timeout: args.report_timeout,
            scan_proc_root: args.enable_socket_scan.then(|| args.proc_root.clone()),
            pending_capacity: args.max_batch,
            token_file: args.token_file.clone(),
        };
        match &config.token_file {
            Some(path) => tracing::info!(mapper = %config.endpoint, token_file = %path.display(), "reporting"),
            None => tracing::warn!(
                mapper = %config.endpoint,
                "reporting without a credential (no --token-file): a mapper that checks its callers refuses every report"
            ),
        }
        let reporter = tokio::spawn(reporter::run(shared.clone(), config, shutdown_rx.clone()));
        let mut watch_failure = shutdown_rx.clone();
        tokio::select! {
            _ = holt_runtime::shutdown::signal() => {}
            _ = watch_failure.wait_for(|stop| *stop) => {}
        }
        stop.store(true, Ordering::Relaxed);
        let _ = shutdown_tx.send(true);
        reporter.await.context("reporter task")?;
        health_task.await.context("health task")??;
        anyhow::Ok(())
    })?;
    if let Some(thread) = capture_thread {
        match thread.join() {
            Ok(result) => result.context("capture")?,
            Err(_) => anyhow::bail!("the capture thread panicked"),
        }
    }
    Ok(())
}
