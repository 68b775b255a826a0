//! The chart on a real node: `helm install` starts the operator, mapper, sniffer and credentials operator
//! as real pods from Holt's images (`cargo xtask images --profile dev`, imported into the node's
//! containerd), and the story the README tells happens with real pods and real traffic: the operator's replicas become Ready and one
//! leads, the webhook Service refuses an invalid intent and converts an old version, the tutorial's policy
//! appears, the sniffer's DaemonSet pod reports the traffic between the tutorial's real pods to the mapper,
//! whose PVC-backed store keeps it across a pod restart, `helm upgrade` to defaultShadow rolls the
//! operator, and `helm uninstall` removes the pods. One node for the whole file.
//!
//! The node has no cluster DNS: the sniffer reaches the mapper through `networkMapper.sniffer.mapperURL`
//! (the Service's ClusterIP), and the tutorial's clients dial the server's ClusterIP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use holt_chart::chart::{Helm, workspace_dir};
use holt_chart::http_probe;
use holt_testenv::{BUSYBOX_IMAGE, Cluster, ClusterOptions, eventually, install_crds, istio_crds_file};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

mod support;
use support::{NAMESPACE, Release, clientintents, reader_token};

const TUTORIAL: &str = "otterize-tutorial-npol";
const WAIT: Duration = Duration::from_secs(120);

/// `cargo xtask images --profile dev` into the target directory; the archives' paths.
fn build_images() -> anyhow::Result<Vec<PathBuf>> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"));
    let out = target.join("images-dev");
    let status = holt_testenv::cargo_command()
        .current_dir(workspace_dir())
        .args([
            "run",
            "--quiet",
            "--locked",
            "-p",
            "xtask",
            "--",
            "images",
            "--profile",
            "dev",
            "--out",
        ])
        .arg(&out)
        .status()
        .context("running cargo xtask images")?;
    ensure!(status.success(), "cargo xtask images --profile dev failed");
    let mut archives = Vec::new();
    for entry in std::fs::read_dir(&out)? {
        let path = entry?.path();
        if path
            .to_string_lossy()
            .ends_with(&format!("-{}.oci.tar", env!("CARGO_PKG_VERSION")))
        {
            archives.push(path);
        }
    }
    ensure!(
        archives.len() == 4,
        "expected 4 image archives in {}, found {archives:?}",
        out.display()
    );
    Ok(archives)
}

async fn kubectl(cluster: &Cluster, args: &[&str]) -> anyhow::Result<String> {
    support::kubectl(cluster.kubeconfig(), args).await
}

/// The chart's pods of `component` (operator, mapper, sniffer).
async fn component_pods(pods: &Api<Pod>, component: &str) -> anyhow::Result<Vec<Pod>> {
    let selector = format!("app.kubernetes.io/component={component}");
    Ok(pods.list(&ListParams::default().labels(&selector)).await?.items)
}

/// Whether the pod's Ready condition is True.
fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test]
async fn the_chart_runs_as_real_pods_on_a_real_node() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let images = build_images()?;
    eprintln!("images ready after {:?}", started.elapsed());
    let cluster = Cluster::start(ClusterOptions {
        images,
        ..ClusterOptions::default()
    })
    .await?;
    eprintln!("cluster ready after {:?}", started.elapsed());
    let result = story(&cluster).await;
    if result.is_err() {
        let pods = kubectl(&cluster, &["get", "pods", "-A", "-o", "wide"])
            .await
            .unwrap_or_default();
        eprintln!("{pods}");
        for component in ["operator", "mapper", "sniffer", "credentials"] {
            let logs = kubectl(
                &cluster,
                &[
                    "logs",
                    "-n",
                    NAMESPACE,
                    "-l",
                    &format!("app.kubernetes.io/component={component}"),
                    "--tail=30",
                ],
            )
            .await
            .unwrap_or_else(|e| e.to_string());
            eprintln!("--- {component}\n{logs}");
        }
    }
    drop(cluster);
    eprintln!("whole test: {:?}", started.elapsed());
    result
}

async fn story(cluster: &Cluster) -> anyhow::Result<()> {
    let admin = cluster.client().await?;
    let istio = std::fs::read_to_string(istio_crds_file()?)?;
    install_crds(&admin, &istio).await?;

    // The mapper's PVC binds to a hostPath PV in the node's directory (no StorageClass here).
    let volume = cluster.node_dir().join("mapper-volume");
    std::fs::create_dir_all(&volume)?;
    std::os::unix::fs::chown(&volume, Some(65532), Some(65532))?;
    let pv: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": "holt-mapper-store"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": volume, "type": "Directory"},
        },
    }))?;
    Api::<PersistentVolume>::all(admin.clone())
        .create(&PostParams::default(), &pv)
        .await?;

    let helm = Helm::new()?;
    let release = Release::new(&helm, cluster.kubeconfig());
    let notes = release
        .install(&[
            "--create-namespace",
            "--set",
            "intentsOperator.operator.pullPolicy=Never",
            "--set",
            "networkMapper.mapper.pullPolicy=Never",
            "--set",
            "networkMapper.sniffer.pullPolicy=Never",
            "--set",
            "credentialsOperator.operator.pullPolicy=Never",
        ])
        .await?;
    ensure!(notes.contains("STATUS: deployed"), "{notes}");
    // No DNS on the test node: the sniffers report to the mapper Service's ClusterIP.
    let services = Api::<Service>::namespaced(admin.clone(), NAMESPACE);
    let mapper_ip = services
        .get("otterize-network-mapper")
        .await?
        .spec
        .and_then(|s| s.cluster_ip)
        .context("the mapper Service has no ClusterIP")?;
    let mapper_url = format!("networkMapper.sniffer.mapperURL=http://{mapper_ip}:9090");
    release.upgrade_setting(&mapper_url).await?;

    let deployments = Api::<Deployment>::namespaced(admin.clone(), NAMESPACE);
    let daemon_sets = Api::<DaemonSet>::namespaced(admin.clone(), NAMESPACE);
    eventually(
        "operator (2), mapper (1), sniffer (1) and credentials operator (1) pods Ready",
        WAIT,
        || async {
            let ready = |d: &Deployment| d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
            let operator = deployments.get("holt-operator").await?;
            let mapper = deployments.get("holt-mapper").await?;
            let sniffer = daemon_sets.get("holt-sniffer").await?;
            let credentials = deployments.get("holt-credentials").await?;
            let sniffer_ready = sniffer.status.map(|s| s.number_ready).unwrap_or(0);
            Ok((ready(&operator) == 2
                && ready(&mapper) == 1
                && sniffer_ready == 1
                && ready(&credentials) == 1)
                .then_some(()))
        },
    )
    .await?;
    eprintln!("chart Ready");
    // The credentials operator's pod made its CA.
    let secrets = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(admin.clone(), NAMESPACE);
    eventually("the built-in CA's Secret", WAIT, || async {
        Ok(secrets.get_opt("holt-credentials-ca").await?.map(|_| ()))
    })
    .await?;

    // Leader election: one of the two operator pods holds the Lease.
    let pods = Api::<Pod>::namespaced(admin.clone(), NAMESPACE);
    let operator_pods: Vec<String> = component_pods(&pods, "operator")
        .await?
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    ensure!(operator_pods.len() == 2, "operator pods: {operator_pods:?}");
    let leases = Api::<Lease>::namespaced(admin.clone(), NAMESPACE);
    let holder = eventually("an operator pod holds the Lease", WAIT, || async {
        let list = leases.list(&ListParams::default()).await?;
        Ok(list.items.into_iter().find_map(|lease| {
            let holder = lease.spec?.holder_identity?;
            operator_pods
                .iter()
                .any(|p| holder.contains(p.as_str()))
                .then_some(holder)
        }))
    })
    .await?;
    eprintln!("leader: {holder}");

    // The webhook Service: an invalid intent is refused by Holt's validation, through the Service.
    kubectl(
        cluster,
        &[
            "apply",
            "-f",
            &workspace_dir()
                .join("examples/tutorial/namespace.yaml")
                .display()
                .to_string(),
        ],
    )
    .await?;
    let invalid: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
        "metadata": {"name": "probe", "namespace": TUTORIAL},
        "spec": {"service": {"name": "probe"}, "calls": [{"name": "a.b.c"}]},
    }))?;
    let refused = eventually("the webhook refuses an invalid intent", WAIT, || async {
        match clientintents(&admin, TUTORIAL, "v1alpha3")
            .create(&PostParams::default(), &invalid)
            .await
        {
            Err(kube::Error::Api(status)) if status.message.contains("spec.calls[0].name") => {
                Ok(Some(status.message))
            }
            Err(other) => {
                eprintln!("not refused by Holt yet: {other}");
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok(None)
            }
            Ok(_) => bail!("an invalid intent was accepted"),
        }
    })
    .await?;
    eprintln!("refused: {refused}");

    // The tutorial with real pods (busybox stand-ins for its images; no DNS, so the ClusterIP).
    for file in ["service.yaml", "intents.yaml"] {
        kubectl(
            cluster,
            &[
                "apply",
                "-f",
                &workspace_dir()
                    .join("examples/tutorial")
                    .join(file)
                    .display()
                    .to_string(),
            ],
        )
        .await?;
    }
    let server_ip = Api::<Service>::namespaced(admin.clone(), TUTORIAL)
        .get("server")
        .await?
        .spec
        .and_then(|s| s.cluster_ip)
        .context("server has no ClusterIP")?;
    let tutorial_deployments = Api::<Deployment>::namespaced(admin.clone(), TUTORIAL);
    for (name, script) in [
        ("server", "while true; do echo ok | nc -l -p 80; done".to_owned()),
        (
            "client",
            format!("while true; do nc -w 2 {server_ip} 80 </dev/null; sleep 1; done"),
        ),
        (
            "client-other",
            format!("while true; do nc -w 2 {server_ip} 80 </dev/null; sleep 1; done"),
        ),
    ] {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "terminationGracePeriodSeconds": 0,
                        "containers": [{"name": name, "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never",
                                         "command": ["/bin/sh", "-c", script]}],
                    },
                },
            },
        }))?;
        tutorial_deployments
            .create(&PostParams::default(), &deployment)
            .await?;
    }
    let policies = Api::<NetworkPolicy>::namespaced(admin.clone(), TUTORIAL);
    eventually("the tutorial's policy and an up-to-date status", WAIT, || async {
        let policy = policies.get_opt("server-access").await?;
        let intents = clientintents(&admin, TUTORIAL, "v2alpha1").get("client").await?;
        Ok((policy.is_some() && intents.data["status"]["upToDate"] == true).then_some(()))
    })
    .await?;
    // Conversion through the webhook Service: the stored v2alpha1 read as v1alpha3.
    let old = clientintents(&admin, TUTORIAL, "v1alpha3").get("client").await?;
    ensure!(old.data["spec"]["service"]["name"] == "client", "{:?}", old.data);
    eprintln!("tutorial converged");

    // The sniffer's pod sees the real traffic and the mapper resolves it to client → server.
    let mapper = SocketAddr::new(mapper_ip.parse()?, 9090);
    let reader = reader_token(&admin).await?;
    let read_intents = || async {
        http_probe::request(
            mapper,
            "GET",
            "/v1/intents",
            None,
            Some(&reader),
            Duration::from_secs(5),
        )
        .await
        .map(|a| a.body)
        .unwrap_or_default()
    };
    let resolved = |body: &str| {
        body.contains("\"client\":{\"name\":\"client\"") && body.contains("\"server\":{\"name\":\"server\"")
    };
    eventually(
        "the mapper learned client → server from the sniffer",
        WAIT,
        || async {
            let body = read_intents().await;
            Ok(resolved(&body).then_some(()))
        },
    )
    .await?;
    eprintln!("sniffer → mapper: client → server");

    // The store survives a restart: no new traffic, the mapper pod replaced, client → server still known.
    for name in ["client", "client-other"] {
        tutorial_deployments
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 0}})),
            )
            .await?;
    }
    tokio::time::sleep(Duration::from_secs(5)).await; // > snapshotIntervalMs (2 s)
    let claims = Api::<PersistentVolumeClaim>::namespaced(admin.clone(), NAMESPACE);
    let claim = claims.list(&ListParams::default()).await?.items;
    ensure!(
        claim
            .iter()
            .any(|c| c.spec.as_ref().and_then(|s| s.volume_name.as_deref()) == Some("holt-mapper-store")),
        "the mapper's PVC is not bound to the test's PV"
    );
    let old_mapper = component_pods(&pods, "mapper")
        .await?
        .first()
        .and_then(|p| p.metadata.name.clone())
        .context("no mapper pod")?;
    pods.delete(&old_mapper, &DeleteParams::default()).await?;
    eventually(
        "a new mapper pod Ready and still knowing client → server",
        WAIT,
        || async {
            let fresh_ready = component_pods(&pods, "mapper")
                .await?
                .iter()
                .any(|p| p.metadata.name.as_deref() != Some(old_mapper.as_str()) && is_ready(p));
            if !fresh_ready {
                return Ok(None);
            }
            let body = read_intents().await;
            Ok((!body.is_empty()).then_some(body))
        },
    )
    .await
    .and_then(|body| {
        ensure!(resolved(&body), "after the restart the mapper knows: {body}");
        Ok(())
    })?;
    eprintln!("mapper store survived a restart");

    // helm upgrade to defaultShadow rolls the operator's pods.
    release
        .upgrade_setting("intentsOperator.operator.mode=defaultShadow")
        .await?;
    eventually("the operator rolled: two new pods Ready", WAIT, || async {
        let operators = component_pods(&pods, "operator").await?;
        let new_ready = operators
            .iter()
            .filter(|p| !operator_pods.contains(p.metadata.name.as_ref().unwrap_or(&String::new())))
            .filter(|p| is_ready(p))
            .count();
        Ok((new_ready == 2 && operators.len() == 2).then_some(()))
    })
    .await?;
    eprintln!("operator rolled to defaultShadow");

    // helm uninstall: the pods go, the CRDs and intents stay.
    release.uninstall().await?;
    eventually("the chart's pods are gone", WAIT, || async {
        Ok(pods
            .list(&ListParams::default())
            .await?
            .items
            .is_empty()
            .then_some(()))
    })
    .await?;
    clientintents(&admin, TUTORIAL, "v2alpha1").get("client").await?;
    Ok(())
}
