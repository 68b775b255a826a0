//! Kafka topic use discovered from a broker pod's log read through the API server (`--kafka-broker-pod`,
//! the reference's `k8s-logs` mode).
//!
//! The broker is the harness's real Kafka, running on this machine with its `kafka.authorizer.logger` at
//! DEBUG into a file. On the harness's real node runs pod `kafka-0` of a StatefulSet `kafka`, whose only
//! container relays that file to its stdout (busybox `tail -F` through a hostPath volume): the real broker's
//! authorizer lines reach the mapper through the real kubelet and API server, as a broker's own stdout
//! would. The mapper runs as a ServiceAccount holding what the chart grants it: its watches, and `get` on
//! `pods` and `pods/log` in the broker's namespace.
//!
//! Phases: clients with their own certificates produce and consume, one is refused; the mapper names the
//! broker after the pod's workload (`kafka-0.<ns>` → `kafka.<ns>`) and exports the topics and operations,
//! the denied attempt included. Every topic decision in the broker's file is counted exactly once, over
//! many reads. A configured pod that does not exist is reported (metric, one warning) and does not stop the
//! other. The pod is deleted and recreated (a new pod, whose relay, like a restarted broker, writes only
//! what comes after its start): what the clients do next is read, and still every decision is counted
//! once. Then the container restarts in place while the mapper is paused, after the clients' next decisions
//! reached its log: they are read from the previous instance's log (`previous=true`), once.

mod support;

use std::time::Duration;

use anyhow::{Context, ensure};
use holt_testenv::{BUSYBOX_IMAGE, Cluster, ClusterOptions, Kafka, KafkaClient, Produced, eventually};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;
use support::kafka_scene::{KafkaScene, kafka_uses};

const TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_pods_log_becomes_kafka_targets_and_every_line_counts_once() -> anyhow::Result<()> {
    let cluster = Cluster::start(ClusterOptions::default()).await?;
    let result = story(&cluster).await;
    drop(cluster);
    result
}

async fn story(cluster: &Cluster) -> anyhow::Result<()> {
    let client = cluster.client().await?;
    support::install_crds(&client).await?;
    let ns = cluster.create_pod_namespace(&client, "kafka-pods").await?;
    let kafka = Kafka::shared().await?;
    let scene = KafkaScene::new(kafka, &ns).await?;

    // The relay: the first container relays the whole file (the broker's log so far); a later one (a
    // new pod, or the container restarted) only what is written after it starts, as a restarted broker
    // writes only new lines. The container exits (and is restarted in place) when the test asks.
    let relay_state = tempfile::tempdir()?;
    let log_file = kafka.authorizer_log();
    let log_dir = log_file.parent().context("the log's directory")?;
    let log_name = log_file
        .file_name()
        .context("the log's name")?
        .to_string_lossy()
        .into_owned();
    let script = format!(
        "LOG=/broker-logs/{log_name}; \
         if [ -e /relay/started ]; then from=$(( $(wc -c < $LOG) + 1 )); else from=1; touch /relay/started; fi; \
         tail -c +$from -F $LOG & relay=$!; \
         while [ ! -e /relay/restart ]; do sleep 0.1; done; rm -f /relay/restart; kill $relay; exit 1"
    );
    // A StatefulSet `kafka` owns pod `kafka-0` (the harness runs no StatefulSet controller: the test creates
    // and recreates the pod as that controller would, owner reference included).
    let set: StatefulSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "kafka"},
        "spec": {
            "serviceName": "kafka",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "kafka"}},
            "template": {
                "metadata": {"labels": {"app": "kafka"}},
                "spec": {"containers": [{"name": "broker", "image": BUSYBOX_IMAGE}]},
            },
        },
    }))?;
    let set = Api::<StatefulSet>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &set)
        .await?;
    let set_uid = set.metadata.uid.context("the StatefulSet's UID")?;
    let broker_pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "kafka-0",
            "labels": {"app": "kafka"},
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "kafka", "uid": set_uid,
                "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "broker",
                "image": BUSYBOX_IMAGE,
                "imagePullPolicy": "Never",
                "command": ["/bin/sh", "-c", script],
                "volumeMounts": [
                    {"name": "broker-logs", "mountPath": "/broker-logs", "readOnly": true},
                    {"name": "relay", "mountPath": "/relay"},
                ],
            }],
            "volumes": [
                {"name": "broker-logs", "hostPath": {"path": log_dir, "type": "Directory"}},
                {"name": "relay", "hostPath": {"path": relay_state.path(), "type": "Directory"}},
            ],
        },
    }))?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.create(&PostParams::default(), &broker_pod).await?;
    let first_uid = running_uid(&pods, "kafka-0", None).await?;

    // The mapper as a ServiceAccount with the chart's grants (templates/mapper/rbac.yaml and access.yaml)
    // and, in the broker's namespace, `get` on pods and pods/log.
    let kubeconfig = mapper_account(cluster, &client, &ns).await?;
    let state = tempfile::tempdir()?;
    let broker_pods = format!("kafka-0.{ns},kafka-9.{ns}");
    // Started again in phase 4, on the same state directory.
    let state_dir = state.path().join("state");
    let settings = [
        ("HOLT_MAPPER_KAFKA_BROKER_PODS", broker_pods.as_str()),
        ("HOLT_MAPPER_KAFKA_LOG_INTERVAL_MS", "300"),
    ];
    let start_mapper = || support::Mapper::start_as(cluster, &kubeconfig, &state_dir, &settings);
    let mapper = start_mapper().await?;

    // Phase 1: produce, consume, be refused. The broker is pod kafka-0's workload.
    scene.play(kafka).await?;
    let broker = format!("kafka.{ns}");
    scene.uses_seen(&mapper, &broker, TIMEOUT).await?;
    scene.assert_exported(&mapper, &broker)?;

    // Every topic decision of the file counted once, and still once after more reads.
    let after_first = counted_once(&mapper, &log_file).await?;
    eprintln!("phase 1: {after_first} topic decisions, each counted once");

    // The missing pod: reported as down, its failures counted, one warning for many failed reads; the
    // other pod was read all along.
    let metrics = mapper.get("/metrics")?.1;
    let up = |pod: &str| {
        support::sample(
            &metrics,
            &format!("holt_mapper_kafka_log_source_up{{source=\"pod {ns}/{pod}\"}}"),
        )
    };
    assert_eq!(up("kafka-0"), Some(1), "{metrics}");
    assert_eq!(up("kafka-9"), Some(0), "{metrics}");
    let failures = support::sample(
        &metrics,
        &format!("holt_mapper_kafka_log_read_failures_total{{source=\"pod {ns}/kafka-9\"}}"),
    )
    .unwrap_or(0);
    ensure!(failures >= 3, "failed reads of the missing pod: {failures}");
    let log = mapper.log_text();
    let warnings = log
        .lines()
        .filter(|l| l.contains(&format!("pod {ns}/kafka-9 not found")))
        .count();
    ensure!(
        warnings == 1,
        "{warnings} warnings about the missing pod for {failures} failed reads:\n{log}"
    );

    // Phase 2: the pod is deleted and recreated under the same name (another UID).
    let producer_seen = last_seen(&mapper, &ns, "producer")?;
    pods.delete("kafka-0", &DeleteParams::default()).await?;
    eventually("the old pod gone", TIMEOUT, || async {
        Ok(pods.get_opt("kafka-0").await?.is_none().then_some(()))
    })
    .await?;
    pods.create(&PostParams::default(), &broker_pod).await?;
    let second_uid = running_uid(&pods, "kafka-0", Some(&first_uid)).await?;
    ensure!(second_uid != first_uid);
    // The new relay starts at the file's end once its container runs: give it a moment to open the file.
    tokio::time::sleep(Duration::from_secs(2)).await;
    produce_acked(kafka, &scene.producer, &scene.topic).await?;
    let refused = kafka.produce_one(&scene.intruder, &scene.topic).await?;
    ensure!(refused.is_unauthorized(), "{refused:?}");
    eventually(
        "the producer's new message read from the new pod",
        TIMEOUT,
        || async { Ok((last_seen(&mapper, &ns, "producer")? > producer_seen).then_some(())) },
    )
    .await
    .with_context(|| mapper.log_text())?;
    let after_second = counted_once(&mapper, &log_file).await?;
    ensure!(
        after_second > after_first,
        "the new pod's decisions were counted: {after_first} → {after_second}"
    );
    eprintln!("phase 2: {after_second} topic decisions, each counted once");
    let metrics = mapper.get("/metrics")?.1;
    assert_eq!(
        support::sample(
            &metrics,
            &format!("holt_mapper_kafka_log_source_up{{source=\"pod {ns}/kafka-0\"}}"),
        ),
        Some(1),
        "{metrics}"
    );

    // Phase 3: the container restarts in place while the mapper is paused, after the clients' new decisions
    // reached the old instance's log and before the mapper read them: they are only in the previous
    // instance's log, and are read from there once.
    let producer_seen = last_seen(&mapper, &ns, "producer")?;
    let restarts = restart_count(&pods).await?;
    let paused = Paused::new(&mapper)?;
    produce_acked(kafka, &scene.producer, &scene.topic).await?;
    let refused = kafka.produce_one(&scene.intruder, &scene.topic).await?;
    ensure!(refused.is_unauthorized(), "{refused:?}");
    let expected = eventually("the new decisions relayed", TIMEOUT, || async {
        let expected = topic_decisions(&log_file)?;
        let relayed = pods
            .logs("kafka-0", &kube::api::LogParams::default())
            .await?
            .lines()
            .filter(|l| holt_mapper::kafka_authz::parse(l).is_some())
            .count() as u64;
        // The second pod relays everything after phase 1.
        Ok((expected > after_second && relayed == expected - after_first).then_some(expected))
    })
    .await?;
    std::fs::write(relay_state.path().join("restart"), "")?;
    eventually("the container restarted in place", TIMEOUT, || async {
        let now = running_uid(&pods, "kafka-0", None).await?;
        ensure!(now == second_uid, "another pod: {now}");
        Ok((restart_count(&pods).await? > restarts).then_some(()))
    })
    .await?;
    drop(paused);
    eventually(
        "the producer's message read from the previous instance",
        TIMEOUT,
        || async { Ok((last_seen(&mapper, &ns, "producer")? > producer_seen).then_some(())) },
    )
    .await
    .with_context(|| mapper.log_text())?;
    let after_third = counted_once(&mapper, &log_file).await?;
    ensure!(
        after_third == expected,
        "{after_third} counted, {expected} expected"
    );
    eprintln!("phase 3: {after_third} topic decisions, each counted once");

    // Phase 4: a restarted mapper reads the pod's log again from its start; the lines carry the kubelet's
    // timestamps, so what it serves is what the last one served, first- and last-seen times included. (A
    // new decision first, so that the running container's log holds some to read again.)
    let producer_seen = last_seen(&mapper, &ns, "producer")?;
    produce_acked(kafka, &scene.producer, &scene.topic).await?;
    eventually("the new decision read", TIMEOUT, || async {
        Ok((last_seen(&mapper, &ns, "producer")? > producer_seen).then_some(()))
    })
    .await?;
    let before = kafka_uses(&mapper, &ns)?;
    let stopped = mapper.stop().await?;
    ensure!(stopped.success(), "the mapper stopped with {stopped}");
    let restarted = start_mapper().await?;
    let source_up = |metrics: &str| {
        support::sample(
            metrics,
            &format!("holt_mapper_kafka_log_source_up{{source=\"pod {ns}/kafka-0\"}}"),
        )
    };
    eventually(
        "the restarted mapper's first read of the pod",
        TIMEOUT,
        || async { Ok((source_up(&restarted.get("/metrics")?.1) == Some(1)).then_some(())) },
    )
    .await?;
    assert_eq!(kafka_uses(&restarted, &ns)?, before);
    Ok(())
}

/// The mapper process stopped (SIGSTOP) until dropped (SIGCONT).
struct Paused(rustix::process::Pid);

impl Paused {
    fn new(mapper: &support::Mapper) -> anyhow::Result<Paused> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(mapper.pid())?).context("pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::STOP)?;
        Ok(Paused(pid))
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process(self.0, rustix::process::Signal::CONT);
    }
}

/// How often pod kafka-0's container was restarted.
async fn restart_count(pods: &Api<Pod>) -> anyhow::Result<i32> {
    let pod = pods.get("kafka-0").await?;
    Ok(pod
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c.first().map(|c| c.restart_count))
        .unwrap_or(0))
}

/// The topic decisions the broker's file holds.
fn topic_decisions(log_file: &std::path::Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(log_file)?;
    Ok(text
        .lines()
        .filter(|l| holt_mapper::kafka_authz::parse(l).is_some())
        .count() as u64)
}

/// Waits until the mapper has counted exactly as many topic decisions as the broker's file holds, and
/// checks that more reads do not count any again. Returns the count.
async fn counted_once(mapper: &support::Mapper, log_file: &std::path::Path) -> anyhow::Result<u64> {
    let in_file = || topic_decisions(log_file);
    let count = eventually(
        "every topic decision of the broker's file counted",
        TIMEOUT,
        || async {
            let expected = in_file()?;
            let counted = mapper.metric("kafka_incoming_topics")?;
            ensure!(
                counted <= expected,
                "{counted} decisions counted, the file holds {expected}"
            );
            Ok((counted == expected).then_some(counted))
        },
    )
    .await
    .with_context(|| mapper.log_text())?;
    // Ten more reads of the pod: nothing counted again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (expected, counted) = (in_file()?, mapper.metric("kafka_incoming_topics")?);
    ensure!(
        counted == expected && counted == count,
        "after more reads: {counted} counted, the file holds {expected} (was {count})"
    );
    Ok(count)
}

async fn produce_acked(kafka: &Kafka, producer: &KafkaClient, topic: &str) -> anyhow::Result<()> {
    let produced = kafka.produce_one(producer, topic).await?;
    ensure!(produced == Produced::Acked, "{produced:?}");
    Ok(())
}

/// Waits until pod `name` runs as a pod other than `not`; its UID.
async fn running_uid(pods: &Api<Pod>, name: &str, not: Option<&str>) -> anyhow::Result<String> {
    eventually(&format!("pod {name} running"), TIMEOUT, || async {
        let Some(pod) = pods.get_opt(name).await? else {
            anyhow::bail!("no pod {name}");
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let running = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
            });
        ensure!(
            running && not != Some(uid.as_str()),
            "pod {name} ({uid}) is not the one waited for, or not running: {:?}",
            pod.status
        );
        Ok(Some(uid))
    })
    .await
}

/// A ServiceAccount for the mapper with the chart's grants and, in `ns`, `get` on pods and pods/log; its
/// kubeconfig.
async fn mapper_account(
    cluster: &Cluster,
    client: &kube::Client,
    ns: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let account = holt_testenv::service_account_token(client, ns, "holt-mapper", &[]).await?;
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(groups.iter().map(|s| (*s).to_owned()).collect()),
        resources: Some(resources.iter().map(|s| (*s).to_owned()).collect()),
        verbs: verbs.iter().map(|s| (*s).to_owned()).collect(),
        ..PolicyRule::default()
    };
    let watch = ["list", "watch"];
    let role: ClusterRole = ClusterRole {
        metadata: kube::api::ObjectMeta {
            name: Some(format!("holt-mapper-{ns}")),
            ..Default::default()
        },
        rules: Some(vec![
            rule(&[""], &["pods", "services"], &watch),
            rule(
                &["apps"],
                &["replicasets", "deployments", "statefulsets", "daemonsets"],
                &watch,
            ),
            rule(&["batch"], &["jobs", "cronjobs"], &watch),
            rule(&["k8s.otterize.com"], &["clientintents"], &watch),
            rule(&["k8s.otterize.com"], &["clientintents/status"], &["patch"]),
        ]),
        ..ClusterRole::default()
    };
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await?;
    for (binding, role) in [
        (format!("holt-mapper-{ns}"), format!("holt-mapper-{ns}")),
        (
            format!("holt-mapper-auth-{ns}"),
            "system:auth-delegator".to_owned(),
        ),
    ] {
        let binding: ClusterRoleBinding = serde_json::from_value(json!({
            "metadata": {"name": binding},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": "holt-mapper", "namespace": ns}],
        }))?;
        Api::<ClusterRoleBinding>::all(client.clone())
            .create(&PostParams::default(), &binding)
            .await?;
    }
    holt_testenv::bind_role(
        client,
        ns,
        "holt-mapper-kafka-broker-logs",
        vec![rule(&[""], &["pods", "pods/log"], &["get"])],
        &[(ns, "holt-mapper")],
    )
    .await?;
    let path = cluster.dir().join(format!("mapper-{ns}.kubeconfig"));
    Ok(account.write_kubeconfig(&path, cluster.url(), cluster.ca_file())?)
}

fn last_seen(mapper: &support::Mapper, ns: &str, client: &str) -> anyhow::Result<u64> {
    kafka_uses(mapper, ns)?
        .iter()
        .find(|u| u["client"]["name"] == client)
        .and_then(|u| u["lastSeenMs"].as_u64())
        .with_context(|| format!("no record of {client}"))
}
