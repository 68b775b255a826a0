//! The operator keeps every policy true, on a real kube-apiserver: a failing unit holds up nothing else,
//! policies changed or deleted behind Holt's back are rewritten, objects Holt did not create are never
//! touched, a Kafka target without KafkaServerConfig is a stable state, and finalizers cost one patch each.
//!
//! Failures are real: a ValidatingAdmissionPolicy (the API server's own CEL admission) refuses every
//! NetworkPolicy whose name starts with `refused-` in the test's namespace, and a target names a namespace
//! that does not exist yet.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, KafkaOperation, KafkaTarget, KafkaTopic, KubernetesTarget, Target,
    Workload,
};
use holt_model::{Config, Mode};
use holt_operator::controller::{Options, Progress};
use k8s_openapi::api::admissionregistration::v1::{
    MatchResources, NamedRuleWithOperations, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
    ValidatingAdmissionPolicyBindingSpec, ValidatingAdmissionPolicySpec, Validation,
};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use support::*;
use tokio::sync::watch;

/// An operator acting on `namespaces` (which may not all exist).
async fn operator(client: &Client, namespaces: &[&str], mode: Mode) -> Operator {
    let config = Config {
        mode,
        watched_namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        ..Config::default()
    };
    // Retries at most every 2 s, so the back-off and its end can be seen within seconds.
    let options = Options {
        max_retry: Duration::from_secs(2),
        ..Options::default()
    };
    Operator::start_configured(client, config, options).await
}

/// Creates `count` ClientIntents `<prefix>-<i>` in `ns`, each of its own client workload, calling `server`.
async fn create_clients(api: &Api<ClientIntents>, ns: &str, prefix: &str, count: usize) {
    stream::iter(0..count)
        .for_each_concurrent(16, |i| {
            let name = format!("{prefix}-{i}");
            async move {
                api.create(
                    &PostParams::default(),
                    &intents_of(ns, &name, &name, vec![target("server")]),
                )
                .await
                .expect("create");
            }
        })
        .await;
}

fn target(name: &str) -> Target {
    Target {
        kubernetes: Some(KubernetesTarget {
            name: name.into(),
            kind: None,
            http: vec![],
        }),
        ..Default::default()
    }
}

fn intents_of(ns: &str, name: &str, workload: &str, targets: Vec<Target>) -> ClientIntents {
    ClientIntents {
        metadata: meta(ns, name),
        spec: ClientIntentsSpec {
            workload: Workload {
                name: workload.into(),
                kind: None,
            },
            targets,
        },
        status: None,
    }
}

/// Makes the API server refuse every NetworkPolicy named `refused-…` in `ns`, and waits until it does.
async fn refuse_policies_named_refused(client: &Client, ns: &str) {
    let name = format!("holt-test-refuse-{ns}");
    let policy = ValidatingAdmissionPolicy {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".into()),
            match_constraints: Some(MatchResources {
                resource_rules: Some(vec![NamedRuleWithOperations {
                    api_groups: Some(vec!["networking.k8s.io".into()]),
                    api_versions: Some(vec!["v1".into()]),
                    operations: Some(vec!["CREATE".into(), "UPDATE".into()]),
                    resources: Some(vec!["networkpolicies".into()]),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            validations: Some(vec![Validation {
                expression: "!object.metadata.name.startsWith('refused-')".into(),
                message: Some("this test refuses NetworkPolicies named refused-*".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    Api::<ValidatingAdmissionPolicy>::all(client.clone())
        .create(&PostParams::default(), &policy)
        .await
        .expect("admission policy");
    let binding = ValidatingAdmissionPolicyBinding {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        spec: ValidatingAdmissionPolicyBindingSpec {
            policy_name: name,
            validation_actions: vec!["Deny".into()],
            match_resources: Some(MatchResources {
                namespace_selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        "kubernetes.io/metadata.name".to_string(),
                        ns.to_string(),
                    )])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
    };
    Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .expect("admission policy binding");
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
    let probe = NetworkPolicy {
        metadata: meta(ns, "refused-probe"),
        ..Default::default()
    };
    eventually("the admission policy in force", || async {
        let dry_run = PostParams {
            dry_run: true,
            ..Default::default()
        };
        policies.create(&dry_run, &probe).await.is_err().then_some(())
    })
    .await;
}

fn ready_condition(intents: &ClientIntents) -> Option<(String, String, String)> {
    let status = intents.status.as_ref()?;
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((ready.status.clone(), ready.reason.clone(), ready.message.clone()))
}

fn has_finalizer(intents: &ClientIntents) -> bool {
    intents
        .metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == "intents.otterize.com/client-intents-finalizer")
}

/// `/readyz` of a probe server fed by `progress`.
async fn readyz(progress: watch::Receiver<Progress>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let server = tokio::spawn(holt_operator::health::serve(address, progress));
    let mut code = 0;
    for _ in 0..50 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(address).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let request = format!("GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await.expect("request");
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.expect("answer");
            code = answer
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.abort();
    code
}

#[tokio::test]
async fn a_failing_unit_holds_up_nothing_else_and_heals_by_itself() {
    const HEALTHY: usize = 500;
    let (client, plane) = cluster().await;
    let ns = tutorial(&client, plane, "stall").await;
    refuse_policies_named_refused(&client, &ns).await;
    let later = format!("{ns}-later");
    let op = operator(&client, &[&ns, &later], Mode::DefaultActive).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);

    // Two units that cannot be applied: a server whose policy the API server refuses, and a server in a
    // namespace that does not exist yet.
    api.create(
        &PostParams::default(),
        &intents_of(&ns, "bad", "client", vec![target("refused-server")]),
    )
    .await
    .expect("create");
    api.create(
        &PostParams::default(),
        &intents_of(
            &ns,
            "early",
            "client-other",
            vec![target(&format!("server.{later}"))],
        ),
    )
    .await
    .expect("create");
    // Beside them, many healthy intents, each of its own client, all calling `server`.
    create_clients(&api, &ns, "healthy", HEALTHY).await;

    let started = Instant::now();
    eventually("every healthy intents applied, with its finalizer", || async {
        let list = api.list(&ListParams::default()).await.ok()?;
        let applied = list
            .items
            .iter()
            .filter(|i| {
                i.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("healthy-"))
            })
            .filter(|i| {
                has_finalizer(i)
                    && i.status.as_ref().is_some_and(|s| s.up_to_date)
                    && ready_condition(i).is_some_and(|(status, ..)| status == "True")
            })
            .count();
        (applied == HEALTHY).then_some(())
    })
    .await;
    let converged = started.elapsed();
    let bad = api.get("bad").await.expect("bad");
    let (status, reason, message) = ready_condition(&bad).expect("bad's Ready");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "CreatingNetworkPoliciesFailed")
    );
    assert!(message.contains("refused-server-access"), "{message}");
    assert!(
        has_finalizer(&bad),
        "the failing intents still get their finalizer"
    );
    let early = api.get("early").await.expect("early");
    let (status, reason, _) = ready_condition(&early).expect("early's Ready");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "WaitingForNamespace"),
        "a missing namespace is a normal, reported state"
    );
    assert!(early.status.as_ref().is_some_and(|s| s.up_to_date));
    assert!(
        policy_names(&client, &ns)
            .await
            .contains(&"server-access".to_string())
    );
    assert_eq!(readyz(op.progress.clone()).await, 200, "ready while a unit fails");
    let progress = op.progress.borrow().clone();
    assert_eq!((progress.failing, progress.waiting_for_namespace), (1, 1));

    // While the failure lasts: status writes stay put and the failed write backs off.
    let before = op.progress.borrow().clone();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = op.progress.borrow().clone();
    let status_writes = after.status_writes - before.status_writes;
    let failed_writes = after.write_errors - before.write_errors;
    println!(
        "{HEALTHY} healthy intents converged in {:.1} s beside two failing units; over 10 s of failure: \
         {status_writes} status writes, {failed_writes} failed writes",
        converged.as_secs_f64()
    );
    assert_eq!(status_writes, 0, "nothing changes: nothing is written");
    assert!(
        (3..=6).contains(&failed_writes),
        "retried every 2 s at most: {failed_writes} failed writes in 10 s"
    );

    // A healthy intents is deleted while the failure lasts: its finalizer comes off.
    delete_and_wait(&api, "healthy-0").await;

    // After a restart, the operator is ready at once although the unit still fails.
    op.stop();
    let op = operator(&client, &[&ns, &later], Mode::DefaultActive).await;
    assert_eq!(readyz(op.progress.clone()).await, 200, "ready after a restart");

    // The namespace appears: the waiting unit is applied by itself.
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(later.clone()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("namespace");
    eventually("the policy in the new namespace", || async {
        policy_names(&client, &later)
            .await
            .contains(&"server-access".to_string())
            .then_some(())
    })
    .await;
    eventually("early applied", || async {
        let early = api.get("early").await.ok()?;
        (ready_condition(&early)?.1 == "Applied").then_some(())
    })
    .await;

    // The failing intents is deleted: its finalizer comes off and nothing is retried any more.
    delete_and_wait(&api, "bad").await;
    eventually("no unit failing", || async {
        (op.progress.borrow().failing == 0).then_some(())
    })
    .await;
    let errors = op.progress.borrow().write_errors;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        op.progress.borrow().write_errors,
        errors,
        "no retries of a unit nobody wants"
    );
    op.stop();
}

/// The tutorial's server policy, as Holt writes it.
async fn server_policy(client: &Client, ns: &str) -> NetworkPolicy {
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
    eventually("the server's policy", || async {
        policies.get_opt("server-service-access").await.ok()?
    })
    .await
}

/// The parts of a policy Holt controls.
fn controlled(policy: &NetworkPolicy) -> (Option<NetworkPolicySpec>, Option<String>) {
    let managed_by = policy
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/managed-by").cloned());
    (policy.spec.clone(), managed_by)
}

#[tokio::test]
async fn policies_changed_or_deleted_behind_holts_back_are_rewritten_within_seconds() {
    let (client, plane) = cluster().await;
    let ns = tutorial(&client, plane, "drift").await;
    let op = Operator::start(&client, &ns, Mode::DefaultActive).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &intents(&ns, "client", "server"))
        .await
        .expect("create intents");
    let original = server_policy(&client, &ns).await;
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    let mut times = Vec::new();

    let restored = |what: &'static str| {
        let client = client.clone();
        let ns = ns.clone();
        let expected = controlled(&original);
        async move {
            let began = Instant::now();
            eventually(what, || async {
                let now = Api::<NetworkPolicy>::namespaced(client.clone(), &ns)
                    .get_opt("server-service-access")
                    .await
                    .ok()??;
                (controlled(&now) == expected).then_some(())
            })
            .await;
            began.elapsed()
        }
    };

    // Deleted by hand.
    policies
        .delete("server-service-access", &DeleteParams::default())
        .await
        .expect("delete");
    times.push(("deleted", restored("recreated").await));

    // podSelector changed.
    let patch = serde_json::json!({"spec": {"podSelector": {"matchLabels": {"app": "something-else"}}}});
    let edited = policies
        .patch(
            "server-service-access",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .expect("edit selector");
    assert_ne!(controlled(&edited), controlled(&original), "the edit took");
    times.push(("podSelector edited", restored("selector restored").await));

    // An allow-all rule added, with kubectl's manager, through a full update.
    let mut widened = policies.get("server-service-access").await.expect("get");
    let spec = widened.spec.as_mut().expect("spec");
    spec.ingress
        .get_or_insert_with(Vec::new)
        .push(NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: "0.0.0.0/0".into(),
                    except: None,
                }),
                ..Default::default()
            }]),
            ports: None,
        });
    spec.egress = Some(vec![Default::default()]);
    spec.policy_types = Some(vec!["Ingress".into(), "Egress".into()]);
    let edited = policies
        .replace(
            "server-service-access",
            &PostParams {
                field_manager: Some("kubectl-edit".into()),
                ..Default::default()
            },
            &widened,
        )
        .await
        .expect("widen");
    assert_ne!(controlled(&edited), controlled(&original), "the edit took");
    times.push(("allow-all rule added", restored("rule removed").await));

    // The managed-by label removed.
    let patch = serde_json::json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": null}}});
    let edited = policies
        .patch(
            "server-service-access",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .expect("unlabel");
    assert_ne!(controlled(&edited), controlled(&original), "the edit took");
    times.push(("managed-by label removed", restored("label restored").await));

    // A client's access label removed from its pod.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = pods
        .list(&ListParams::default().labels("app=client"))
        .await
        .expect("pods")
        .items
        .remove(0);
    let label = access_labels(&client, &ns, "client").await.remove(0);
    let patch = serde_json::json!({"metadata": {"labels": {label.clone(): null}}});
    let began = Instant::now();
    let unlabelled = pods
        .patch(
            pod.metadata.name.as_deref().expect("name"),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .expect("unlabel pod");
    assert!(
        !unlabelled
            .metadata
            .labels
            .unwrap_or_default()
            .contains_key(&label),
        "the label was removed"
    );
    eventually("pod label restored", || async {
        access_labels(&client, &ns, "client")
            .await
            .contains(&label)
            .then_some(())
    })
    .await;
    times.push(("pod access label removed", began.elapsed()));

    for (what, time) in &times {
        println!("drift repaired: {what}: {} ms", time.as_millis());
        assert!(*time < Duration::from_secs(5), "{what} took {time:?}");
    }
    assert!(op.progress.borrow().drift_repairs >= 4);
    // A user's own label on Holt's policy is theirs: kept, and no cause for a rewrite.
    let patch = serde_json::json!({"metadata": {"labels": {"team": "payments"}}});
    policies
        .patch(
            "server-service-access",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .expect("label");
    let writes = op.writes();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(op.writes(), writes, "a foreign label is no drift");

    // Something that keeps changing the policy back (another controller, a script in a loop) does not
    // make Holt fight it at full speed: a budget of immediate rewrites per object and minute.
    let repairs = op.progress.borrow().drift_repairs;
    for i in 0..30 {
        let patch =
            serde_json::json!({"spec": {"podSelector": {"matchLabels": {"app": format!("fight-{i}")}}}});
        policies
            .patch(
                "server-service-access",
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .expect("fight");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fought = op.progress.borrow().drift_repairs - repairs;
    println!("30 changes in 3 s: {fought} rewrites");
    assert!(
        fought <= u64::from(holt_operator::controller::REPAIRS_PER_MINUTE),
        "{fought} rewrites"
    );
    op.stop();
}

#[tokio::test]
async fn a_users_policy_with_the_name_holt_wants_is_left_alone_and_reported() {
    let (client, plane) = cluster().await;
    let ns = tutorial(&client, plane, "taken").await;
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    let users = NetworkPolicy {
        metadata: ObjectMeta {
            labels: Some(BTreeMap::from([("owner".to_string(), "me".to_string())])),
            ..meta(&ns, "server-service-access")
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_string(), "mine".to_string())])),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    let users = policies
        .create(&PostParams::default(), &users)
        .await
        .expect("user's policy");
    let op = Operator::start(&client, &ns, Mode::DefaultActive).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &intents(&ns, "client", "server"))
        .await
        .expect("create intents");
    let (_, reason, message) = eventually("the intents report the name taken", || async {
        let ready = ready_condition(&api.get("client").await.ok()?)?;
        (ready.1 == "NetworkPolicyNameTaken").then_some(ready)
    })
    .await;
    assert!(message.contains("server-service-access"), "{reason}: {message}");
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &ns);
    eventually("a NetworkPolicyNameTaken Event", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("NetworkPolicyNameTaken"))
    })
    .await;
    assert_eq!(op.progress.borrow().names_taken, 1);
    let now = policies.get("server-service-access").await.expect("still there");
    assert_eq!(
        now.metadata.resource_version, users.metadata.resource_version,
        "never written"
    );

    // Deleting the intents leaves the user's policy in place.
    delete_and_wait(&api, "client").await;
    let now = policies.get("server-service-access").await.expect("still there");
    assert_eq!(now.metadata.resource_version, users.metadata.resource_version);

    // Once the user's policy is gone, Holt's takes the name.
    api.create(&PostParams::default(), &intents(&ns, "client", "server"))
        .await
        .expect("create intents");
    policies
        .delete("server-service-access", &DeleteParams::default())
        .await
        .expect("delete user's");
    eventually("Holt's policy", || async {
        let policy = policies.get_opt("server-service-access").await.ok()??;
        let labels = policy.metadata.labels?;
        (labels.get("app.kubernetes.io/managed-by").map(String::as_str) == Some("holt")).then_some(())
    })
    .await;
    eventually("applied", || async {
        (ready_condition(&api.get("client").await.ok()?)?.1 == "Applied").then_some(())
    })
    .await;
    op.stop();
}

/// A Service target.
fn service_target(name: &str) -> Target {
    Target {
        service: Some(holt_api::v2beta1::ServiceTarget {
            name: name.into(),
            http: vec![],
        }),
        ..Default::default()
    }
}

fn kafka_target(topic: &str, operation: KafkaOperation) -> Target {
    Target {
        kafka: Some(KafkaTarget {
            name: "kafka".into(),
            topics: vec![KafkaTopic {
                name: topic.into(),
                operations: vec![operation],
            }],
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_kafka_target_without_kafka_server_config_is_a_stable_reported_state() {
    // The reference's shadow-mode tutorial, phase 4: the e-commerce demo in shadow mode, where checkout and
    // order declare Kafka topics on a broker no KafkaServerConfig describes.
    let (client, plane) = cluster().await;
    let ns = plane
        .create_namespace(&client, "shadow-kafka")
        .await
        .expect("namespace");
    let services = [
        "cartservice",
        "currencyservice",
        "emailservice",
        "paymentservice",
        "productcatalogservice",
        "shippingservice",
    ];
    for name in ["checkoutservice", "orderservice", "kafka"]
        .iter()
        .chain(services.iter())
    {
        deployment(&client, &ns, name).await;
    }
    for name in services {
        service(&client, &ns, name).await;
    }
    let op = Operator::start(&client, &ns, Mode::DefaultShadow).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    let mut checkout = vec![kafka_target("orders", KafkaOperation::Produce)];
    checkout.extend(services.iter().map(|s| service_target(s)));
    let mut checkout = intents_of(&ns, "checkoutservice", "checkoutservice", checkout);
    checkout.spec.workload.kind = Some("Deployment".into());
    let order = intents_of(
        &ns,
        "orderservice",
        "orderservice",
        vec![
            kafka_target("orders", KafkaOperation::Consume),
            service_target("emailservice"),
        ],
    );
    for intents in [checkout, order] {
        api.create(&PostParams::default(), &intents)
            .await
            .expect("create");
    }
    for name in ["checkoutservice", "orderservice"] {
        let status = eventually("up to date", || async {
            let status = api.get(name).await.ok()?.status?;
            status.up_to_date.then_some(status)
        })
        .await;
        let enforced = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Enforced")
            .expect("Enforced");
        assert!(
            enforced.message.contains("kafka.") && enforced.message.contains("(no KafkaServerConfig)"),
            "{}",
            enforced.message
        );
    }
    let before = op.progress.borrow().clone();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = op.progress.borrow().clone();
    assert_eq!(after.status_writes, before.status_writes, "no flapping");
    assert_eq!(
        after.writes, before.writes,
        "no writes at all while nothing changes"
    );
    assert_eq!(
        after.kafka_broker_tasks, 0,
        "nothing to do on an unconfigured broker"
    );
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &ns);
    let reported: Vec<_> = events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("KafkaServerNotConfigured"))
        .collect();
    assert_eq!(reported.len(), 2, "one Event per ClientIntents: {reported:?}");
    assert!(
        reported.iter().all(|e| e.series.is_none()),
        "each reported once, not repeated"
    );
    op.stop();
}

#[tokio::test]
async fn each_object_gets_one_finalizer_patch_and_a_normal_event_for_its_policies() {
    const N: usize = 50;
    let (client, plane) = cluster().await;
    let ns = tutorial(&client, plane, "finalizers").await;
    let op = Operator::start(&client, &ns, Mode::DefaultActive).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    let before = op.progress.borrow().clone();
    create_clients(&api, &ns, "client", N).await;
    eventually("every finalizer", || async {
        let list = api.list(&ListParams::default()).await.ok()?;
        (list.items.iter().filter(|i| has_finalizer(i)).count() == N).then_some(())
    })
    .await;
    eventually("every status up to date", || async {
        let list = api.list(&ListParams::default()).await.ok()?;
        let done = list
            .items
            .iter()
            .filter(|i| i.status.as_ref().is_some_and(|s| s.up_to_date))
            .count();
        (done == N).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = op.progress.borrow().clone();
    assert_eq!(
        after.finalizer_writes - before.finalizer_writes,
        N as u64,
        "one finalizer patch per object"
    );
    assert_eq!(
        after.status_writes - before.status_writes,
        N as u64,
        "one status write per object"
    );
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &ns);
    let created = eventually("CreatedNetworkPolicies Events", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        let created: Vec<_> = list
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("CreatedNetworkPolicies"))
            .collect();
        (!created.is_empty()).then_some(created)
    })
    .await;
    let event = &created[0];
    assert_eq!(event.type_.as_deref(), Some("Normal"));
    assert_eq!(
        event.regarding.as_ref().and_then(|r| r.kind.as_deref()),
        Some("ClientIntents")
    );
    assert!(
        event.note.as_deref().unwrap_or_default().contains("server"),
        "{:?}",
        event.note
    );
    op.stop();
}

#[tokio::test]
async fn intents_admitted_without_the_webhook_are_still_validated_and_never_written() {
    let (client, plane) = cluster().await;
    let ns = tutorial(&client, plane, "invalid").await;
    let op = Operator::start(&client, &ns, Mode::DefaultActive).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    // No webhook here (as before it is registered): the API server stores a target name the policy name
    // cannot hold.
    let long = "s".repeat(260);
    api.create(
        &PostParams::default(),
        &intents_of(&ns, "client", "client", vec![target(&long)]),
    )
    .await
    .expect("create");
    let (status, _, message) = eventually("reported invalid", || async {
        let ready = ready_condition(&api.get("client").await.ok()?)?;
        (ready.1 == "InvalidIntents").then_some(ready)
    })
    .await;
    assert_eq!(status, "False");
    assert!(message.contains("spec.targets[0].kubernetes.name"), "{message}");
    assert_eq!(
        op.progress.borrow().write_errors,
        0,
        "nothing the API server would refuse was sent"
    );
    assert!(policy_names(&client, &ns).await.is_empty());
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &ns);
    eventually("an InvalidIntents Event", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("InvalidIntents"))
    })
    .await;

    // Fixed: applied.
    let fixed = serde_json::json!({"spec": {"targets": [target("server")]}});
    api.patch("client", &PatchParams::default(), &Patch::Merge(&fixed))
        .await
        .expect("fix");
    eventually("applied", || async {
        (ready_condition(&api.get("client").await.ok()?)?.1 == "Applied").then_some(())
    })
    .await;
    assert_eq!(policy_names(&client, &ns).await, vec!["server-access"]);
    op.stop();
}
