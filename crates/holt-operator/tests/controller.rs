//! The controller against a real kube-apiserver (holt-testenv): the reference tutorial, shadow mode with a
//! ProtectedService, deletion, and a restart that converges with nothing orphaned.
//!
//! Each test runs its own operator restricted to its own namespace (`watchedNamespaces`), so tests share one
//! control plane without touching each other's objects. The CRDs are installed without the conversion
//! webhook (only `v2` objects are used here; `v2alpha1` and `v2beta1` have identical schemas).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use holt_api::v2beta1::{ClientIntents, ProtectedService, ProtectedServiceSpec, Target};
use holt_model::Mode;
use holt_testenv::{ControlPlane, ControlPlaneOptions};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use support::*;

#[tokio::test]
async fn the_tutorial_flow_grants_and_removes_exactly_the_declared_access() {
    let (client, plane) = cluster().await;
    let ns = tutorial(&client, plane, "tutorial").await;
    let operator = Operator::start(&client, &ns, Mode::DefaultActive).await;

    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &intents(&ns, "client", "server"))
        .await
        .expect("create intents");

    let names = eventually("the server's policy", || async {
        let names = policy_names(&client, &ns).await;
        (!names.is_empty()).then_some(names)
    })
    .await;
    assert_eq!(names, vec!["server-service-access"], "one policy, for server");
    let policy = Api::<NetworkPolicy>::namespaced(client.clone(), &ns)
        .get("server-service-access")
        .await
        .expect("policy");
    let spec = policy.spec.expect("spec");
    assert_eq!(
        spec.pod_selector.and_then(|s| s.match_labels),
        Some(BTreeMap::from([("app".to_string(), "server".to_string())]))
    );
    let rule = &spec.ingress.expect("ingress")[0];
    let from = &rule.from.as_ref().expect("from")[0];
    let admitted: Vec<String> = from
        .pod_selector
        .as_ref()
        .and_then(|s| s.match_labels.clone())
        .unwrap_or_default()
        .into_keys()
        .collect();
    assert_eq!(admitted.len(), 1);
    assert!(
        admitted[0].starts_with("intents.otterize.com/svc-access-server-"),
        "{admitted:?}"
    );
    assert_eq!(
        rule.ports.as_ref().expect("ports")[0].port,
        Some(IntOrString::Int(8080)),
        "the Service's target port"
    );

    let labels = eventually("client's access label", || async {
        let labels = access_labels(&client, &ns, "client").await;
        (!labels.is_empty()).then_some(labels)
    })
    .await;
    assert_eq!(
        labels, admitted,
        "client's pod carries exactly the label the policy admits"
    );
    assert!(
        access_labels(&client, &ns, "client-other").await.is_empty(),
        "client-other declared nothing"
    );

    let status = eventually("status up to date", || async {
        let intents = api.get("client").await.ok()?;
        let status = intents.status?;
        status.up_to_date.then_some(status)
    })
    .await;
    assert_eq!(status.observed_generation, 1);
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready condition");
    assert_eq!(ready.status, "True");
    let with_finalizer = api.get("client").await.expect("intents");
    assert!(
        with_finalizer
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"intents.otterize.com/client-intents-finalizer".to_string())
    );

    let writes_before = operator.writes();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        operator.writes(),
        writes_before,
        "a converged operator makes no writes"
    );
    // The reference's metric names, on the page `/metrics` serves: one policy created, the client's pod
    // labelled, one ClientIntents of one call applied.
    let page = holt_operator::health::metrics(&operator.progress.borrow());
    for sample in [
        "network_policies_created 1\n",
        "network_policies_deleted 0\n",
        "clientintents_applied 1\n",
        "protected_services_applied 0\n",
        "pods_unlabeled_for_network_policy 0\n",
    ] {
        assert!(page.contains(sample), "{sample:?} missing from\n{page}");
    }
    let labeled = metric_value(&page, "pods_labeled_for_network_policy");
    assert!(labeled >= 1.0, "the client's pod was labelled: {labeled}");

    api.delete("client", &DeleteParams::default())
        .await
        .expect("delete intents");
    eventually("policy removed", || async {
        policy_names(&client, &ns).await.is_empty().then_some(())
    })
    .await;
    eventually("label removed", || async {
        access_labels(&client, &ns, "client")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    eventually("intents gone (finalizer released)", || async {
        api.get_opt("client").await.ok()?.is_none().then_some(())
    })
    .await;
    let page = holt_operator::health::metrics(&operator.progress.borrow());
    assert!(page.contains("network_policies_deleted 1\n"), "{page}");
    let unlabeled = metric_value(&page, "pods_unlabeled_for_network_policy");
    assert!(
        unlabeled >= 1.0,
        "the client's access label was removed: {unlabeled}"
    );
    operator.stop();
}

/// The value of an unlabelled sample on a metrics page.
fn metric_value(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from\n{page}"))
}

#[tokio::test]
async fn a_services_policy_is_owned_by_it_and_collected_with_it_while_the_operator_is_down() {
    let (client, plane) = cluster().await;
    let ns = tutorial(&client, plane, "owned").await;
    let operator = Operator::start(&client, &ns, Mode::DefaultActive).await;
    Api::<ClientIntents>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &intents(&ns, "client", "server"))
        .await
        .expect("create intents");
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    let owners = eventually("the server's policy", || async {
        policies
            .get_opt("server-service-access")
            .await
            .ok()??
            .metadata
            .owner_references
    })
    .await;
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let uid = services.get("server").await.expect("service").metadata.uid;
    assert_eq!(
        owners
            .iter()
            .map(|o| (
                o.api_version.as_str(),
                o.kind.as_str(),
                o.name.as_str(),
                Some(o.uid.clone())
            ))
            .collect::<Vec<_>>(),
        [("v1", "Service", "server", uid)]
    );

    // With the operator stopped, only Kubernetes' garbage collector can remove the policy.
    operator.stop();
    services
        .delete("server", &DeleteParams::default())
        .await
        .expect("delete service");
    eventually("the policy garbage-collected with its Service", || async {
        policies
            .get_opt("server-service-access")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn shadow_mode_enforces_only_a_protected_service() {
    let (client, plane) = cluster().await;
    let ns = tutorial(&client, plane, "shadow").await;
    let operator = Operator::start(&client, &ns, Mode::DefaultShadow).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &intents(&ns, "client", "server"))
        .await
        .expect("create intents");
    let status = eventually("status up to date", || async {
        let status = api.get("client").await.ok()?.status?;
        status.up_to_date.then_some(status)
    })
    .await;
    let enforced = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Enforced")
        .expect("Enforced condition");
    assert_eq!(enforced.reason, "Shadow");
    assert!(policy_names(&client, &ns).await.is_empty(), "shadow: no policy");
    assert!(
        !access_labels(&client, &ns, "client").await.is_empty(),
        "labels are set even in shadow mode"
    );

    let protected: Api<ProtectedService> = Api::namespaced(client.clone(), &ns);
    let ps = ProtectedService {
        metadata: meta(&ns, "protect-server"),
        spec: ProtectedServiceSpec {
            name: "server".into(),
            kind: None,
        },
        status: None,
    };
    protected
        .create(&PostParams::default(), &ps)
        .await
        .expect("protected service");
    let names = eventually("default-deny and access", || async {
        let names = policy_names(&client, &ns).await;
        (names.len() == 2).then_some(names)
    })
    .await;
    assert_eq!(names, vec!["default-deny-server", "server-service-access"]);

    protected
        .delete("protect-server", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("both removed", || async {
        policy_names(&client, &ns).await.is_empty().then_some(())
    })
    .await;
    eventually("ProtectedService gone", || async {
        protected
            .get_opt("protect-server")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    operator.stop();
}

#[tokio::test]
async fn a_restart_converges_with_nothing_orphaned_or_duplicated() {
    let (client, plane) = cluster().await;
    let ns = tutorial(&client, plane, "restart").await;
    let first = Operator::start(&client, &ns, Mode::DefaultActive).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &intents(&ns, "client", "server"))
        .await
        .expect("create intents");
    eventually("policy", || async {
        (!policy_names(&client, &ns).await.is_empty()).then_some(())
    })
    .await;
    eventually("finalizer", || async {
        let finalizers = api
            .get("client")
            .await
            .ok()?
            .metadata
            .finalizers
            .unwrap_or_default();
        (!finalizers.is_empty()).then_some(())
    })
    .await;
    first.stop();

    // While no operator runs: the intents are deleted (the finalizer holds them), a leftover policy of Holt's
    // appears, and someone else's policy exists.
    api.delete("client", &DeleteParams::default())
        .await
        .expect("delete intents");
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    let mut leftover = NetworkPolicy {
        metadata: meta(&ns, "leftover-access"),
        ..Default::default()
    };
    leftover.metadata.labels = Some(BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_string(),
        "holt".to_string(),
    )]));
    policies
        .create(&PostParams::default(), &leftover)
        .await
        .expect("leftover");
    let foreign = NetworkPolicy {
        metadata: meta(&ns, "someone-elses"),
        ..Default::default()
    };
    policies
        .create(&PostParams::default(), &foreign)
        .await
        .expect("foreign");
    assert!(
        api.get_opt("client").await.expect("get").is_some(),
        "the finalizer holds the intents"
    );

    let second = Operator::start(&client, &ns, Mode::DefaultActive).await;
    assert_eq!(
        policy_names(&client, &ns).await,
        vec!["someone-elses"],
        "Holt's objects gone, the foreign one kept"
    );
    eventually("intents gone", || async {
        api.get_opt("client").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(access_labels(&client, &ns, "client").await.is_empty());

    api.create(&PostParams::default(), &intents(&ns, "client", "server"))
        .await
        .expect("create again");
    eventually("one policy again", || async {
        (policy_names(&client, &ns).await == vec!["server-service-access", "someone-elses"]).then_some(())
    })
    .await;
    second.stop();
    let third = Operator::start(&client, &ns, Mode::DefaultActive).await;
    assert_eq!(
        policy_names(&client, &ns).await,
        vec!["server-service-access", "someone-elses"],
        "nothing duplicated"
    );
    third.stop();
}

#[tokio::test]
async fn declared_access_that_cannot_be_enforced_is_reported_as_an_event() {
    let (client, plane) = cluster().await;
    let ns = tutorial(&client, plane, "events").await;
    let operator = Operator::start(&client, &ns, Mode::DefaultActive).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    let mut kafka_client = intents(&ns, "client", "server");
    kafka_client.spec.targets.push(Target {
        kafka: Some(holt_api::v2beta1::KafkaTarget {
            name: "kafka".into(),
            topics: vec![holt_api::v2beta1::KafkaTopic {
                name: "orders".into(),
                operations: vec![holt_api::v2beta1::KafkaOperation::Produce],
            }],
        }),
        ..Default::default()
    });
    api.create(&PostParams::default(), &kafka_client)
        .await
        .expect("create intents");
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &ns);
    let event = eventually("a KafkaServerNotConfigured Event", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("KafkaServerNotConfigured"))
    })
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    let regarding = event.regarding.expect("regarding");
    assert_eq!(
        (regarding.kind.as_deref(), regarding.name.as_deref()),
        (Some("ClientIntents"), Some("client"))
    );
    assert!(
        event.note.unwrap_or_default().contains("kafka"),
        "the note names the broker"
    );
    operator.stop();
}

#[tokio::test]
async fn only_one_candidate_leads_and_a_released_or_expired_lease_is_taken_over() {
    use holt_operator::leader::{LeaseOptions, acquire};
    let (client, plane) = cluster().await;
    let ns = plane
        .create_namespace(&client, "leader")
        .await
        .expect("namespace");
    let options = |identity: &str| LeaseOptions {
        lease_duration: Duration::from_secs(2),
        renew_every: Duration::from_millis(500),
        retry_every: Duration::from_millis(200),
        ..LeaseOptions::new(&ns, identity)
    };
    let first = acquire(client.clone(), options("replica-a")).await;
    let second = tokio::spawn(acquire(client.clone(), options("replica-b")));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !second.is_finished(),
        "the first holder renews: the second waits, well past the lease duration"
    );

    first.release().await;
    let second = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("taken over")
        .expect("task");
    let lease: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(client.clone(), &ns);
    let holder = |l: k8s_openapi::api::coordination::v1::Lease| l.spec.and_then(|s| s.holder_identity);
    let current = lease
        .get(holt_operator::leader::DEFAULT_LEASE_NAME)
        .await
        .expect("lease");
    assert_eq!(holder(current).as_deref(), Some("replica-b"));

    // A holder that dies without releasing: the Lease expires and the next candidate takes it.
    drop(second);
    let third = tokio::time::timeout(
        Duration::from_secs(10),
        acquire(client.clone(), options("replica-c")),
    )
    .await;
    assert!(third.is_ok(), "an expired lease is taken over");
    let current = lease
        .get(holt_operator::leader::DEFAULT_LEASE_NAME)
        .await
        .expect("lease");
    assert_eq!(holder(current).as_deref(), Some("replica-c"));
}

#[tokio::test]
async fn an_api_server_outage_of_30_seconds_is_survived_and_converged_after() {
    // A control plane of its own: its API server is stopped for 30 s.
    let mut plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .expect("control plane");
    let client = plane.client().await.expect("client");
    install_crds(&client).await;
    let ns = tutorial(&client, &plane, "outage").await;
    let operator = Operator::start(&client, &ns, Mode::DefaultActive).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &intents(&ns, "client", "server"))
        .await
        .expect("create intents");
    eventually("client's access label", || async {
        (!access_labels(&client, &ns, "client").await.is_empty()).then_some(())
    })
    .await;

    plane.stop_apiserver();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        !operator.task.is_finished(),
        "the operator keeps running while the API server is away"
    );
    plane.start_apiserver().await.expect("API server back");

    // Converges again: what was applied is still there, and a change made after the outage is applied.
    assert_eq!(policy_names(&client, &ns).await, vec!["server-service-access"]);
    api.create(&PostParams::default(), &intents(&ns, "client-other", "server"))
        .await
        .expect("create intents after the outage");
    eventually("client-other's access label", || async {
        (!access_labels(&client, &ns, "client-other").await.is_empty()).then_some(())
    })
    .await;
    api.delete("client", &DeleteParams::default())
        .await
        .expect("delete intents");
    eventually("client's label removed", || async {
        access_labels(&client, &ns, "client")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(!operator.task.is_finished(), "still running");
    assert_eq!(operator.progress.borrow().failing, 0, "nothing left to retry");
    operator.stop();
}
