//! The chart installed into the real API server with the real helm, exactly as the README's "Install in a
//! cluster" says, and its pods run by the local stand-in node: each binary with nothing but a token of the
//! chart's ServiceAccount for it. The operator converges the tutorial, the mapper resolves traffic, the
//! sniffer reports, the credentials operator issues a certificate; what the accounts must not do is refused; `helm upgrade` to defaultShadow rolls the
//! operator and the new pods follow it; `helm uninstall` leaves the CRDs and the ClientIntents.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, ensure};
use holt_chart::binaries::binaries;
use holt_chart::chart::{Helm, workspace_dir};
use holt_chart::container::ArgOverride;
use holt_chart::http_probe;
use holt_chart::node::{LocalNode, NodeOptions};
use holt_chart::token;
use holt_testenv::{ControlPlane, eventually, install_crds, istio_crds_file, set_pod_ips};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{SelfSubjectRulesReview, SelfSubjectRulesReviewSpec};
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

mod support;
use support::{
    NAMESPACE, Release, account_client, can, can_named, clientintents, is_forbidden, kubectl,
    list_is_forbidden, reader_token, sniffer_report_token,
};

const TUTORIAL: &str = "otterize-tutorial-npol";
const NODE: &str = "holt-test-node";
const WAIT: Duration = Duration::from_secs(90);

/// The operator pods' logs must show no request the API server refused for want of permission.
fn assert_no_forbidden(node: &LocalNode) -> anyhow::Result<()> {
    for pod in node.pods() {
        let log = node.log(&pod.name);
        ensure!(
            !log.to_lowercase().contains("forbidden"),
            "{} was refused something its account should allow:\n{log}",
            pod.name
        );
    }
    Ok(())
}

struct Story {
    cp: &'static ControlPlane,
    admin: Client,
    helm: Helm,
    node: LocalNode,
    mapper: SocketAddr,
}

impl Story {
    /// The chart's release, through this story's helm and API server.
    fn release(&self) -> Release<'_> {
        Release::new(&self.helm, self.cp.kubeconfig())
    }
}

/// `helm install` as the README says, then the stand-in node with forwarders for the webhook and mapper
/// Services, and the sniffer's pod (no DaemonSet controller here).
async fn install() -> anyhow::Result<Story> {
    let cp = ControlPlane::shared().await?;
    let admin = cp.client().await?;
    // Istio's CRDs, so that the operator's AuthorizationPolicy watch runs with its account too.
    let istio = std::fs::read_to_string(istio_crds_file()?)?;
    install_crds(&admin, &istio).await?;
    let helm = Helm::new()?;
    // README, "Install in a cluster".
    let notes = Release::new(&helm, cp.kubeconfig())
        .install(&["--create-namespace"])
        .await?;
    ensure!(notes.contains("STATUS: deployed"), "{notes}");
    ensure!(
        !notes.contains("Holt does not act on"),
        "the default values ask for nothing Holt ignores:\n{notes}"
    );

    let node = LocalNode::start(
        admin.clone(),
        cp.url(),
        cp.ca_file(),
        binaries().await?,
        NodeOptions {
            name: NODE.to_owned(),
            namespace: NAMESPACE.to_owned(),
            overrides: vec![ArgOverride {
                binary: "holt-operator".to_owned(),
                flag: "--webhook-service-name".to_owned(),
                value: "holt-webhook-loopback".to_owned(),
                why: "the API server dials a Service's ClusterIP, which nothing routes here: the \
                      registration names an ExternalName alias of the chart's Service pointing at its \
                      stand-in"
                    .to_owned(),
            }],
        },
    )
    .await?;
    let webhook = node.expose("holt-webhook").await?;
    let alias: Service = serde_json::from_value(json!({
        "metadata": {"name": "holt-webhook-loopback", "namespace": NAMESPACE},
        "spec": {"type": "ExternalName", "externalName": webhook.to_string()},
    }))?;
    Api::<Service>::namespaced(admin.clone(), NAMESPACE)
        .create(&PostParams::default(), &alias)
        .await?;
    let mapper_ip = node.expose("otterize-network-mapper").await?;
    // The sniffer's pod, created after the mapper's Service has its stand-in, so that its --mapper-url
    // names the stand-in.
    node.run_daemon_set("holt-sniffer").await?;
    Ok(Story {
        cp,
        admin,
        helm,
        node,
        mapper: SocketAddr::from((mapper_ip, 9090)),
    })
}

#[tokio::test]
async fn the_chart_runs_with_its_accounts_follows_an_upgrade_and_uninstalls_keeping_intents()
-> anyhow::Result<()> {
    let story = install().await?;
    let result = run(&story).await;
    if result.is_err() {
        eprintln!("{}", story.node.all_logs());
        eprintln!("node failures: {:?}", story.node.failures());
    }
    story.node.shutdown().await;
    result
}

async fn run(story: &Story) -> anyhow::Result<()> {
    let Story { cp, admin, node, .. } = story;
    let started = std::time::Instant::now();

    // Two operator replicas, the mapper, the sniffer and the credentials operator run and are ready;
    // kube-controller-manager sees the Deployments available.
    let outcome = eventually("every pod of the chart running and ready", WAIT, || async {
        let pods = node.pods();
        let failures = node.failures();
        if !failures.is_empty() {
            return Ok(Some(Err(anyhow::anyhow!("the node could not run: {failures:?}"))));
        }
        Ok((pods.len() == 5 && pods.iter().all(|p| p.ready)).then_some(Ok(())))
    })
    .await?;
    outcome?;
    let deployments = Api::<Deployment>::namespaced(admin.clone(), NAMESPACE);
    eventually("Deployments available", WAIT, || async {
        let operator = deployments.get("holt-operator").await?;
        let mapper = deployments.get("holt-mapper").await?;
        let available = |d: &Deployment| d.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
        Ok((available(&operator) == 2 && available(&mapper) == 1).then_some(()))
    })
    .await?;
    eprintln!("chart running after {:?}", started.elapsed());

    // The operator filled in the webhook configuration the chart created empty.
    let configuration = Api::<ValidatingWebhookConfiguration>::all(admin.clone())
        .get("holt-validating-webhook")
        .await?;
    assert_eq!(configuration.webhooks.as_ref().map(Vec::len), Some(3));
    assert_eq!(
        configuration
            .metadata
            .annotations
            .unwrap_or_default()
            .get("meta.helm.sh/release-name")
            .map(String::as_str),
        Some("holt"),
        "still the release's, so that uninstall removes it"
    );

    // The tutorial, applied as a user would.
    let tutorial = workspace_dir().join("examples/tutorial");
    kubectl(
        cp.kubeconfig(),
        &[
            "apply",
            "-f",
            &tutorial.join("namespace.yaml").display().to_string(),
        ],
    )
    .await?;
    kubectl(cp.kubeconfig(), &["apply", "-f", &tutorial.display().to_string()]).await?;
    let policies = Api::<NetworkPolicy>::namespaced(admin.clone(), TUTORIAL);
    eventually(
        "the tutorial converged: server-access and an up-to-date status",
        WAIT,
        || async {
            let policy = policies.get_opt("server-access").await?;
            let intents = clientintents(admin, TUTORIAL, "v2alpha1").get("client").await?;
            let up_to_date = intents.data["status"]["upToDate"] == true;
            Ok((policy.is_some() && up_to_date).then_some(()))
        },
    )
    .await?;
    let pods = Api::<Pod>::namespaced(admin.clone(), TUTORIAL);
    eventually("client's pod labelled", WAIT, || async {
        let list = pods.list(&ListParams::default().labels("app=client")).await?;
        Ok(list
            .items
            .iter()
            .any(|p| {
                p.metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key("intents.otterize.com/client"))
            })
            .then_some(()))
    })
    .await?;
    // Events through events.k8s.io, with the operator's account.
    let events = kubectl(
        cp.kubeconfig(),
        &[
            "get",
            "events.events.k8s.io",
            "-n",
            TUTORIAL,
            "-o",
            "jsonpath={.items[*].reason}",
        ],
    )
    .await?;
    ensure!(events.contains("CreatedNetworkPolicies"), "events: {events}");
    // Conversion through the webhook (v1alpha3 is stored as v2alpha1), reached through the stand-ins.
    let old = clientintents(admin, TUTORIAL, "v1alpha3").get("client").await?;
    assert_eq!(old.data["spec"]["service"]["name"], "client");
    assert_no_forbidden(node)?;
    eprintln!("tutorial converged after {:?}", started.elapsed());

    mapper_resolves_traffic_and_hears_the_sniffer(story).await?;
    credentials_operator_issues_with_its_account(story).await?;
    accounts_are_refused_what_they_do_not_need(story).await?;
    upgrade_to_shadow_mode(story).await?;
    uninstall_keeps_crds_and_intents(story).await?;
    eprintln!("whole story: {:?}", started.elapsed());
    Ok(())
}

async fn mapper_resolves_traffic_and_hears_the_sniffer(story: &Story) -> anyhow::Result<()> {
    let Story { admin, mapper, .. } = story;
    set_pod_ips(admin, TUTORIAL, "client", &["10.77.0.10"]).await?;
    set_pod_ips(admin, TUTORIAL, "server", &["10.77.0.20"]).await?;
    let server = Api::<Service>::namespaced(admin.clone(), TUTORIAL)
        .get("server")
        .await?;
    let cluster_ip = server
        .spec
        .and_then(|s| s.cluster_ip)
        .context("server's ClusterIP")?;
    // What a sniffer reports for client's connection to the server's Service, sent through the Service's
    // stand-in as a sniffer would.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let report = json!({
        "node": NODE,
        "dns": [],
        "connections": [{"srcIp": "10.77.0.10", "dstIp": cluster_ip, "dstPort": 80, "seenBy": "syn",
                         "lastSeenMs": now as u64 + 1000}],
        "counters": {"packets": 1, "kernelDrops": 0, "decodeErrors": {}, "reportDrops": 0},
    })
    .to_string();
    // Callers of the mapper present a token (docs/mapper.md, access): the sniffer's, for the mapper's
    // audience, to report (the chart grants its account `create reports.mapper.holt.dev`); a reader's,
    // bound by the platform team to the chart's holt-mapper-reader Role, to read.
    let sniffer_token = sniffer_report_token(admin).await?;
    let reader_token = reader_token(admin).await?;
    let intents = eventually("the mapper resolved client → server", WAIT, || async {
        let answer = http_probe::request(
            *mapper,
            "POST",
            "/v1/reports",
            Some(&report),
            Some(&sniffer_token),
            Duration::from_secs(5),
        )
        .await;
        ensure!(
            answer.as_ref().is_some_and(|a| a.status == 204),
            "report: {answer:?}"
        );
        let listed = http_probe::request(
            *mapper,
            "GET",
            "/v1/intents",
            None,
            Some(&reader_token),
            Duration::from_secs(5),
        )
        .await
        .context("no answer")?;
        Ok(listed
            .body
            .contains("\"server\":{\"name\":\"server\"")
            .then_some(listed.body))
    })
    .await?;
    ensure!(intents.contains("\"client\":{\"name\":\"client\""), "{intents}");
    // The reader may not reset: the chart's reader Role lacks the verb, and the mapper checks it.
    let reset = http_probe::request(
        *mapper,
        "POST",
        "/v1/reset",
        None,
        Some(&reader_token),
        Duration::from_secs(5),
    )
    .await
    .context("no answer to the reset")?;
    ensure!(
        reset.status == 403 && reset.body.contains("deletecollection"),
        "a reader resets: {reset:?}"
    );
    // ... and may reach the mapper through the API server's service proxy (how `holt mapper` reaches it),
    // reading only: that Service and port, `get` and not `create` (a reset is a POST).
    let reader = token::client(story.cp.url(), story.cp.ca_file(), &reader_token).await?;
    let proxy = |verb: &'static str, name: &'static str| {
        can_named(&reader, verb, "", "services/proxy", Some(NAMESPACE), Some(name))
    };
    ensure!(proxy("get", "otterize-network-mapper:9090").await?);
    ensure!(!proxy("create", "otterize-network-mapper:9090").await?);
    ensure!(!proxy("get", "holt-webhook:443").await?);
    ensure!(!proxy("get", "otterize-network-mapper:9091").await?);
    // The sniffer (the chart's arguments, the stand-in's addresses) reports to the mapper through the
    // Service: its node's counters show in the mapper's metrics.
    eventually("the sniffer's reports reached the mapper", WAIT, || async {
        let metrics = http_probe::get(*mapper, "/metrics").await.context("no answer")?;
        Ok(metrics
            .body
            .contains(&format!("holt_sniffer_packets_total{{node=\"{NODE}\"}}"))
            .then_some(()))
    })
    .await?;
    Ok(())
}

/// A pod asking for a certificate gets its Secret from the credentials operator, which runs with the chart's
/// account and Holt's CA it created in the release namespace.
async fn credentials_operator_issues_with_its_account(story: &Story) -> anyhow::Result<()> {
    let Story { admin, node, .. } = story;
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {
            "name": "tls-client",
            "annotations": {"credentials-operator.otterize.com/tls-secret-name": "tls-client-certs"}
        },
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
    }))?;
    Api::<Pod>::namespaced(admin.clone(), TUTORIAL)
        .create(&PostParams::default(), &pod)
        .await?;
    let secrets = Api::<Secret>::namespaced(admin.clone(), TUTORIAL);
    let secret = eventually("the pod's certificate Secret", WAIT, || async {
        Ok(secrets.get_opt("tls-client-certs").await?)
    })
    .await?;
    let data = secret.data.unwrap_or_default();
    for file in ["cert.pem", "ca.pem", "key.pem"] {
        ensure!(data.contains_key(file), "{file} missing from the Secret");
    }
    let ca = Api::<Secret>::namespaced(admin.clone(), NAMESPACE)
        .get("holt-credentials-ca")
        .await
        .context("the built-in CA's Secret")?;
    assert_eq!(
        ca.data.unwrap_or_default().get("tls.crt").map(|b| b.0.clone()),
        data.get("ca.pem").map(|b| b.0.clone()),
        "the Secret trusts the built-in CA"
    );
    assert_no_forbidden(node)
}

async fn accounts_are_refused_what_they_do_not_need(story: &Story) -> anyhow::Result<()> {
    let Story { cp, admin, .. } = story;
    // The operator: its own certificate Secret, and no Secret anywhere else.
    let operator = account_client(admin, cp, "holt-operator").await?;
    Api::<Secret>::namespaced(operator.clone(), NAMESPACE)
        .get("holt-webhook-cert")
        .await
        .context("the operator reads its webhook certificate")?;
    for namespace in [TUTORIAL, "kube-system", "default"] {
        ensure!(
            list_is_forbidden(&Api::<Secret>::namespaced(operator.clone(), namespace)).await,
            "operator lists Secrets in {namespace}"
        );
    }
    ensure!(list_is_forbidden(&Api::<Secret>::namespaced(operator.clone(), NAMESPACE)).await);
    ensure!(list_is_forbidden(&Api::<Secret>::all(operator.clone())).await);
    // Nor a webhook configuration of its own choosing, nor another CRD, nor RBAC.
    let configuration: ValidatingWebhookConfiguration =
        serde_json::from_value(json!({"metadata": {"name": "intercept"}}))?;
    ensure!(is_forbidden(
        &Api::<ValidatingWebhookConfiguration>::all(operator.clone())
            .create(&PostParams::default(), &configuration)
            .await
    ));
    let crds = Api::<CustomResourceDefinition>::all(operator.clone());
    ensure!(is_forbidden(
        &crds
            .patch(
                "authorizationpolicies.security.istio.io",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}))
            )
            .await
    ));
    let role: ClusterRole = serde_json::from_value(json!({"metadata": {"name": "escalate"}, "rules": []}))?;
    ensure!(is_forbidden(
        &Api::<ClusterRole>::all(operator.clone())
            .create(&PostParams::default(), &role)
            .await
    ));
    ensure!(is_forbidden(
        &Api::<Namespace>::all(operator.clone())
            .delete(TUTORIAL, &Default::default())
            .await
    ));

    // The credentials operator: reads its CA, writes Secrets by name; lists none, deletes none, escalates nothing.
    let credentials = account_client(admin, cp, "holt-credentials").await?;
    Api::<Secret>::namespaced(credentials.clone(), NAMESPACE)
        .get("holt-credentials-ca")
        .await
        .context("the credentials operator reads its CA")?;
    ensure!(list_is_forbidden(&Api::<Secret>::all(credentials.clone())).await);
    ensure!(list_is_forbidden(&Api::<Secret>::namespaced(credentials.clone(), TUTORIAL)).await);
    ensure!(!can(&credentials, "delete", "", "secrets", Some(TUTORIAL)).await?);
    ensure!(!can(&credentials, "create", "", "pods", Some(TUTORIAL)).await?);
    ensure!(is_forbidden(
        &Api::<ClusterRole>::all(credentials.clone())
            .create(&PostParams::default(), &role)
            .await
    ));

    // The mapper: reads workloads and writes ClientIntents' status, nothing more.
    let mapper = account_client(admin, cp, "holt-mapper").await?;
    ensure!(list_is_forbidden(&Api::<Secret>::all(mapper.clone())).await);
    ensure!(is_forbidden(
        &Api::<Pod>::namespaced(mapper.clone(), TUTORIAL)
            .patch(
                "any",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}))
            )
            .await
    ));
    let policy: NetworkPolicy =
        serde_json::from_value(json!({"metadata": {"name": "x"}, "spec": {"podSelector": {}}}))?;
    ensure!(is_forbidden(
        &Api::<NetworkPolicy>::namespaced(mapper.clone(), TUTORIAL)
            .create(&PostParams::default(), &policy)
            .await
    ));
    let intents: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v2alpha1", "kind": "ClientIntents",
        "metadata": {"name": "sneaky"}, "spec": {"workload": {"name": "sneaky"}, "targets": []},
    }))?;
    ensure!(is_forbidden(
        &clientintents(&mapper, TUTORIAL, "v2alpha1")
            .create(&PostParams::default(), &intents)
            .await
    ));

    // The sniffer calls no API: its account may report to the mapper (a verb on mapper.holt.dev, which
    // no API server serves) and nothing else. Even with an API token (the chart mounts none), it may only
    // ask who it is.
    let sniffer = account_client(admin, cp, "holt-sniffer").await?;
    ensure!(list_is_forbidden(&Api::<Pod>::all(sniffer.clone())).await);
    ensure!(list_is_forbidden(&Api::<Secret>::all(sniffer.clone())).await);
    ensure!(can(&sniffer, "create", "mapper.holt.dev", "reports", Some(NAMESPACE)).await?);
    ensure!(
        !can(
            &sniffer,
            "list",
            "mapper.holt.dev",
            "discoveredintents",
            Some(NAMESPACE)
        )
        .await?
    );
    ensure!(!can(&sniffer, "create", "mapper.holt.dev", "reports", Some(TUTORIAL)).await?);
    for namespace in [NAMESPACE, TUTORIAL] {
        let review = SelfSubjectRulesReview {
            spec: SelfSubjectRulesReviewSpec {
                namespace: Some(namespace.to_owned()),
            },
            ..SelfSubjectRulesReview::default()
        };
        let rules = Api::<SelfSubjectRulesReview>::all(sniffer.clone())
            .create(&PostParams::default(), &review)
            .await?
            .status
            .context("no status")?;
        for rule in rules.resource_rules {
            let groups = rule.api_groups.clone().unwrap_or_default();
            let reporting = namespace == NAMESPACE
                && groups == ["mapper.holt.dev"]
                && rule.resources.as_deref() == Some(&["reports".to_owned()][..]);
            ensure!(
                reporting
                    || groups
                        .iter()
                        .all(|g| g == "authorization.k8s.io" || g == "authentication.k8s.io")
                        && rule.verbs == ["create"],
                "the sniffer's account may {:?} {:?} in {namespace}",
                rule.verbs,
                rule.resources
            );
        }
    }
    // A token for the mapper's audience (what the chart gives the sniffer) is no API credential at all.
    let audience_token = sniffer_report_token(admin).await?;
    let with_audience = token::client(cp.url(), cp.ca_file(), &audience_token).await?;
    let refused = Api::<Pod>::namespaced(with_audience, NAMESPACE)
        .list(&ListParams::default())
        .await;
    ensure!(
        matches!(&refused, Err(kube::Error::Api(status)) if status.code == 401),
        "a token for the mapper's audience is not accepted by the API server: {refused:?}"
    );
    Ok(())
}

async fn upgrade_to_shadow_mode(story: &Story) -> anyhow::Result<()> {
    let Story { admin, node, .. } = story;
    let before: Vec<String> = node.pods().into_iter().map(|p| p.name).collect();
    // README: switching the mode.
    story
        .release()
        .upgrade_setting("intentsOperator.operator.mode=defaultShadow")
        .await?;
    let started = std::time::Instant::now();
    // The changed configuration rolls the operator: kube-controller-manager replaces its pods one by one,
    // the new ones start with the new file, the old leader hands the Lease over when stopped.
    let deployments = Api::<Deployment>::namespaced(admin.clone(), NAMESPACE);
    eventually(
        "the operator rolled out with the new configuration",
        WAIT,
        || async {
            let deployment = deployments.get("holt-operator").await?;
            let generation = deployment.metadata.generation.unwrap_or(0);
            let status = deployment.status.unwrap_or_default();
            let operators: Vec<_> = node
                .pods()
                .into_iter()
                .filter(|p| p.name.starts_with("holt-operator-"))
                .collect();
            let all_new =
                operators.len() == 2 && operators.iter().all(|p| !before.contains(&p.name) && p.ready);
            Ok((status.observed_generation == Some(generation)
                && status.updated_replicas == Some(2)
                && status.available_replicas == Some(2)
                && all_new)
                .then_some(()))
        },
    )
    .await?;
    eprintln!("rolled out {:?} after the upgrade", started.elapsed());
    // In defaultShadow, a server without a ProtectedService is not enforced: its policy goes.
    let policies = Api::<NetworkPolicy>::namespaced(admin.clone(), TUTORIAL);
    eventually("server-access removed in defaultShadow mode", WAIT, || async {
        Ok(policies.get_opt("server-access").await?.is_none().then_some(()))
    })
    .await?;
    for pod in node
        .pods()
        .into_iter()
        .filter(|p| p.name.starts_with("holt-operator-"))
    {
        let log = node.log(&pod.name);
        ensure!(
            log.contains("DefaultShadow"),
            "{} does not run in defaultShadow:\n{log}",
            pod.name
        );
    }
    // helm put its own Service name back into the CRDs; the running operator restored its registration.
    let crds = Api::<CustomResourceDefinition>::all(admin.clone());
    eventually(
        "the operator's conversion registration restored after the upgrade",
        WAIT,
        || async {
            let crd = crds.get("clientintents.k8s.otterize.com").await?;
            let service = crd
                .spec
                .conversion
                .and_then(|c| c.webhook)
                .and_then(|w| w.client_config)
                .and_then(|c| c.service)
                .map(|s| s.name);
            Ok((service.as_deref() == Some("holt-webhook-loopback")).then_some(()))
        },
    )
    .await?;
    let old = clientintents(admin, TUTORIAL, "v1alpha3").get("client").await?;
    assert_eq!(old.data["spec"]["service"]["name"], "client");
    assert_no_forbidden(node)?;
    Ok(())
}

async fn uninstall_keeps_crds_and_intents(story: &Story) -> anyhow::Result<()> {
    let Story { admin, node, .. } = story;
    let release = story.release();
    let output = release.uninstall().await?;
    ensure!(output.contains("kept due to the resource policy"), "{output}");
    // The release's objects are gone (its pods with them, so the node stops them).
    eventually("the release's workloads gone", WAIT, || async {
        let deployments = Api::<Deployment>::namespaced(admin.clone(), NAMESPACE)
            .list(&ListParams::default())
            .await?;
        let operators = node
            .pods()
            .into_iter()
            .filter(|p| p.name.starts_with("holt-operator-") || p.name.starts_with("holt-mapper-"))
            .count();
        Ok((deployments.items.is_empty() && operators == 0).then_some(()))
    })
    .await?;
    ensure!(
        Api::<ValidatingWebhookConfiguration>::all(admin.clone())
            .get_opt("holt-validating-webhook")
            .await?
            .is_none(),
        "no admission webhook is left pointing at a Service that is gone"
    );
    ensure!(
        Api::<ClusterRole>::all(admin.clone())
            .get_opt("holt-operator-read")
            .await?
            .is_none()
    );
    // The CRDs stay, and so do the ClientIntents (read in the stored version: converting to another one
    // needs the operator's webhook, which left with the release).
    let crds = Api::<CustomResourceDefinition>::all(admin.clone());
    for name in [
        "clientintents.k8s.otterize.com",
        "protectedservices.k8s.otterize.com",
        "kafkaserverconfigs.k8s.otterize.com",
    ] {
        ensure!(crds.get_opt(name).await?.is_some(), "{name} was removed");
    }
    let intents = clientintents(admin, TUTORIAL, "v2alpha1").get("client").await?;
    assert_eq!(intents.data["spec"]["workload"]["name"], "client");

    // Installing again adopts the kept CRDs; the new operator serves the other versions again.
    release
        .install(&[])
        .await
        .context("installing again over the kept CRDs")?;
    eventually("the operator back after installing again", WAIT, || async {
        let converted = clientintents(admin, TUTORIAL, "v1alpha3").get("client").await;
        Ok(converted
            .is_ok_and(|c| c.data["spec"]["service"]["name"] == "client")
            .then_some(()))
    })
    .await?;
    release.uninstall().await?;
    Ok(())
}
