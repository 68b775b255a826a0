//! The chart rendered by the real helm, no cluster: lint, the default values, values files shaped like the
//! reference's documented installs, each component off, the CRDs against deploy/crds, the schema refusing
//! wrong types, every flag of every binary either set by the chart or deliberately left, the mapper's
//! and the credentials operator's roles as they state them, and the mapper reading the operator's
//! configuration (and the declared state) only when the operator is installed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context, bail, ensure};
use holt_chart::binaries::{IMAGE_BINARIES, binaries};
use holt_chart::chart::{Helm, Rendered, chart_dir, crds_dir};
use holt_mapper::access::Role as MapperRole;
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::Value;

fn values_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/values")
        .join(name)
}

const VALUES_FILES: [&str; 4] = [
    "reference-defaults.yaml",
    "shadow-watched.yaml",
    "no-netpols-kafka.yaml",
    "cloud.yaml",
];

fn containers(object: &Value) -> Vec<&Value> {
    object["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|c| c.iter().collect())
        .unwrap_or_default()
}

fn args(container: &Value) -> Vec<String> {
    container["args"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn workloads(rendered: &Rendered) -> Vec<&Value> {
    rendered
        .objects
        .iter()
        .filter(|o| o["kind"] == "Deployment" || o["kind"] == "DaemonSet")
        .collect()
}

/// The operator's configuration file as rendered.
fn operator_config(rendered: &Rendered) -> anyhow::Result<Value> {
    let map = rendered
        .get("ConfigMap", "holt-operator-config")
        .context("no ConfigMap holt-operator-config")?;
    let text = map["data"]["config.yaml"].as_str().context("no config.yaml")?;
    Ok(serde_yaml::from_str(text)?)
}

#[tokio::test]
async fn lint_passes_with_the_default_values_and_every_values_file() -> anyhow::Result<()> {
    let helm = Helm::new()?;
    let chart = chart_dir();
    let output = helm
        .run(&["lint".as_ref(), "--strict".as_ref(), chart.as_os_str()])
        .await?;
    ensure!(output.contains("0 chart(s) failed"), "{output}");
    for file in VALUES_FILES {
        let path = values_file(file);
        let output = helm
            .run(&[
                "lint".as_ref(),
                chart.as_os_str(),
                "--values".as_ref(),
                path.as_os_str(),
            ])
            .await?;
        ensure!(output.contains("0 chart(s) failed"), "{file}: {output}");
    }
    Ok(())
}

#[tokio::test]
async fn default_values_render_every_component_hardened() -> anyhow::Result<()> {
    let rendered = Helm::new()?.template("holt-system", &[]).await?;
    for expected in [
        "CustomResourceDefinition/clientintents.k8s.otterize.com",
        "CustomResourceDefinition/kafkaserverconfigs.k8s.otterize.com",
        "CustomResourceDefinition/protectedservices.k8s.otterize.com",
        "Deployment/holt-operator",
        "Service/holt-webhook",
        "PodDisruptionBudget/holt-operator",
        "ValidatingWebhookConfiguration/holt-validating-webhook",
        "ConfigMap/holt-operator-config",
        "Deployment/holt-mapper",
        "PersistentVolumeClaim/holt-mapper-state",
        "Service/otterize-network-mapper",
        "NetworkPolicy/holt-mapper",
        "DaemonSet/holt-sniffer",
        "Deployment/holt-credentials",
        "ServiceAccount/holt-credentials",
        "ClusterRoleBinding/holt-credentials-read",
        "ClusterRoleBinding/holt-credentials-write",
        "Role/holt-credentials",
        "ClusterRole/holt-intents-edit",
        "ClusterRole/holt-intents-view",
    ] {
        ensure!(
            rendered.names().contains(&expected.to_owned()),
            "{expected} missing from {:?}",
            rendered.names()
        );
    }
    ensure!(
        rendered.of_kind("ServiceMonitor").is_empty(),
        "ServiceMonitors are optional"
    );

    // The images are the ones `cargo xtask images` builds: this workspace's version as the tag.
    let version = env!("CARGO_PKG_VERSION");
    let mut images = BTreeSet::new();
    for workload in workloads(&rendered) {
        let name = workload["metadata"]["name"].as_str().unwrap_or_default();
        let pod = &workload["spec"]["template"];
        assert_eq!(
            pod["metadata"]["annotations"]["prometheus.io/scrape"], "true",
            "{name}: scrape annotation"
        );
        for container in containers(workload) {
            images.insert(container["image"].as_str().unwrap_or_default().to_owned());
            let security = &container["securityContext"];
            assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault", "{name}");
            assert_eq!(
                security["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{name}"
            );
            for bound in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    ensure!(
                        !container["resources"][bound][resource].is_null(),
                        "{name}: no {bound}.{resource}"
                    );
                }
            }
            ensure!(
                !container["livenessProbe"]["httpGet"].is_null(),
                "{name}: liveness"
            );
            ensure!(
                !container["readinessProbe"]["httpGet"].is_null(),
                "{name}: readiness"
            );
            if name == "holt-sniffer" {
                // Root (capabilities are given to root only), with exactly what the sniffer documents.
                assert_eq!(security["runAsUser"], 0);
                assert_eq!(
                    security["capabilities"]["add"],
                    serde_json::json!(["NET_RAW", "SYS_PTRACE", "DAC_READ_SEARCH"])
                );
                assert_eq!(pod["spec"]["hostNetwork"], true);
                assert_eq!(pod["spec"]["automountServiceAccountToken"], false);
                // The host's /proc, read-only, and a token for the mapper's audience: nothing else.
                let volumes = pod["spec"]["volumes"].as_array().context("sniffer volumes")?;
                assert_eq!(volumes.len(), 2, "{volumes:?}");
                assert_eq!(volumes[0]["hostPath"]["path"], "/proc");
                let token = &volumes[1]["projected"]["sources"][0]["serviceAccountToken"];
                assert_eq!(token["audience"], "holt-mapper");
                for mount in container["volumeMounts"].as_array().context("mounts")? {
                    assert_eq!(mount["readOnly"], true);
                }
            } else {
                assert_eq!(security["runAsNonRoot"], true, "{name}");
                assert_eq!(security["runAsUser"], 65532, "{name}");
                ensure!(
                    security["capabilities"]["add"].is_null(),
                    "{name} adds capabilities"
                );
            }
        }
    }
    let expected: BTreeSet<String> = IMAGE_BINARIES
        .iter()
        .map(|b| format!("localhost/holt/{b}:{version}"))
        .collect();
    assert_eq!(images, expected);
    let chart: Value = serde_yaml::from_str(&std::fs::read_to_string(chart_dir().join("Chart.yaml"))?)?;
    assert_eq!(
        chart["appVersion"], version,
        "Chart.yaml appVersion follows the workspace version"
    );
    assert_eq!(chart["version"], version);

    let operator = rendered.get("Deployment", "holt-operator").context("operator")?;
    assert_eq!(operator["spec"]["replicas"], 2);
    ensure!(args(containers(operator)[0]).contains(&"--leader-elect".to_owned()));
    ensure!(
        !operator["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"].is_null(),
        "anti-affinity"
    );
    let mapper = rendered.get("Deployment", "holt-mapper").context("mapper")?;
    assert_eq!(mapper["spec"]["strategy"]["type"], "Recreate");
    let claim = rendered
        .get("PersistentVolumeClaim", "holt-mapper-state")
        .context("claim")?;
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
    // Holt's own policies carry the managed-by label the operator prunes by; the chart's must not.
    for policy in rendered.of_kind("NetworkPolicy") {
        assert_eq!(
            policy["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "Helm"
        );
    }
    Ok(())
}

#[tokio::test]
async fn values_shaped_like_the_reference_installs_render_what_they_ask() -> anyhow::Result<()> {
    let helm = Helm::new()?;
    let mut configs = BTreeMap::new();
    for file in VALUES_FILES {
        let path = values_file(file);
        let rendered = helm
            .template("otterize-system", &["--values", &path.display().to_string()])
            .await
            .with_context(|| file.to_owned())?;
        configs.insert(file, (operator_config(&rendered)?, rendered));
    }
    let (config, rendered) = &configs["shadow-watched.yaml"];
    assert_eq!(config["mode"], "defaultShadow");
    assert_eq!(
        config["watchedNamespaces"],
        serde_json::json!(["shop", "payments"])
    );
    assert_eq!(config["enforcedNamespaces"], serde_json::json!(["payments"]));
    assert_eq!(config["enableEgressNetworkPolicyCreation"], true);
    assert_eq!(config["separateNetpolsForIngressAndEgress"], true);
    assert_eq!(config["enableGroupIPsByCIDR"], true);
    // The deprecated spelling still sets the option.
    assert_eq!(config["automateThirdPartyNetworkPolicies"], "always");
    assert_eq!(config["workloadNameOverrideAnnotation"], "example.com/workload");
    assert_eq!(config["useImageNameForServiceIdForJobs"], true);
    let mapper_args = args(containers(rendered.get("Deployment", "holt-mapper").context("mapper")?)[0]);
    for expected in [
        "--exclude-namespaces=istio-system,linkerd,monitoring",
        "--workload-name-override-annotation=example.com/workload",
        "--use-image-name-for-service-id-for-jobs=true",
    ] {
        ensure!(
            mapper_args.contains(&expected.to_owned()),
            "{expected} not in {mapper_args:?}"
        );
    }
    // Writes only where it acts: a RoleBinding of the write role per watched namespace.
    let bindings: BTreeSet<String> = rendered
        .of_kind("RoleBinding")
        .into_iter()
        .filter(|b| b["roleRef"]["name"] == "holt-operator-write")
        .map(|b| b["metadata"]["namespace"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        bindings,
        BTreeSet::from(["payments".to_owned(), "shop".to_owned()])
    );
    ensure!(
        rendered
            .get("ClusterRoleBinding", "holt-operator-write")
            .is_none()
    );
    ensure!(rendered.get("ClusterRoleBinding", "holt-operator-read").is_some());
    // The webhook Service is in the release namespace, and the CRDs say so.
    for crd in rendered.of_kind("CustomResourceDefinition") {
        let service = &crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"];
        assert_eq!(service["namespace"], "otterize-system");
        assert_eq!(service["name"], "holt-webhook");
    }

    let (config, _) = &configs["no-netpols-kafka.yaml"];
    assert_eq!(config["enableNetworkPolicyCreation"], false);
    assert_eq!(config["enableKafkaACLCreation"], true);
    let (config, rendered) = &configs["reference-defaults.yaml"];
    assert_eq!(config["mode"], "defaultActive");
    ensure!(
        rendered
            .get("ClusterRoleBinding", "holt-operator-write")
            .is_some()
    );
    // The reference's credentials operator and SPIRE are not Holt's: nothing of theirs is rendered.
    let kinds: BTreeSet<&str> = rendered
        .objects
        .iter()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    ensure!(!kinds.contains("StatefulSet"), "{kinds:?}");
    Ok(())
}

#[tokio::test]
async fn each_component_can_be_switched_off() -> anyhow::Result<()> {
    let helm = Helm::new()?;
    let component = |object: &Value| {
        object["metadata"]["labels"]["app.kubernetes.io/component"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let no_operator = helm
        .template(
            "holt-system",
            &["--set", "global.deployment.intentsOperator=false"],
        )
        .await?;
    ensure!(no_operator.of_kind("CustomResourceDefinition").is_empty());
    for object in &no_operator.objects {
        ensure!(
            ["mapper", "sniffer", "credentials"].contains(&component(object).as_str()),
            "operator off, still rendered: {}",
            object["metadata"]["name"]
        );
    }
    ensure!(no_operator.get("DaemonSet", "holt-sniffer").is_some());

    let no_mapper = helm
        .template("holt-system", &["--set", "global.deployment.networkMapper=false"])
        .await?;
    for object in &no_mapper.objects {
        ensure!(
            ["operator", "access", "credentials", ""].contains(&component(object).as_str()),
            "mapper off, still rendered: {}",
            object["metadata"]["name"]
        );
    }
    ensure!(no_mapper.get("Deployment", "holt-operator").is_some());

    let no_sniffer = helm
        .template("holt-system", &["--set", "networkMapper.sniffer.enable=false"])
        .await?;
    ensure!(no_sniffer.get("DaemonSet", "holt-sniffer").is_none());
    ensure!(no_sniffer.get("ServiceAccount", "holt-sniffer").is_none());
    ensure!(no_sniffer.get("Deployment", "holt-mapper").is_some());

    // The credentials operator: switched off, or with a provider Holt does not have.
    for set in [
        "global.deployment.credentialsOperator=false",
        "global.certificateProvider=otterize-cloud",
    ] {
        let no_credentials = helm.template("holt-system", &["--set", set]).await?;
        ensure!(
            no_credentials
                .objects
                .iter()
                .all(|o| component(o) != "credentials"),
            "{set}: credentials objects rendered"
        );
        ensure!(no_credentials.get("Deployment", "holt-operator").is_some());
    }

    let nothing = helm
        .template(
            "holt-system",
            &[
                "--set",
                "global.deployment.intentsOperator=false",
                "--set",
                "global.deployment.networkMapper=false",
                "--set",
                "global.deployment.credentialsOperator=false",
            ],
        )
        .await?;
    ensure!(nothing.objects.is_empty(), "{:?}", nothing.names());

    // Optional parts: ServiceMonitors, no PodDisruptionBudget, no NetworkPolicies, no persistence.
    let options = helm
        .template(
            "holt-system",
            &[
                "--set",
                "intentsOperator.serviceMonitor.enabled=true",
                "--set",
                "networkMapper.mapper.serviceMonitor.enabled=true",
                "--set",
                "intentsOperator.podDisruptionBudget.enabled=false",
                "--set",
                "intentsOperator.networkPolicy.enabled=false",
                "--set",
                "networkMapper.mapper.networkPolicy.enabled=false",
                "--set",
                "networkMapper.mapper.persistence.enabled=false",
                "--set",
                "networkMapper.sniffer.enableSocketScan=false",
            ],
        )
        .await?;
    assert_eq!(options.of_kind("ServiceMonitor").len(), 2);
    ensure!(options.of_kind("PodDisruptionBudget").is_empty());
    ensure!(options.of_kind("NetworkPolicy").is_empty());
    ensure!(options.of_kind("PersistentVolumeClaim").is_empty());
    let mapper = options.get("Deployment", "holt-mapper").context("mapper")?;
    ensure!(!mapper["spec"]["template"]["spec"]["volumes"][0]["emptyDir"].is_null());
    // Without the socket scan, no /proc and no capability but NET_RAW.
    let sniffer = options.get("DaemonSet", "holt-sniffer").context("sniffer")?;
    assert_eq!(
        containers(sniffer)[0]["securityContext"]["capabilities"]["add"],
        serde_json::json!(["NET_RAW"])
    );
    let volumes = sniffer["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .context("volumes")?;
    ensure!(volumes.iter().all(|v| v["hostPath"].is_null()), "{volumes:?}");
    Ok(())
}

/// deploy/crds as JSON values by CRD name.
fn generated_crds() -> anyhow::Result<BTreeMap<String, Value>> {
    let mut crds = BTreeMap::new();
    for entry in std::fs::read_dir(crds_dir())? {
        let path = entry?.path();
        let value: Value = serde_yaml::from_str(&std::fs::read_to_string(&path)?)?;
        let name = value["metadata"]["name"].as_str().context("CRD name")?.to_owned();
        crds.insert(name, value);
    }
    Ok(crds)
}

#[tokio::test]
async fn the_charts_crds_are_deploy_crds() -> anyhow::Result<()> {
    // The chart's copy, byte for byte (HOLT_UPDATE_GENERATED=1 rewrites it, as for deploy/crds).
    let copy_dir = chart_dir().join("files/crds");
    let update = std::env::var_os("HOLT_UPDATE_GENERATED").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(crds_dir())? {
        let path = entry?.path();
        let file = path.file_name().context("file name")?.to_owned();
        names.insert(file.clone());
        let generated = std::fs::read(&path)?;
        let copy = copy_dir.join(&file);
        if update {
            std::fs::write(&copy, &generated)?;
        } else if std::fs::read(&copy).ok().as_deref() != Some(generated.as_slice()) {
            stale.push(copy.display().to_string());
        }
    }
    for entry in std::fs::read_dir(&copy_dir)? {
        let file = entry?.file_name();
        if !names.contains(&file) {
            stale.push(format!("{} (not in deploy/crds)", file.to_string_lossy()));
        }
    }
    ensure!(
        stale.is_empty(),
        "the chart's CRDs differ from deploy/crds: {stale:?}; copy them with \
         HOLT_UPDATE_GENERATED=1 cargo test -p holt-chart --test template"
    );

    // Rendered in holt-system (the namespace deploy/crds names), they are exactly deploy/crds; elsewhere
    // only the conversion webhook's Service namespace differs.
    let helm = Helm::new()?;
    let generated = generated_crds()?;
    for (namespace, service) in [
        ("holt-system", "holt-webhook"),
        ("otterize-system", "holt-webhook"),
    ] {
        let rendered = helm.template(namespace, &[]).await?;
        let crds = rendered.of_kind("CustomResourceDefinition");
        assert_eq!(crds.len(), generated.len());
        for crd in crds {
            let name = crd["metadata"]["name"].as_str().context("name")?;
            let mut expected = generated.get(name).context("unexpected CRD")?.clone();
            expected["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["namespace"] =
                Value::from(namespace);
            expected["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["name"] =
                Value::from(service);
            ensure!(
                *crd == expected,
                "{name} rendered in {namespace} is not deploy/crds"
            );
            assert_eq!(crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep");
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_schema_refuses_wrong_types_naming_the_value() -> anyhow::Result<()> {
    let helm = Helm::new()?;
    let chart = chart_dir().display().to_string();
    for (set, named) in [
        (
            "intentsOperator.operator.mode=active",
            "/intentsOperator/operator/mode",
        ),
        (
            "intentsOperator.operator.enableNetworkPolicyCreation=yes",
            "/intentsOperator/operator/enableNetworkPolicyCreation",
        ),
        (
            "intentsOperator.watchedNamespaces=shop",
            "/intentsOperator/watchedNamespaces",
        ),
        ("intentsOperator.replicas=two", "/intentsOperator/replicas"),
        (
            "intentsOperator.operator.automateThirdPartyNetworkPolicies=sometimes",
            "/intentsOperator/operator/automateThirdPartyNetworkPolicies",
        ),
        (
            "intentsOperator.operator.kafkaACLResyncInterval=5",
            "/intentsOperator/operator/kafkaACLResyncInterval",
        ),
        (
            "intentsOperator.webhook.limits.queueWait=10",
            "/intentsOperator/webhook/limits/queueWait",
        ),
        (
            "intentsOperator.webhook.limits.reviewMemoryMB=128",
            "/intentsOperator/webhook/limits",
        ),
        ("networkMapper.mapper.port=70000", "/networkMapper/mapper/port"),
        (
            "credentialsOperator.operator.renewAt=2",
            "/credentialsOperator/operator/renewAt",
        ),
        (
            "credentialsOperator.ca.validity=1y",
            "/credentialsOperator/ca/validity",
        ),
        ("credentialsOperator.ca.rotateBefor=1d", "/credentialsOperator/ca"),
        ("global.certificateProvider=vault", "/global/certificateProvider"),
        (
            "global.spiffe.trustDomain=Example.ORG",
            "/global/spiffe/trustDomain",
        ),
        (
            "networkMapper.mapper.settings.maxReportBytes=12",
            "/networkMapper/mapper/settings/maxReportBytes",
        ),
        (
            "networkMapper.mapper.settings.maxIntent=5",
            "/networkMapper/mapper/settings",
        ),
        (
            "networkMapper.sniffer.enable=maybe",
            "/networkMapper/sniffer/enable",
        ),
        (
            "global.deployment.networkMapper=1",
            "/global/deployment/networkMapper",
        ),
        (
            "intentsAccess.editorsMayWriteProtectedService=true",
            "/intentsAccess",
        ),
    ] {
        // --set-string for words, so that helm passes a string where a boolean or number belongs.
        let flag = if set.ends_with("=1")
            || set.ends_with("=70000")
            || set.ends_with("=12")
            || set.ends_with("=2")
        {
            "--set"
        } else {
            "--set-string"
        };
        let output = helm.output(&["template", "holt", &chart, flag, set]).await?;
        ensure!(!output.status.success(), "{set} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        ensure!(
            stderr.contains(named),
            "{set}: the error does not name {named}: {stderr}"
        );
    }
    // The reference's deprecated switch fails the render, saying what replaces it, as the reference does.
    let output = helm
        .output(&[
            "template",
            "holt",
            &chart,
            "--set",
            "intentsOperator.operator.enableEnforcement=true",
        ])
        .await?;
    ensure!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(stderr.contains("intentsOperator.operator.mode"), "{stderr}");
    Ok(())
}

/// `(flag, env variable)` of every option a binary's `--help` lists.
fn flags_of(help: &str) -> Vec<(String, Option<String>)> {
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        let flag = trimmed
            .strip_prefix("-h, ")
            .or_else(|| trimmed.strip_prefix("-V, "))
            .unwrap_or(trimmed);
        if line.starts_with("  ") && flag.starts_with("--") {
            let name = flag
                .trim_start_matches("--")
                .split([' ', '='])
                .next()
                .unwrap_or_default()
                .to_owned();
            flags.push((name, None));
        }
        // `[env: NAME=]` on the flag's line (short help) or a line of its own (long help).
        if let Some((_, env)) = line.split_once("[env: ")
            && let Some(last) = flags.last_mut()
        {
            last.1 = env.split('=').next().map(str::to_owned);
        }
    }
    flags
}

#[tokio::test]
async fn every_flag_is_set_by_the_chart_or_deliberately_left() -> anyhow::Result<()> {
    let built = binaries().await?;
    // Render with the optional flags' values set, so that every flag the chart can pass is passed.
    let rendered = Helm::new()?
        .template(
            "holt-system",
            &[
                "--set",
                "intentsOperator.webhook.certSecretName=my-cert",
                "--set",
                "intentsOperator.operator.kafkaServerTLSSecret=kafka-client",
                "--set",
                "networkMapper.sniffer.interface=eth0",
                "--set",
                "credentialsOperator.replicas=2",
                "--set",
                "credentialsOperator.ca.userSecretName=corp-ca",
                "--set",
                "credentialsOperator.watchedNamespaces={shop}",
                "--set",
                "networkMapper.mapper.kafkaBrokerPods={kafka-0.kafka}",
            ],
        )
        .await?;
    let config = operator_config(&rendered)?;
    let config_keys: BTreeSet<String> = config.as_object().context("config")?.keys().cloned().collect();
    // The configuration file holds every key the operator's configuration has.
    let model_keys: BTreeSet<String> = serde_json::to_value(holt_model::Config::default())?
        .as_object()
        .context("Config")?
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        config_keys, model_keys,
        "the chart's config.yaml and holt_model::Config"
    );
    let config_flags: BTreeSet<String> = {
        use clap::Args;
        holt_config::ConfigArgs::augment_args(clap::Command::new("config"))
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_owned))
            .collect()
    };

    // Flags left to their defaults on purpose, with why (docs/install.md repeats them).
    let left: BTreeMap<(&str, &str), &str> = BTreeMap::from([
        (
            ("holt-operator", "webhook-url"),
            "for an operator outside the cluster",
        ),
        (
            ("holt-operator", "disable-webhook-server"),
            "every replica serves the webhooks the CRDs need",
        ),
        (
            ("holt-operator", "leader-election-namespace"),
            "the release namespace, the default",
        ),
        (("holt-mapper", "kubeconfig"), "in-cluster credentials"),
        (("holt-mapper", "context"), "in-cluster credentials"),
        (
            ("holt-mapper", "insecure-skip-authentication"),
            "never in a cluster: anyone reaching the port could read and reset",
        ),
        (
            ("holt-mapper", "kafka-authorizer-log"),
            "files on a volume shared with the brokers, which the chart cannot know: extraEnvVars and extraVolumes",
        ),
        (
            ("holt-credentials", "ca-check-interval"),
            "a minute, the default: how soon a replaced CA Secret is read",
        ),
        (
            ("holt-credentials", "leader-election-namespace"),
            "the release namespace, the default",
        ),
        (
            ("holt-credentials", "spire-server-address"),
            "passed with global.certificateProvider spire only",
        ),
        (
            ("holt-credentials", "spire-parent-id"),
            "passed with global.certificateProvider spire and credentialsOperator.spire.parentId only",
        ),
        (
            ("holt-credentials", "cert-manager-issuer-name"),
            "passed with global.certificateProvider cert-manager only",
        ),
        (
            ("holt-credentials", "cert-manager-use-cluster-issuer"),
            "passed with global.certificateProvider cert-manager only",
        ),
    ]);
    let mut missing = Vec::new();
    for binary in IMAGE_BINARIES {
        let path = built.get(binary).context("binary")?;
        let help = std::process::Command::new(path).arg("--help").output()?;
        let help = String::from_utf8_lossy(&help.stdout);
        let flags = flags_of(&help);
        ensure!(flags.len() > 5, "{binary} --help: {help}");
        let workload = workloads(&rendered)
            .into_iter()
            .find(|w| {
                containers(w)[0]["image"]
                    .as_str()
                    .is_some_and(|i| i.contains(binary))
            })
            .with_context(|| format!("no workload runs {binary}"))?;
        let container = containers(workload)[0];
        let passed: BTreeSet<String> = args(container)
            .iter()
            .filter_map(|a| a.strip_prefix("--"))
            .map(|a| a.split('=').next().unwrap_or_default().to_owned())
            .collect();
        let variables: BTreeSet<String> = container["env"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|v| v["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for (flag, env) in flags {
            let covered = ["help", "version"].contains(&flag.as_str())
                || passed.contains(&flag)
                || env.as_ref().is_some_and(|e| variables.contains(e))
                || (binary == "holt-operator" && config_flags.contains(&flag) && passed.contains("config"))
                || left.contains_key(&(binary, flag.as_str()));
            if !covered {
                missing.push(format!("{binary} --{flag}"));
            }
        }
        for arg in &passed {
            ensure!(
                help.contains(&format!("--{arg}")),
                "{binary}: the chart passes --{arg}, unknown to it"
            );
        }
        // Every variable of Holt's the chart sets is one the binary reads (a misspelt one would be ignored).
        for variable in variables.iter().filter(|v| v.starts_with("HOLT_")) {
            ensure!(
                help.contains(&format!("[env: {variable}=")),
                "{binary}: the chart sets {variable}, which it does not read"
            );
        }
    }
    ensure!(
        missing.is_empty(),
        "flags the chart neither sets nor leaves on purpose: {missing:?}"
    );
    Ok(())
}

/// The rules of a rendered Role, as RBAC types.
/// The rules of the rendered `kind` (`Role` or `ClusterRole`) `name`, as RBAC types.
fn rules_of(rendered: &Rendered, kind: &str, name: &str) -> anyhow::Result<Vec<PolicyRule>> {
    let role = rendered
        .get(kind, name)
        .with_context(|| format!("no {kind} {name}"))?;
    Ok(serde_json::from_value(role["rules"].clone())?)
}

fn role_rules(rendered: &Rendered, name: &str) -> anyhow::Result<Vec<PolicyRule>> {
    rules_of(rendered, "Role", name)
}

fn cluster_role_rules(rendered: &Rendered, name: &str) -> anyhow::Result<Vec<PolicyRule>> {
    rules_of(rendered, "ClusterRole", name)
}

#[tokio::test]
async fn the_mappers_roles_grant_exactly_what_the_mapper_checks() -> anyhow::Result<()> {
    let rendered = Helm::new()?
        .template(
            "holt-system",
            &[
                "--set",
                "networkMapper.mapper.serviceName=mapper",
                "--set",
                "networkMapper.mapper.port=8080",
            ],
        )
        .await?;
    // `holt mapper` goes through the API server's service proxy: `get` to read, `create` to reset, on the
    // mapper's Service and port only.
    let proxy = |verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["services/proxy".to_owned()]),
        resource_names: Some(vec!["mapper:8080".to_owned()]),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    };
    // The mapper's own statement of its roles' rules (what its tests grant), plus the proxy.
    let expected = [
        ("holt-mapper-reporter", MapperRole::Sniffer.rules()),
        (
            "holt-mapper-reader",
            [MapperRole::Reader.rules(), vec![proxy(&["get"])]].concat(),
        ),
        (
            "holt-mapper-resetter",
            [MapperRole::Admin.rules(), vec![proxy(&["get", "create"])]].concat(),
        ),
    ];
    for (name, rules) in expected {
        assert_eq!(role_rules(&rendered, name)?, rules, "Role {name}");
    }
    // The sniffers are bound to report; readers and resetters to whoever the values name (none by default).
    let binding = rendered
        .get("RoleBinding", "holt-mapper-reporter")
        .context("reporter binding")?;
    assert_eq!(
        binding["subjects"],
        serde_json::json!([{"kind": "ServiceAccount", "name": "holt-sniffer", "namespace": "holt-system"}])
    );
    ensure!(rendered.get("RoleBinding", "holt-mapper-reader").is_none());
    ensure!(rendered.get("RoleBinding", "holt-mapper-resetter").is_none());
    // The mapper checks in its own namespace, and the sniffer's token file is the projected token.
    let mapper = rendered.get("Deployment", "holt-mapper").context("mapper")?;
    let variables = &containers(mapper)[0]["env"];
    ensure!(
        variables.as_array().is_some_and(|v| v.iter().any(|v| {
            v["name"] == "HOLT_MAPPER_AUTHORIZATION_NAMESPACE"
                && v["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
        })),
        "{variables}"
    );
    let sniffer = rendered.get("DaemonSet", "holt-sniffer").context("sniffer")?;
    let container = containers(sniffer)[0];
    let token_dir = container["volumeMounts"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "mapper-token"))
        .and_then(|m| m["mountPath"].as_str())
        .context("the mapper token's mount")?;
    ensure!(
        args(container).contains(&format!("--token-file={token_dir}/token")),
        "{:?}",
        args(container)
    );
    Ok(())
}

/// The rules of the rendered ClusterRole `name`, as (API group, resource, verbs) each.
fn cluster_role_grants(
    rendered: &Rendered,
    name: &str,
) -> anyhow::Result<BTreeSet<(String, String, String)>> {
    let mut grants = BTreeSet::new();
    for rule in cluster_role_rules(rendered, name)? {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                grants.insert((group.clone(), resource.clone(), rule.verbs.join(",")));
            }
        }
    }
    Ok(grants)
}

#[tokio::test]
async fn the_mapper_serves_insights_with_the_operators_configuration_only_beside_the_operator()
-> anyhow::Result<()> {
    let helm = Helm::new()?;
    // Namespaces (core), networkpolicies and ingresses (networking.k8s.io), protectedservices (Holt's).
    let declared_state = ["namespaces", "networkpolicies", "ingresses", "protectedservices"];
    let grants_watch = |grants: &BTreeSet<(String, String, String)>, resource: &str| {
        grants
            .iter()
            .any(|(_, r, verbs)| r == resource && verbs == "list,watch")
    };

    // With the operator: its ConfigMap mounted read-only into the mapper, the flag naming the file in it,
    // and list/watch of the declared state the insights read (nothing more: no write verb is added).
    let rendered = helm.template("holt-system", &[]).await?;
    ensure!(rendered.get("ConfigMap", "holt-operator-config").is_some());
    let mapper = rendered.get("Deployment", "holt-mapper").context("mapper")?;
    let container = containers(mapper)[0];
    let mount = container["volumeMounts"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "operator-config"))
        .context("the operator configuration's mount")?;
    assert_eq!(mount["readOnly"], true);
    let path = format!(
        "{}/config.yaml",
        mount["mountPath"].as_str().context("mountPath")?
    );
    ensure!(
        args(container).contains(&format!("--operator-config={path}")),
        "{:?}",
        args(container)
    );
    ensure!(args(container).contains(&"--max-declared-objects=20000".to_owned()));
    let volume = mapper["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == "operator-config"))
        .context("the operator configuration's volume")?;
    assert_eq!(volume["configMap"]["name"], "holt-operator-config");
    ensure!(
        !mapper["spec"]["template"]["metadata"]["annotations"]["checksum/operator-config"].is_null(),
        "a changed configuration rolls the mapper too"
    );
    let grants = cluster_role_grants(&rendered, "holt-mapper")?;
    for resource in declared_state {
        ensure!(grants_watch(&grants, resource), "{resource} not in {grants:?}");
    }
    ensure!(
        grants.iter().all(|(_, resource, verbs)| verbs == "list,watch"
            || (resource == "clientintents/status" && verbs == "patch")),
        "{grants:?}"
    );

    // Without the operator: no configuration to read, so no insights, no mount and none of those grants.
    let alone = helm
        .template(
            "holt-system",
            &["--set", "global.deployment.intentsOperator=false"],
        )
        .await?;
    let mapper = alone.get("Deployment", "holt-mapper").context("mapper")?;
    let container = containers(mapper)[0];
    ensure!(
        !args(container).iter().any(|a| a.starts_with("--operator-config")),
        "{:?}",
        args(container)
    );
    ensure!(!mapper.to_string().contains("operator-config"), "{mapper}");
    let grants = cluster_role_grants(&alone, "holt-mapper")?;
    for resource in declared_state {
        ensure!(
            !grants_watch(&grants, resource),
            "{resource} granted without the operator"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_mapper_reads_kafka_authorizer_logs_from_a_volume_the_values_add() -> anyhow::Result<()> {
    let helm = Helm::new()?;
    let values = tempfile::NamedTempFile::new()?;
    std::fs::write(
        values.path(),
        "networkMapper:
  mapper:
    settings:
      kafkaLogIntervalMs: 5000
    extraEnvVars:
      - name: HOLT_MAPPER_KAFKA_AUTHORIZER_LOGS
        value: kafka.kafka=/var/log/kafka/authorizer.log
    extraVolumes:
      - name: kafka-logs
        persistentVolumeClaim:
          claimName: kafka-authorizer-logs
    extraVolumeMounts:
      - name: kafka-logs
        mountPath: /var/log/kafka
        readOnly: true
",
    )?;
    let path = values.path().display().to_string();
    let rendered = helm.template("holt-system", &["--values", &path]).await?;
    let mapper = rendered.get("Deployment", "holt-mapper").context("mapper")?;
    let container = containers(mapper)[0];
    for flag in ["--kafka-log-interval-ms=5000", "--max-kafka-topic-records=10000"] {
        ensure!(
            args(container).contains(&flag.to_owned()),
            "{flag} not in {:?}",
            args(container)
        );
    }
    let mount = container["volumeMounts"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "kafka-logs"))
        .context("the logs' mount")?;
    assert_eq!(mount["mountPath"], "/var/log/kafka");
    let volume = mapper["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == "kafka-logs"))
        .context("the logs' volume")?;
    assert_eq!(
        volume["persistentVolumeClaim"]["claimName"],
        "kafka-authorizer-logs"
    );
    let env = container["env"]
        .as_array()
        .and_then(|e| {
            e.iter()
                .find(|e| e["name"] == "HOLT_MAPPER_KAFKA_AUTHORIZER_LOGS")
        })
        .context("the logs' variable")?;
    assert_eq!(env["value"], "kafka.kafka=/var/log/kafka/authorizer.log");
    Ok(())
}

#[tokio::test]
async fn broker_pods_from_the_values_are_passed_and_granted_pods_log_in_their_namespaces_only()
-> anyhow::Result<()> {
    use clap::Parser;
    let helm = Helm::new()?;
    let broker_logs_roles = |rendered: &Rendered| -> Vec<(String, String)> {
        rendered
            .objects
            .iter()
            .filter(|o| {
                (o["kind"] == "Role" || o["kind"] == "RoleBinding")
                    && o["metadata"]["name"] == "holt-mapper-kafka-broker-logs"
            })
            .map(|o| {
                (
                    o["kind"].as_str().unwrap_or_default().to_owned(),
                    o["metadata"]["namespace"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let broker_pod_args = |rendered: &Rendered| -> anyhow::Result<Vec<String>> {
        let mapper = rendered.get("Deployment", "holt-mapper").context("mapper")?;
        Ok(args(containers(mapper)[0])
            .into_iter()
            .filter(|a| a.starts_with("--kafka-broker-pod"))
            .collect())
    };

    // None configured: no flag, no grant; the reference's kafkaServers without kafkawatcher.enable neither.
    for extra in [
        &[][..],
        &["--set", "networkMapper.kafkawatcher.kafkaServers={kafka-0.kafka}"][..],
    ] {
        let rendered = helm.template("holt-system", extra).await?;
        ensure!(broker_pod_args(&rendered)?.is_empty(), "{extra:?}");
        ensure!(broker_logs_roles(&rendered).is_empty(), "{extra:?}");
        let grants = cluster_role_grants(&rendered, "holt-mapper")?;
        ensure!(
            !grants.iter().any(|(_, resource, _)| resource == "pods/log"),
            "{grants:?}"
        );
    }

    // Holt's own key and the reference's, together.
    let rendered = helm
        .template(
            "holt-system",
            &[
                "--set",
                "networkMapper.mapper.kafkaBrokerPods={kafka.kafka=streaming/kafka-0:broker}",
                "--set",
                "networkMapper.kafkawatcher.enable=true",
                "--set",
                "networkMapper.kafkawatcher.kafkaServers={kafka-0.kafka,kafka-1.kafka}",
            ],
        )
        .await?;
    let passed = broker_pod_args(&rendered)?;
    assert_eq!(
        passed,
        ["--kafka-broker-pod=kafka.kafka=streaming/kafka-0:broker,kafka-0.kafka,kafka-1.kafka"]
    );
    let parsed = holt_mapper::args::Args::try_parse_from(["holt-mapper", passed[0].as_str()])?;
    assert_eq!(parsed.kafka_broker_pod.len(), 3, "the mapper reads every pod");
    assert_eq!(
        broker_logs_roles(&rendered),
        [
            ("Role".to_owned(), "kafka".to_owned()),
            ("Role".to_owned(), "streaming".to_owned()),
            ("RoleBinding".to_owned(), "kafka".to_owned()),
            ("RoleBinding".to_owned(), "streaming".to_owned()),
        ]
    );
    for object in &rendered.objects {
        if object["metadata"]["name"] != "holt-mapper-kafka-broker-logs" {
            continue;
        }
        if object["kind"] == "Role" {
            assert_eq!(
                object["rules"],
                serde_json::json!([{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get"]}])
            );
        } else {
            assert_eq!(
                object["subjects"],
                serde_json::json!([{"kind": "ServiceAccount", "name": "holt-mapper", "namespace": "holt-system"}])
            );
            assert_eq!(object["roleRef"]["name"], "holt-mapper-kafka-broker-logs");
        }
    }
    let grants = cluster_role_grants(&rendered, "holt-mapper")?;
    ensure!(
        !grants.iter().any(|(_, resource, _)| resource == "pods/log"),
        "never cluster-wide: {grants:?}"
    );

    // A malformed entry is refused by the values' schema, naming the key.
    let refused = helm
        .template(
            "holt-system",
            &["--set", "networkMapper.mapper.kafkaBrokerPods={kafka-0}"],
        )
        .await
        .expect_err("kafka-0 names no namespace");
    ensure!(refused.to_string().contains("kafkaBrokerPods"), "{refused}");
    Ok(())
}

#[tokio::test]
async fn the_credentials_operators_roles_are_the_ones_it_states() -> anyhow::Result<()> {
    use holt_credentials::provider::ProviderKind;
    use holt_credentials::rbac;
    let helm = Helm::new()?;
    let rendered = helm.template("holt-system", &[]).await?;
    assert_eq!(
        cluster_role_rules(&rendered, "holt-credentials-read")?,
        rbac::read_rules()
    );
    assert_eq!(
        cluster_role_rules(&rendered, "holt-credentials-write")?,
        rbac::write_rules(ProviderKind::BuiltIn)
    );
    assert_eq!(
        role_rules(&rendered, "holt-credentials")?,
        rbac::own_namespace_rules(ProviderKind::BuiltIn, "holt-credentials-ca", false)
    );
    for role in ["read", "write"] {
        let binding = rendered
            .get("ClusterRoleBinding", &format!("holt-credentials-{role}"))
            .context("bound cluster-wide by default")?;
        assert_eq!(
            binding["subjects"],
            serde_json::json!([{"kind": "ServiceAccount", "name": "holt-credentials", "namespace": "holt-system"}])
        );
    }
    // Limited to namespaces: RoleBindings there only, and the user's CA read, never written.
    let limited = helm
        .template(
            "holt-system",
            &[
                "--set",
                "credentialsOperator.watchedNamespaces={shop,payments}",
                "--set",
                "credentialsOperator.ca.userSecretName=corp-ca",
            ],
        )
        .await?;
    ensure!(limited.of_kind("ClusterRoleBinding").iter().all(|b| {
        !b["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .starts_with("holt-credentials")
    }));
    for role in ["read", "write"] {
        let namespaces: BTreeSet<String> = limited
            .of_kind("RoleBinding")
            .into_iter()
            .filter(|b| b["roleRef"]["name"] == format!("holt-credentials-{role}"))
            .map(|b| b["metadata"]["namespace"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(
            namespaces,
            BTreeSet::from(["payments".to_owned(), "shop".to_owned()])
        );
    }
    assert_eq!(
        role_rules(&limited, "holt-credentials")?,
        rbac::own_namespace_rules(ProviderKind::BuiltIn, "corp-ca", true)
    );
    let deployment = limited
        .get("Deployment", "holt-credentials")
        .context("credentials")?;
    let passed = args(containers(deployment)[0]);
    for expected in [
        "--watched-namespaces=shop,payments",
        "--user-ca-secret-name=corp-ca",
    ] {
        ensure!(
            passed.contains(&expected.to_owned()),
            "{expected} not in {passed:?}"
        );
    }
    Ok(())
}

#[test]
fn values_files_are_yaml() -> anyhow::Result<()> {
    for file in VALUES_FILES {
        let text = std::fs::read_to_string(values_file(file))?;
        let value: Value = serde_yaml::from_str(&text)?;
        if !value.is_object() {
            bail!("{file} is not a mapping");
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_credentials_operator_with_spire_or_cert_manager_gets_their_flags_roles_and_socket()
-> anyhow::Result<()> {
    use holt_credentials::provider::ProviderKind;
    use holt_credentials::rbac;
    let helm = Helm::new()?;
    let spire = helm
        .template(
            "holt-system",
            &[
                "--set",
                "global.certificateProvider=spire",
                "--set",
                "credentialsOperator.spire.parentId=spiffe://example.org/ops/holt",
            ],
        )
        .await?;
    assert_eq!(
        cluster_role_rules(&spire, "holt-credentials-write")?,
        rbac::write_rules(ProviderKind::Spire)
    );
    assert_eq!(
        role_rules(&spire, "holt-credentials")?,
        rbac::own_namespace_rules(ProviderKind::Spire, "holt-credentials-ca", false)
    );
    let deployment = spire
        .get("Deployment", "holt-credentials")
        .context("credentials")?;
    let passed = args(containers(deployment)[0]);
    for expected in [
        "--certificate-provider=spire",
        "--spire-server-address=unix:///run/spire/server-sockets/api.sock",
        "--spire-parent-id=spiffe://example.org/ops/holt",
    ] {
        ensure!(
            passed.contains(&expected.to_owned()),
            "{expected} not in {passed:?}"
        );
    }
    ensure!(!passed.iter().any(|a| a.starts_with("--ca-")), "{passed:?}");
    let volume = &deployment["spec"]["template"]["spec"]["volumes"][0];
    ensure!(
        volume["hostPath"]["path"] == "/run/spire/server-sockets",
        "the server's socket directory is mounted: {volume}"
    );
    // A TCP address is refused at install, naming the value.
    let refused = helm
        .template(
            "holt-system",
            &[
                "--set",
                "global.certificateProvider=spire",
                "--set",
                "credentialsOperator.spire.serverAddress=spire-server.spire:8081",
            ],
        )
        .await
        .expect_err("TCP refused");
    ensure!(refused.to_string().contains("serverAddress"), "{refused}");

    let cert_manager = helm
        .template(
            "holt-system",
            &[
                "--set",
                "global.certificateProvider=cert-manager",
                "--set",
                "credentialsOperator.certManager.issuerName=corp-ca",
                "--set",
                "credentialsOperator.certManager.useClusterIssuer=true",
            ],
        )
        .await?;
    assert_eq!(
        cluster_role_rules(&cert_manager, "holt-credentials-write")?,
        rbac::write_rules(ProviderKind::CertManager)
    );
    assert_eq!(
        role_rules(&cert_manager, "holt-credentials")?,
        rbac::own_namespace_rules(ProviderKind::CertManager, "holt-credentials-ca", false)
    );
    let deployment = cert_manager
        .get("Deployment", "holt-credentials")
        .context("credentials")?;
    let passed = args(containers(deployment)[0]);
    for expected in [
        "--certificate-provider=cert-manager",
        "--cert-manager-issuer-name=corp-ca",
        "--cert-manager-use-cluster-issuer=true",
    ] {
        ensure!(
            passed.contains(&expected.to_owned()),
            "{expected} not in {passed:?}"
        );
    }
    ensure!(
        deployment["spec"]["template"]["spec"]["volumes"].is_null(),
        "{deployment}"
    );
    let refused = helm
        .template(
            "holt-system",
            &["--set", "global.certificateProvider=cert-manager"],
        )
        .await
        .expect_err("no issuer");
    ensure!(refused.to_string().contains("issuerName"), "{refused}");
    Ok(())
}
