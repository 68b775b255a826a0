//! Linkerd policies on a real kube-apiserver with Linkerd's policy CRDs (holt-testenv): without the CRDs the
//! operator writes no Linkerd object and nothing fails; with them (after a restart, which is when the operator
//! looks for them) a meshed server gets its Server, routes for the declared paths and its probe, the
//! clients' MeshTLSAuthentications and AuthorizationPolicies; a client outside the mesh gets none and an
//! Event says why; objects changed behind Holt's back are rewritten; deleting the intents removes them.

mod support;

use holt_api::v2beta1::{ClientIntents, HttpMethod, HttpResource, KubernetesTarget, Target};
use holt_model::Mode;
use k8s_openapi::api::core::v1::{Container, ContainerPort, HTTPGetAction, Namespace, PodSpec, Probe};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Api, Client};
use serde_json::{Value, json};
use support::*;

/// A bare pod `name` (its own workload) running as `account`, serving port 8080 (`http`) with a liveness
/// probe on `/healthz`; `inject` is its `linkerd.io/inject` annotation, if any.
async fn pod(client: &Client, ns: &str, name: &str, account: &str, inject: Option<&str>) {
    let spec = PodSpec {
        containers: vec![Container {
            name: "main".into(),
            image: Some("example/app:1".into()),
            ports: Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: 8080,
                ..Default::default()
            }]),
            liveness_probe: Some(Probe {
                http_get: Some(HTTPGetAction {
                    path: Some("/healthz".into()),
                    port: IntOrString::String("http".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }],
        service_account_name: Some(account.into()),
        ..Default::default()
    };
    let annotations: Vec<(&str, &str)> = inject
        .map(|value| ("linkerd.io/inject", value))
        .into_iter()
        .collect();
    bare_pod(client, ns, name, spec, &annotations).await;
}

fn calls(ns: &str, client: &str, server: &str, http: Vec<HttpResource>) -> ClientIntents {
    let mut intents = intents(ns, client, server);
    intents.spec.targets = vec![Target {
        kubernetes: Some(KubernetesTarget {
            name: server.into(),
            kind: None,
            http,
        }),
        ..Default::default()
    }];
    intents
}

fn linkerd(client: &Client, ns: &str, version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("policy.linkerd.io", version, kind);
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

struct LinkerdApis {
    servers: Api<DynamicObject>,
    policies: Api<DynamicObject>,
    mesh_tls: Api<DynamicObject>,
    routes: Api<DynamicObject>,
    networks: Api<DynamicObject>,
}

impl LinkerdApis {
    fn new(client: &Client, ns: &str) -> Self {
        LinkerdApis {
            servers: linkerd(client, ns, "v1beta1", "Server", "servers"),
            policies: linkerd(
                client,
                ns,
                "v1alpha1",
                "AuthorizationPolicy",
                "authorizationpolicies",
            ),
            mesh_tls: linkerd(
                client,
                ns,
                "v1alpha1",
                "MeshTLSAuthentication",
                "meshtlsauthentications",
            ),
            routes: linkerd(client, ns, "v1beta1", "HTTPRoute", "httproutes"),
            networks: linkerd(
                client,
                ns,
                "v1alpha1",
                "NetworkAuthentication",
                "networkauthentications",
            ),
        }
    }

    /// How many objects of each kind there are: Servers, AuthorizationPolicies, MeshTLSAuthentications,
    /// HTTPRoutes, NetworkAuthentications.
    async fn counts(&self) -> Option<[usize; 5]> {
        let mut counts = [0; 5];
        for (i, api) in [
            &self.servers,
            &self.policies,
            &self.mesh_tls,
            &self.routes,
            &self.networks,
        ]
        .into_iter()
        .enumerate()
        {
            counts[i] = api.list(&ListParams::default()).await.ok()?.items.len();
        }
        Some(counts)
    }
}

#[tokio::test]
async fn meshed_servers_get_linkerd_policies_once_linkerds_crds_are_installed() {
    let (client, plane) = cluster().await;
    let ns = plane
        .create_namespace(&client, "linkerd")
        .await
        .expect("namespace");
    // The namespace asks Linkerd to inject its proxy: its pods are in the mesh without the container.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            &ns,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"linkerd.io/inject": "enabled"}}})),
        )
        .await
        .expect("annotate the namespace");
    pod(&client, &ns, "orders", "orders", None).await;
    pod(&client, &ns, "checkout", "checkout", None).await;
    pod(&client, &ns, "legacy", "legacy", Some("disabled")).await; // opts out of the mesh
    let intents_api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    let orders_get = HttpResource {
        path: "/orders".into(),
        methods: vec![HttpMethod::Get],
    };
    for intents in [
        calls(&ns, "checkout", "orders", vec![orders_get]),
        calls(&ns, "legacy", "orders", vec![]),
    ] {
        intents_api
            .create(&PostParams::default(), &intents)
            .await
            .expect("intents");
    }

    // Without Linkerd's CRDs: NetworkPolicies as always, no Linkerd object attempted, nothing failing.
    let operator = Operator::start(&client, &ns, Mode::DefaultActive).await;
    let network_policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    eventually("the server's access NetworkPolicy", || async {
        let list = network_policies.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some("orders-access"))
            .then_some(())
    })
    .await;
    let progress = operator.progress.borrow().clone();
    assert_eq!(
        (progress.failing, progress.write_errors),
        (0, 0),
        "no Linkerd CRDs: no Linkerd write is attempted"
    );
    operator.stop();

    holt_testenv::install_crds(&client, holt_testenv::linkerd_policy_crds())
        .await
        .expect("install Linkerd's CRDs");
    let operator = Operator::start(&client, &ns, Mode::DefaultActive).await;
    let linkerd = LinkerdApis::new(&client, &ns);
    // One Server (port 8080); checkout's MeshTLSAuthentication; routes for GET /orders and the probe; a
    // policy admitting checkout on its route, one admitting the kubelet's probes; the probes' network.
    let counts = eventually("the Linkerd objects of orders", || async {
        let counts = linkerd.counts().await?;
        (counts == [1, 2, 1, 2, 1]).then_some(counts)
    })
    .await;
    assert_eq!(counts, [1, 2, 1, 2, 1]);

    let server = linkerd
        .servers
        .get("server-for-orders-port-8080")
        .await
        .expect("the Server");
    assert_eq!(server.data["spec"]["port"], 8080);
    assert_eq!(
        server
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/managed-by")),
        Some(&"holt".to_string())
    );
    let identities = linkerd
        .mesh_tls
        .list(&ListParams::default())
        .await
        .expect("list")
        .items[0]
        .data["spec"]["identities"]
        .clone();
    assert_eq!(
        identities,
        json!([format!(
            "checkout.{ns}.serviceaccount.identity.linkerd.cluster.local"
        )])
    );
    let routes = linkerd
        .routes
        .list(&ListParams::default())
        .await
        .expect("routes")
        .items;
    let mut matches: Vec<Value> = routes
        .iter()
        .map(|r| r.data["spec"]["rules"][0]["matches"][0].clone())
        .collect();
    matches.sort_by_key(|m| m.to_string());
    let mut expected = vec![
        json!({"path": {"type": "Exact", "value": "/healthz"}}),
        json!({"method": "GET", "path": {"type": "PathPrefix", "value": "/orders"}}),
    ];
    expected.sort_by_key(|m| m.to_string());
    assert_eq!(matches, expected);
    let orders_route = routes
        .iter()
        .find(|r| r.data["spec"]["rules"][0]["matches"][0]["path"]["value"] == "/orders")
        .and_then(|r| r.metadata.name.clone())
        .expect("the /orders route");
    let policies = linkerd
        .policies
        .list(&ListParams::default())
        .await
        .expect("policies")
        .items;
    let checkout_policy = policies
        .iter()
        .find(|p| p.data["spec"]["targetRef"]["name"] == orders_route.as_str())
        .expect("a policy on the /orders route")
        .clone();
    assert_eq!(
        checkout_policy.data["spec"]["requiredAuthenticationRefs"][0]["kind"],
        "MeshTLSAuthentication"
    );

    // legacy is outside the mesh: Linkerd would refuse it whatever Holt wrote; an Event says so.
    let outside = eventually("a NotPartOfLinkerdMesh Event", || async {
        let names = events_with(&client, &ns, "NotPartOfLinkerdMesh").await;
        (!names.is_empty()).then_some(names)
    })
    .await;
    assert_eq!(outside, vec!["legacy".to_string()]);

    // Changed or deleted behind Holt's back: rewritten, as NetworkPolicies are.
    let policy_name = checkout_policy.metadata.name.clone().expect("name");
    let widen = json!({"spec": {"requiredAuthenticationRefs": [{
        "group": "policy.linkerd.io", "kind": "NetworkAuthentication", "name": "anyone"}]}});
    linkerd
        .policies
        .patch(&policy_name, &PatchParams::default(), &Patch::Merge(&widen))
        .await
        .expect("widen the policy");
    eventually("the policy narrowed again", || async {
        let now = linkerd.policies.get(&policy_name).await.ok()?;
        (now.data["spec"] == checkout_policy.data["spec"]).then_some(())
    })
    .await;
    linkerd
        .servers
        .delete("server-for-orders-port-8080", &DeleteParams::default())
        .await
        .expect("delete the Server");
    eventually("the Server recreated", || async {
        linkerd
            .servers
            .get_opt("server-for-orders-port-8080")
            .await
            .ok()?
            .map(drop)
    })
    .await;

    // Deleting the intents removes every Linkerd object Holt wrote for them.
    for name in ["checkout", "legacy"] {
        intents_api
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete intents");
    }
    eventually("no Linkerd object left", || async {
        (linkerd.counts().await? == [0; 5]).then_some(())
    })
    .await;
    let progress = operator.progress.borrow().clone();
    assert_eq!(progress.failing, 0);
    operator.stop();
}
