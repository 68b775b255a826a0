//! Egress fails closed, on a real kube-apiserver (holt-testenv), with the objects of the reference's
//! "Egress NetworkPolicy Automation" tutorial: Deployments `frontend` and `backend`, a Service `backend`
//! (8080 → 8080), the ClientIntents of `domain-intents.yaml` (v1alpha3: backend calls `api.adviceslip.com`
//! and frontend, frontend calls backend) and of `intents-no-external-api.yaml` (v2alpha1: the external API
//! removed, each calls the other's Service). The manifests are written in the versions the tutorial uses and
//! converted to `v2beta1` with Holt's own conversion (the test CRDs run without the conversion webhook).
//!
//! With `enableEgressNetworkPolicyCreation` on, a client whose only calls cannot be allowed yet (an internet
//! domain without `status.resolvedIPs`, a Service that does not exist) keeps an egress policy allowing DNS
//! only, as the reference renders it; the addresses the network mapper writes into `status.resolvedIPs`
//! become `/32` rules. Pod labels are the reference's: no `intents.otterize.com/client` label without an
//! access label.

mod support;

use std::collections::BTreeMap;

use holt_api::v2beta1::ClientIntents;
use holt_model::labels::{CLIENT, OWNER_KIND, SERVICE};
use holt_model::{Config, Identity, Mode};
use k8s_openapi::api::core::v1::{Pod, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde::Deserialize as _;
use serde_json::{Value, json};
use support::*;

/// `domain-intents.yaml` of the tutorial, as published (v1alpha3).
const DOMAIN_INTENTS: &str = r"
apiVersion: k8s.otterize.com/v1alpha3
kind: ClientIntents
metadata:
  name: frontend
spec:
  service:
    name: frontend
  calls:
    - name: backend
---
apiVersion: k8s.otterize.com/v1alpha3
kind: ClientIntents
metadata:
  name: backend
spec:
  service:
    name: backend
  calls:
    - type: internet
      internet:
        domains:
          - api.adviceslip.com
    - name: frontend
";

/// `intents-no-external-api.yaml` of the tutorial, as published (v2alpha1).
const NO_EXTERNAL_API: &str = r"
apiVersion: k8s.otterize.com/v2alpha1
kind: ClientIntents
metadata:
  name: frontend
spec:
  workload:
    name: frontend
    kind: Deployment
  targets:
    - service:
        name: backend
---
apiVersion: k8s.otterize.com/v2alpha1
kind: ClientIntents
metadata:
  name: backend
spec:
  workload:
    name: backend
    kind: Deployment
  targets:
    - service:
        name: frontend
";

/// The address the tutorial shows `api.adviceslip.com` resolving to.
const ADVICE_API_IP: &str = "185.53.57.80";

/// The ClientIntents of a multi-document manifest, in namespace `ns`, converted to `v2beta1`.
fn manifest_intents(yaml: &str, ns: &str) -> Vec<ClientIntents> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|document| {
            let mut value = Value::deserialize(document).expect("yaml");
            value["metadata"]["namespace"] = json!(ns);
            let converted =
                holt_api::convert::convert_value(value, "k8s.otterize.com/v2beta1").expect("converts");
            serde_json::from_value(converted).expect("a v2beta1 ClientIntents")
        })
        .collect()
}

/// Creates each ClientIntents, or replaces the spec of the one already there (as `kubectl apply` would).
async fn apply_intents(api: &Api<ClientIntents>, intents: Vec<ClientIntents>) {
    for mut wanted in intents {
        let name = wanted.metadata.name.clone().expect("name");
        match api.get_opt(&name).await.expect("get") {
            Some(current) => {
                wanted.metadata = current.metadata;
                wanted.status = None;
                api.replace(&name, &PostParams::default(), &wanted)
                    .await
                    .expect("replace");
            }
            None => {
                api.create(&PostParams::default(), &wanted).await.expect("create");
            }
        }
    }
}

/// The tutorial's `all.yaml` in a fresh namespace: Deployments `frontend` and `backend`, Service `backend`
/// on 8080; returns once both pods exist.
async fn egress_tutorial(client: &kube::Client, plane: &holt_testenv::ControlPlane) -> String {
    let ns = plane
        .create_namespace(client, "egress-tutorial")
        .await
        .expect("namespace");
    deployment(client, &ns, "frontend").await;
    deployment(client, &ns, "backend").await;
    let backend = Service {
        metadata: meta(&ns, "backend"),
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([("app".to_string(), "backend".to_string())])),
            ports: Some(vec![ServicePort {
                protocol: Some("TCP".into()),
                port: 8080,
                target_port: Some(IntOrString::Int(8080)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    Api::<Service>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &backend)
        .await
        .expect("service");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    eventually("two pods", || async {
        let list = pods.list(&ListParams::default()).await.ok()?;
        (list.items.len() == 2).then_some(())
    })
    .await;
    ns
}

/// The egress rules of policy `name`, once `ready` accepts them.
async fn egress_rules(
    client: &kube::Client,
    ns: &str,
    name: &str,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
    eventually(what, || async {
        let policy = api.get_opt(name).await.ok()??;
        let spec = serde_json::to_value(policy.spec?).ok()?;
        let egress = spec.get("egress").cloned().unwrap_or(Value::Null);
        ready(&egress).then_some(egress)
    })
    .await
}

/// The labels Holt owns on the pod of Deployment `app`, once its `service` label is set.
async fn holt_labels(client: &kube::Client, ns: &str, app: &str) -> BTreeMap<String, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    eventually("the pod labelled", || async {
        let list = pods
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await
            .ok()?;
        let labels = list.items.first()?.metadata.labels.clone()?;
        labels.contains_key(SERVICE).then(|| {
            labels
                .into_iter()
                .filter(|(k, _)| k.starts_with("intents.otterize.com/"))
                .collect()
        })
    })
    .await
}

fn dns() -> Value {
    json!({"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]})
}

fn namespace_selector(ns: &str) -> Value {
    json!({"matchLabels": {"kubernetes.io/metadata.name": ns}})
}

#[tokio::test]
async fn egress_allows_dns_only_until_the_domain_resolves_and_follows_the_tutorial_to_the_end() {
    let (client, plane) = cluster().await;
    let ns = egress_tutorial(&client, plane).await;
    let config = Config {
        mode: Mode::DefaultActive,
        watched_namespaces: [ns.clone()].into(),
        enable_egress_network_policy_creation: true,
        ..Config::default()
    };
    let operator = start_operator_with_config(&client, config).await;
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    let backend = Identity::new(&ns, "backend", None).label_value();

    // 1. The backend's internet call alone, its domain not resolved yet: egress-isolated, DNS only.
    let mut internet_only = manifest_intents(DOMAIN_INTENTS, &ns).remove(1);
    internet_only.spec.targets.truncate(1);
    assert!(internet_only.spec.targets[0].internet.is_some());
    apply_intents(&api, vec![internet_only]).await;
    let egress = egress_rules(&client, &ns, "backend-access", "a DNS-only policy", |_| true).await;
    assert_eq!(
        egress,
        json!([dns()]),
        "fail closed while the domain is unresolved"
    );
    let policy = Api::<NetworkPolicy>::namespaced(client.clone(), &ns)
        .get("backend-access")
        .await
        .expect("policy");
    let spec = serde_json::to_value(policy.spec.expect("spec")).expect("json");
    assert_eq!(spec["policyTypes"], json!(["Egress"]));
    assert_eq!(spec["podSelector"], json!({"matchLabels": {SERVICE: backend}}));
    assert_eq!(policy_names(&client, &ns).await, vec!["backend-access"]);
    assert_eq!(
        holt_labels(&client, &ns, "backend").await,
        BTreeMap::from([
            (SERVICE.to_string(), backend.clone()),
            (OWNER_KIND.to_string(), "Deployment".to_string()),
        ]),
        "an internet-only client gets no access label and no client label"
    );

    // 2. The network mapper reports the address: it becomes a /32 rule beside DNS.
    api.patch_status(
        "backend",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"resolvedIPs": [
            {"dns": "api.adviceslip.com", "ips": [ADVICE_API_IP]}
        ]}})),
    )
    .await
    .expect("patch status");
    let egress = egress_rules(
        &client,
        &ns,
        "backend-access",
        "the resolved address allowed",
        |e| e.as_array().is_some_and(|rules| rules.len() == 2),
    )
    .await;
    assert_eq!(
        egress,
        json!([{"to": [{"ipBlock": {"cidr": format!("{ADVICE_API_IP}/32")}}]}, dns()])
    );

    // 3. The tutorial's domain intents in full: the in-cluster calls join, each side labelled as a client.
    apply_intents(&api, manifest_intents(DOMAIN_INTENTS, &ns)).await;
    let frontend = Identity::new(&ns, "frontend", None).label_value();
    let egress = egress_rules(&client, &ns, "backend-access", "backend's full egress", |e| {
        e.as_array().is_some_and(|rules| rules.len() == 3)
    })
    .await;
    assert_eq!(
        egress,
        json!([
            {"to": [{"ipBlock": {"cidr": format!("{ADVICE_API_IP}/32")}}]},
            {"to": [{
                "podSelector": {"matchLabels": {SERVICE: frontend}},
                "namespaceSelector": namespace_selector(&ns),
            }]},
            dns(),
        ])
    );
    let labels = eventually("backend labelled as a client", || async {
        let labels = holt_labels(&client, &ns, "backend").await;
        labels.contains_key(CLIENT).then_some(labels)
    })
    .await;
    assert_eq!(labels.get(CLIENT), Some(&backend));
    assert!(
        labels.contains_key(&format!("intents.otterize.com/access-{frontend}")),
        "{labels:?}"
    );

    // 4. The external API removed (intents-no-external-api.yaml): the backend's only call is to a Service
    //    that does not exist, so it is back to DNS only; the frontend reaches the backend's Service.
    apply_intents(&api, manifest_intents(NO_EXTERNAL_API, &ns)).await;
    let names = eventually("the policies of kinded workloads", || async {
        let names = policy_names(&client, &ns).await;
        (names
            == [
                "backend-deployment-access",
                "backend-service-access",
                "frontend-deployment-access",
            ])
        .then_some(names)
    })
    .await;
    assert_eq!(names.len(), 3, "backend-access is gone with the kindless intents");
    let egress = egress_rules(
        &client,
        &ns,
        "backend-deployment-access",
        "backend's DNS-only egress",
        |_| true,
    )
    .await;
    assert_eq!(egress, json!([dns()]), "nothing to allow but DNS: still isolated");
    let egress = egress_rules(
        &client,
        &ns,
        "frontend-deployment-access",
        "frontend's egress",
        |_| true,
    )
    .await;
    assert_eq!(
        egress,
        json!([
            {
                "to": [{"podSelector": {"matchLabels": {"app": "backend"}}, "namespaceSelector": namespace_selector(&ns)}],
                "ports": [{"port": 8080, "protocol": "TCP"}],
            },
            dns(),
        ])
    );
    let labels = eventually("backend's access label moved to the frontend Service", || async {
        let labels = holt_labels(&client, &ns, "backend").await;
        labels
            .keys()
            .any(|k| k.starts_with("intents.otterize.com/svc-access-frontend-"))
            .then_some(labels)
    })
    .await;
    assert_eq!(labels.get(CLIENT), Some(&backend), "{labels:?}");

    // 5. Every intent deleted: no policy, no access or client label left.
    for name in ["frontend", "backend"] {
        api.delete(name, &DeleteParams::default())
            .await
            .expect("delete intents");
    }
    eventually("policies removed", || async {
        policy_names(&client, &ns).await.is_empty().then_some(())
    })
    .await;
    let labels = eventually("labels back to the identity", || async {
        let labels = holt_labels(&client, &ns, "backend").await;
        (labels.len() == 2).then_some(labels)
    })
    .await;
    assert!(!labels.contains_key(CLIENT), "{labels:?}");
    operator.stop();
}
