//! Reading brokers' authorizer lines from their pods' logs through the API server (the reference's
//! `k8s-logs` mode): each `--kafka-broker-pod` names a broker pod (and container) whose log (stdout, where
//! the broker's `kafka.authorizer.logger` writes) is read every `--kafka-log-interval-ms` through
//! `pods/log`, parsed ([`crate::kafka_authz`]), attributed to client workloads and recorded
//! ([`crate::kafka_discovery`]), as the file reader ([`crate::kafka_log`]) does with files.
//!
//! In: the pod list (bounded by the flag), the API server. Out: decisions recorded; each pod's health in
//! [`crate::kafka_source_health`] (a warning logged once per change of error).
//!
//! No line lost or taken twice between reads: lines are asked for with the kubelet's timestamps
//! (`timestamps=true`), from the second of the last line taken (`sinceTime`, whole seconds); lines before
//! that line's timestamp, and as many lines of exactly its timestamp as were taken, are skipped. A container
//! restarted in place: what its previous instance wrote after the last line taken is read first
//! (`previous=true`). Another pod under the same name (another UID) is read from its start. A pod's lines
//! are lost only when the pod is deleted before they are read (its log goes with it).
//!
//! Bounds: at most [`MAX_READ`] bytes per read (`limitBytes`; an unfinished last line is read again next
//! time), at most [`READS_PER_INTERVAL`] reads per pod and interval (the rest waits for the next one),
//! lines longer than [`MAX_LINE`] skipped, each request cut after [`READ_TIMEOUT`]. Every pod is read by its own loop: a pod that is missing, restarting or
//! unreachable is retried at the next interval and never delays the other pods or the rest of the mapper.

use std::sync::Arc;
use std::time::Duration;

use futures::AsyncReadExt;
use jiff::{RoundMode, Timestamp, TimestampRound, Unit};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use crate::kafka_authz::{self, MAX_LINE};
use crate::kafka_log::{MAX_READ, record};
use crate::shared::{Shared, now_ms};

/// Reads of at most [`MAX_READ`] bytes each per pod and interval: a pod that logs faster than that is read
/// later, never held whole in memory.
pub const READS_PER_INTERVAL: usize = 8;

/// How long one request to the API server (the pod, or its log) may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The annotation naming a pod's default container (as `kubectl logs` reads it).
const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// One broker pod whose log holds the broker's authorizer lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerPod {
    /// The broker as ClientIntents' `kafka` targets name it, `name.namespace`; `None`: the pod's workload
    /// (a StatefulSet's pod `kafka-0` is broker `kafka.<namespace>`), as the mapper resolves pods.
    pub broker: Option<String>,
    pub namespace: String,
    pub pod: String,
    /// The container whose log is read; `None`: the pod's default container (its
    /// `kubectl.kubernetes.io/default-container` annotation, else its first container).
    pub container: Option<String>,
}

impl BrokerPod {
    /// The name reported in logs and metrics: `pod <namespace>/<pod>[:<container>]`.
    pub fn source(&self) -> String {
        match &self.container {
            Some(container) => format!("pod {}/{}:{container}", self.namespace, self.pod),
            None => format!("pod {}/{}", self.namespace, self.pod),
        }
    }
}

/// A DNS label (a namespace, a container name).
fn dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A DNS subdomain (a pod name).
fn dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(dns_label)
}

impl std::str::FromStr for BrokerPod {
    type Err = String;

    /// `<pod>.<namespace>` (the reference's `kafka-servers` form; the broker is the pod's workload), or
    /// `<broker>.<namespace>=<pod namespace>/<pod>[:<container>]`.
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "`{text}`: expected <pod>.<namespace> (e.g. kafka-0.kafka) or \
                 <broker>.<namespace>=<pod namespace>/<pod>[:<container>] (e.g. kafka.kafka=kafka/kafka-0:kafka)"
            )
        };
        let Some((broker, pod)) = text.split_once('=') else {
            let (pod, namespace) = text.split_once('.').ok_or_else(expected)?;
            if !dns_label(pod) || !dns_label(namespace) {
                return Err(expected());
            }
            return Ok(BrokerPod {
                broker: None,
                namespace: namespace.to_owned(),
                pod: pod.to_owned(),
                container: None,
            });
        };
        let broker_valid = broker
            .split_once('.')
            .is_some_and(|(name, namespace)| !name.is_empty() && dns_label(namespace));
        let (namespace, pod) = pod.split_once('/').ok_or_else(expected)?;
        let (pod, container) = match pod.split_once(':') {
            Some((pod, container)) => (pod, Some(container)),
            None => (pod, None),
        };
        if !broker_valid
            || !dns_label(namespace)
            || !dns_subdomain(pod)
            || container.is_some_and(|c| !dns_label(c))
        {
            return Err(expected());
        }
        Ok(BrokerPod {
            broker: Some(broker.to_owned()),
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            container: container.map(str::to_owned),
        })
    }
}

/// Why a pod's log could not be read this time.
#[derive(Debug, thiserror::Error)]
pub enum PodLogError {
    #[error("pod {0} not found")]
    NotFound(String),
    #[error("reading pod {pod}: {source}")]
    Api {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("pod {pod} has no container {container}")]
    NoContainer { pod: String, container: String },
    #[error("container {container} of pod {pod} has not started")]
    NotStarted { pod: String, container: String },
    #[error(
        "pod {0} is not in the mapper's view of the cluster yet: its workload, the broker, is not known \
         (or name the broker: <broker>.<namespace>=<pod namespace>/<pod>)"
    )]
    UnknownWorkload(String),
    #[error("reading the log of pod {pod}: {source}")]
    Read {
        pod: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading pod {0} took longer than {READ_TIMEOUT:?}")]
    Timeout(String),
}

/// Where reading one pod stands.
#[derive(Debug, Default)]
struct Cursor {
    /// The pod read (its UID): another UID is another pod, read from its start.
    uid: Option<String>,
    /// The ID of the container instance read.
    container_id: Option<String>,
    /// The container was restarted: its previous instance's lines after [`Cursor::last`] are read first.
    previous_pending: bool,
    last: LineMark,
}

/// The kubelet's timestamp of the last line taken, and how many lines taken carried exactly it.
type LineMark = Option<(Timestamp, usize)>;

/// The lines of one answer that come after the mark.
#[derive(Debug, Default, PartialEq, Eq)]
struct Taken {
    /// Their kubelet timestamp and text (lines longer than [`MAX_LINE`] left out).
    lines: Vec<(Timestamp, String)>,
    /// A full answer held no new line (one second's lines are more than [`MAX_READ`] bytes): the mark was
    /// moved to the next second, and the rest of that second's lines are lost.
    skipped_ahead: bool,
}

/// The lines of `bytes` (a log answer with timestamps, at most [`MAX_READ`] bytes when `full`) that come
/// after `mark`, moving it to the last one. An unfinished last line is left for the next read.
fn take_lines(bytes: &[u8], mark: &mut LineMark, full: bool) -> Taken {
    let mut taken = Taken::default();
    // Lines of exactly the mark's timestamp still to skip (taken by an earlier read).
    let mut skip = *mark;
    let mut advanced = false;
    // Only complete lines: an unfinished last one is read again next time.
    let complete = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(end) => &bytes[..end],
        None => &[][..],
    };
    for line in complete.split(|b| *b == b'\n') {
        let Some((stamp, content)) = split_stamp(line) else {
            continue;
        };
        if let Some((at, remaining)) = &mut skip
            && *at == stamp
            && *remaining > 0
        {
            *remaining -= 1;
            continue;
        }
        match mark {
            Some((at, _)) if stamp < *at => continue,
            Some((at, count)) if stamp == *at => *count += 1,
            _ => *mark = Some((stamp, 1)),
        }
        advanced = true;
        if content.len() <= MAX_LINE {
            taken
                .lines
                .push((stamp, String::from_utf8_lossy(content).into_owned()));
        }
    }
    if full && !advanced {
        let stuck_at = mark
            .map(|(at, _)| at)
            .or_else(|| split_stamp(bytes).map(|(at, _)| at));
        if let Some(at) = stuck_at {
            let next_second = at
                .round(
                    TimestampRound::new()
                        .smallest(Unit::Second)
                        .mode(RoundMode::Trunc),
                )
                .ok()
                .and_then(|second| second.checked_add(jiff::SignedDuration::from_secs(1)).ok());
            if let Some(next) = next_second {
                *mark = Some((next, 0));
                taken.skipped_ahead = true;
            }
        }
    }
    taken
}

/// A log line's kubelet timestamp and text (`<RFC 3339 time> <text>`).
fn split_stamp(line: &[u8]) -> Option<(Timestamp, &[u8])> {
    let space = line.iter().position(|b| *b == b' ')?;
    let stamp = std::str::from_utf8(&line[..space]).ok()?.parse().ok()?;
    Some((stamp, &line[space + 1..]))
}

/// Reads every pod every `interval` until the process ends; each pod in its own loop.
pub async fn run(shared: Arc<Shared>, client: kube::Client, pods: Vec<BrokerPod>, interval: Duration) {
    {
        let mut health = shared.kafka_sources();
        for pod in &pods {
            health.register(&pod.source());
        }
    }
    let loops = pods
        .into_iter()
        .map(|pod| read_forever(shared.clone(), client.clone(), pod, interval));
    futures::future::join_all(loops).await;
}

async fn read_forever(shared: Arc<Shared>, client: kube::Client, pod: BrokerPod, interval: Duration) {
    let api: Api<Pod> = Api::namespaced(client, &pod.namespace);
    let source = pod.source();
    let mut cursor = Cursor::default();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match read_new(&shared, &api, &pod, &mut cursor).await {
            Ok(()) => {
                if shared.kafka_sources().succeeded(&source) {
                    tracing::info!(%source, "reading the broker pod's log again");
                }
            }
            Err(error) => {
                let text = error.to_string();
                if shared.kafka_sources().failed(&source, &text) {
                    tracing::warn!(%source, error = %text,
                        "cannot read the broker pod's log; trying again every interval");
                }
            }
        }
    }
}

/// Reads what `pod` logged after the cursor (its restarted container's previous instance first) and
/// records the decisions.
async fn read_new(
    shared: &Shared,
    api: &Api<Pod>,
    pod: &BrokerPod,
    cursor: &mut Cursor,
) -> Result<(), PodLogError> {
    let name = format!("{}/{}", pod.namespace, pod.pod);
    let found = within_timeout(&name, api.get_opt(&pod.pod))
        .await?
        .map_err(|source| PodLogError::Api {
            pod: name.clone(),
            source,
        })?
        .ok_or_else(|| PodLogError::NotFound(name.clone()))?;
    let broker = broker_of(shared, pod, &name)?;
    let uid = found.metadata.uid.clone();
    if uid != cursor.uid {
        if cursor.uid.is_some() {
            tracing::info!(pod = %name, "the broker pod was replaced; reading the new pod's log from its start");
        }
        *cursor = Cursor {
            uid,
            ..Cursor::default()
        };
    }
    let container = container_of(&found, pod).ok_or_else(|| PodLogError::NoContainer {
        pod: name.clone(),
        container: pod.container.clone().unwrap_or_default(),
    })?;
    let container_id = found
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|statuses| statuses.iter().find(|s| s.name == container))
        .and_then(|s| s.container_id.clone())
        .ok_or_else(|| PodLogError::NotStarted {
            pod: name.clone(),
            container: container.clone(),
        })?;
    if cursor.container_id.as_ref() != Some(&container_id) {
        // Restarted in place: its previous instance's lines after the mark are unread (all of them when
        // none was taken yet).
        if cursor.container_id.is_some() {
            cursor.previous_pending = true;
        }
        cursor.container_id = Some(container_id);
    }
    let mut reads = 0;
    while cursor.previous_pending && reads < READS_PER_INTERVAL {
        reads += 1;
        match read_once(api, pod, &container, &mut cursor.last, true).await {
            Ok((taken, full)) => {
                record_lines(shared, &broker, &taken);
                cursor.previous_pending = full;
            }
            Err(error) => {
                // Gone (the kubelet keeps one terminated instance) or unreadable: never retried forever,
                // which would stop the current instance from being read.
                tracing::warn!(pod = %name, %error,
                    "cannot read the restarted container's previous log; its unread lines are lost");
                cursor.previous_pending = false;
            }
        }
    }
    while reads < READS_PER_INTERVAL && !cursor.previous_pending {
        reads += 1;
        let (taken, full) = read_once(api, pod, &container, &mut cursor.last, false).await?;
        record_lines(shared, &broker, &taken);
        if !full {
            break;
        }
    }
    Ok(())
}

/// The broker's name: the one configured, else the pod's workload as the mapper knows it.
fn broker_of(shared: &Shared, pod: &BrokerPod, name: &str) -> Result<String, PodLogError> {
    if let Some(broker) = &pod.broker {
        return Ok(broker.clone());
    }
    let mapper = shared.mapper();
    let index = &mapper.index;
    let entry = index
        .pod(&pod.namespace, &pod.pod)
        .ok_or_else(|| PodLogError::UnknownWorkload(name.to_owned()))?;
    let identity = index.identity(entry);
    Ok(format!("{}.{}", identity.name, identity.namespace))
}

/// The container to read: the configured one if the pod has it, else the default container.
fn container_of(found: &Pod, pod: &BrokerPod) -> Option<String> {
    let containers = &found.spec.as_ref()?.containers;
    let wanted = pod.container.clone().or_else(|| {
        found
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DEFAULT_CONTAINER_ANNOTATION).cloned())
    });
    match wanted {
        Some(wanted) => containers.iter().any(|c| c.name == wanted).then_some(wanted),
        None => containers.first().map(|c| c.name.clone()),
    }
}

/// One read of at most [`MAX_READ`] bytes after `mark` (of the previous container instance when
/// `previous`): the lines taken, and whether the answer was full (more may follow).
async fn read_once(
    api: &Api<Pod>,
    pod: &BrokerPod,
    container: &str,
    mark: &mut LineMark,
    previous: bool,
) -> Result<(Taken, bool), PodLogError> {
    let since_time = mark.map(|(at, _)| {
        at.round(
            TimestampRound::new()
                .smallest(Unit::Second)
                .mode(RoundMode::Trunc),
        )
        .unwrap_or(at)
    });
    let params = LogParams {
        container: Some(container.to_owned()),
        limit_bytes: Some(i64::try_from(MAX_READ).unwrap_or(i64::MAX)),
        previous,
        since_time,
        timestamps: true,
        ..LogParams::default()
    };
    let name = format!("{}/{}", pod.namespace, pod.pod);
    let name = name.as_str();
    let bytes = within_timeout(name, async {
        let stream = api
            .log_stream(&pod.pod, &params)
            .await
            .map_err(|source| PodLogError::Api {
                pod: name.to_owned(),
                source,
            })?;
        let mut bytes = Vec::new();
        // The API server may send slightly more than `limitBytes`; never keep more than twice.
        stream
            .take(2 * MAX_READ as u64)
            .read_to_end(&mut bytes)
            .await
            .map_err(|source| PodLogError::Read {
                pod: name.to_owned(),
                source,
            })?;
        Ok::<_, PodLogError>(bytes)
    })
    .await??;
    let full = bytes.len() >= MAX_READ;
    let taken = take_lines(&bytes, mark, full);
    if taken.skipped_ahead {
        tracing::warn!(pod = %name, "more than {MAX_READ} bytes of log in one second: the rest of that second skipped");
    }
    Ok((taken, full))
}

/// Records the decisions of `taken`, each seen at its kubelet timestamp (never later than now: a node's
/// clock ahead of the mapper's does not put sightings in the future).
fn record_lines(shared: &Shared, broker: &str, taken: &Taken) {
    let now = now_ms();
    let decisions: Vec<_> = taken
        .lines
        .iter()
        .filter_map(|(stamp, line)| {
            let seen_ms = u64::try_from(stamp.as_millisecond()).unwrap_or(0).min(now);
            kafka_authz::parse(line).map(|decision| (decision, seen_ms))
        })
        .collect();
    record(shared, broker, &decisions);
}

async fn within_timeout<T>(name: &str, work: impl std::future::Future<Output = T>) -> Result<T, PodLogError> {
    tokio::time::timeout(READ_TIMEOUT, work)
        .await
        .map_err(|_| PodLogError::Timeout(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn lines(taken: &Taken) -> Vec<&str> {
        taken.lines.iter().map(|(_, line)| line.as_str()).collect()
    }

    #[test]
    fn a_pod_is_pod_dot_namespace_or_broker_equals_namespace_slash_pod() {
        let reference: BrokerPod = "kafka-0.kafka".parse().expect("reference form");
        assert_eq!(
            reference,
            BrokerPod {
                broker: None,
                namespace: "kafka".into(),
                pod: "kafka-0".into(),
                container: None
            }
        );
        assert_eq!(reference.source(), "pod kafka/kafka-0");
        let named: BrokerPod = "kafka.kafka=streaming/kafka-0:broker".parse().expect("named");
        assert_eq!(named.broker.as_deref(), Some("kafka.kafka"));
        assert_eq!(named.namespace, "streaming");
        assert_eq!(named.pod, "kafka-0");
        assert_eq!(named.container.as_deref(), Some("broker"));
        assert_eq!(named.source(), "pod streaming/kafka-0:broker");
        for bad in [
            "kafka-0",
            "kafka-0.kafka.extra",
            "Kafka-0.kafka",
            "kafka.kafka=kafka-0",
            "kafka=kafka/kafka-0",
            "kafka.kafka=kafka/",
            "kafka.kafka=kafka/kafka-0:",
            "kafka.kafka=Kafka/kafka-0",
        ] {
            let error = bad.parse::<BrokerPod>().expect_err(bad);
            assert!(error.contains(bad), "{error}");
        }
    }

    #[test]
    fn lines_after_the_mark_are_taken_once_across_reads() {
        let mut mark = None;
        let first = b"2026-12-05T10:00:00.100000000Z a\n2026-12-05T10:00:01.000000000Z b\n\
                      2026-12-05T10:00:01.000000000Z c\n2026-12-05T10:00:01.5";
        let taken = take_lines(first, &mut mark, false);
        assert_eq!(lines(&taken), ["a", "b", "c"], "the unfinished line waits");
        assert_eq!(mark, Some((at("2026-12-05T10:00:01Z"), 2)));
        // The next read starts at the mark's second: b and c again (same timestamp), then new lines,
        // one of them with b's and c's timestamp too.
        let second = b"2026-12-05T10:00:01.000000000Z b\n2026-12-05T10:00:01.000000000Z c\n\
                       2026-12-05T10:00:01.000000000Z d\n2026-12-05T10:00:01.500000000Z e\n";
        let taken = take_lines(second, &mut mark, false);
        assert_eq!(lines(&taken), ["d", "e"]);
        assert_eq!(mark, Some((at("2026-12-05T10:00:01.5Z"), 1)));
        assert!(
            take_lines(b"2026-12-05T10:00:01.500000000Z e\n", &mut mark, false)
                .lines
                .is_empty()
        );
        // Lines before the mark (a previous container's, already read) are skipped.
        assert!(
            take_lines(b"2026-12-05T10:00:01.200000000Z old\n", &mut mark, false)
                .lines
                .is_empty()
        );
    }

    #[test]
    fn long_and_unstamped_lines_are_left_out_and_a_stuck_second_is_passed() {
        let mut mark = None;
        let long = format!(
            "2026-12-05T10:00:00Z {}\n2026-12-05T10:00:00Z short\nno stamp\n",
            "x".repeat(MAX_LINE + 1)
        );
        let taken = take_lines(long.as_bytes(), &mut mark, false);
        assert_eq!(lines(&taken), ["short"]);
        assert_eq!(
            mark,
            Some((at("2026-12-05T10:00:00Z"), 2)),
            "the long line counts as read"
        );
        // A full answer with nothing new: the mark moves to the next second rather than reading the same
        // bytes forever.
        let taken = take_lines(
            b"2026-12-05T10:00:00Z short\n2026-12-05T10:00:00Z par",
            &mut mark,
            true,
        );
        assert!(taken.skipped_ahead && taken.lines.is_empty());
        assert_eq!(mark, Some((at("2026-12-05T10:00:01Z"), 0)));
    }

    #[test]
    fn the_container_is_the_named_one_else_the_default_one() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "kafka-0", "annotations": {DEFAULT_CONTAINER_ANNOTATION: "broker"}},
            "spec": {"containers": [{"name": "sidecar"}, {"name": "broker"}]},
        }))
        .expect("pod");
        let mut wanted: BrokerPod = "kafka-0.kafka".parse().expect("pod");
        assert_eq!(container_of(&pod, &wanted).as_deref(), Some("broker"));
        wanted.container = Some("sidecar".into());
        assert_eq!(container_of(&pod, &wanted).as_deref(), Some("sidecar"));
        wanted.container = Some("missing".into());
        assert_eq!(container_of(&pod, &wanted), None);
        let mut plain = pod.clone();
        plain.metadata.annotations = None;
        assert_eq!(
            container_of(&plain, &"kafka-0.kafka".parse().expect("pod")).as_deref(),
            Some("sidecar")
        );
    }
}
