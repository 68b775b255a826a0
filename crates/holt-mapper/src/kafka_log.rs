//! Reading brokers' authorizer logs (the reference's `file-logs` mode): each `--kafka-authorizer-log
//! <broker>.<namespace>=<path>` names a file a broker's `kafka.authorizer.logger` appends to (a volume the
//! broker and the mapper share, or a node path). Every `--kafka-log-interval-ms` the new lines are read,
//! parsed ([`crate::kafka_authz`]), attributed to client workloads and recorded ([`crate::kafka_discovery`]).
//!
//! Bounds: at most [`MAX_READ`] bytes per file and read (the rest waits for the next read), lines longer
//! than [`MAX_LINE`] skipped whole. A file that shrinks or is replaced (rotation) is read again from its
//! start; a file that cannot be read is retried at the next interval, logged once per change of error and
//! shown in `/metrics` ([`crate::kafka_source_health`]). The other source of the same lines, brokers' pod
//! logs through the API server, is [`crate::kafka_pod_log`].
//! Reading starts at the file's start: what a restarted mapper reads again only refreshes last-seen times.

use std::collections::HashMap;
use std::io::SeekFrom;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use holt_model::Identity;

use crate::kafka_authz::{self, AuthzDecision, MAX_LINE};
use crate::kafka_discovery::client_of;
use crate::shared::{Shared, now_ms};

/// Bytes read from one file at one time.
pub const MAX_READ: usize = 1 << 20;

/// One broker's authorizer log: `name.namespace=path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizerLog {
    /// The broker as ClientIntents' `kafka` targets name it, `name.namespace`.
    pub broker: String,
    pub path: PathBuf,
}

impl AuthorizerLog {
    /// The name reported in logs and metrics: `file <path>`.
    pub fn source(&self) -> String {
        format!("file {}", self.path.display())
    }
}

impl std::str::FromStr for AuthorizerLog {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (broker, path) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}`: expected <broker>.<namespace>=<path of its authorizer log>"))?;
        let valid = broker.split_once('.').is_some_and(|(name, namespace)| {
            !name.is_empty() && !namespace.is_empty() && !namespace.contains('.')
        });
        if !valid || path.is_empty() {
            return Err(format!(
                "`{text}`: expected <broker>.<namespace>=<path>, e.g. kafka.kafka=/var/log/kafka/authorizer.log"
            ));
        }
        Ok(AuthorizerLog {
            broker: broker.to_owned(),
            path: PathBuf::from(path),
        })
    }
}

/// Complete lines out of appended bytes, keeping an unfinished last line (at most [`MAX_LINE`] bytes; a
/// longer line is skipped up to its end).
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// Inside a line too long to keep: skip to its end.
    skipping: bool,
}

impl LineSplitter {
    /// Feeds `bytes`; calls `line` with each complete line (lossily decoded).
    pub fn feed(&mut self, bytes: &[u8], mut line: impl FnMut(&str)) {
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = (&rest[..end], &rest[end + 1..]);
            if !self.skipping && self.partial.len() + head.len() <= MAX_LINE {
                self.partial.extend_from_slice(head);
                line(&String::from_utf8_lossy(&self.partial));
            }
            self.partial.clear();
            self.skipping = false;
            rest = tail;
        }
        if !self.skipping {
            if self.partial.len() + rest.len() <= MAX_LINE {
                self.partial.extend_from_slice(rest);
            } else {
                self.partial.clear();
                self.skipping = true;
            }
        }
    }

    /// Forgets an unfinished line (the file was replaced).
    pub fn reset(&mut self) {
        self.partial.clear();
        self.skipping = false;
    }
}

/// Where reading one file stands.
#[derive(Debug, Default)]
struct Position {
    inode: Option<u64>,
    offset: u64,
    lines: LineSplitter,
}

/// Reads every log every `interval` until the process ends.
pub async fn run(shared: Arc<Shared>, logs: Vec<AuthorizerLog>, interval: Duration) {
    let mut positions: Vec<Position> = logs.iter().map(|_| Position::default()).collect();
    {
        let mut health = shared.kafka_sources();
        for log in &logs {
            health.register(&log.source());
        }
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        for (log, position) in logs.iter().zip(positions.iter_mut()) {
            match read_new(log, position).await {
                Ok(decisions) => {
                    if shared.kafka_sources().succeeded(&log.source()) {
                        tracing::info!(broker = %log.broker, path = %log.path.display(),
                            "reading the broker's authorizer log again");
                    }
                    // A file's lines carry the broker's local time without its zone: seen when read.
                    let now = now_ms();
                    let seen: Vec<_> = decisions.into_iter().map(|d| (d, now)).collect();
                    record(&shared, &log.broker, &seen);
                }
                Err(error) => {
                    let error = error.to_string();
                    if shared.kafka_sources().failed(&log.source(), &error) {
                        tracing::warn!(broker = %log.broker, path = %log.path.display(), %error,
                            "cannot read the broker's authorizer log; trying again");
                    }
                }
            }
        }
    }
}

/// The decisions appended to `log` since the last read (at most [`MAX_READ`] bytes of them).
async fn read_new(log: &AuthorizerLog, position: &mut Position) -> std::io::Result<Vec<AuthzDecision>> {
    let mut file = tokio::fs::File::open(&log.path).await?;
    let metadata = file.metadata().await?;
    let inode = Some(metadata.ino());
    if inode != position.inode || metadata.len() < position.offset {
        position.inode = inode;
        position.offset = 0;
        position.lines.reset();
    }
    let available = metadata.len().saturating_sub(position.offset);
    let wanted = usize::try_from(available).unwrap_or(MAX_READ).min(MAX_READ);
    if wanted == 0 {
        return Ok(Vec::new());
    }
    file.seek(SeekFrom::Start(position.offset)).await?;
    let mut bytes = vec![0; wanted];
    let mut filled = 0;
    while filled < wanted {
        match file.read(&mut bytes[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    bytes.truncate(filled);
    position.offset += filled as u64;
    let mut decisions = Vec::new();
    position
        .lines
        .feed(&bytes, |line| decisions.extend(kafka_authz::parse(line)));
    Ok(decisions)
}

/// Attributes each decision, with the time it was seen (Unix ms), to its client and records it. A read holds
/// many decisions of few clients, seconds apart: each (address, principal) is resolved once, as of its first
/// decision's time.
pub(crate) fn record(shared: &Shared, broker: &str, decisions: &[(AuthzDecision, u64)]) {
    if decisions.is_empty() {
        return;
    }
    let clients: Vec<_> = {
        let mapper = shared.mapper();
        let resolver = mapper.resolver();
        let mut resolved: HashMap<(IpAddr, &str), Option<Identity>> = HashMap::new();
        decisions
            .iter()
            .map(|(d, seen_ms)| {
                resolved
                    .entry((d.host, d.principal.as_str()))
                    .or_insert_with(|| client_of(&resolver, &d.host, &d.principal, *seen_ms))
                    .clone()
            })
            .collect()
    };
    let mut kafka = shared.kafka();
    for ((decision, seen_ms), client) in decisions.iter().zip(clients) {
        kafka.record(broker, decision, client, *seen_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(splitter: &mut LineSplitter, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        splitter.feed(bytes, |line| lines.push(line.to_owned()));
        lines
    }

    #[test]
    fn lines_are_whole_across_reads_and_long_ones_are_skipped() {
        let mut splitter = LineSplitter::default();
        assert_eq!(lines_of(&mut splitter, b"first\nsec"), vec!["first"]);
        assert_eq!(lines_of(&mut splitter, b"ond\n"), vec!["second"]);
        let long = vec![b'x'; MAX_LINE + 10];
        assert!(lines_of(&mut splitter, &long).is_empty());
        assert!(lines_of(&mut splitter, b"xxxx").is_empty(), "still the long line");
        assert_eq!(lines_of(&mut splitter, b"\nthird\n"), vec!["third"]);
        assert_eq!(lines_of(&mut splitter, b"half"), Vec::<String>::new());
        splitter.reset();
        assert_eq!(lines_of(&mut splitter, b"new\n"), vec!["new"]);
    }

    #[test]
    fn a_log_is_named_broker_equals_path() {
        let log: AuthorizerLog = "kafka.kafka=/var/log/kafka/authorizer.log"
            .parse()
            .expect("valid");
        assert_eq!(log.broker, "kafka.kafka");
        assert_eq!(log.path, PathBuf::from("/var/log/kafka/authorizer.log"));
        for bad in ["kafka=/x", "kafka.kafka", "kafka.kafka=", ".kafka=/x", "a.b.c=/x"] {
            let error = bad.parse::<AuthorizerLog>().expect_err(bad);
            assert!(error.contains(bad), "{error}");
        }
    }

    #[tokio::test]
    async fn appended_rotated_and_truncated_files_are_read_once_each() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("authorizer.log");
        let log = AuthorizerLog {
            broker: "kafka.kafka".into(),
            path: path.clone(),
        };
        let line = |topic: &str| {
            format!(
                "[2026-12-05 16:57:18,417] DEBUG Principal = User:CN=client.shop is Allowed operation = WRITE \
                 from host = 127.0.0.1 on resource = Topic:LITERAL:{topic} for request = Produce \
                 (kafka.authorizer.logger)\n"
            )
        };
        let mut position = Position::default();
        assert!(read_new(&log, &mut position).await.is_err(), "no file yet");
        std::fs::write(&path, line("a") + &line("b")[..40]).expect("write");
        let topics = |d: Vec<AuthzDecision>| d.into_iter().map(|d| d.topic).collect::<Vec<_>>();
        assert_eq!(topics(read_new(&log, &mut position).await.expect("read")), ["a"]);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        std::io::Write::write_all(&mut file, &line("b").as_bytes()[40..]).expect("append");
        assert_eq!(topics(read_new(&log, &mut position).await.expect("read")), ["b"]);
        assert!(
            read_new(&log, &mut position).await.expect("read").is_empty(),
            "nothing new"
        );
        // Truncated in place (copytruncate): read from the start.
        std::fs::write(&path, line("c")).expect("truncate");
        assert_eq!(topics(read_new(&log, &mut position).await.expect("read")), ["c"]);
        // Replaced by a new file (rename and create): read from its start.
        std::fs::rename(&path, dir.path().join("authorizer.log.1")).expect("rotate");
        std::fs::write(&path, line("d") + &line("e")).expect("new file");
        assert_eq!(
            topics(read_new(&log, &mut position).await.expect("read")),
            ["d", "e"]
        );
    }
}
