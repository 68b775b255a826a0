//! Istio AuthorizationPolicies on a real kube-apiserver with Istio's own AuthorizationPolicy CRD installed:
//! one policy per (client, server) pair with the client's service-account principal and the declared HTTP
//! paths and methods, warnings for clients without sidecar and for shared service accounts, and removal
//! with the intents.

mod support;

use holt_api::v2beta1::{ClientIntents, HttpMethod, HttpResource};
use holt_model::Mode;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams};
use kube::{Api, Client};
use serde_json::Value;
use support::*;

async fn install_istio(client: &Client) {
    let file =
        holt_testenv::istio_crds_file().expect("Istio CRDs are built by scripts/build-test-components.sh");
    let yaml = std::fs::read_to_string(file).expect("read Istio CRDs");
    holt_testenv::install_crds(client, &yaml)
        .await
        .expect("install Istio CRDs");
}

/// A bare pod `name` (its own workload) with service account `account`, with or without the sidecar.
async fn pod(client: &Client, ns: &str, name: &str, account: &str, sidecar: bool) {
    let mut containers = vec![Container {
        name: "main".into(),
        image: Some("example/app:1".into()),
        ..Default::default()
    }];
    if sidecar {
        containers.push(Container {
            name: "istio-proxy".into(),
            image: Some("istio/proxyv2:1".into()),
            ..Default::default()
        });
    }
    let spec = PodSpec {
        containers,
        service_account_name: Some(account.into()),
        ..Default::default()
    };
    bare_pod(client, ns, name, spec, &[]).await;
}

fn authorization_policies(client: &Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("security.istio.io", "v1", "AuthorizationPolicy");
    Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk(&gvk))
}

#[tokio::test]
async fn meshed_pairs_get_authorization_policies_with_http_rules_and_warnings() {
    let (client, plane) = cluster().await;
    install_istio(&client).await;
    let ns = plane.create_namespace(&client, "istio").await.expect("namespace");
    pod(&client, &ns, "checkout", "shop", true).await;
    pod(&client, &ns, "cart", "shop", true).await; // shares checkout's service account
    pod(&client, &ns, "legacy", "legacy", false).await; // no sidecar
    pod(&client, &ns, "payments", "payments", true).await;
    service(&client, &ns, "payments").await;
    let operator = Operator::start(&client, &ns, Mode::DefaultActive).await;

    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    let mut checkout = intents(&ns, "checkout", "payments");
    checkout.spec.targets[0]
        .service
        .as_mut()
        .expect("service target")
        .http = vec![HttpResource {
        path: "/charge".into(),
        methods: vec![HttpMethod::Post],
    }];
    for intents in [
        checkout,
        intents(&ns, "cart", "payments"),
        intents(&ns, "legacy", "payments"),
    ] {
        api.create(&PostParams::default(), &intents)
            .await
            .expect("intents");
    }

    let policies = authorization_policies(&client, &ns);
    let found = eventually(
        "two AuthorizationPolicies (the sidecar-less client gets none)",
        || async {
            let list = policies.list(&ListParams::default()).await.ok()?;
            (list.items.len() == 2).then_some(list.items)
        },
    )
    .await;
    let principal = format!("cluster.local/ns/{ns}/sa/shop");
    let for_checkout = found
        .iter()
        .find(|p| {
            p.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.contains("from-checkout"))
        })
        .expect("checkout's policy");
    let spec = &for_checkout.data["spec"];
    assert_eq!(spec["action"], "ALLOW");
    assert_eq!(spec["selector"]["matchLabels"]["app"], "payments");
    let rule = &spec["rules"][0];
    assert_eq!(
        rule["from"][0]["source"]["principals"],
        Value::from(vec![principal.clone()])
    );
    assert_eq!(rule["to"][0]["operation"]["paths"], Value::from(vec!["/charge"]));
    assert_eq!(rule["to"][0]["operation"]["methods"], Value::from(vec!["POST"]));
    let for_cart = found
        .iter()
        .find(|p| {
            p.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.contains("from-cart"))
        })
        .expect("cart's policy");
    assert!(
        for_cart.data["spec"]["rules"][0]
            .get("to")
            .is_none_or(Value::is_null),
        "no HTTP resources declared: any request"
    );

    let missing = eventually("a MissingSidecar Event", || async {
        let names = events_with(&client, &ns, "MissingSidecar").await;
        (!names.is_empty()).then_some(names)
    })
    .await;
    assert_eq!(missing, vec!["legacy".to_string()]);
    let shared = eventually("SharedServiceAccountFound Events", || async {
        let names = events_with(&client, &ns, "SharedServiceAccountFound").await;
        (names.len() == 2).then_some(names)
    })
    .await;
    assert_eq!(shared, vec!["cart".to_string(), "checkout".to_string()]);
    let created = eventually("CreatedIstioPolicy Events (Normal, as the reference)", || async {
        let names = events_with(&client, &ns, "CreatedIstioPolicy").await;
        (names.len() == 2).then_some(names)
    })
    .await;
    assert_eq!(created, vec!["cart".to_string(), "checkout".to_string()]);

    // Holt's AuthorizationPolicies are watched like its NetworkPolicies: deleted or widened behind its back,
    // they are rewritten.
    let cart_policy = for_cart.metadata.name.clone().expect("name");
    policies
        .delete(&cart_policy, &DeleteParams::default())
        .await
        .expect("delete the policy");
    eventually("cart's policy recreated", || async {
        policies.get_opt(&cart_policy).await.ok()?.map(drop)
    })
    .await;
    let widen = serde_json::json!({"spec": {"rules": [{"from": [{"source": {"principals": ["*"]}}]}]}});
    let widened = policies
        .patch(
            &cart_policy,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&widen),
        )
        .await
        .expect("widen");
    assert_eq!(
        widened.data["spec"]["rules"][0]["from"][0]["source"]["principals"],
        Value::from(vec!["*"])
    );
    eventually("cart's policy narrowed again", || async {
        let now = policies.get(&cart_policy).await.ok()?;
        (now.data["spec"] == for_cart.data["spec"]).then_some(())
    })
    .await;

    api.delete("checkout", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("checkout's policy removed", || async {
        let list = policies.list(&ListParams::default()).await.ok()?;
        let names: Vec<String> = list.items.into_iter().filter_map(|p| p.metadata.name).collect();
        (names.len() == 1 && names[0].contains("from-cart")).then_some(())
    })
    .await;
    operator.stop();
}
