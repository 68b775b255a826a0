//! The crate's binaries run by the tests: the sniffer and the traffic probe, as children killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use anyhow::{Context, bail, ensure};

use super::netns::Netns;

pub const SNIFFER: &str = env!("CARGO_BIN_EXE_holt-sniffer");
pub const PROBE: &str = env!("CARGO_BIN_EXE_holt-sniffer-probe");

/// A child process killed on drop.
#[derive(Debug)]
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the sniffer in `netns` with `args`, its output on the test's, logging at debug level.
pub fn sniffer(netns: &Netns, args: &[&str]) -> anyhow::Result<Process> {
    let child = netns
        .command(SNIFFER)
        .args(args)
        .env("RUST_LOG", "holt_sniffer=debug")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the sniffer")?;
    Ok(Process(child))
}

/// Runs the probe in `netns` with `HOSTNAME=hostname` and waits until it says "ready" (its DNS
/// lookups and connections are done). With `hold`, the probe keeps its connections open until its
/// standard input closes; without, this also waits for it to exit successfully.
pub fn probe(netns: &Netns, hostname: &str, args: &[&str], hold: bool) -> anyhow::Result<Process> {
    let mut command = netns.command("env");
    command
        .arg(format!("HOSTNAME={hostname}"))
        .arg(PROBE)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if hold {
        command.arg("--hold");
    }
    let mut child = Process(command.spawn().context("starting the probe")?);
    let stdout = child.0.stdout.take().context("probe stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line == "ready" => break,
            Some(Ok(line)) => eprintln!("probe {hostname}: {line}"),
            _ => bail!("probe {args:?} ended before it was ready: {:?}", child.0.wait()),
        }
    }
    if !hold {
        let status = child.0.wait().context("probe")?;
        ensure!(status.success(), "probe {args:?} failed: {status}");
    }
    Ok(child)
}
